"""When each nation first saw each missile: first detection and first confirmed track.

First detection reads ``Detections.truth_id`` (evaluation may read truth; trackers may
not): the earliest report a nation's sensors made of the missile, false alarms ("")
excluded. First confirmed track: the earliest confirmed estimate of that nation's
tracker that associates with the missile (nearest truth in flight within ``gate_m`` at
the estimate's time, :func:`trilink.evaluate.assignment.assign_to_truth` with
``one_to_one=False``). Latencies are seconds after the true launch; NaN when never.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trilink.evaluate.assignment import assign_to_truth
from trilink.evaluate.estimates import TrackEstimates
from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections

_NEVER = -1  # sentinel time for "never" inside integer arrays


def first_detection_times(detections: Iterable[Detections]) -> dict[tuple[str, str], int]:
    """Earliest detection time [ns] per ``(nation, missile_id)``; absent pairs never saw it."""
    out: dict[tuple[str, str], int] = {}
    for batch in detections:  # one turn per sensor batch; vectorised inside
        real = batch.truth_id != ""
        if not real.any():
            continue
        ids, inv = np.unique(batch.truth_id[real], return_inverse=True)
        first = np.full(ids.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, inv.reshape(-1), batch.t_ns[real])
        for mid, t in zip(ids.tolist(), first.tolist(), strict=True):
            key = (batch.nation, str(mid))
            out[key] = min(out.get(key, t), t)
    return out


def first_confirmed_times(
    est: TrackEstimates, truths: Sequence[Trajectory], gate_m: float
) -> dict[str, int]:
    """Earliest confirmed estimate time [ns] per missile id that a track held."""
    conf = est.confirmed_only()
    asg = assign_to_truth(conf, truths, gate_m, one_to_one=False)
    out: dict[str, int] = {}
    ok = asg.assigned
    if not ok.any():
        return out
    first = np.full(len(truths), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, asg.truth_index[ok], conf.t_ns[ok])
    for j, t in enumerate(first.tolist()):
        if t != np.iinfo(np.int64).max:
            out[asg.truth_ids[j]] = t
    return out


@dataclass(frozen=True)
class Timeliness:
    """One row of the timeliness table: a nation's view of one missile."""

    nation: str
    missile_id: str
    launch_t_ns: int
    first_detection_t_ns: int  # _NEVER (-1) if never
    first_confirmed_t_ns: int  # _NEVER (-1) if never

    @property
    def detection_latency_s(self) -> float:
        return _latency(self.first_detection_t_ns, self.launch_t_ns)

    @property
    def confirmation_latency_s(self) -> float:
        return _latency(self.first_confirmed_t_ns, self.launch_t_ns)


def _latency(t: int, t0: int) -> float:
    return float("nan") if t == _NEVER else (t - t0) / 1e9


def timeliness_table(
    detections: Iterable[Detections],
    estimates_by_nation: Mapping[str, TrackEstimates],
    truths: Sequence[Trajectory],
    gate_m: float,
) -> list[Timeliness]:
    """Rows for every nation (with detections or estimates) and every missile, sorted."""
    det = first_detection_times(detections)
    conf = {n: first_confirmed_times(e, truths, gate_m) for n, e in estimates_by_nation.items()}
    nations = sorted({n for n, _ in det} | set(conf))
    return [
        Timeliness(
            nation,
            t.missile_id,
            t.launch_t_ns,
            det.get((nation, t.missile_id), _NEVER),
            conf.get(nation, {}).get(t.missile_id, _NEVER),
        )
        for nation in nations
        for t in truths
    ]
