"""Gating and assignment for track-to-track association, all pairs at once.

Two track estimates of one object differ by ``d = x_a - x_b``. Their cross-covariance is
unknown, so the covariance of ``d`` is taken as ``P_a + P_b``: for the positively
correlated errors of trackers that share a motion model and cueing, the true
``P_a + P_b - P_ab - P_ba`` is smaller, so the gate errs on the side of accepting (Bar-
Shalom & Chen, "Multisensor track-to-track association for tracks with dependent
errors", J. Adv. Inf. Fusion 1(1), 2006, discuss the effect of the omitted term). The
squared Mahalanobis distance ``d^T (P_a+P_b)^-1 d`` is chi-square with 6 degrees of
freedom for a true pair.

Pairs are found without forming all Na x Nb differences: since
``d^T S^-1 d >= |d_r|^2 / lambda_max(S_rr) >= |d_r|^2 / tr(S_rr)``, a pair can only pass a
gate ``gamma`` if its position separation satisfies ``|d_r|^2 <= gamma tr(S_rr)``; a
k-d tree over positions finds those candidates, and the exact distance is computed for
them alone.

Assignment solves ``scipy.optimize.linear_sum_assignment`` per connected component of
the gated-pair graph; most components are single pairs and need no solver at all.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from trilink.fusion import compiled
from trilink.tracking.jit import arg

Array = NDArray[np.float64]
Index = NDArray[np.intp]

_BRUTE_FORCE_PAIRS = 4096


def difference_distance(xa: Array, Pa: Array, xb: Array, Pb: Array) -> tuple[Array, Array]:
    """Squared Mahalanobis distance (K,) of x_a - x_b under P_a + P_b, and log det (K,).

    Rows are paired: xa (K, n) with xb (K, n). A pair whose summed covariance is not
    positive definite gets an infinite distance.
    """
    if xa.shape[0] == 0:
        return np.empty(0), np.empty(0)
    if compiled.use_kernels() and xa.shape[-1] == 6:
        from trilink.fusion.kernels_gating import distance_kernel

        return distance_kernel(arg(xa), arg(Pa), arg(xb), arg(Pb))
    d = xa - xb
    S = Pa + Pb
    sign, logdet = np.linalg.slogdet(S)
    with np.errstate(all="ignore"):
        sol = np.linalg.solve(S, d[..., None])[..., 0]
    d2 = np.einsum("ki,ki->k", d, sol)
    bad = (sign <= 0) | ~np.isfinite(d2)
    return np.where(bad, np.inf, d2), np.where(bad, np.inf, logdet)


def candidate_pairs(
    pos_a: Array, var_a: Array, pos_b: Array, var_b: Array, gate: float
) -> tuple[Index, Index]:
    """Index pairs (ia, ib) that may pass ``gate`` on position alone.

    ``var_*`` are traces of the position covariances (m^2). The test is a necessary
    condition for the full 6-D gate (see the module docstring), so no true pair is lost.
    """
    na, nb = len(pos_a), len(pos_b)
    if na == 0 or nb == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    if na * nb <= _BRUTE_FORCE_PAIRS:
        ga, gb = np.meshgrid(np.arange(na), np.arange(nb), indexing="ij")
        ia, ib = ga.ravel(), gb.ravel()
    else:
        # The search radius must cover the widest b; a few coasting tracks with huge
        # covariances would make it cover everything, so those are paired by brute force.
        cap = float(np.quantile(var_b, 0.9))
        narrow = np.flatnonzero(var_b <= cap)
        wide = np.flatnonzero(var_b > cap)
        tree = cKDTree(pos_b[narrow])
        hits = tree.query_ball_point(pos_a, np.sqrt(gate * (var_a + cap)))
        counts = np.fromiter((len(h) for h in hits), np.intp, count=na)
        ia = np.repeat(np.arange(na), counts)
        ib = narrow[np.fromiter((j for h in hits for j in h), np.intp, count=int(counts.sum()))]
        ia = np.concatenate([ia, np.repeat(np.arange(na), wide.size)])
        ib = np.concatenate([ib, np.tile(wide, na)])
    sep2 = np.sum((pos_a[ia] - pos_b[ib]) ** 2, axis=-1)
    keep = sep2 <= gate * (var_a[ia] + var_b[ib])
    return ia[keep], ib[keep]


def position_trace(P: Array) -> Array:
    """tr of the position block (N,) of covariances (N, 6, 6) [m^2]."""
    return np.trace(P[:, :3, :3], axis1=-2, axis2=-1)


def gated_pairs(
    xa: Array, Pa: Array, xb: Array, Pb: Array, gate: float
) -> tuple[Index, Index, Array, Array]:
    """All pairs (ia, ib) with squared distance below ``gate``, their d^2 and log det S."""
    ia, ib = candidate_pairs(xa[:, :3], position_trace(Pa), xb[:, :3], position_trace(Pb), gate)
    d2, logdet = difference_distance(xa[ia], Pa[ia], xb[ib], Pb[ib])
    ok = d2 < gate
    return ia[ok], ib[ok], d2[ok], logdet[ok]


def self_gated_pairs(x: Array, P: Array, gate: float) -> tuple[Index, Index, Array]:
    """Pairs i < j within one set of tracks that pass ``gate``, and their d^2."""
    n = len(x)
    if n < 2:
        return np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0)
    var = position_trace(P)
    if n * n <= _BRUTE_FORCE_PAIRS:
        ia, ib = (np.asarray(v, np.intp) for v in np.triu_indices(n, k=1))
    else:
        # As in candidate_pairs: one radius for the narrow 90 %, brute force for the rest.
        cap = float(np.quantile(var, 0.9))
        narrow = np.flatnonzero(var <= cap)
        wide = np.flatnonzero(var > cap)
        tree = cKDTree(x[narrow, :3])
        close = tree.query_pairs(np.sqrt(2.0 * gate * cap), output_type="ndarray")
        wa, wb = np.repeat(wide, n), np.tile(np.arange(n), wide.size)
        keep = (wa != wb) & ~(np.isin(wb, wide) & (wb < wa))  # each wide pair once
        ia = np.concatenate([narrow[close[:, 0]], wa[keep]])
        ib = np.concatenate([narrow[close[:, 1]], wb[keep]])
        ia, ib = np.minimum(ia, ib), np.maximum(ia, ib)
    sep2 = np.sum((x[ia, :3] - x[ib, :3]) ** 2, axis=-1)
    near = sep2 <= gate * (var[ia] + var[ib])
    ia, ib = ia[near], ib[near]
    d2, _ = difference_distance(x[ia], P[ia], x[ib], P[ib])
    ok = d2 < gate
    return ia[ok], ib[ok], d2[ok]


def assign(ia: Index, ib: Index, cost: Array, na: int, nb: int) -> tuple[Index, Index]:
    """Minimum-cost one-to-one matching among the given pairs; returns matched (ia, ib).

    The largest number of pairs is matched first, then the total cost is minimised (a
    pair outside the list costs more than any complete matching of listed pairs), solved
    per connected component of the pair graph.
    """
    if ia.size == 0:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    if np.unique(ia).size == ia.size and np.unique(ib).size == ib.size:
        return ia, ib  # every pair is its own component: the common case, no graph needed
    graph = coo_matrix((np.ones(ia.size), (ia, na + ib)), shape=(na + nb, na + nb))
    _, label = connected_components(graph, directed=False)
    comp = label[ia]
    # Components of exactly one pair need no solver.
    sizes = np.bincount(comp, minlength=label.max() + 1)
    single = sizes[comp] == 1
    out_a, out_b = [ia[single]], [ib[single]]
    for c in np.unique(comp[~single]):
        sel = np.flatnonzero(comp == c)
        rows, r_inv = np.unique(ia[sel], return_inverse=True)
        cols, c_inv = np.unique(ib[sel], return_inverse=True)
        big = 2.0 * (np.abs(cost[sel]).sum() + 1.0)
        matrix = np.full((rows.size, cols.size), big)
        matrix[r_inv, c_inv] = cost[sel]
        r, c2 = linear_sum_assignment(matrix)
        listed = matrix[r, c2] < big
        out_a.append(rows[r[listed]])
        out_b.append(cols[c2[listed]])
    return np.concatenate(out_a), np.concatenate(out_b)
