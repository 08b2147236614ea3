"""Compiled covariance intersection of each fused row's inputs, and its entry point.

:func:`fuse_groups_kernel` fuses, for every output row, the national rows its layout
selects: no input gives NaN, one input is its own fusion, two take the pair search of
``kernels_pair.py`` (unless fast CI is asked for), and more the algorithm of
``intersection.py`` step for step: Newton on the simplex with an exact
support-enumerating QP step and a sampled line search, started from the better of the
best input and the improved fast-CI weights of Fraenken & Hupper (FUSION 2005). One
kernel serves the track table and :func:`~trilink.fusion.intersection.covariance_intersection`,
so one is compiled.

The linear algebra (Cholesky factors for inverses and log-determinants, the KKT systems
by Gaussian elimination with partial pivoting) is that of ``kernels_linalg.py``. Results
agree with the reference to round-off in the sums, and within the optimisers' stopping
tolerances in the weights (tests/fusion/test_fusion_kernels.py).

Shapes: states xa (N, n), covariances Pa (N, n, n), and the (M, K) layout idx of the rows
fused into each output row (-1 padded) with its mask; outputs per row, n = 6.
"""

from __future__ import annotations

import numpy as np

from trilink.fusion.compiled import njit, njit_inner
from trilink.fusion.kernels_linalg import (
    _chol,
    _combine,
    _inverse_from_chol,
    _logdet,
    _matmul,
    _matvec,
    _objective,
    _solve,
)
from trilink.fusion.kernels_pair import _ci_pair

_LINE_STEPS = (1.0, 0.5, 0.25, 0.1, 0.0)


@njit_inner
def _fast_weights(
    info: np.ndarray, logdet_info: np.ndarray, m: np.ndarray, k_cols: int, L: np.ndarray
) -> np.ndarray:
    """Improved fast-CI weights (intersection.fast_ci_weights) of one row."""
    k, n = info.shape[0], info.shape[1]
    total = np.zeros((n, n))
    for i in range(k):
        if m[i]:
            total += info[i]
    _chol(total, L)
    ld_total = _logdet(L)
    s = np.zeros(k)
    r = np.zeros(k)
    for i in range(k):
        if m[i]:
            s[i] = np.exp(logdet_info[i] - ld_total)
            if _chol(total - info[i], L):
                r[i] = np.exp(_logdet(L) - ld_total)
        else:
            r[i] = 1.0  # |I - 0| / |I|
    den = k_cols + np.sum(s - r)
    w = np.zeros(k)
    for i in range(k):
        if m[i]:
            w[i] = max((1.0 - r[i] + s[i]) / den, 0.0)
    return w / np.sum(w)


@njit_inner
def _derivatives(w: np.ndarray, info: np.ndarray, trace: bool, ws: np.ndarray):
    """Gradient (K,) and Hessian (K, K) of the CI objective (intersection._derivatives).

    With P = (sum w_k I_k)^-1: trace: g_j = -tr(P I_j P), H_jk = 2 tr(P I_j P I_k P);
    det: g_j = -tr(P I_j), H_jk = tr(P I_j P I_k). ``ws`` is scratch (2K + 3, n, n).
    """
    k, n = info.shape[0], info.shape[1]
    comb, L, P = ws[0], ws[1], ws[2]
    A = ws[3 : 3 + k]
    B = ws[3 + k : 3 + 2 * k]
    _combine(w, info, comb)
    _chol(comb, L)
    _inverse_from_chol(L, A[0], P)
    g = np.zeros(k)
    H = np.zeros((k, k))
    for j in range(k):
        _matmul(info[j], P, A[j])  # A_j = I_j P
    if trace:
        for j in range(k):
            _matmul(P, A[j], B[j])  # B_j = P I_j P
            g[j] = -np.trace(B[j])
        X = B
    else:
        for j in range(k):
            g[j] = -np.trace(A[j])
        X = A
    for j in range(k):
        for l2 in range(j, k):
            s = 0.0
            for a in range(n):
                for b in range(n):
                    s += X[j, a, b] * A[l2, b, a]
            s = 2.0 * s if trace else s
            H[j, l2] = s
            H[l2, j] = s
    return g, H


