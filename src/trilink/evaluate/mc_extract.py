"""One trial's measures, per partner and missile, from the nodes of a finished run.

Everything here compares what a partner *held* with truth (evaluation may read truth; the
nodes never do):

* **times** (seconds after the missile's launch): first own detection, first own
  confirmed track, first track over the link, first warning (the earlier of the two),
  first threat alert — :func:`trilink.evaluate.timeline.build_timeline`;
* **impact- and launch-point error against time since launch**, on a grid of marks
  (:func:`mark_grid`): at each mark, the latest prediction the partner held from its own
  tracker, the latest received over the link (held for at most :data:`MAX_HOLD_S`), and
  its *picture*: of the two, the one claiming the smaller 1-sigma semi-major axis (what
  an operator would trust without knowing truth). Errors are geodesic distances
  (:func:`trilink.evaluate.prediction.surface_distance_m`) to the true impact (launch)
  point, the last (first) sample of the trajectory;
* **SIAP continuity** (:func:`trilink.evaluate.siap.siap`) of the tracks a partner held,
  own and received, on a 1 s grid: track-number changes, longest segment and tracked time
  per missile;
* **latency**: receive time minus measurement time of every SystemTrack received, in
  whole milliseconds, counted (a histogram: exact to 1 ms and cheap to merge).

An estimate belongs to the nearest missile in flight within the timeline's association
gate at the estimate's epoch (:func:`assign_missiles`, the vectorised twin of
:func:`~trilink.evaluate.timeline.which_missile`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from trilink.evaluate.estimates import TrackEstimates, truth_states
from trilink.evaluate.mc_probe import HeldEstimates
from trilink.evaluate.prediction import surface_distance_m, truth_impact_point, truth_launch_point
from trilink.evaluate.siap import siap
from trilink.evaluate.timeline import ASSOCIATION_GATE_M, Timeline
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]
NS = 1_000_000_000
MAX_HOLD_S = 10.0
"""A received or own prediction older than this (local time) no longer counts as held:
the hub re-sends every live track each 0.5 s cycle and a node reports each tick."""
SIAP_STEP_S = 1.0
SIAP_MAX_AGE_S = 5.0
TIME_FIELDS = (
    "first_own_detection_s",
    "first_own_track_s",
    "first_link_track_s",
    "first_warning_s",
    "first_threat_alert_s",
)


def mark_grid(flight_s: float) -> Array:
    """Seconds after launch at which errors are sampled: every 5 s to 600 s, then every
    30 s, up to the flight time (an ICBM's hour keeps ~220 marks, an SRBM's ~80)."""
    fine = np.arange(0.0, min(flight_s, 600.0) + 1e-9, 5.0)
    coarse = np.arange(630.0, flight_s + 1e-9, 30.0)
    return np.concatenate([fine, coarse])


def assign_missiles(
    x: Array, t_ns: NDArray[np.int64], truths: Sequence[Trajectory], gate_m: float
) -> NDArray[np.intp]:
    """(K,) index of the nearest missile in flight within ``gate_m`` of each estimate
    (position ``x[:, :3]`` at epoch ``t_ns``), -1 for none."""
    if len(t_ns) == 0 or not truths:
        return np.full(len(t_ns), -1, dtype=np.intp)
    states, alive = truth_states(truths, t_ns)  # (J, K, 6), (J, K)
    d = np.linalg.norm(states[..., :3] - x[None, :, :3], axis=-1)
    d = np.where(alive & (d <= gate_m), d, np.inf)
    best = np.argmin(d, axis=0)
    return np.where(np.isfinite(d.min(axis=0)), best, -1)


def held_at(
    held_ns: NDArray[np.int64], marks_ns: NDArray[np.int64], max_hold_ns: int
) -> NDArray[np.intp]:
    """Row (into the time-sorted ``held_ns``) of the latest estimate held at each mark,
    -1 where none is held or the latest is older than ``max_hold_ns``."""
    if held_ns.size == 0:
        return np.full(marks_ns.shape, -1, dtype=np.intp)
    i = np.searchsorted(held_ns, marks_ns, side="right") - 1
    ok = i >= 0
    ok &= held_ns[np.maximum(i, 0)] > marks_ns - max_hold_ns
    return np.where(ok, i, -1)


def _series(rows: HeldEstimates, marks_ns: NDArray[np.int64], point: str) -> Array:
    """(M, 6) the point rows held at each mark (NaN where nothing is held)."""
    table = getattr(rows, point)
    valid = np.isfinite(table[:, 0])
    held, sel = rows.held_ns[valid], table[valid]
    order = np.argsort(held, kind="stable")
    idx = held_at(held[order], marks_ns, int(MAX_HOLD_S * NS))
    out = np.full((marks_ns.size, 6), np.nan)
    out[idx >= 0] = sel[order][idx[idx >= 0]]
    return out


def _errors(pts: Array, truth_point: tuple[float, float, int]) -> Array:
    lat0, lon0, _ = truth_point
    d = surface_distance_m(np.nan_to_num(pts[:, 0]), np.nan_to_num(pts[:, 1]), lat0, lon0)
    return np.where(np.isfinite(pts[:, 0]), d, np.nan)


def _pick(own: Array, link: Array) -> tuple[Array, NDArray[np.bool_]]:
    """The picture: per mark, the row claiming the smaller 1-sigma semi-major axis, and
    whether it came over the link."""
    own_major = np.where(np.isfinite(own[:, 2]), own[:, 2], np.inf)
    link_major = np.where(np.isfinite(link[:, 2]), link[:, 2], np.inf)
    from_link = link_major < own_major
    return np.where(from_link[:, None], link, own), from_link


def point_errors(
    own: HeldEstimates, link: HeldEstimates, truth: Trajectory, marks_s: Array
) -> dict[str, NDArray[np.generic]]:
    """Impact/launch errors [m] of own, link and picture at ``marks_s`` after launch,
    plus the picture's impact ellipse rows, float32 to keep a trial small."""
    marks_ns = truth.launch_t_ns + np.round(marks_s * NS).astype(np.int64)
    out: dict[str, NDArray[np.generic]] = {"t_s": marks_s.astype(np.float32)}
    for point, truth_pt in (
        ("impact", truth_impact_point(truth)),
        ("launch", truth_launch_point(truth)),
    ):
        o, ln = _series(own, marks_ns, point), _series(link, marks_ns, point)
        pic, from_link = _pick(o, ln)
        for name, rows in (("own", o), ("link", ln), ("picture", pic)):
            out[f"{point}_err_m_{name}"] = _errors(rows, truth_pt).astype(np.float32)
        if point == "impact":
            out["impact_picture"] = pic[:, :5].astype(np.float32)  # lat, lon, ellipse
            out["impact_picture_from_link"] = from_link
    return out


