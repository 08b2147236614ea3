"""Single Integrated Air Picture (SIAP) measures: one, and only one, track per object.

Definitions after Votruba et al., "Single Integrated Air Picture (SIAP) Metrics
Implementation", SIAP SE Task Force TR 2001-003, 2001, in the form Stone Soup 1.9 implements
them (``stonesoup.metricgenerator.tracktotruthmetrics.SIAPMetrics``). At each time t of a
grid, with J(t) truths in flight, N(t) tracks present, NA(t) of them associated with a
truth and JT(t) truths holding at least one track:

* completeness  C = JT / J       (share of objects tracked; target 1)
* ambiguity     A = NA / JT      (tracks per tracked object; target 1)
* spuriousness  S = (N - NA) / N (share of tracks on no object; target 0)
* positional accuracy PA = sum |r_track - r_truth| / NA, velocity accuracy VA likewise
  (mean Euclidean error over associated tracks; target 0)

Over the whole run each ratio is a ratio of sums over t (not a mean of ratios). Per time
step a ratio with a zero denominator is NaN here (Stone Soup writes 0 or 1).

Continuity, per truth j (time in seconds on the grid):

* segments: maximal runs of consecutive grid times on which one track is associated
  with j; a segment lasts from its first to its last grid time;
* longest track segment LS = sum_j TL_j / sum_j T_j, TL_j the longest segment on j and
  T_j its lifetime (first to last grid time in flight); target 1;
* track-number changes: cover j's tracked time greedily by segments (at each uncovered
  time take the covering segment that lasts longest, as Stone Soup does) and count the
  consecutive pairs of the cover that belong to *different* tracks; rate
  R = sum_j changes_j / sum_j TT_j, TT_j the time j is tracked (grid intervals with an
  associated track at both ends); target 0. Unlike Stone Soup's ``NU_j - 1``, a track that
  drops out of the gate and returns is not counted as a change: its number did not change.

Association: each track's latest estimate (held for ``max_age_ns``, see
:func:`trilink.evaluate.estimates.latest_on_grid`) goes to the nearest truth in flight
within ``gate_m`` at the estimate's own time, however many other tracks do (many-to-one,
the SIAP view; :mod:`trilink.evaluate.assignment`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.evaluate.assignment import position_distances
from trilink.evaluate.estimates import TrackEstimates, latest_on_grid, track_index, truth_states
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Siap:
    """SIAP measures over a time grid (G times, J truths); see the module docstring."""

    t_ns: NDArray[np.int64]
    completeness: Array  # (G,)
    ambiguity: Array  # (G,)
    spuriousness: Array  # (G,)
    position_accuracy_m: Array  # (G,)
    velocity_accuracy_mps: Array  # (G,)
    n_truth: NDArray[np.int64]  # (G,) J(t)
    n_truth_tracked: NDArray[np.int64]  # (G,) JT(t)
    n_tracks: NDArray[np.int64]  # (G,) N(t)
    n_tracks_assigned: NDArray[np.int64]  # (G,) NA(t)
    truth_ids: tuple[str, ...]
    track_number_changes: NDArray[np.int64]  # (J,)
    time_tracked_s: Array  # (J,) TT_j
    longest_segment_s: Array  # (J,) TL_j
    lifetime_s: Array  # (J,) T_j
    pa_sum_m: float
    va_sum_mps: float

    @property
    def completeness_overall(self) -> float:
        return _ratio(self.n_truth_tracked.sum(), self.n_truth.sum())

    @property
    def ambiguity_overall(self) -> float:
        return _ratio(self.n_tracks_assigned.sum(), self.n_truth_tracked.sum())

    @property
    def spuriousness_overall(self) -> float:
        return _ratio(self.n_tracks.sum() - self.n_tracks_assigned.sum(), self.n_tracks.sum())

    @property
    def position_accuracy_overall_m(self) -> float:
        return _ratio(self.pa_sum_m, self.n_tracks_assigned.sum())

    @property
    def velocity_accuracy_overall_mps(self) -> float:
        return _ratio(self.va_sum_mps, self.n_tracks_assigned.sum())

    @property
    def rate_of_track_number_changes(self) -> float:
        """Track-number changes per second of tracked time, over all truths."""
        return _ratio(self.track_number_changes.sum(), self.time_tracked_s.sum())

    @property
    def longest_track_segment(self) -> float:
        return _ratio(self.longest_segment_s.sum(), self.lifetime_s.sum())


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den != 0 else float("nan")


def siap(
    est: TrackEstimates,
    truths: Sequence[Trajectory],
    grid_ns: ArrayLike,
    *,
    gate_m: float,
    max_age_ns: int,
    confirmed_only: bool = True,
) -> Siap:
    """SIAP measures of a track table against truths, on a time grid (sorted, ns)."""
    e = est.confirmed_only() if confirmed_only else est
    grid = np.asarray(grid_ns, dtype=np.int64)
    n_j = len(truths)
    labels, trk = track_index(e.track_id)
    rows = latest_on_grid(e.t_ns, trk, len(labels), grid, max_age_ns)  # (G, n)
    present = rows >= 0
    alive = truth_states(truths, grid)[1].T  # (G, J)
    dist, tx = position_distances(e, truths)  # (K, J), (J, K, 6)
    safe = np.maximum(rows, 0)
    d = np.where(present[..., None] & alive[:, None, :], dist[safe], np.inf)  # (G, n, J)
    d = np.where(d <= gate_m, d, np.inf)
    if n_j:
        assoc = np.where(np.isfinite(d).any(-1), np.argmin(d, axis=-1), -1)  # (G, n)
    else:
        assoc = np.full(rows.shape, -1)
    on = assoc >= 0
    g_idx = np.nonzero(on)[0]
    j_idx = assoc[on]
    k_idx = rows[on]
    pos_err = np.linalg.norm(e.x[k_idx, :3] - tx[j_idx, k_idx, :3], axis=-1)
    vel_err = np.linalg.norm(e.x[k_idx, 3:] - tx[j_idx, k_idx, 3:], axis=-1)
    n_grid = grid.size
    tracked = np.zeros((n_grid, n_j), dtype=bool)
    tracked[g_idx, j_idx] = True
    n_truth = alive.sum(1).astype(np.int64)
    jt = tracked.sum(1).astype(np.int64)
    n_tracks = present.sum(1).astype(np.int64)
    na = on.sum(1).astype(np.int64)
    pa = np.bincount(g_idx, pos_err, minlength=n_grid)
    va = np.bincount(g_idx, vel_err, minlength=n_grid)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_t = (jt / n_truth, na / jt, (n_tracks - na) / n_tracks, pa / na, va / na)
    changes = np.zeros(n_j, dtype=np.int64)
    tt = np.zeros(n_j)
    tl = np.zeros(n_j)
    life = np.zeros(n_j)
    t_s = (grid - (grid[0] if n_grid else 0)) / 1e9
    for j in range(n_j):  # a handful of missiles; each step is vectorised over time
        on_j = assoc == j  # (G, n)
        changes[j], tl[j] = _continuity(on_j, t_s)
        both = (on_j[:-1] & on_j[1:]).any(axis=1)
        tt[j] = float(np.sum(np.diff(t_s)[both]))
        alive_steps = np.flatnonzero(alive[:, j])
        if alive_steps.size:
            life[j] = t_s[alive_steps[-1]] - t_s[alive_steps[0]]
    return Siap(
        grid,
        *per_t,
        n_truth,
        jt,
        n_tracks,
        na,
        tuple(t.missile_id for t in truths),
        changes,
        tt,
        tl,
        life,
        float(pos_err.sum()),
        float(vel_err.sum()),
    )


def _continuity(on_j: NDArray[np.bool_], t_s: Array) -> tuple[int, float]:
    """Track-number changes and longest segment [s] for one truth from its (G, n) map."""
    pad = np.zeros((1, on_j.shape[1]), dtype=bool)
    edge = np.diff(np.concatenate([pad, on_j, pad]).astype(np.int8), axis=0)
    s_g, s_i = np.nonzero(edge == 1)  # segment starts (grid index, track)
    e_g, e_i = np.nonzero(edge == -1)  # one past each segment's end
    if s_g.size == 0:
        return 0, 0.0
    # nonzero walks row-major (time first); re-sort both by (track, time) to pair them.
    so = np.lexsort((s_g, s_i))
    eo = np.lexsort((e_g, e_i))
    start, track, end = s_g[so], s_i[so], e_g[eo] - 1
    longest = float(np.max(t_s[end] - t_s[start]))
    # Greedy cover: at the first uncovered time take the covering segment that ends last.
    changes, last_track = 0, -1
    t_now = int(start.min())
    last_end = int(end.max())
    while t_now <= last_end:
        cover = (start <= t_now) & (end >= t_now)
        if not cover.any():  # a gap: jump to the next segment's start
            t_now = int(start[start > t_now].min())
            continue
        best = int(np.flatnonzero(cover)[np.argmax(end[cover])])
        if last_track >= 0 and track[best] != last_track:
            changes += 1
        last_track, t_now = int(track[best]), int(end[best]) + 1
    return changes, longest
