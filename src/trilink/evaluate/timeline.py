"""What each partner knew, and when: the run summary of ``trilink run``.

Per partner and per missile: its own sensors' first detection, the first track it
received over the link, and its first launch warning (a confirmed missile in flight, from
its own tracker or over the link), plus its first threat alert where warning rules ran
(the hub's, or alone the node's own over its own tracks). Which missile a track belonged to is decided against truth: the nearest
missile at the track's epoch, within a gate.

Times are seconds after the missile's launch (per missile) or after the launch of the
first missile the partner was warned about (per partner).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections

NS = 1e9
ASSOCIATION_GATE_M = 60_000.0
"""A track belongs to the nearest missile within this distance at its epoch: wide enough
for a boost-phase track initiated with a 3.5 km/s velocity prior, far narrower than the
spacing of separate launches."""


@dataclass(frozen=True)
class Sighting:
    """One thing a partner learned at ``t_ns`` about an object at ``x`` (ECEF, epoch
    ``measured_ns``): kind ``own_confirmed`` | ``link_track`` | ``warning``."""

    t_ns: int
    kind: str
    measured_ns: int
    x: NDArray[np.float64] | None
    detail: str = ""


@dataclass
class MissileTimes:
    first_own_detection_ns: int | None = None
    first_own_sensor: str | None = None
    first_own_track_ns: int | None = None
    first_link_track_ns: int | None = None
    first_threat_alert_ns: int | None = None

    @property
    def first_warning_ns(self) -> int | None:
        times = [t for t in (self.first_own_track_ns, self.first_link_track_ns) if t is not None]
        return min(times) if times else None


@dataclass
class Timeline:
    """Per partner, per missile id: :class:`MissileTimes`."""

    partners: dict[str, dict[str, MissileTimes]] = field(default_factory=dict)
    missiles: dict[str, Trajectory] = field(default_factory=dict)


def which_missile(
    x: NDArray[np.float64] | None,
    measured_ns: int,
    truths: Sequence[Trajectory],
    gate_m: float = ASSOCIATION_GATE_M,
) -> str | None:
    """The missile nearest to ``x`` at ``measured_ns`` (within ``gate_m``), or None."""
    if x is None:
        return None
    best, best_d = None, gate_m
    for traj in truths:
        r, _, inside = traj.state_at(np.array([measured_ns], dtype=np.int64))
        if not inside[0]:
            continue
        d = float(np.linalg.norm(r[0] - np.asarray(x)[:3]))
        if d < best_d:
            best, best_d = traj.missile_id, d
    return best


def which_missiles(
    x: NDArray[np.float64],
    measured_ns: NDArray[np.int64],
    truths: Sequence[Trajectory],
    gate_m: float = ASSOCIATION_GATE_M,
) -> list[str | None]:
    """:func:`which_missile` of K positions at once (x (K, >= 3), NaN rows for none)."""
    best: list[str | None] = [None] * len(measured_ns)
    if not len(measured_ns):
        return best
    x = np.asarray(x, dtype=float).reshape(len(measured_ns), -1)
    best_d = np.full(len(measured_ns), gate_m)
    t = np.asarray(measured_ns, dtype=np.int64)
    for traj in truths:  # in order, a strictly nearer one replacing: as which_missile
        r, _, inside = traj.state_at(t)
        d = np.linalg.norm(r - x[:, :3], axis=-1)
        nearer = np.flatnonzero(inside & (d < best_d))
        best_d[nearer] = d[nearer]
        for k in nearer.tolist():
            best[k] = traj.missile_id
    return best


def first_detections(detections: Iterable[Detections]) -> dict[tuple[str, str], tuple[int, str]]:
    """(nation, missile id) -> (first detection time, sensor id); reads truth: evaluation
    only. Ties go to the sensor listed first."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for det in detections:
        ids = np.asarray(det.truth_id)
        for mid in np.unique(ids):
            if not mid:
                continue
            t = int(np.asarray(det.t_ns)[ids == mid].min())
            key = (det.nation, str(mid))
            if key not in out or t < out[key][0]:
                out[key] = (t, det.sensor_id)
    return out


