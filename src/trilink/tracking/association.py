"""Gating and global-nearest-neighbour assignment for one scan of one sensor.

All tracks (N) against all detections (D) at once: predicted measurements and Jacobians
for the N tracks, innovation covariances ``S`` (N, D, m, m) (each detection brings its own
``R``), Mahalanobis distances ``d2`` (N, D) and the cost ``d2 + ln det S`` (the negative
log-likelihood up to a constant, so that a tight track does not lose a detection to a
loose one that merely has a wider gate). Pairs outside the chi-square gate are infeasible.
The assignment is :func:`scipy.optimize.linear_sum_assignment` on that matrix.

Reference: Blackman & Popoli, *Design and Analysis of Modern Tracking Systems* (Artech
House 1999), sec. 6.2-6.4 (gating, GNN); Bar-Shalom, Li & Kirubarajan (2001), sec. 3.7.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from trilink.tracking.filters import Measurement
from trilink.tracking.jit import arg, use_kernels

Array = NDArray[np.float64]

_INFEASIBLE = 1e12


@lru_cache(maxsize=64)
def gate_threshold(probability: float, dim: int) -> float:
    """Chi-square gate on the squared Mahalanobis distance of a ``dim``-D innovation."""
    return float(chi2.ppf(probability, dim))


def distances(x: Array, P: Array, z: Array, R: Array, meas: Measurement) -> tuple[Array, Array]:
    """Squared Mahalanobis distances (N, D) and costs ``d2 + ln det S`` (N, D); the
    compiled kernel when :mod:`.jit` allows, else :func:`distances_reference`."""
    if not use_kernels():
        return distances_reference(x, P, z, R, meas)
    from trilink.tracking.kernels_filters import distances_kernel

    return distances_kernel(
        arg(x), arg(P), arg(z), arg(R),
        *meas.frame(), meas.kind == "radar",
    )  # fmt: skip


def distances_reference(
    x: Array, P: Array, z: Array, R: Array, meas: Measurement
) -> tuple[Array, Array]:
    """:func:`distances` in NumPy (the reference)."""
    n, d = x.shape[0], z.shape[0]
    if n == 0 or d == 0:
        return np.zeros((n, d)), np.zeros((n, d))
    zhat, H = meas.predict(x)  # (N, m), (N, m, n)
    hph = H @ P @ np.swapaxes(H, -1, -2)  # (N, m, m)
    S = hph[:, None, :, :] + R[None, :, :, :]  # (N, D, m, m)
    nu = meas.residual(np.broadcast_to(z[None, :, :], (n, d, z.shape[1])), zhat[:, None, :])
    sinv_nu = np.linalg.solve(S, nu[..., None])[..., 0]
    d2 = np.einsum("ndi,ndi->nd", nu, sinv_nu)
    _, logdet = np.linalg.slogdet(S)
    return d2, d2 + logdet


def assign(d2: Array, cost: Array, gate: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Track and detection indices of the assigned pairs, all inside the gate."""
    feasible = d2 <= gate
    ri, ci = np.nonzero(feasible)
    r, c = ri.tolist(), ci.tolist()  # (a handful: sets beat np.unique here)
    if len(set(r)) == len(r) and len(set(c)) == len(c):
        # Each gated track sees one detection and each detection one track: every feasible
        # pair is in the optimal assignment (leaving one out costs _INFEASIBLE), so this
        # is the solver's answer without the solver (the usual case: one missile, one plot).
        return ri, ci
    rows = np.flatnonzero(feasible.any(axis=1))
    cols = np.flatnonzero(feasible.any(axis=0))
    sub = np.where(feasible[np.ix_(rows, cols)], cost[np.ix_(rows, cols)], _INFEASIBLE)
    ri, ci = linear_sum_assignment(sub)
    keep = sub[ri, ci] < _INFEASIBLE
    return rows[ri[keep]], cols[ci[keep]]


def candidates(
    x: Array, P: Array, mu: Array, dt_s: Array, det_pos: Array, z: Array, R: Array
) -> NDArray[np.bool_]:
    """Which of N IMM tracks (x (N, M, n), P, mu, at their own times, dt_s (N,) before
    the scan) may be inside the gate of one of D radar detections (z (D, 3), R, converted
    positions det_pos (D, 3)): the tracks extrapolated in a straight line must come within
    6 sigma of both plus what gravity and thrust (<= 120 m/s^2) bend in dt, plus 1 km.
    A generous test that spares the full prediction of tracks in other regions."""
    # Detection position sigma from the diagonal of R: range and range x angles.
    sig_det = np.sqrt(R[:, 0, 0] + z[:, 0] ** 2 * (R[:, 1, 1] + R[:, 2, 2]))
    if not use_kernels():
        return candidates_reference(x, P, mu, dt_s, det_pos, sig_det)
    from trilink.tracking.kernels_tracks import candidates_kernel

    return candidates_kernel(arg(x), arg(P), arg(mu), arg(dt_s), arg(det_pos), arg(sig_det))


def candidates_reference(
    x: Array, P: Array, mu: Array, dt: Array, det_pos: Array, sig_det: Array
) -> NDArray[np.bool_]:
    """:func:`candidates` in NumPy."""
    from trilink.tracking.imm import combine_reference

    xc, Pc = combine_reference(x, P, mu)
    pos = xc[:, 0:3] + xc[:, 3:6] * dt[:, None]
    sig_trk = np.sqrt(np.trace(Pc[:, 0:3, 0:3], axis1=1, axis2=2))
    sig_trk += np.sqrt(np.trace(Pc[:, 3:6, 3:6], axis1=1, axis2=2)) * dt
    reach = 6.0 * (sig_trk[:, None] + sig_det[None, :]) + 60.0 * dt[:, None] ** 2 + 1_000.0
    dist = np.linalg.norm(pos[:, None, :] - det_pos[None, :, :], axis=-1)
    return np.any(dist <= reach, axis=1)


def duplicate_pairs(xc: Array, Pc: Array, gate: float) -> NDArray[np.bool_]:
    """(C, C) flags of pairs of track estimates (xc (C, n), Pc (C, n, n)) whose 6-D
    states differ by a squared Mahalanobis distance under ``Pc_i + Pc_j`` below ``gate``
    (the diagonal is False)."""
    if not use_kernels():
        return duplicate_pairs_reference(xc, Pc, gate)
    from trilink.tracking.kernels_tracks import duplicate_pairs_kernel

    return duplicate_pairs_kernel(arg(xc), arg(Pc), float(gate))


def duplicate_pairs_reference(xc: Array, Pc: Array, gate: float) -> NDArray[np.bool_]:
    """:func:`duplicate_pairs` in NumPy."""
    d = xc[:, None, 0:6] - xc[None, :, 0:6]
    S = Pc[:, None, 0:6, 0:6] + Pc[None, :, 0:6, 0:6]
    d2 = np.einsum("abi,abi->ab", d, np.linalg.solve(S, d[..., None])[..., 0])
    np.fill_diagonal(d2, np.inf)
    return np.asarray(d2 < gate)
