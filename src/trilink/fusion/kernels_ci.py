"""Compiled covariance intersection and gating distance, one row at a time.

The algorithms of ``intersection.py`` (K > 2 inputs: Newton on the simplex with an exact
support-enumerating QP step and a sampled line search, started from the better of the
best input and the improved fast-CI weights of Fraenken & Hupper, FUSION 2005) and of
``pair.py`` (two inputs: joint diagonalisation, Golub & Van Loan sec. 8.7, bracketed
Newton in the joint basis, two information-form Newton steps kept only if they lower the
objective, golden section for extreme conditioning, never worse than an input), step for
step, as loops over rows. There is no closed form for the optimal two-input weight: for
``tr P`` it is a root of ``sum c_i (lambda_i - 1) / (w lambda_i + 1 - w)^2``, a polynomial
of degree ``2n - 1`` in ``w``, hence the Newton iteration, which costs no matrix work.

Linear algebra is written out for the small symmetric positive definite matrices at hand:
inverses and log-determinants through a Cholesky factor (backward stable for SPD input),
the KKT systems by Gaussian elimination with partial pivoting (LAPACK's ``gesv``
algorithm), only the symmetric eigenproblem is LAPACK's (``np.linalg.eigh``). A matrix
that is not numerically positive definite gives an infinite objective where the NumPy
reference would give a meaningless one. Results agree with the reference to round-off
in the sums, and within the optimisers' stopping tolerances in the weights
(tests/fusion/test_fusion_kernels.py).

Shapes: states xa (N, n), covariances Pa (N, n, n), and the (M, K) layout idx of the rows
fused into each output row (-1 padded) with its mask; outputs per row, n = 6.

The small linear algebra, the CI algorithms and the two gating kernels share this one
file on purpose: numba keys its on-disk cache on the file of each compiled function, so
a helper imported from another file could change without invalidating the kernels that
inlined it (the tracker works around that with a digest of all its kernel files).
"""

from __future__ import annotations

import numpy as np

from trilink.tracking.jit import njit, njit_inner

# The hub's states are 6-D; the kernels are compiled for that size only (a compile-time
# trip count lets LLVM unroll the small loops: twice as fast as a run-time n). The NumPy
# reference serves any other size.
_N = 6
_LINE_STEPS = (1.0, 0.5, 0.25, 0.1, 0.0)
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


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
def _pair_objective(
    w: float, Ia: np.ndarray, Ib: np.ndarray, trace: bool, comb: np.ndarray, L: np.ndarray,
    Li: np.ndarray,
):  # fmt: skip
    """tr or log det of P = (w Ia + (1 - w) Ib)^-1 (pair._ci_objective), without P."""
    n = _N
    for i in range(n):
        for j in range(n):
            comb[i, j] = w * Ia[i, j] + (1.0 - w) * Ib[i, j]
    return _objective(comb, trace, L, Li)


@njit_inner
def _pair_covariance(
    w: float, Ia: np.ndarray, Ib: np.ndarray, trace: bool, ws: np.ndarray, P: np.ndarray
) -> float:
    """P = (w Ia + (1 - w) Ib)^-1 into P, and its objective (inf if not definite)."""
    comb, L, Li = ws[0], ws[1], ws[2]
    f = _pair_objective(w, Ia, Ib, trace, comb, L, Li)
    if np.isfinite(f):
        _inverse_from_chol(L, Li, P)
    return f


@njit_inner
def _pair_derivs(w: float, lam: np.ndarray, c: np.ndarray, trace: bool) -> tuple[float, float]:
    """f'(w), f''(w) of the CI objective in the joint basis (pair._derivs, kind "ci")."""
    d1 = 0.0
    d2 = 0.0
    for i in range(lam.shape[0]):
        g = w * lam[i] + 1.0 - w
        g1 = lam[i] - 1.0
        if trace:
            d1 -= c[i] * g1 / g**2
            d2 += c[i] * (2.0 * g1**2 / g**3)
        else:
            d1 -= g1 / g
            d2 += g1**2 / g**2
    return d1, d2


@njit_inner
def _joint_weight(lam: np.ndarray, c: np.ndarray, trace: bool) -> float:
    """Bracketed Newton for the optimal weight in the joint basis (pair.joint_weight)."""
    s0 = _pair_derivs(0.0, lam, c, trace)[0]
    s1 = _pair_derivs(1.0, lam, c, trace)[0]
    if not (s0 < 0.0 and s1 > 0.0):
        return 0.0 if s0 >= 0.0 else 1.0
    lo, hi, w = 0.0, 1.0, 0.5
    for _ in range(40):
        g, h = _pair_derivs(w, lam, c, trace)
        if g > 0.0:
            hi = w
        else:
            lo = w
        step = w - g / h
        new = step if (np.isfinite(step) and lo < step < hi) else 0.5 * (lo + hi)
        moved = abs(new - w)
        w = new
        if not moved > 1e-12:
            break
    return w