def build_timeline(
    truths: Sequence[Trajectory],
    detections: Iterable[Detections],
    sightings: Mapping[str, Sequence[Sighting]],
) -> Timeline:
    """Assemble the timeline from what each partner's node logged."""
    tl = Timeline(missiles={t.missile_id: t for t in truths})
    firsts = first_detections(detections)
    for partner, events in sightings.items():
        per = {t.missile_id: MissileTimes() for t in truths}
        for t in truths:
            first = firsts.get((partner, t.missile_id))
            if first is not None:
                per[t.missile_id].first_own_detection_ns, per[t.missile_id].first_own_sensor = first
        ordered = sorted(events, key=lambda e: e.t_ns)
        nan = np.full(3, np.nan)
        mids = which_missiles(
            np.array([nan if ev.x is None else np.asarray(ev.x, float)[:3] for ev in ordered]),
            np.array([ev.measured_ns for ev in ordered], dtype=np.int64),
            truths,
        )
        for ev, mid in zip(ordered, mids, strict=True):
            if mid is None:
                continue
            m = per[mid]
            if ev.kind == "own_confirmed" and m.first_own_track_ns is None:
                m.first_own_track_ns = ev.t_ns
            elif ev.kind == "link_track" and m.first_link_track_ns is None:
                m.first_link_track_ns = ev.t_ns
            elif ev.kind == "warning" and ev.detail == "threat" and m.first_threat_alert_ns is None:
                m.first_threat_alert_ns = ev.t_ns
        tl.partners[partner] = per
    return tl


def _s(t_ns: int | None, t0_ns: int) -> float | None:
    return None if t_ns is None else round((t_ns - t0_ns) / NS, 3)


def timeline_to_json(tl: Timeline) -> dict[str, object]:
    """The ``--json`` object of ``trilink run`` (keys documented in docs/operations.md)."""
    partners: dict[str, object] = {}
    for partner, per in tl.partners.items():
        warned = [
            (m.first_warning_ns, mid) for mid, m in per.items() if m.first_warning_ns is not None
        ]
        if warned:
            _, ref = min(warned)
            t0 = tl.missiles[ref].launch_t_ns
        else:
            ref, t0 = None, min(t.launch_t_ns for t in tl.missiles.values())

        def earliest(attr: str, per: dict[str, MissileTimes] = per) -> int | None:
            vals = [getattr(m, attr) for m in per.values() if getattr(m, attr) is not None]
            return min(vals) if vals else None

        partners[partner] = {
            "reference_missile": ref,
            "first_own_detection_s": _s(earliest("first_own_detection_ns"), t0),
            "first_own_track_s": _s(earliest("first_own_track_ns"), t0),
            "first_link_track_s": _s(earliest("first_link_track_ns"), t0),
            "first_warning_s": _s(earliest("first_warning_ns"), t0),
            "first_threat_alert_s": _s(earliest("first_threat_alert_ns"), t0),
        }
    missiles = []
    for mid, traj in tl.missiles.items():
        t0 = traj.launch_t_ns
        missiles.append(
            {
                "id": mid,
                "class": traj.missile_class,
                "launch_utc_ns": t0,
                "flight_time_s": round((traj.impact_t_ns - t0) / NS, 3),
                "apogee_km": _round(traj.meta.get("apogee_m"), 1e-3),
                "range_km": _round(traj.meta.get("range_m"), 1e-3),
                "partners": {
                    p: {
                        "first_own_detection_s": _s(per[mid].first_own_detection_ns, t0),
                        "first_own_sensor": per[mid].first_own_sensor,
                        "first_own_track_s": _s(per[mid].first_own_track_ns, t0),
                        "first_link_track_s": _s(per[mid].first_link_track_ns, t0),
                        "first_warning_s": _s(per[mid].first_warning_ns, t0),
                        "first_threat_alert_s": _s(per[mid].first_threat_alert_ns, t0),
                    }
                    for p, per in tl.partners.items()
                },
            }
        )
    return {"partners": partners, "missiles": missiles}


def _round(v: float | None, scale: float) -> float | None:
    if v is None or not math.isfinite(v):
        return None
    return round(v * scale, 3)