@njit_inner
def _support_point(
    H: np.ndarray, c: np.ndarray, idx: np.ndarray, size: int, ridge: float, kkt: np.ndarray,
    sol: np.ndarray, v: np.ndarray,
) -> bool:  # fmt: skip
    """v = the minimiser of the quadratic model on the affine hull of the support
    idx[:size] (KKT system), clipped at 0 and renormalised; False if it is infeasible."""
    v[:] = 0.0
    if size == 1:
        v[idx[0]] = 1.0
        return True
    a = kkt[: size + 1, : size + 1]
    for i in range(size):
        for j in range(size):
            a[i, j] = H[idx[i], idx[j]]
        a[i, i] += ridge
        a[i, size] = 1.0
        a[size, i] = 1.0
        sol[i] = -c[idx[i]]
    a[size, size] = 0.0
    sol[size] = 1.0
    _solve(a, sol[: size + 1])
    ok = True
    total = 0.0
    for i in range(size):
        ok = ok and sol[i] >= -1e-12 and np.isfinite(sol[i])
        v[idx[i]] = max(sol[i], 0.0)
        total += v[idx[i]]
    if ok:
        for i in range(size):
            v[idx[i]] /= total
    return ok


@njit_inner
def _model_value(H: np.ndarray, c: np.ndarray, v: np.ndarray) -> float:
    """1/2 v^T H v + c^T v."""
    k = v.shape[0]
    val = 0.0
    for i in range(k):
        hv = 0.0
        for j in range(k):
            hv += H[i, j] * v[j]
        val += v[i] * (0.5 * hv + c[i])
    return val


