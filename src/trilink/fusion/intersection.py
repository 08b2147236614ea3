"""Fusion of estimates whose errors are correlated in unknown ways.

Inputs are stacks of K estimates per row: means ``x`` (M, K, n), covariances ``P``
(M, K, n, n) and a mask (M, K) of the estimates present (rows may have different
numbers of contributors; absent slots may hold anything). Outputs are ``(x, P)`` per row,
(M, n) and (M, n, n). Nothing here modifies its inputs.

* :func:`covariance_intersection` - CI (Julier & Uhlmann, "A non-divergent estimation
  algorithm in the presence of unknown correlations", Proc. ACC 1997):
  ``P^-1 = sum_k w_k P_k^-1``, ``x = P sum_k w_k P_k^-1 x_k`` with ``w`` on the simplex.
  It is consistent for *any* cross-correlation. The weights minimise ``tr P`` (or
  ``log det P``) exactly, by a batched Newton method on the simplex (the objective is
  convex in ``w`` because ``X -> tr X^-1`` and ``-log det X`` are convex and the
  information matrix is affine in ``w``). Each Newton step solves its quadratic model
  exactly over the simplex by enumerating supports (2^K - 1 small KKT systems, solved for
  all rows at once), then a sampled line search that includes the current point, so the
  objective never increases. Started from the best single input, the fused trace can
  never exceed the smallest input trace.
* :func:`fast_ci_weights` - the closed-form "improved fast CI" weights of Fraenken &
  Hupper ("Improved fast covariance intersection for distributed data fusion", FUSION
  2005), which generalise Niehsen's two-input rule (FUSION 2002) to K inputs. A cheap,
  consistent (any simplex weight is) but not optimal choice.
* :func:`inverse_covariance_intersection` - ICI (Noack, Sijs, Reinhardt & Hanebeck,
  "Decentralized data fusion with inverse covariance intersection", Automatica 79, 2017):
  ``P^-1 = P_a^-1 + P_b^-1 - (w P_a + (1-w) P_b)^-1``. Consistent whenever the correlation
  comes from *common information* shared by the two estimates (a common prior, process
  noise or measurement), and tighter than CI. Defined for two inputs; K > 2 are folded
  in sequentially from the most precise.
* :func:`independent_fusion` - the naive information sum that assumes independent
  errors. Kept only as the overconfident reference the tests measure CI against.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.fusion import compiled
from trilink.fusion.pair import ci_pair, ici_pair
from trilink.tracking.jit import arg

Array = NDArray[np.float64]
Criterion = Literal["trace", "det"]
Method = Literal["ci", "ici", "naive"]

_LINE_STEPS = np.array([1.0, 0.5, 0.25, 0.1, 0.0])


def _sym(a: NDArray[Any]) -> Array:
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def _prepare(
    x: ArrayLike, P: ArrayLike, mask: ArrayLike | None
) -> tuple[Array, Array, NDArray[np.bool_], tuple[int, ...]]:
    """Flatten leading axes to (M, K, ...), fill absent slots with harmless values."""
    x = np.asarray(x, dtype=float)
    P = np.asarray(P, dtype=float)
    lead = x.shape[:-2]
    k, n = x.shape[-2:]
    x = x.reshape(-1, k, n)
    P = P.reshape(-1, k, n, n)
    m = np.ones(x.shape[:2], bool) if mask is None else np.asarray(mask, bool).reshape(-1, k)
    eye = np.eye(n)
    P = np.where(m[..., None, None], P, eye)
    x = np.where(m[..., None], x, 0.0)
    return x, P, m, lead


def _objective(info: Array, crit: Criterion) -> tuple[Array, Array]:
    """(P, f) for information matrices (M, n, n): f = tr P or log det P."""
    P = _sym(np.linalg.inv(info))
    if crit == "trace":
        return P, np.trace(P, axis1=-2, axis2=-1)
    sign, logdet = np.linalg.slogdet(info)
    return P, np.where(sign > 0, -logdet, np.inf)


def _combine(w: Array, info: Array) -> Array:
    return np.einsum("mk,mkij->mij", w, info)


def _weighted_sum(w: Array, info: Array, x: Array) -> Array:
    """P_f sum_k w_k I_k x_k given the weights, information matrices and means."""
    return np.einsum("mk,mkij,mkj->mi", w, info, x)


def fast_ci_weights(P: ArrayLike, mask: ArrayLike | None = None) -> Array:
    """Improved fast-CI weights (M, K) of Fraenken & Hupper (2005), closed form.

    w_i = (|I| - |I - I_i| + |I_i|) / (K |I| + sum_j (|I_j| - |I - I_j|)), I = sum_j I_j,
    |.| the determinant. Determinants are taken relative to |I| through log-determinants,
    so ECEF-scale covariances neither overflow nor underflow. An absent input has I_i = 0
    and gets w_i = 0 exactly.
    """
    x0 = np.zeros(np.shape(P)[:-1])
    _, Pm, m, lead = _prepare(x0, P, mask)
    info = np.where(m[..., None, None], _sym(np.linalg.inv(Pm)), 0.0)
    total = info.sum(axis=1)
    _, ld_total = np.linalg.slogdet(total)
    s_i, ld_i = np.linalg.slogdet(info)
    s_r, ld_r = np.linalg.slogdet(total[:, None] - info)
    s = np.where(s_i > 0, np.exp(ld_i - ld_total[:, None]), 0.0)  # |I_i| / |I|
    r = np.where(s_r > 0, np.exp(ld_r - ld_total[:, None]), 0.0)  # |I - I_i| / |I|
    k = m.shape[1]
    w = (1.0 - r + s) / (k + np.sum(s - r, axis=1, keepdims=True))
    w = np.where(m, np.clip(w, 0.0, None), 0.0)
    w = w / w.sum(axis=1, keepdims=True)
    return w.reshape(*lead, k)


def _derivatives(w: Array, info: Array, crit: Criterion) -> tuple[Array, Array]:
    """Gradient (M, K) and Hessian (M, K, K) of the CI objective in the weights."""
    P = _sym(np.linalg.inv(_combine(w, info)))
    A = np.einsum("mab,mkbc->mkac", P, info)  # A_k = P I_k
    if crit == "trace":
        B = np.einsum("mkab,mbc->mkac", A, P)  # B_k = P I_k P = -dP/dw_k
        g = -np.einsum("mkaa->mk", B)
        C = np.einsum("mab,mjbc->mjac", P, B)
        H = 2.0 * np.einsum("mjab,mkba->mjk", C, info)
    else:
        g = -np.einsum("mkaa->mk", A)
        H = np.einsum("mjab,mkba->mjk", A, A)
    return g, _sym(H)


def _simplex_qp(g: Array, H: Array, w: Array, mask: NDArray[np.bool_]) -> Array:
    """Minimiser over the simplex (support within mask) of the quadratic model at w.

    min_v 1/2 v^T H v + c^T v, c = g - H w, sum v = 1, v >= 0: for a convex model the
    optimum is the equality-constrained minimiser on its own support, so trying every
    support and keeping the best feasible one is exact. K is the number of nations, so
    2^K - 1 supports stay few.
    """
    m, k = w.shape
    c = g - np.einsum("mjk,mk->mj", H, w)
    ridge = 1e-12 * np.max(np.abs(np.diagonal(H, axis1=1, axis2=2)), axis=1) + 1e-300
    best_val = np.full(m, np.inf)
    best = w.copy()
    for size in range(1, k + 1):
        for support in combinations(range(k), size):
            idx = list(support)
            if size == 1:
                v_s = np.ones((m, 1))
            else:
                kkt = np.zeros((m, size + 1, size + 1))
                kkt[:, :size, :size] = H[:, idx][:, :, idx]
                kkt[:, np.arange(size), np.arange(size)] += ridge[:, None]
                kkt[:, :size, size] = 1.0
                kkt[:, size, :size] = 1.0
                rhs = np.concatenate([-c[:, idx], np.ones((m, 1))], axis=1)
                with np.errstate(all="ignore"):
                    v_s = np.linalg.solve(kkt, rhs[..., None])[:, :size, 0]
            ok = np.all(mask[:, idx], axis=1) & np.all(v_s >= -1e-12, axis=1)
            ok &= np.all(np.isfinite(v_s), axis=1)
            v = np.zeros((m, k))
            v[:, idx] = np.clip(v_s, 0.0, None)
            v /= np.where(ok, v.sum(axis=1), 1.0)[:, None]
            val = 0.5 * np.einsum("mj,mjk,mk->m", v, H, v) + np.einsum("mj,mj->m", c, v)
            take = ok & (val < best_val)
            best_val = np.where(take, val, best_val)
            best[take] = v[take]
    return best


def ci_weights(
    P: ArrayLike,
    mask: ArrayLike | None = None,
    criterion: Criterion = "trace",
    max_iter: int = 30,
    rtol: float = 1e-12,
) -> Array:
    """CI weights (M, K) minimising tr P_f (or log det P_f) over the simplex, batched.

    Rows with two inputs take the closed-form search of :mod:`trilink.fusion.pair`.
    Rows with more start from the better of the best single input and the fast-CI
    weights; each accepted Newton step lowers the objective, and rows stop once a step
    gains less than ``rtol`` relative.
    """
    x0 = np.zeros(np.shape(P)[:-1])
    _, Pm, m, lead = _prepare(x0, P, mask)
    n_rows, k = m.shape
    count = m.sum(axis=1)
    w = np.zeros((n_rows, k))
    two = np.flatnonzero(count == 2)
    if two.size:
        a, b = _present_pair(m[two])
        zeros = np.zeros((two.size, Pm.shape[-1]))
        w2 = ci_pair(zeros, Pm[two, a], zeros, Pm[two, b], criterion)[2]
        w[two, a], w[two, b] = w2, 1.0 - w2
    many = np.flatnonzero(count != 2)
    if many.size:
        w[many] = _newton_weights(Pm[many], m[many], criterion, max_iter, rtol)
    return w.reshape(*lead, k)


def _present_pair(m: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Column indices of the two present inputs of rows with exactly two."""
    cols = np.argsort(~m, axis=1, kind="stable")
    return cols[:, 0], cols[:, 1]


