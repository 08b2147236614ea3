"""Small dense linear algebra for the fusion kernels, written out for 6 x 6 matrices.

The helpers every compiled fusion kernel builds on: a Cholesky factor (backward stable
for symmetric positive definite input), and through it log-determinants, inverses and
traces of inverses (``tr A^-1 = |L^-1|_F^2``); small products and traces without a BLAS
call (its overhead dominates at 6 x 6); the two objectives of covariance intersection,
``tr P`` and ``log det P``, from an information matrix or a covariance; and Gaussian
elimination with partial pivoting (LAPACK's ``gesv`` algorithm) for the small KKT
systems of the simplex QP in ``kernels_ci.py``.

A matrix that is not numerically positive definite makes :func:`_chol` return False and
the objectives infinite, where the NumPy reference would give a meaningless number.

The hub's states are 6-D, and the square loops run to the compile-time size ``_N = 6``:
a fixed trip count lets LLVM unroll them (twice as fast as a run-time n). The NumPy
reference (``intersection.py``, ``pair.py``, ``gating.py``) serves any other size.

Every function here is :func:`~trilink.tracking.jit.njit_inner`: called only from the
kernels of ``kernels_ci.py``, ``kernels_pair.py`` and ``kernels_gating.py``, which
compile it into themselves. :mod:`trilink.fusion.compiled` therefore keys the disk cache
of every fusion kernel on all the kernel files together: a change here recompiles them.
"""

from __future__ import annotations

import numpy as np

from trilink.fusion.compiled import njit_inner

# The size the kernels are compiled for (see the module docstring).
_N = 6


@njit_inner
def _chol(A: np.ndarray, L: np.ndarray) -> bool:
    """Lower Cholesky factor of A (n, n) into L; False when A is not positive definite."""
    n = _N
    for j in range(n):
        d = A[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return False
        ljj = np.sqrt(d)
        r = 1.0 / ljj
        L[j, j] = ljj
        for i in range(j + 1, n):
            s = A[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            L[i, j] = s * r
    return True


@njit_inner
def _logdet(L: np.ndarray) -> float:
    """log det A from its Cholesky factor L."""
    s = 0.0
    for i in range(_N):
        s += np.log(L[i, i])
    return 2.0 * s


@njit_inner
def _lower_inverse(L: np.ndarray, Li: np.ndarray) -> None:
    """Li = L^-1 for lower-triangular L (its strict upper part is left untouched)."""
    n = _N
    for i in range(n):
        Li[i, i] = 1.0 / L[i, i]
    for j in range(n):
        for i in range(j + 1, n):
            s = 0.0
            for k in range(j, i):
                s -= L[i, k] * Li[k, j]
            Li[i, j] = s * Li[i, i]


@njit_inner
def _inverse_from_chol(L: np.ndarray, Li: np.ndarray, out: np.ndarray) -> None:
    """out = A^-1 = L^-T L^-1 (exactly symmetric) from A's Cholesky factor L."""
    n = _N
    _lower_inverse(L, Li)
    for i in range(n):
        for j in range(i, n):
            s = 0.0
            for k in range(j, n):
                s += Li[k, i] * Li[k, j]
            out[i, j] = s
            out[j, i] = s


@njit_inner
def _trace_inverse_from_chol(L: np.ndarray, Li: np.ndarray) -> float:
    """tr A^-1 = |L^-1|_F^2 from A's Cholesky factor L."""
    n = _N
    _lower_inverse(L, Li)
    s = 0.0
    for j in range(n):
        for i in range(j, n):
            s += Li[i, j] * Li[i, j]
    return s


@njit_inner
def _matmul(A: np.ndarray, B: np.ndarray, out: np.ndarray) -> None:
    """out = A @ B for small square matrices (no BLAS call: its overhead dominates at 6x6)."""
    n = _N
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += A[i, k] * B[k, j]
            out[i, j] = s


@njit_inner
def _matvec(A: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    """out = A @ v for a small square A (loops: no BLAS call)."""
    n = A.shape[0]
    for i in range(n):
        s = 0.0
        for k in range(n):
            s += A[i, k] * v[k]
        out[i] = s


@njit_inner
def _trace_of_product(A: np.ndarray, B: np.ndarray) -> float:
    """tr(A B) = sum_ab A_ab B_ba, without forming the product."""
    n = _N
    s = 0.0
    for a in range(n):
        for b in range(n):
            s += A[a, b] * B[b, a]
    return s


@njit_inner
def _combine(w: np.ndarray, info: np.ndarray, out: np.ndarray) -> None:
    """out = sum_k w_k info_k (inputs with zero weight skipped)."""
    n = _N
    out[:, :] = 0.0
    for k in range(w.shape[0]):
        if w[k] != 0.0:
            for i in range(n):
                for j in range(n):
                    out[i, j] += w[k] * info[k, i, j]


@njit_inner
def _objective(info_f: np.ndarray, trace: bool, L: np.ndarray, Li: np.ndarray) -> float:
    """f = tr info_f^-1 or log det info_f^-1 (inf when info_f is not positive definite)."""
    if not _chol(info_f, L):
        return np.inf
    if trace:
        return _trace_inverse_from_chol(L, Li)
    return -_logdet(L)


@njit_inner
def _plain_objective(P: np.ndarray, trace: bool, L: np.ndarray) -> float:
    """tr P or log det P of a covariance (log det inf when not positive definite)."""
    if trace:
        return np.trace(P)
    if not _chol(P, L):
        return np.inf
    return _logdet(L)


@njit_inner
def _solve(a: np.ndarray, x: np.ndarray) -> None:
    """Solve a y = x in place (x <- y, a destroyed): Gaussian elimination with partial
    pivoting, the algorithm of LAPACK's gesv, for the small KKT systems."""
    n = a.shape[0]
    for c in range(n):
        p = c
        for r in range(c + 1, n):
            if abs(a[r, c]) > abs(a[p, c]):
                p = r
        if p != c:
            for k in range(n):
                a[c, k], a[p, k] = a[p, k], a[c, k]
            x[c], x[p] = x[p], x[c]
        for r in range(c + 1, n):
            f = a[r, c] / a[c, c]
            for k in range(c, n):
                a[r, k] -= f * a[c, k]
            x[r] -= f * x[c]
    for c in range(n - 1, -1, -1):
        s = x[c]
        for k in range(c + 1, n):
            s -= a[c, k] * x[k]
        x[c] = s / a[c, c]
