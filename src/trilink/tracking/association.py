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
    rows = np.flatnonzero(feasible.any(axis=1))
    cols = np.flatnonzero(feasible.any(axis=0))
    if rows.size == 0 or cols.size == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    sub = np.where(feasible[np.ix_(rows, cols)], cost[np.ix_(rows, cols)], _INFEASIBLE)
    ri, ci = linear_sum_assignment(sub)
    keep = sub[ri, ci] < _INFEASIBLE
    return rows[ri[keep]], cols[ci[keep]]