@njit_inner
def _ci_pair(
    xa: np.ndarray, Pa: np.ndarray, xb: np.ndarray, Pb: np.ndarray, trace: bool,
    x_out: np.ndarray, P_out: np.ndarray,
):  # fmt: skip
    """Optimal two-input CI of one pair (pair.ci_pair); returns (weight of a, ok)."""
    n = xa.shape[0]
    ws = np.empty((8, n, n))
    Ia, Ib, R, P, P_new, PD, PDP = ws[3], ws[4], ws[5], ws[6], ws[7], ws[0], ws[1]
    L = ws[2]
    if not _chol(Pa, L):
        return np.nan, False
    _inverse_from_chol(L, ws[0], Ia)
    R[:, :] = 0.0
    if not _chol(Pb, R):
        return np.nan, False
    _inverse_from_chol(R, ws[0], Ib)
    # Joint basis: R^T Pa^-1 R = U diag(lambda) U^T, V = R U (pair.joint_diagonalise).
    _matmul(Ia, R, PD)
    M = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            acc = 0.0
            for k in range(n):
                acc += R[k, i] * PD[k, j]
            M[i, j] = acc
    lam, U = np.linalg.eigh(0.5 * (M + M.T))
    floor = 1e-14 * np.max(np.abs(lam)) + 1e-300
    lam = np.maximum(lam, floor)
    V = np.empty((n, n))
    _matmul(R, np.ascontiguousarray(U), V)
    c = np.sum(V * V, axis=0)
    w = _joint_weight(lam, c, trace)
    # Two Newton steps in information form (pair._polish_ci), each kept only if it lowers f.
    D = Ia - Ib
    f = _pair_covariance(w, Ia, Ib, trace, ws, P)
    moving = True
    for _ in range(2):
        _matmul(P, D, PD)
        if trace:
            _matmul(PD, P, PDP)
            g, h = -np.trace(PDP), 2.0 * _trace_of_product(PDP, PD)
        else:
            g, h = -np.trace(PD), _trace_of_product(PD, PD)
        step = w - g / h
        w_new = w if np.isnan(step) else min(max(step, 0.0), 1.0)
        f_new = _pair_covariance(w_new, Ia, Ib, trace, ws, P_new)
        better = f_new < f
        moving = better and abs(w_new - w) > 1e-9
        if better:
            w, f = w_new, f_new
            P[:, :] = P_new
    if moving or np.max(lam) > 1e8 * np.min(lam):
        # Golden section on values (pair._golden_ci): slopes lose their sign here.
        comb, L, Li = ws[0], ws[1], ws[2]
        lo, hi = 0.0, 1.0
        cc, dd = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
        fc = _pair_objective(cc, Ia, Ib, trace, comb, L, Li)
        fd = _pair_objective(dd, Ia, Ib, trace, comb, L, Li)
        for _ in range(90):
            if fc < fd:  # the minimum lies in [lo, dd]
                hi = dd
                dd, fd = cc, fc
                cc = hi - _GOLDEN * (hi - lo)
                fc = _pair_objective(cc, Ia, Ib, trace, comb, L, Li)
            else:
                lo = cc
                cc, fc = dd, fd
                dd = lo + _GOLDEN * (hi - lo)
                fd = _pair_objective(dd, Ia, Ib, trace, comb, L, Li)
        w_g = cc if fc < fd else dd
        if _pair_objective(w_g, Ia, Ib, trace, comb, L, Li) < _pair_objective(
            w, Ia, Ib, trace, comb, L, Li
        ):
            w = w_g
        _pair_covariance(w, Ia, Ib, trace, ws, P)
    # x = xb + P (w Ia) (xa - xb): the gains sum to I, so ECEF-sized means stay out.
    d = xa - xb
    t = np.empty(n)
    _matvec(Ia, d, t)
    x = np.empty(n)
    _matvec(P, w * t, x)
    x += xb
    # Never worse than an input (pair._best_of_inputs).
    L = ws[0]
    f, fa, fb = (
        _plain_objective(P, trace, L),
        _plain_objective(Pa, trace, L),
        _plain_objective(Pb, trace, L),
    )
    take_a = not (f < fa) and fa <= fb
    take_b = not (f < fb) and not take_a
    if take_a:
        x_out[:] = xa
        P_out[:, :] = Pa
        return 1.0, True
    if take_b:
        x_out[:] = xb
        P_out[:, :] = Pb
        return 0.0, True
    x_out[:] = x
    P_out[:, :] = P
    return w, True


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
