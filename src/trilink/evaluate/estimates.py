"""Track estimates as plain arrays, and truth evaluated at the estimates' own times.

Evaluation reads what a tracker produced through this one table, so that no metric
depends on the tracker's internals: K rows, one per (track, time) estimate, in any order.

Shapes and units: times ``t_ns`` (K,) int64 UTC ns; states ``x`` (K, 6) ``[r_m, v_mps]``
in one Cartesian frame shared with the truth (ECEF for trilink, a local ENU frame for the
constant-velocity benchmark: every metric here is invariant under a rigid motion of the
frame); covariances ``P`` (K, 6, 6).

Trackers update tracks at their own times (one radar scan does not see every target at
the same instant, and nations' radars are not synchronised). Metrics therefore never move
an estimate in time: they compare each estimate with the truth *at the estimate's time*
(:func:`truth_states`, cubic Hermite interpolation of the truth samples), and where a
common time grid is needed they hold each track's latest estimate (:func:`latest_on_grid`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]


@dataclass(frozen=True)
class TrackEstimates:
    """K track estimates (one row per track and time).

    Attributes:
        t_ns: (K,) int64 estimate times.
        track_id: (K,) track labels (str or int), unique per track within one tracker.
        x: (K, 6) state ``[x, y, z, vx, vy, vz]`` in metres and m/s.
        P: (K, 6, 6) state covariance, or None when the tracker gives none.
        confirmed: (K,) bool, True once the track is confirmed (all True if not given).
    """

    t_ns: NDArray[np.int64]
    track_id: NDArray[np.generic]
    x: Array
    P: Array | None = None
    confirmed: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        k = np.shape(self.t_ns)[0]
        if np.shape(self.x) != (k, 6):
            raise ValueError(f"x must be (K, 6) with K={k}, got {np.shape(self.x)}")
        if np.shape(self.track_id) != (k,):
            raise ValueError(f"track_id must be (K,), got {np.shape(self.track_id)}")
        if self.P is not None and np.shape(self.P) != (k, 6, 6):
            raise ValueError(f"P must be (K, 6, 6), got {np.shape(self.P)}")
        if self.confirmed is not None and np.shape(self.confirmed) != (k,):
            raise ValueError(f"confirmed must be (K,), got {np.shape(self.confirmed)}")

    @classmethod
    def from_arrays(
        cls,
        t_ns: ArrayLike,
        track_id: ArrayLike,
        x: ArrayLike,
        P: ArrayLike | None = None,
        confirmed: ArrayLike | None = None,
    ) -> TrackEstimates:
        """Build from anything array-like, with dtypes checked once here."""
        return cls(
            np.asarray(t_ns, dtype=np.int64),
            np.asarray(track_id),
            np.asarray(x, dtype=float),
            None if P is None else np.asarray(P, dtype=float),
            None if confirmed is None else np.asarray(confirmed, dtype=bool),
        )

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def is_confirmed(self) -> NDArray[np.bool_]:
        if self.confirmed is None:
            return np.ones(len(self), dtype=bool)
        return self.confirmed

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> TrackEstimates:
        """A new table with the selected rows."""
        return TrackEstimates(
            self.t_ns[index],
            self.track_id[index],
            self.x[index],
            None if self.P is None else self.P[index],
            None if self.confirmed is None else self.confirmed[index],
        )

    def confirmed_only(self) -> TrackEstimates:
        return self.take(self.is_confirmed)


def truth_states(truths: Sequence[Trajectory], t_ns: ArrayLike) -> tuple[Array, NDArray[np.bool_]]:
    """Every truth's state at every time: (J, K, 6) ``[r, v]`` and an in-flight mask (J, K).

    Outside a trajectory's [launch, impact] the state is NaN and the mask False.
    """
    t = np.asarray(t_ns, dtype=np.int64)
    if not truths:
        return np.empty((0, *t.shape, 6)), np.empty((0, *t.shape), dtype=bool)
    states, masks = [], []
    for traj in truths:  # a handful of missiles; each call is vectorised over K
        r, v, inside = traj.state_at(t)
        states.append(np.concatenate([r, v], axis=-1))
        masks.append(inside)
    return np.stack(states), np.stack(masks)


def latest_on_grid(
    t_ns: ArrayLike, track_index: ArrayLike, n_tracks: int, grid_ns: ArrayLike, max_age_ns: int
) -> NDArray[np.intp]:
    """Row of each track's latest estimate at each grid time: (G, n_tracks), -1 for none.

    A track counts as present at grid time g if it has an estimate with time in
    ``(g - max_age_ns, g]``; the row returned is that latest estimate. Fully vectorised:
    rows are sorted by (track, time) and one ``searchsorted`` answers all G * n_tracks
    questions at once, through the key ``track * span + (t - t_min)``.
    """
    t = np.asarray(t_ns, dtype=np.int64)
    trk = np.asarray(track_index, dtype=np.int64)
    grid = np.asarray(grid_ns, dtype=np.int64)
    out = np.full((grid.shape[0], n_tracks), -1, dtype=np.intp)
    if t.size == 0 or grid.size == 0 or n_tracks == 0:
        return out
    t0 = min(int(t.min()), int(grid.min()))
    span = max(int(t.max()), int(grid.max())) - t0 + 1
    if n_tracks * span >= 2**62:  # the combined int64 key would overflow
        raise ValueError(f"{n_tracks} tracks over {span} ns overflow the int64 search key")
    order = np.lexsort((t, trk))
    keys = trk[order] * span + (t[order] - t0)
    q_trk = np.broadcast_to(np.arange(n_tracks), out.shape)
    queries = q_trk * span + (grid[:, None] - t0)
    pos = np.searchsorted(keys, queries, side="right") - 1
    valid = pos >= 0
    rows = order[np.where(valid, pos, 0)]
    valid &= trk[rows] == q_trk
    valid &= t[rows] > grid[:, None] - max_age_ns
    return np.where(valid, rows, -1)


def track_index(track_id: ArrayLike) -> tuple[NDArray[np.generic], NDArray[np.intp]]:
    """Unique track labels (n,) and each row's index into them (K,)."""
    labels, inverse = np.unique(np.asarray(track_id), return_inverse=True)
    return labels, inverse.reshape(-1)
