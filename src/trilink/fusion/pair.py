"""Optimal two-input CI and ICI, batched over rows (M pairs of (n,) means, (n, n) covariances).

For two covariances there is a basis V that diagonalises both information matrices,

    V^T P_b^-1 V = I,    V^T P_a^-1 V = diag(lambda),    lambda_i > 0

(the generalised symmetric eigenproblem; Golub & Van Loan, *Matrix Computations*, 4th
ed., sec. 8.7, through the Cholesky factor of P_b). In it both fusion rules are diagonal,
P(w) = V diag(1/g(w)) V^T, with

    CI  (Julier & Uhlmann 1997):            g_i = w lambda_i + 1 - w
    ICI (Noack, Sijs, Reinhardt & Hanebeck 2017): g_i = lambda_i + 1 - lambda_i / (w + (1 - w) lambda_i)

so tr P(w) = sum_i c_i / g_i (c_i the squared column norms of V) and
log det P(w) = const - sum_i log g_i are explicit convex functions of the weight w, with
explicit first and second derivatives. A bracketed Newton iteration on those (M, n)
arrays finds the optimum without any matrix work. The fused covariance is then formed
once in information form; for CI, two Newton steps in information form, each kept only
if it lowers the objective, recover what the joint basis loses for inputs conditioned
beyond ~1e10, and rows still moving after them or whose generalised eigenvalues span
more than 1e8 (where computed slopes can have the wrong sign next to a needle-shaped
optimum) get a golden-section search on the objective's values. Finally each row is compared with the inputs themselves, so the result is never
worse than the better input.

The mean uses that the gains sum to the identity, x = x_b + K (x_a - x_b), which keeps
ECEF-sized coordinates out of the products.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Criterion = Literal["trace", "det"]

_NEWTON_STEPS = 40  # an upper bound; rows leave once their step is below 1e-12


def _sym(a: NDArray[Any]) -> Array:
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _objective(P: Array, criterion: Criterion) -> Array:
    if criterion == "trace":
        return np.trace(P, axis1=-2, axis2=-1)
    sign, logdet = np.linalg.slogdet(P)
    return np.where(sign > 0, logdet, np.inf)


def _ci_slope(P: Array, D: Array, criterion: Criterion) -> tuple[Array, Array]:
    """First and second derivative of the CI objective in w at P = P(w)."""
    PD = P @ D
    if criterion == "trace":
        PDP = PD @ P
        return -np.trace(PDP, axis1=-2, axis2=-1), 2.0 * np.einsum("mij,mji->m", PDP, PD)
    return -np.trace(PD, axis1=-2, axis2=-1), np.einsum("mij,mji->m", PD, PD)


def _ci_objective(w: Array, Ia: Array, Ib: Array, criterion: Criterion) -> tuple[Array, Array]:
    wm = w[:, None, None]
    P = _sym(np.linalg.inv(wm * Ia + (1.0 - wm) * Ib))
    return P, _objective(P, criterion)


def _polish_ci(
    w: Array, Ia: Array, Ib: Array, criterion: Criterion
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Newton steps on the CI weight in information form, kept where they lower f.

    Returns the weight, its covariance and a mask of rows that still moved in the last
    step: those are the rare needle-shaped optima of inputs conditioned beyond ~1e10,
    left to :func:`_golden_ci`.
    """
    D = Ia - Ib
    P, f = _ci_objective(w, Ia, Ib, criterion)
    moving = np.ones(w.shape, bool)
    for _ in range(2):
        g, h = _ci_slope(P, D, criterion)
        with np.errstate(all="ignore"):
            w_new = np.clip(w - g / h, 0.0, 1.0)
        w_new = np.where(np.isfinite(w_new), w_new, w)
        P_new, f_new = _ci_objective(w_new, Ia, Ib, criterion)
        better = f_new < f
        moving = better & (np.abs(w_new - w) > 1e-9)
        w, f = np.where(better, w_new, w), np.where(better, f_new, f)
        P = np.where(better[:, None, None], P_new, P)
    return w, P, moving


