"""Compiled optimal covariance intersection of two inputs, one pair at a time.

The algorithm of ``pair.py`` step for step (``pair.ci_pair``): joint diagonalisation of
the two covariances (Golub & Van Loan sec. 8.7), bracketed Newton for the weight in the
joint basis, two information-form Newton steps kept only if they lower the objective,
golden section for extreme conditioning, and never worse than an input. There is no
closed form for the optimal two-input weight: for ``tr P`` it is a root of
``sum c_i (lambda_i - 1) / (w lambda_i + 1 - w)^2``, a polynomial of degree ``2n - 1``
in ``w``, hence the Newton iteration, which costs no matrix work.

Only the symmetric eigenproblem is LAPACK's (``np.linalg.eigh``); the rest is the small
linear algebra of ``kernels_linalg.py``. :func:`_ci_pair` serves ``kernels_ci._ci_row``
for rows with exactly two inputs (unless fast CI is asked for). Shapes: xa, xb (6,),
Pa, Pb (6, 6); results agree with the reference to round-off in the sums and within the
optimisers' stopping tolerances in the weight (tests/fusion/test_fusion_kernels.py).
"""

from __future__ import annotations

import numpy as np

from trilink.fusion.compiled import njit_inner
from trilink.fusion.kernels_linalg import (
    _N,
    _chol,
    _inverse_from_chol,
    _matmul,
    _matvec,
    _objective,
    _plain_objective,
    _trace_of_product,
)

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


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
