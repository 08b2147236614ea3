"""Track-to-truth assignment, per time step, each estimate against the truth at its own time.

Two associations serve different metrics:

* :func:`assign_to_truth` (``one_to_one=True``): at each time step every truth takes at
  most one estimate and every estimate at most one truth, chosen by
  ``scipy.optimize.linear_sum_assignment`` to maximise the number of pairs inside the
  distance gate and, among those, to minimise the summed distance (out-of-gate pairs cost
  a constant larger than any sum of in-gate ones, and are dropped after solving). This is
  what RMSE and NEES read: a second track on the same missile is a SIAP ambiguity, not a
  second accuracy sample.
* ``one_to_one=False``: every estimate goes to its nearest truth inside the gate, however
  many others do. This is the SIAP association (Votruba et al. 2001): ambiguity counts
  the several tracks one missile holds.

A *time step* is a bin of width ``window_ns`` (0: estimates at identical times). Inside a
bin each estimate is still compared with the truth at its own time, so tracks updated at
unaligned times (a scanning radar, unsynchronised radars) are assigned jointly without
moving any estimate in time.

Vectorised: all K x J distances come from one call to :func:`truth_states`. A bin whose
in-gate estimates all have different nearest truths is already optimal (each row sits at
its own minimum, which bounds any assignment from below), so the Hungarian solver runs
only on bins where two estimates want the same truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from trilink.evaluate.estimates import TrackEstimates, truth_states
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Assignment:
    """Which truth each of K estimates was assigned to.

    Attributes:
        truth_index: (K,) index into ``truth_ids``, -1 where unassigned.
        truth_x: (K, 6) the assigned truth's state at the estimate's time (NaN if none).
        distance_m: (K,) position distance to the assigned truth (NaN if none).
        truth_ids: missile ids, in the order of the ``truths`` given.
    """

    truth_index: NDArray[np.intp]
    truth_x: Array
    distance_m: Array
    truth_ids: tuple[str, ...]

    @property
    def assigned(self) -> NDArray[np.bool_]:
        return self.truth_index >= 0


def position_distances(est: TrackEstimates, truths: Sequence[Trajectory]) -> tuple[Array, Array]:
    """Distances (K, J) from each estimate to each truth at the estimate's time, and the
    truth states (J, K, 6). A truth not in flight at that time is at distance +inf."""
    tx, alive = truth_states(truths, est.t_ns)
    d = np.linalg.norm(est.x[None, :, :3] - tx[..., :3], axis=-1)  # (J, K)
    d = np.where(alive, d, np.inf)
    return d.T, tx


def time_steps(t_ns: NDArray[np.int64], window_ns: int) -> NDArray[np.intp]:
    """Step label (K,) of each time: equal times share a step, or bins of ``window_ns``."""
    t = np.asarray(t_ns, dtype=np.int64)
    if t.size == 0:
        return np.empty(0, dtype=np.intp)
    if window_ns <= 0:
        return np.unique(t, return_inverse=True)[1].reshape(-1)
    return ((t - t.min()) // int(window_ns)).astype(np.intp)


def assign_to_truth(
    est: TrackEstimates,
    truths: Sequence[Trajectory],
    gate_m: float,
    *,
    window_ns: int = 0,
    one_to_one: bool = True,
) -> Assignment:
    """Assign estimates to truths per time step with a position gate of ``gate_m`` metres."""
    ids = tuple(t.missile_id for t in truths)
    k = len(est)
    if k == 0 or not truths:
        return Assignment(
            np.full(k, -1, dtype=np.intp), np.full((k, 6), np.nan), np.full(k, np.nan), ids
        )
    dist, tx = position_distances(est, truths)
    in_gate = dist <= gate_m
    nearest = np.argmin(np.where(in_gate, dist, np.inf), axis=1)
    any_gate = in_gate.any(axis=1)
    choice = np.where(any_gate, nearest, -1).astype(np.intp)
    if one_to_one:
        choice = _resolve_conflicts(choice, dist, in_gate, time_steps(est.t_ns, window_ns))
    rows = np.arange(k)
    safe = np.maximum(choice, 0)
    ok = choice >= 0
    truth_x = np.where(ok[:, None], tx[safe, rows], np.nan)
    distance = np.where(ok, dist[rows, safe], np.nan)
    return Assignment(choice, truth_x, distance, ids)


def _resolve_conflicts(
    choice: NDArray[np.intp], dist: Array, in_gate: NDArray[np.bool_], step: NDArray[np.intp]
) -> NDArray[np.intp]:
    """Re-solve, with the Hungarian method, the steps where two estimates chose one truth."""
    live = np.flatnonzero(choice >= 0)
    pairs = step[live].astype(np.int64) * dist.shape[1] + choice[live]
    _, first, counts = np.unique(pairs, return_index=True, return_counts=True)
    clash_steps = np.unique(step[live[first[counts > 1]]])
    out = choice.copy()
    if clash_steps.size == 0:
        return out
    # A cost larger than any sum of in-gate distances: the solver first maximises the
    # number of in-gate pairs, then minimises their summed distance.
    big = 1.0 + float(np.nansum(np.where(in_gate, dist, 0.0)))
    order = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[order], clash_steps)
    ends = np.searchsorted(step[order], clash_steps, side="right")
    for lo, hi in zip(bounds, ends, strict=True):  # one loop turn per conflicting step
        rows = order[lo:hi]
        cost = np.where(in_gate[rows], dist[rows], big)
        r, c = linear_sum_assignment(cost)
        out[rows] = -1
        keep = in_gate[rows[r], c]
        out[rows[r[keep]]] = c[keep]
    return out