def _newton_weights(
    Pm: Array, m: NDArray[np.bool_], criterion: Criterion, max_iter: int, rtol: float
) -> Array:
    """Batched Newton on the simplex (module docstring) for rows of any input count."""
    info = np.where(m[..., None, None], _sym(np.linalg.inv(Pm)), 0.0)
    n_rows, k = m.shape
    # Vertices: the objective at w = e_k is just the input's own trace / log det.
    if criterion == "trace":
        f_vert = np.trace(Pm, axis1=-2, axis2=-1)
    else:
        f_vert = np.linalg.slogdet(Pm)[1]
    f_vert = np.where(m, f_vert, np.inf)
    w = np.zeros((n_rows, k))
    w[np.arange(n_rows), np.argmin(f_vert, axis=1)] = 1.0
    f = np.min(f_vert, axis=1)
    multi = m.sum(axis=1) > 1
    if k == 1 or not np.any(multi):
        return w
    w_fast = fast_ci_weights(Pm, m)
    f_fast = _objective(_combine(w_fast, info), criterion)[1]
    better = multi & (f_fast < f)
    w[better], f[better] = w_fast[better], f_fast[better]
    active = np.flatnonzero(multi)
    for _ in range(max_iter):
        if active.size == 0:
            break
        wa, ia, ma = w[active], info[active], m[active]
        g, H = _derivatives(wa, ia, criterion)
        d = _simplex_qp(g, H, wa, ma) - wa
        trial = wa[None] + _LINE_STEPS[:, None, None] * d[None]
        f_trial = np.stack([_objective(_combine(t, ia), criterion)[1] for t in trial])
        f_trial = np.where(np.isfinite(f_trial), f_trial, np.inf)
        pick = np.argmin(f_trial, axis=0)
        f_new = f_trial[pick, np.arange(active.size)]
        gain = f[active] - f_new
        accept = gain > 0
        w[active[accept]] = trial[pick, np.arange(active.size)][accept]
        f[active[accept]] = f_new[accept]
        done = ~accept | (gain <= rtol * np.abs(f_new))
        active = active[~done]
    return w