def continuity(
    rows: HeldEstimates, truths: Sequence[Trajectory], t0_ns: int, t1_ns: int
) -> dict[str, object]:
    """SIAP measures of the tracks in ``rows`` (their own epochs) against truth."""
    grid = np.arange(t0_ns, t1_ns + 1, int(SIAP_STEP_S * NS), dtype=np.int64)
    est = TrackEstimates.from_arrays(rows.t_ns, rows.track, rows.x)
    s = siap(est, truths, grid, gate_m=ASSOCIATION_GATE_M, max_age_ns=int(SIAP_MAX_AGE_S * NS))
    per = {}
    for j, mid in enumerate(s.truth_ids):
        life = float(s.lifetime_s[j])
        per[mid] = {
            "track_number_changes": int(s.track_number_changes[j]),
            "longest_segment": float(s.longest_segment_s[j] / life) if life > 0 else np.nan,
            "tracked_fraction": float(s.time_tracked_s[j] / life) if life > 0 else np.nan,
        }
    return {
        "missiles": per,
        "ambiguity": s.ambiguity_overall,
        "spuriousness": s.spuriousness_overall,
        "completeness": s.completeness_overall,
    }


def latency_histogram(
    received: HeldEstimates, missile_of: NDArray[np.intp], classes: Sequence[str]
) -> dict[str, dict[int, int]]:
    """Per missile class (and ``"all"``): {latency in whole ms: count}."""
    ms = np.round((received.held_ns - received.t_ns) / 1e6).astype(np.int64)
    out: dict[str, dict[int, int]] = {"all": dict(Counter(ms.tolist()))}
    for j, cls in enumerate(classes):
        sel = ms[missile_of == j]
        if sel.size:
            merged = Counter(out.get(cls, {}))
            merged.update(sel.tolist())
            out[cls] = dict(merged)
    return out


def times(timeline: Timeline, partner: str, truth: Trajectory) -> dict[str, float]:
    """The five first-times of one partner and missile, seconds after launch (NaN: never)."""
    m = timeline.partners[partner][truth.missile_id]
    t0 = truth.launch_t_ns
    raw = (
        m.first_own_detection_ns,
        m.first_own_track_ns,
        m.first_link_track_ns,
        m.first_warning_ns,
        m.first_threat_alert_ns,
    )
    return {
        k: (np.nan if v is None else (v - t0) / NS) for k, v in zip(TIME_FIELDS, raw, strict=True)
    }