def _golden_ci(Ia: Array, Ib: Array, criterion: Criterion, iters: int = 90) -> Array:
    """Golden-section search of the convex CI objective on [0, 1], from values alone."""
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    lo, hi = np.zeros(len(Ia)), np.ones(len(Ia))
    c, d = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fc, fd = _ci_objective(c, Ia, Ib, criterion)[1], _ci_objective(d, Ia, Ib, criterion)[1]
    for _ in range(iters):
        left = fc < fd  # the minimum lies in [lo, d]
        hi, lo = np.where(left, d, hi), np.where(left, lo, c)
        keep, f_keep = np.where(left, c, d), np.where(left, fc, fd)
        new = np.where(left, hi - ratio * (hi - lo), lo + ratio * (hi - lo))
        f_new = _ci_objective(new, Ia, Ib, criterion)[1]
        c, fc = np.where(left, new, keep), np.where(left, f_new, f_keep)
        d, fd = np.where(left, keep, new), np.where(left, f_keep, f_new)
    return np.where(fc < fd, c, d)


def joint_diagonalise(Pa: Array, Pb: Array) -> tuple[Array, Array]:
    """V (M, n, n) and lambda (M, n): V^T Pb^-1 V = I, V^T Pa^-1 V = diag(lambda).

    lambda is floored at a tiny positive value: for inputs conditioned beyond ~1e10 the
    smallest are lost to round-off and may come out zero or negative.
    """
    R = np.linalg.cholesky(Pb)
    M = np.swapaxes(R, -1, -2) @ np.linalg.solve(Pa, R)  # R^T Pa^-1 R
    lam, U = np.linalg.eigh(_sym(M))
    floor = 1e-14 * np.max(np.abs(lam), axis=-1, keepdims=True) + 1e-300
    return R @ U, np.maximum(lam, floor)


def _g(kind: str, w: Array, lam: Array) -> tuple[Array, Array, Array]:
    """g_i(w) and its first two derivatives in w, (M, n) each."""
    if kind == "ci":
        return w * lam + 1.0 - w, lam - 1.0, np.zeros_like(lam)
    s = w + (1.0 - w) * lam
    return lam + 1.0 - lam / s, lam * (1.0 - lam) / s**2, -2.0 * lam * (1.0 - lam) ** 2 / s**3


def _derivs(kind: str, w: Array, lam: Array, c: Array, criterion: Criterion) -> tuple[Array, Array]:
    """f'(w) and f''(w) (M,) of tr P or log det P in the joint basis."""
    g, g1, g2 = _g(kind, w[:, None], lam)
    if criterion == "trace":
        return -np.sum(c * g1 / g**2, 1), np.sum(c * (2.0 * g1**2 / g**3 - g2 / g**2), 1)
    return -np.sum(g1 / g, 1), np.sum(g1**2 / g**2 - g2 / g, 1)


def joint_weight(lam: Array, c: Array, kind: str, criterion: Criterion) -> Array:
    """The optimal weight (M,) from the joint-basis form: bracketed Newton."""
    m = lam.shape[0]
    s0, _ = _derivs(kind, np.zeros(m), lam, c, criterion)
    s1, _ = _derivs(kind, np.ones(m), lam, c, criterion)
    w = np.where(s0 >= 0, 0.0, 1.0)  # slope >= 0 at 0: the optimum is the end point
    inner = np.flatnonzero((s0 < 0) & (s1 > 0))
    lam, c = lam[inner], c[inner]
    lo, hi, wi = np.zeros(inner.size), np.ones(inner.size), np.full(inner.size, 0.5)
    active = np.arange(inner.size)
    for _ in range(_NEWTON_STEPS):
        if active.size == 0:
            break
        g, h = _derivs(kind, wi[active], lam[active], c[active], criterion)
        hi[active] = np.where(g > 0, wi[active], hi[active])
        lo[active] = np.where(g > 0, lo[active], wi[active])
        with np.errstate(all="ignore"):
            step = wi[active] - g / h
        ok = np.isfinite(step) & (step > lo[active]) & (step < hi[active])
        new = np.where(ok, step, 0.5 * (lo[active] + hi[active]))
        moved = np.abs(new - wi[active])
        wi[active] = new
        active = active[moved > 1e-12]
    w[inner] = wi
    return w