def covariance_intersection(
    x: ArrayLike,
    P: ArrayLike,
    mask: ArrayLike | None = None,
    criterion: Criterion = "trace",
    omega: Literal["optimal", "fast"] = "optimal",
) -> tuple[Array, Array, Array]:
    """CI of K estimates per row: fused x (..., n), P (..., n, n) and weights (..., K).

    ``omega="optimal"`` minimises the criterion exactly (:func:`ci_weights`);
    ``omega="fast"`` uses the closed-form weights of :func:`fast_ci_weights`.
    Rows with no estimate give NaN.
    """
    xm, Pm, m, lead = _prepare(x, P, mask)
    n_rows, k = m.shape
    n = xm.shape[-1]
    if compiled.use_kernels() and n == 6:
        from trilink.fusion.kernels_ci import fuse_groups_kernel

        flat = np.arange(n_rows * k, dtype=np.int64).reshape(n_rows, k)
        xf, Pf, w, _, _, good = fuse_groups_kernel(
            arg(xm.reshape(-1, n)), arg(Pm.reshape(-1, n, n)),
            np.zeros(n_rows * k, np.int64), flat, np.array(m),
            criterion == "trace", omega == "fast", 30, 1e-12,
        )  # fmt: skip
        if not np.all(good):
            raise np.linalg.LinAlgError(
                "covariance_intersection: an input is not positive definite"
            )
        return xf.reshape(*lead, n), Pf.reshape(*lead, n, n), w.reshape(*lead, k)
    count = m.sum(axis=1)
    xf, Pf = np.full((n_rows, n), np.nan), np.full((n_rows, n, n), np.nan)
    w = np.zeros((n_rows, k))
    one = np.flatnonzero(count == 1)
    if one.size:  # a single estimate is its own fusion, bit for bit
        c = np.argmax(m[one], axis=1)
        xf[one], Pf[one], w[one, c] = xm[one, c], Pm[one, c], 1.0
    two = np.flatnonzero(count == 2) if omega == "optimal" else np.empty(0, np.intp)
    if two.size:
        a, b = _present_pair(m[two])
        xf[two], Pf[two], w2 = ci_pair(xm[two, a], Pm[two, a], xm[two, b], Pm[two, b], criterion)
        w[two, a], w[two, b] = w2, 1.0 - w2
    rest = np.flatnonzero((count > 1) & ~np.isin(np.arange(n_rows), two))
    if rest.size:
        mr, Pr, xr = m[rest], Pm[rest], xm[rest]
        info = np.where(mr[..., None, None], _sym(np.linalg.inv(Pr)), 0.0)
        wr = ci_weights(Pr, mr, criterion) if omega == "optimal" else fast_ci_weights(Pr, mr)
        Pf[rest] = _sym(np.linalg.inv(_combine(wr, info)))
        xf[rest] = np.einsum("mij,mj->mi", Pf[rest], _weighted_sum(wr, info, xr))
        w[rest] = wr
    return xf.reshape(*lead, n), Pf.reshape(*lead, n, n), w.reshape(*lead, k)


