"""Compiled gating distances: the difference of two estimates against their summed
covariance, row by row.

:func:`distance_kernel` is ``gating.difference_distance`` (``d^T (P_a + P_b)^-1 d`` and
``log det (P_a + P_b)`` per paired row, for track-to-track association), and
:func:`disputed_kernel` is ``maintenance.disputed_pairings`` (whether any two national
tracks bound to one system track differ by more than the decorrelation gate). Both go
through a Cholesky factor of the sum and a forward substitution, ``d^2 = |L^-1 d|^2``;
a sum that is not numerically positive definite counts as an infinite distance, as in
the NumPy reference.

Shapes: states xa, xb (N, 6), covariances Pa, Pb (N, 6, 6); ``idx`` (M, K) holds the
national rows of each system row, -1 padded.
"""

from __future__ import annotations

import numpy as np

from trilink.fusion.compiled import njit
from trilink.fusion.kernels_linalg import _chol, _logdet


@njit
def distance_kernel(xa: np.ndarray, Pa: np.ndarray, xb: np.ndarray, Pb: np.ndarray):
    """d^T (Pa + Pb)^-1 d and log det (Pa + Pb) per paired row (gating.difference_distance);
    inf for both where the sum is not positive definite."""
    k, n = xa.shape
    d2 = np.empty(k)
    logdet = np.empty(k)
    S = np.empty((n, n))
    L = np.empty((n, n))
    y = np.empty(n)
    for row in range(k):
        for i in range(n):
            for j in range(n):
                S[i, j] = Pa[row, i, j] + Pb[row, i, j]
        if not _chol(S, L):
            d2[row], logdet[row] = np.inf, np.inf
            continue
        acc = 0.0
        for i in range(n):  # forward substitution L y = d; d^2 = |y|^2
            s = xa[row, i] - xb[row, i]
            for j in range(i):
                s -= L[i, j] * y[j]
            y[i] = s / L[i, i]
            acc += y[i] * y[i]
        if np.isfinite(acc):
            d2[row], logdet[row] = acc, _logdet(L)
        else:
            d2[row], logdet[row] = np.inf, np.inf
    return d2, logdet


@njit
def disputed_kernel(idx: np.ndarray, xa: np.ndarray, Pa: np.ndarray, gate: float) -> np.ndarray:
    """(M,) True where two national rows of a system row (idx (M, K), -1 padded) differ by
    more than ``gate`` in d^T (P_a + P_b)^-1 d (maintenance.disputed_pairings)."""
    m_rows, k = idx.shape
    n = xa.shape[1]
    out = np.zeros(m_rows, np.bool_)
    S = np.empty((n, n))
    L = np.empty((n, n))
    y = np.empty(n)
    for row in range(m_rows):
        for j in range(k):
            a = idx[row, j]
            if a < 0:
                continue
            for l2 in range(j + 1, k):
                b = idx[row, l2]
                if b < 0 or out[row]:
                    continue
                for i in range(n):
                    for c in range(n):
                        S[i, c] = Pa[a, i, c] + Pa[b, i, c]
                if not _chol(S, L):
                    out[row] = True  # an infinite distance, as in the reference
                    continue
                acc = 0.0
                for i in range(n):
                    t = xa[a, i] - xa[b, i]
                    for c in range(i):
                        t -= L[i, c] * y[c]
                    y[i] = t / L[i, i]
                    acc += y[i] * y[i]
                if not np.isfinite(acc) or acc > gate:
                    out[row] = True
    return out
