"""A partner's warning threads as plain JSON values, and back: what a hub restart keeps.

:meth:`trilink.nodes.warnings.PartnerWarnings.snapshot` writes, per partner, every open
thread (:class:`trilink.alerts.state.WarningState`) with all that later decisions and
messages read: the sequence counter and level, the references sent, the prediction and
assessment last announced, the last input (the Cancel of a silent track is made from
it), and the clocks (last message sent, loss, the ellipse-size and stand-down holds).
Restored, a warner decides exactly what the uninterrupted one would have from the next
cycle on (tested by splitting the recorded SRBM salvo at several cycles).

Plain JSON: objects, lists, strings, integers (``t_ns`` exactly) and finite floats
(``repr`` round-trips every float64 exactly); NaN and infinities, which strict JSON has
no words for, are written as the strings ``"nan"``, ``"inf"``, ``"-inf"``. Arrays are
nested lists. A ground track the fast path has not drawn is kept as the five numbers
it would be drawn from (:class:`trilink.alerts.batch._PendingTrack`), not as points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trilink.alerts.rules import Assessment, ImpactPrediction, ThreatInput
from trilink.alerts.state import MessageRef, WarningState, _Thread

VERSION = 1


def num(x: float) -> float | str:
    """A float as JSON: itself when finite, else "nan" / "inf" / "-inf"."""
    x = float(x)
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def unnum(x: float | int | str) -> float:
    """Inverse of :func:`num`."""
    return float(x)  # float("nan"), float("inf"), float("-inf") read the strings


def impact_to_json(imp: ImpactPrediction | None) -> dict[str, Any] | None:
    if imp is None:
        return None
    return {
        "lat_rad": imp.lat_rad,
        "lon_rad": imp.lon_rad,
        "t_ns": int(imp.t_ns),
        "t_sigma_s": imp.t_sigma_s,
        "semi_major_m": imp.semi_major_m,
        "semi_minor_m": imp.semi_minor_m,
        "orientation_rad": imp.orientation_rad,
    }


def impact_from_json(d: dict[str, Any] | None) -> ImpactPrediction | None:
    if d is None:
        return None
    return ImpactPrediction(
        lat_rad=float(d["lat_rad"]),
        lon_rad=float(d["lon_rad"]),
        t_ns=int(d["t_ns"]),
        t_sigma_s=float(d["t_sigma_s"]),
        semi_major_m=float(d["semi_major_m"]),
        semi_minor_m=float(d["semi_minor_m"]),
        orientation_rad=float(d["orientation_rad"]),
    )


_ASSESSMENT_FLOATS = ("distance_to_zone_m", "time_to_impact_s")


def assessment_to_json(a: Assessment | None) -> dict[str, Any] | None:
    if a is None:
        return None
    d: dict[str, Any] = {
        "level": a.level,
        "threat_impact": a.threat_impact,
        "overflight": a.overflight,
        "held": a.held,
        "impact_place": a.impact_place,
        "nominal_place": a.nominal_place,
        "certainty": a.certainty,
    }
    d.update({k: num(getattr(a, k)) for k in _ASSESSMENT_FLOATS})
    return d


def assessment_from_json(d: dict[str, Any] | None) -> Assessment | None:
    if d is None:
        return None
    fields = dict(d)
    fields.update({k: unnum(d[k]) for k in _ASSESSMENT_FLOATS})
    return Assessment(**fields)


def _array(a: np.ndarray | None) -> list | None:
    return None if a is None else [[num(v) for v in row] for row in np.atleast_2d(a)]


def _unarray(x: list | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if x is None:
        return None
    return np.array([[unnum(v) for v in row] for row in x], dtype=float).reshape(shape)


def threat_to_json(t: ThreatInput | None) -> dict[str, Any] | None:
    if t is None:
        return None
    d: dict[str, Any] = {
        "track_id": t.track_id,
        "t_ns": int(t.t_ns),
        "status": t.status,
        "phase": t.phase,
        "confirmed": t.confirmed,
        "launch_lat_rad": num(t.launch_lat_rad),
        "launch_lon_rad": num(t.launch_lon_rad),
        "launch_t_ns": None if t.launch_t_ns is None else int(t.launch_t_ns),
        "impact": impact_to_json(t.impact),
        "r_ecef_m": _array(t.r_ecef_m),
        "v_ecef_mps": _array(t.v_ecef_mps),
        "cov_pos_ecef_m2": _array(t.cov_pos_ecef_m2),
        "cov_vel_ecef_m2s2": _array(t.cov_vel_ecef_m2s2),
        "missile_class": t.missile_class,
    }
    params = t.__dict__.get("_track_params")
    if params is not None:  # a lazily drawn ground track: what it is drawn from
        lat, lon, az1, s12, step_m = params
        d["ground_track_from"] = [num(lat), num(lon), num(az1), num(s12), num(step_m)]
    else:
        d["ground_track_rad"] = _array(t.ground_track_rad) if t.ground_track_rad.size else []
    return d


def threat_from_json(d: dict[str, Any] | None) -> ThreatInput | None:
    if d is None:
        return None
    fields = {
        "track_id": str(d["track_id"]),
        "t_ns": int(d["t_ns"]),
        "status": d["status"],
        "phase": d["phase"],
        "confirmed": bool(d["confirmed"]),
        "launch_lat_rad": unnum(d["launch_lat_rad"]),
        "launch_lon_rad": unnum(d["launch_lon_rad"]),
        "launch_t_ns": None if d["launch_t_ns"] is None else int(d["launch_t_ns"]),
        "impact": impact_from_json(d["impact"]),
        "r_ecef_m": _unarray(d["r_ecef_m"], (3,)),
        "v_ecef_mps": _unarray(d["v_ecef_mps"], (3,)),
        "cov_pos_ecef_m2": _unarray(d["cov_pos_ecef_m2"], (3, 3)),
        "cov_vel_ecef_m2s2": _unarray(d["cov_vel_ecef_m2s2"], (3, 3)),
        "missile_class": d["missile_class"],
    }
    if "ground_track_from" in d:
        from trilink.alerts.batch import pending_threat

        lat, lon, az1, s12, step_m = (unnum(v) for v in d["ground_track_from"])
        return pending_threat(fields, (lat, lon, az1, s12, step_m))
    track = d["ground_track_rad"]
    fields["ground_track_rad"] = _unarray(track, (-1, 2)) if track else np.zeros((0, 2))
    return ThreatInput(**fields)


def thread_to_json(th: _Thread) -> dict[str, Any]:
    return {
        "seq": th.seq,
        "level": th.level,
        "refs": [[r.identifier, int(r.sent_t_ns)] for r in th.refs],
        "announced": impact_to_json(th.announced),
        "announced_assessment": assessment_to_json(th.announced_assessment),
        "last_input": threat_to_json(th.last_input),
        "last_sent_t_ns": int(th.last_sent_t_ns),
        "lost_since_t_ns": th.lost_since_t_ns,
        "size_change_since_t_ns": th.size_change_since_t_ns,
        "stand_down_since_t_ns": th.stand_down_since_t_ns,
    }


def thread_from_json(d: dict[str, Any]) -> _Thread:
    return _Thread(
        seq=int(d["seq"]),
        level=str(d["level"]),
        refs=[MessageRef(str(i), int(t)) for i, t in d["refs"]],
        announced=impact_from_json(d["announced"]),
        announced_assessment=assessment_from_json(d["announced_assessment"]),
        last_input=threat_from_json(d["last_input"]),
        last_sent_t_ns=int(d["last_sent_t_ns"]),
        lost_since_t_ns=None if d["lost_since_t_ns"] is None else int(d["lost_since_t_ns"]),
        size_change_since_t_ns=_opt_int(d["size_change_since_t_ns"]),
        # absent from a snapshot written before the stand-down hold: nothing was pending
        stand_down_since_t_ns=_opt_int(d.get("stand_down_since_t_ns")),
    )


def _opt_int(x: int | None) -> int | None:
    return None if x is None else int(x)


def state_to_json(state: WarningState) -> list[list]:
    """A partner's open threads, ``[[track_id, thread], ...]`` in the order the state
    holds them (its clock closes silent threads in that order)."""
    return [[track_id, thread_to_json(th)] for track_id, th in state._threads.items()]


def restore_state(state: WarningState, threads: list[list]) -> None:
    """Replace a partner's threads by those of :func:`state_to_json`."""
    state._threads = {str(track_id): thread_from_json(th) for track_id, th in threads}