def inverse_covariance_intersection(
    x: ArrayLike, P: ArrayLike, mask: ArrayLike | None = None, criterion: Criterion = "trace"
) -> tuple[Array, Array]:
    """ICI of K estimates per row (sequential from the most precise for K > 2).

    Returns fused x (..., n) and P (..., n, n); rows with no estimate give NaN.
    """
    xm, Pm, m, lead = _prepare(x, P, mask)
    n = xm.shape[-1]
    tr = np.where(m, np.trace(Pm, axis1=-2, axis2=-1), np.inf)
    order = np.argsort(tr, axis=1, kind="stable")
    rows = np.arange(len(xm))[:, None]
    xs, Ps, ms = xm[rows, order], Pm[rows, order], m[rows, order]
    xf, Pf = xs[:, 0].copy(), Ps[:, 0].copy()
    for j in range(1, xs.shape[1]):
        sel = np.flatnonzero(ms[:, j])
        if sel.size:
            xf[sel], Pf[sel], _ = ici_pair(xf[sel], Pf[sel], xs[sel, j], Ps[sel, j], criterion)
    empty = ~ms[:, 0]
    xf[empty], Pf[empty] = np.nan, np.nan
    return xf.reshape(*lead, n), Pf.reshape(*lead, n, n)


def independent_fusion(
    x: ArrayLike, P: ArrayLike, mask: ArrayLike | None = None
) -> tuple[Array, Array]:
    """Information sum assuming independent errors (overconfident when they are not)."""
    xm, Pm, m, lead = _prepare(x, P, mask)
    n = xm.shape[-1]
    info = np.where(m[..., None, None], _sym(np.linalg.inv(Pm)), 0.0)
    total = info.sum(axis=1)
    empty = ~np.any(m, axis=1)
    total[empty] = np.eye(n)
    Pf = _sym(np.linalg.inv(total))
    xf = np.einsum("mij,mj->mi", Pf, np.einsum("mkij,mkj->mi", info, xm))
    xf[empty], Pf[empty] = np.nan, np.nan
    return xf.reshape(*lead, n), Pf.reshape(*lead, n, n)


def fuse(
    x: ArrayLike,
    P: ArrayLike,
    mask: ArrayLike | None = None,
    method: Method = "ci",
    criterion: Criterion = "trace",
    omega: Literal["optimal", "fast"] = "optimal",
) -> tuple[Array, Array]:
    """Fused (x, P) per row by ``method``: "ci" (default), "ici" or "naive"."""
    if method == "ci":
        xf, Pf, _ = covariance_intersection(x, P, mask, criterion, omega)
        return xf, Pf
    if method == "ici":
        return inverse_covariance_intersection(x, P, mask, criterion)
    if method == "naive":
        return independent_fusion(x, P, mask)
    raise ValueError(f"unknown fusion method {method!r}: expected 'ci', 'ici' or 'naive'")