@njit_inner
def _simplex_qp(g: np.ndarray, H: np.ndarray, w: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Exact minimiser of the quadratic model over the simplex (intersection._simplex_qp):
    every support, in the order of itertools.combinations, the best feasible one kept.

    The support of all present inputs is tried first: when its KKT point is feasible it
    is the minimiser over the whole simplex (its affine hull contains every other
    support's point), so the enumeration is skipped; this is the common case of an
    interior optimum.
    """
    k = w.shape[0]
    c = np.empty(k)
    _matvec(H, w, c)
    for i in range(k):
        c[i] = g[i] - c[i]
    dmax = 0.0
    for i in range(k):
        dmax = max(dmax, abs(H[i, i]))
    ridge = 1e-12 * dmax + 1e-300
    v = np.empty(k)
    idx = np.empty(k, np.int64)
    kkt = np.empty((k + 1, k + 1))
    sol = np.empty(k + 1)
    present = 0
    for i in range(k):
        if m[i]:
            idx[present] = i
            present += 1
    if present > 1 and _support_point(H, c, idx, present, ridge, kkt, sol, v):
        return v
    best_val = np.inf
    best = w.copy()
    for size in range(1, k + 1):
        for i in range(size):  # first combination of `size` out of k
            idx[i] = i
        while True:
            ok = True
            for i in range(size):
                ok = ok and m[idx[i]]
            if ok and _support_point(H, c, idx, size, ridge, kkt, sol, v):
                val = _model_value(H, c, v)
                if val < best_val:
                    best_val = val
                    best[:] = v
            # next combination in lexicographic order
            i = size - 1
            while i >= 0 and idx[i] == k - size + i:
                i -= 1
            if i < 0:
                break
            idx[i] += 1
            for j in range(i + 1, size):
                idx[j] = idx[j - 1] + 1
    return best


@njit_inner
def _newton_weights(
    P: np.ndarray, info: np.ndarray, logdet_info: np.ndarray, m: np.ndarray, trace: bool,
    k_cols: int, max_iter: int, rtol: float,
):  # fmt: skip
    """Optimal CI weights of one row with more than two inputs (intersection._newton_weights):
    from the better of the best input and the fast-CI weights, Newton steps on the simplex,
    each the best of a sampled line search that includes the current point."""
    k, n = info.shape[0], info.shape[1]
    ws = np.empty((2 * k + 3, n, n))
    L, Li, comb = ws[0], ws[1], ws[2]
    w = np.zeros(k)
    f = np.inf
    best = 0
    for i in range(k):
        if m[i]:
            fv = np.trace(P[i]) if trace else -logdet_info[i]
            if fv < f:
                f, best = fv, i
    w[best] = 1.0
    w_fast = _fast_weights(info, logdet_info, m, k_cols, L)
    _combine(w_fast, info, comb)
    f_fast = _objective(comb, trace, L, Li)
    if f_fast < f:
        w, f = w_fast, f_fast
    trial = np.empty(k)
    w_new = np.empty(k)
    for _ in range(max_iter):
        g, H = _derivatives(w, info, trace, ws)
        d = _simplex_qp(g, H, w, m) - w
        # The objective is convex along the segment, so its samples at s = 1, 0.5, 0.25,
        # 0.1, 0 fall and then rise: the first rise ends the search at the same pick as
        # the reference's argmin over all five (up to round-off in f near the optimum).
        f_new = np.inf
        for step in _LINE_STEPS:
            for i in range(k):
                trial[i] = w[i] + step * d[i]
            _combine(trial, info, comb)
            ft = _objective(comb, trace, L, Li)
            if ft < f_new:  # the first of equal minima, as np.argmin
                f_new = ft
                w_new[:] = trial
            elif np.isfinite(ft) and np.isfinite(f_new):
                break
        gain = f - f_new
        if not gain > 0.0:
            break
        w = w_new.copy()
        f = f_new
        if gain <= rtol * abs(f_new):
            break
    return w


@njit_inner
def _ci_row(
    x: np.ndarray, P: np.ndarray, m: np.ndarray, trace: bool, fast: bool, max_iter: int,
    rtol: float, info: np.ndarray, logdet_info: np.ndarray, x_out: np.ndarray,
    P_out: np.ndarray, w_out: np.ndarray,
) -> bool:  # fmt: skip
    """CI of one row's K inputs x (K, n), P (K, n, n), mask m (K,) into x_out, P_out, w_out
    (left untouched when no input is present); False if an input is not positive definite."""
    k, n = x.shape
    count = 0
    for i in range(k):
        count += 1 if m[i] else 0
    if count == 0:
        return True
    if count == 1:
        for i in range(k):
            if m[i]:
                x_out[:] = x[i]
                P_out[:, :] = P[i]
                w_out[i] = 1.0
        return True
    if count == 2 and not fast:
        a = -1
        b = -1
        for i in range(k):
            if m[i]:
                if a < 0:
                    a = i
                else:
                    b = i
        wa, ok = _ci_pair(x[a], P[a], x[b], P[b], trace, x_out, P_out)
        w_out[a] = wa
        w_out[b] = 1.0 - wa
        return ok
    L = np.empty((n, n))
    Li = np.empty((n, n))
    for i in range(k):
        info[i] = 0.0
        if m[i]:
            if not _chol(P[i], L):
                return False
            _inverse_from_chol(L, Li, info[i])
            logdet_info[i] = -_logdet(L)
    if fast:
        w = _fast_weights(info, logdet_info, m, k, L)
    else:
        w = _newton_weights(P, info, logdet_info, m, trace, k, max_iter, rtol)
    _combine(w, info, Li)
    _chol(Li, L)
    _inverse_from_chol(L, Li, P_out)
    acc = np.zeros(n)
    t = np.empty(n)
    for i in range(k):
        if w[i] != 0.0:
            _matvec(info[i], x[i], t)
            acc += w[i] * t
    _matvec(P_out, acc, x_out)
    w_out[:] = w
    return True


@njit
def fuse_groups_kernel(
    xa: np.ndarray, Pa: np.ndarray, t_ns: np.ndarray, idx: np.ndarray, mask: np.ndarray,
    trace: bool, fast: bool, max_iter: int, rtol: float,
):  # fmt: skip
    """CI of the rows ``idx`` (M, K) selected by ``mask`` of states xa (N, n), Pa (N, n, n),
    gathered here rather than as (M, K, ...) copies in NumPy (intersection.covariance_
    intersection with the table's layout; rows without inputs give NaN, one input is its
    own fusion, two take the pair search unless ``fast``, more the Newton method).

    Returns fused x (M, n), P (M, n, n), the weights (M, K), the row of the most precise
    input (smallest position trace, the first of equals; -1 for none), the newest input's
    time t_ns (int64 min for none) and a flag that every input was positive definite.
    One kernel serves the table and :func:`covariance_intersection`, so one is compiled.
    """
    m_rows, k = idx.shape
    n = xa.shape[1]
    xf = np.full((m_rows, n), np.nan)
    Pf = np.full((m_rows, n, n), np.nan)
    best = np.full(m_rows, -1, np.int64)
    newest = np.full(m_rows, np.iinfo(np.int64).min, np.int64)
    good = np.ones(m_rows, np.bool_)
    w_out = np.zeros((m_rows, k))
    xr = np.zeros((k, n))
    Pr = np.zeros((k, n, n))
    info = np.zeros((k, n, n))
    logdet_info = np.zeros(k)
    for row in range(m_rows):
        m = mask[row]
        tr_best = np.inf
        for i in range(k):
            if m[i]:
                r = idx[row, i]
                xr[i] = xa[r]
                Pr[i] = Pa[r]
                tr = Pa[r, 0, 0] + Pa[r, 1, 1] + Pa[r, 2, 2]
                if tr < tr_best or best[row] < 0:
                    tr_best, best[row] = tr, r
                newest[row] = max(newest[row], t_ns[r])
        if best[row] < 0:
            continue
        good[row] = _ci_row(
            xr, Pr, m, trace, fast, max_iter, rtol, info, logdet_info, xf[row], Pf[row],
            w_out[row],
        )  # fmt: skip
    return xf, Pf, w_out, best, newest, good