def _best_of_inputs(
    x: Array,
    P: Array,
    w: Array,
    xa: Array,
    Pa: Array,
    xb: Array,
    Pb: Array,
    w_at_a: float,
    criterion: Criterion,
) -> tuple[Array, Array, Array]:
    """Replace any fused row that is no better than an input by that input."""
    f, fa, fb = (_objective(M, criterion) for M in (P, Pa, Pb))
    take_a = ~(f < fa) & (fa <= fb)
    take_b = ~(f < fb) & ~take_a
    P = np.where(take_a[:, None, None], Pa, np.where(take_b[:, None, None], Pb, P))
    x = np.where(take_a[:, None], xa, np.where(take_b[:, None], xb, x))
    w = np.where(take_a, w_at_a, np.where(take_b, 1.0 - w_at_a, w))
    return x, P, w


def ci_pair(
    xa: Array, Pa: Array, xb: Array, Pb: Array, criterion: Criterion = "trace"
) -> tuple[Array, Array, Array]:
    """Optimal two-input CI per row: fused x (M, n), P (M, n, n) and the weight of a."""
    V, lam = joint_diagonalise(Pa, Pb)
    w = joint_weight(lam, np.sum(V * V, axis=-2), "ci", criterion)
    Ia, Ib = _sym(np.linalg.inv(Pa)), _sym(np.linalg.inv(Pb))
    w, P, hard = _polish_ci(w, Ia, Ib, criterion)
    # Slopes lose their sign when the two inputs' information differs by more than ~1e8
    # along some direction; such rows are searched on values alone.
    hard = hard | (lam.max(axis=1) > 1e8 * lam.min(axis=1))
    if np.any(hard):
        h = np.flatnonzero(hard)
        w_g = _golden_ci(Ia[h], Ib[h], criterion)
        f_g = _ci_objective(w_g, Ia[h], Ib[h], criterion)[1]
        f_w = _ci_objective(w[h], Ia[h], Ib[h], criterion)[1]
        w[h] = np.where(f_g < f_w, w_g, w[h])
        P[h] = _ci_objective(w[h], Ia[h], Ib[h], criterion)[0]
    wm = w[:, None, None]
    x = xb + np.einsum("mij,mj->mi", P @ (wm * Ia), xa - xb)
    return _best_of_inputs(x, P, w, xa, Pa, xb, Pb, 1.0, criterion)


def ici_pair(
    xa: Array, Pa: Array, xb: Array, Pb: Array, criterion: Criterion = "trace"
) -> tuple[Array, Array, Array]:
    """Optimal two-input ICI per row: fused x (M, n), P (M, n, n) and the weight w."""
    V, lam = joint_diagonalise(Pa, Pb)
    w = joint_weight(lam, np.sum(V * V, axis=-2), "ici", criterion)
    wm = w[:, None, None]
    Ia, Ib = _sym(np.linalg.inv(Pa)), _sym(np.linalg.inv(Pb))
    gamma = _sym(np.linalg.inv(wm * Pa + (1.0 - wm) * Pb))  # the common-information bound
    P = _sym(np.linalg.inv(Ia + Ib - gamma))
    x = xb + np.einsum("mij,mj->mi", P @ (Ia - wm * gamma), xa - xb)
    return _best_of_inputs(x, P, w, xa, Pa, xb, Pb, 0.0, criterion)
