"""OSPA and GOSPA: distances between the set of true objects and the set of tracks.

Both are metrics on finite sets that charge, in one number, for localisation error and
for wrong cardinality (missed objects, false tracks), with a cutoff ``c`` [m] that caps
what any single object can cost and an order ``p >= 1``. X is the truth set (m points),
Y the estimate set (n points), ``d^(c)(x, y) = min(c, |x - y|)``.

OSPA (Schuhmacher, Vo & Vo, "A consistent metric for performance evaluation of
multi-object filters", IEEE TSP 56(8), 2008, eq. 3), for m <= n (swap otherwise)::

    d_p^(c)(X, Y) = ( (1/n) [ min_pi sum_i d^(c)(x_i, y_pi(i))^p + c^p (n - m) ] )^(1/p)

0 when both sets are empty; c when exactly one is. It is a per-object average, bounded by c.

GOSPA (Rahmathullah, Garcia-Fernandez & Svensson, "Generalized optimal sub-pattern
assignment metric", FUSION 2017, eq. 1), for m <= n::

    d_p^(c,alpha)(X, Y) = ( min_pi sum_i d^(c)(x_i, y_pi(i))^p + (c^p / alpha) (n - m) )^(1/p)

Not normalised, so it grows with the number of objects. With alpha = 2 (the default, and
the only value with this decomposition, ibid. Proposition 1) it equals::

    ( sum over assigned pairs |x - y|^p  +  c^p/2 * #missed  +  c^p/2 * #false )^(1/p)

where pairs at distance >= c are better left unassigned (c^p/2 + c^p/2 = c^p). The three
terms, in metres^p, are reported as ``localisation``, ``missed`` and ``false``.

The optimal pi comes from ``scipy.optimize.linear_sum_assignment`` on the cut-off cost
matrix; for m <= n the padding term is the same for every pi, so the rectangular problem
suffices. Distances may be given directly (:func:`ospa_from_distances`), so callers can
compare each estimate with the truth at the estimate's own time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

from trilink.evaluate.assignment import position_distances
from trilink.evaluate.estimates import TrackEstimates, latest_on_grid, track_index, truth_states
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Gospa:
    """GOSPA with its decomposition (alpha = 2); the three parts in metres^p.

    ``distance = (localisation + missed + false) ** (1/p)``.
    """

    distance: float
    localisation: float
    missed: float
    false: float
    n_assigned: int
    n_missed: int
    n_false: int


def pairwise_distances(x: ArrayLike, y: ArrayLike) -> Array:
    """Euclidean distances (m, n) between point sets x (m, d) and y (n, d)."""
    a = np.asarray(x, dtype=float)
    b = np.asarray(y, dtype=float)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)


def _cutoff_cost(distances: ArrayLike, c: float, p: float) -> Array:
    d = np.asarray(distances, dtype=float)
    if d.ndim != 2:
        raise ValueError(f"distances must be (m, n), got shape {d.shape}")
    if c <= 0 or p < 1:
        raise ValueError(f"need c > 0 and p >= 1, got c={c}, p={p}")
    # A pair with no finite distance (e.g. a truth not in flight at the estimate's time)
    # costs the cutoff, like any pair farther than c.
    return np.where(np.isfinite(d), np.minimum(d, c), c) ** p


def ospa_from_distances(distances: ArrayLike, c: float, p: float = 2.0) -> float:
    """OSPA from a truth-by-estimate distance matrix (m, n) [m]."""
    cost = _cutoff_cost(distances, c, p)
    m, n = cost.shape
    big = max(m, n)
    if big == 0:
        return 0.0
    r, k = linear_sum_assignment(cost)
    total = cost[r, k].sum() + c**p * abs(n - m)
    return float((total / big) ** (1.0 / p))


def ospa(truth: ArrayLike, estimates: ArrayLike, c: float, p: float = 2.0) -> float:
    """OSPA between point sets truth (m, d) and estimates (n, d)."""
    return ospa_from_distances(_distances(truth, estimates), c, p)


def gospa_from_distances(
    distances: ArrayLike, c: float, p: float = 2.0, alpha: float = 2.0
) -> Gospa:
    """GOSPA from a truth-by-estimate distance matrix (m, n) [m].

    The decomposition into localisation / missed / false is exact for alpha = 2; for
    other alpha in (0, 2] only ``distance`` is meaningful and the parts are NaN.
    """
    if not 0.0 < alpha <= 2.0:
        raise ValueError(f"alpha must be in (0, 2], got {alpha}")
    cost = _cutoff_cost(distances, c, p)
    d = np.asarray(distances, dtype=float)
    m, n = cost.shape
    r, k = linear_sum_assignment(cost)
    total = float(cost[r, k].sum() + c**p / alpha * abs(n - m))
    dist = total ** (1.0 / p)
    if alpha != 2.0:
        return Gospa(dist, np.nan, np.nan, np.nan, 0, 0, 0)
    real = np.isfinite(d[r, k]) & (d[r, k] < c)
    n_assigned = int(real.sum())
    half = c**p / 2.0
    return Gospa(
        dist,
        float(cost[r, k][real].sum()),
        half * (m - n_assigned),
        half * (n - n_assigned),
        n_assigned,
        m - n_assigned,
        n - n_assigned,
    )


def gospa(
    truth: ArrayLike, estimates: ArrayLike, c: float, p: float = 2.0, alpha: float = 2.0
) -> Gospa:
    """GOSPA between point sets truth (m, d) and estimates (n, d)."""
    return gospa_from_distances(_distances(truth, estimates), c, p, alpha)


def _distances(truth: ArrayLike, estimates: ArrayLike) -> Array:
    x = np.asarray(truth, dtype=float)
    y = np.asarray(estimates, dtype=float)
    dim = x.shape[-1] if x.size else (y.shape[-1] if y.size else 1)
    return pairwise_distances(x.reshape(-1, dim), y.reshape(-1, dim))


@dataclass(frozen=True)
class SetErrorSeries:
    """OSPA and GOSPA at each grid time.

    Attributes:
        t_ns: (G,) grid times.
        ospa_m, gospa_m: (G,) the distances [m].
        localisation, missed, false: (G,) GOSPA parts [m^p] (alpha = 2).
        n_truth, n_tracks: (G,) set sizes.
    """

    t_ns: NDArray[np.int64]
    ospa_m: Array
    gospa_m: Array
    localisation: Array
    missed: Array
    false: Array
    n_truth: NDArray[np.int64]
    n_tracks: NDArray[np.int64]


def set_errors_over_time(
    est: TrackEstimates,
    truths: Sequence[Trajectory],
    grid_ns: ArrayLike,
    *,
    c: float,
    p: float = 2.0,
    max_age_ns: int,
    confirmed_only: bool = True,
) -> SetErrorSeries:
    """OSPA and GOSPA at each grid time between the truths in flight and the tracks present.

    A track is present at grid time g with its latest estimate in ``(g - max_age_ns, g]``,
    compared with each truth at that estimate's own time (no extrapolation).
    """
    e = est.confirmed_only() if confirmed_only else est
    grid = np.asarray(grid_ns, dtype=np.int64)
    labels, trk = track_index(e.track_id)
    rows = latest_on_grid(e.t_ns, trk, len(labels), grid, max_age_ns)  # (G, n_tracks)
    dist = position_distances(e, truths)[0] if len(e) else np.empty((0, len(truths)))
    alive = truth_states(truths, grid)[1].T  # (G, J)
    out = np.full((5, grid.size), np.nan)
    n_truth = alive.sum(axis=1).astype(np.int64)
    n_tracks = (rows >= 0).sum(axis=1).astype(np.int64)
    for g in range(grid.size):  # one small assignment problem per time step
        present = rows[g][rows[g] >= 0]
        dg = dist[present][:, alive[g]].T  # (truths, tracks)
        gs = gospa_from_distances(dg, c, p)
        out[:, g] = (
            ospa_from_distances(dg, c, p),
            gs.distance,
            gs.localisation,
            gs.missed,
            gs.false,
        )
    return SetErrorSeries(grid, out[0], out[1], out[2], out[3], out[4], n_truth, n_tracks)
