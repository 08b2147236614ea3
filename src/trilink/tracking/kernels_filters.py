"""Compiled kernels of the per-scan filter path: IMM mixing and time update, the IMM
measurement update, the output combination, and the gating distances of all tracks x
detections. The equations are those of the NumPy reference in :mod:`.imm`,
:mod:`.filters` and :mod:`.association` (Bar-Shalom, Li & Kirubarajan 2001, ch. 5, 10,
11.6.6; Joseph form; cost ``d^2 + ln det S``), written per row so that a scan of a few
tracks costs microseconds instead of a few hundred NumPy calls.

Measurements: radar ``[range, az, el]`` (m = 3) or infrared ``[az, el]`` (m = 2) in the
sensor frame ``rot`` (rows = axes in ECEF) from ``sensor`` (:mod:`trilink.geo.measure`).
Innovation covariances ``S`` are factored by Cholesky (they are symmetric positive
definite: ``H P H^T`` plus a definite ``R``); the reference uses LU, equal to rounding.
"""

from __future__ import annotations

import math

import numpy as np

from trilink.tracking.jit import njit, njit_inner
from trilink.tracking.kernels_dynamics import predict_rows

_LOG_2PI = math.log(2.0 * math.pi)
_TWO_PI = 2.0 * math.pi


@njit_inner
def wrap(a: float) -> float:
    """:func:`trilink.geo.measure.wrap_angle`: to (-pi, pi]."""
    return math.pi - ((math.pi - a) % _TWO_PI)


@njit_inner
def measure_row(
    r: np.ndarray, sensor: np.ndarray, rot: np.ndarray, radar: bool,
    zhat: np.ndarray, H: np.ndarray,
) -> None:  # fmt: skip
    """Predicted measurement ``zhat`` (m,) and its Jacobian ``H`` (m, 3) w.r.t. position
    (:func:`trilink.geo.measure.range_az_el` and its analytic Jacobian)."""
    d0, d1, d2 = r[0] - sensor[0], r[1] - sensor[1], r[2] - sensor[2]
    e = rot[0, 0] * d0 + rot[0, 1] * d1 + rot[0, 2] * d2
    n = rot[1, 0] * d0 + rot[1, 1] * d1 + rot[1, 2] * d2
    u = rot[2, 0] * d0 + rot[2, 1] * d1 + rot[2, 2] * d2
    rho2 = e * e + n * n
    rho = math.sqrt(rho2)
    rr2 = rho2 + u * u
    rr = math.sqrt(rr2)
    o = 0
    if radar:
        zhat[0] = math.hypot(rho, u)
        for c in range(3):
            H[0, c] = (e / rr) * rot[0, c] + (n / rr) * rot[1, c] + (u / rr) * rot[2, c]
        o = 1
    zhat[o] = math.atan2(e, n)
    zhat[o + 1] = math.atan2(u, rho)
    for c in range(3):
        H[o, c] = (n / rho2) * rot[0, c] - (e / rho2) * rot[1, c]
        H[o + 1, c] = (
            (-e * u / (rr2 * rho)) * rot[0, c] + (-n * u / (rr2 * rho)) * rot[1, c]
            + (rho / rr2) * rot[2, c]
        )  # fmt: skip


@njit_inner
def _chol_solve_logdet(S: np.ndarray, b: np.ndarray, L: np.ndarray, y: np.ndarray) -> float:
    """Cholesky ``S = L L^T`` (m <= 3) into ``L``, ``y = S^-1 b``; returns ln det S
    (NaN, and y NaN, if S is not positive definite)."""
    m = S.shape[0]
    logdet = 0.0
    for j in range(m):
        s = S[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            y[:] = np.nan
            return np.nan
        L[j, j] = math.sqrt(s)
        logdet += 2.0 * math.log(L[j, j])
        for i in range(j + 1, m):
            t = S[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    for i in range(m):  # forward: L w = b
        t = b[i]
        for k in range(i):
            t -= L[i, k] * y[k]
        y[i] = t / L[i, i]
    for i in range(m - 1, -1, -1):  # backward: L^T y = w
        t = y[i]
        for k in range(i + 1, m):
            t -= L[k, i] * y[k]
        y[i] = t / L[i, i]
    return logdet


@njit
def distances_kernel(
    x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray,
    sensor: np.ndarray, rot: np.ndarray, radar: bool,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.association.distances`: squared Mahalanobis distances (M, D) and costs
    ``d2 + ln det S`` of M state rows (x (M, n), P (M, n, n)) against D detections.
    Each ``S`` is factored as ``L D L^T`` (no square roots, one logarithm per pair)."""
    nrow, nd = x.shape[0], z.shape[0]
    m = 3 if radar else 2
    az = 1 if radar else 0
    d2 = np.empty((nrow, nd))
    cost = np.empty((nrow, nd))
    zhat = np.empty(m)
    H = np.empty((m, 3))
    HP = np.empty((m, 3))
    HPH = np.empty((m, m))
    S = np.empty((m, m))
    L = np.zeros((m, m))
    D = np.empty(m)
    nu = np.empty(m)
    w = np.empty(m)
    for row in range(nrow):
        measure_row(x[row], sensor, rot, radar, zhat, H)
        for a in range(m):
            for c in range(3):
                HP[a, c] = H[a, 0] * P[row, 0, c] + H[a, 1] * P[row, 1, c] + H[a, 2] * P[row, 2, c]
        for a in range(m):
            for b in range(m):
                HPH[a, b] = HP[a, 0] * H[b, 0] + HP[a, 1] * H[b, 1] + HP[a, 2] * H[b, 2]
        for j in range(nd):
            for a in range(m):
                nu[a] = z[j, a] - zhat[a]
                for b in range(m):
                    S[a, b] = HPH[a, b] + R[j, a, b]
            nu[az] = wrap(nu[az])
            det = 1.0
            for i in range(m):  # S = L D L^T with unit lower L
                dii = S[i, i]
                for k in range(i):
                    dii -= L[i, k] * L[i, k] * D[k]
                D[i] = dii
                det *= dii
                for r in range(i + 1, m):
                    v = S[r, i]
                    for k in range(i):
                        v -= L[r, k] * L[i, k] * D[k]
                    L[r, i] = v / dii
            t = 0.0
            for i in range(m):  # L w = nu; d2 = sum w_i^2 / D_i
                v = nu[i]
                for k in range(i):
                    v -= L[i, k] * w[k]
                w[i] = v
                t += v * v / D[i]
            ok = det > 0.0
            for i in range(m):
                ok &= D[i] > 0.0
            d2[row, j] = t if ok else np.nan
            cost[row, j] = t + math.log(det) if ok else np.nan
    return d2, cost


@njit_inner
def update_row(
    x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray, sensor: np.ndarray,
    rot: np.ndarray, radar: bool, x_out: np.ndarray, P_out: np.ndarray,
) -> tuple[float, float]:  # fmt: skip
    """:func:`.filters.update_from_innovation` of one row, Joseph form, into ``x_out``,
    ``P_out``: returns (NIS, log-likelihood)."""
    n = x.shape[0]
    m = 3 if radar else 2
    az = 1 if radar else 0
    zhat = np.empty(m)
    H = np.empty((m, 3))
    measure_row(x, sensor, rot, radar, zhat, H)
    nu = np.empty(m)
    for a in range(m):
        nu[a] = z[a] - zhat[a]
    nu[az] = wrap(nu[az])
    PHt = np.empty((n, m))  # P H^T
    for i in range(n):
        for a in range(m):
            PHt[i, a] = P[i, 0] * H[a, 0] + P[i, 1] * H[a, 1] + P[i, 2] * H[a, 2]
    S = np.empty((m, m))
    for a in range(m):
        for b in range(m):
            S[a, b] = H[a, 0] * PHt[0, b] + H[a, 1] * PHt[1, b] + H[a, 2] * PHt[2, b] + R[a, b]
    L = np.zeros((m, m))
    y = np.empty(m)
    logdet = _chol_solve_logdet(S, nu, L, y)
    nis = 0.0
    for a in range(m):
        nis += nu[a] * y[a]
    K = np.empty((n, m))  # K = P H^T S^-1, row by row (S symmetric)
    for i in range(n):
        _chol_solve_logdet(S, PHt[i], L, K[i])
    for i in range(n):
        t = x[i]
        for a in range(m):
            t += K[i, a] * nu[a]
        x_out[i] = t
    # Joseph form (I - K H) P (I - K H)^T + K R K^T (see filters.update_from_innovation)
    ikh = np.zeros((n, n))
    for i in range(n):
        ikh[i, i] = 1.0
        for c in range(3):
            for a in range(m):
                ikh[i, c] -= K[i, a] * H[a, c]
    tmp = np.empty((n, n))
    for i in range(n):
        for c in range(n):
            t = 0.0
            for k in range(n):
                t += ikh[i, k] * P[k, c]
            tmp[i, c] = t
    KR = np.empty((n, m))
    for i in range(n):
        for b in range(m):
            t = 0.0
            for a in range(m):
                t += K[i, a] * R[a, b]
            KR[i, b] = t
    for i in range(n):
        for c in range(n):
            t = 0.0
            for k in range(n):
                t += tmp[i, k] * ikh[c, k]
            for b in range(m):
                t += KR[i, b] * K[c, b]
            P_out[i, c] = t
    for i in range(n):
        for c in range(i + 1, n):
            s = 0.5 * (P_out[i, c] + P_out[c, i])
            P_out[i, c] = s
            P_out[c, i] = s
    return nis, -0.5 * (nis + logdet + m * _LOG_2PI)


@njit
def imm_update_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, z: np.ndarray, R: np.ndarray,
    sensor: np.ndarray, rot: np.ndarray, radar: bool, mu_floor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.imm.imm_update`: model-conditioned updates of (N, M, n) states with one
    measurement per track, then model probabilities from the likelihoods (floored):
    (x, P, mu, mixture log-likelihood (N,))."""
    nt, nm = x.shape[0], x.shape[1]
    xu = np.empty_like(x)
    Pu = np.empty_like(P)
    mu_new = np.empty_like(mu)
    mix_ll = np.empty(nt)
    ll = np.empty(nm)
    for i in range(nt):
        for j in range(nm):
            _, ll[j] = update_row(
                x[i, j], P[i, j], z[i], R[i], sensor, rot, radar, xu[i, j], Pu[i, j]
            )
        ll_max = ll.max()
        total = 0.0
        for j in range(nm):
            mu_new[i, j] = mu[i, j] * math.exp(ll[j] - ll_max)
            total += mu_new[i, j]
        s = 0.0
        for j in range(nm):
            mu_new[i, j] = max(mu_new[i, j] / total, mu_floor)
            s += mu_new[i, j]
        for j in range(nm):
            mu_new[i, j] /= s
        mix_ll[i] = ll_max + math.log(total)
    return xu, Pu, mu_new, mix_ll


@njit
def mix_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, dt: np.ndarray,
    ballistic_mean_s: float, boost_mean_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.imm.mix` with :func:`.imm.transition_matrix` (two models): mixed initial
    conditions (N, 2, n), (N, 2, n, n) and predicted probabilities c (N, 2)."""
    nt, nm, n = x.shape[0], x.shape[1], x.shape[2]
    x0 = np.zeros_like(x)
    P0 = np.zeros_like(P)
    c = np.zeros((nt, nm))
    T = np.empty((nm, nm))
    w = np.empty((nm, nm))
    d = np.empty(n)
    for t in range(nt):
        adt = abs(dt[t])
        p01 = 1.0 - math.exp(-adt / ballistic_mean_s)
        p10 = 1.0 - math.exp(-adt / boost_mean_s)
        T[0, 0], T[0, 1], T[1, 0], T[1, 1] = 1.0 - p01, p01, p10, 1.0 - p10
        for j in range(nm):
            for i in range(nm):
                c[t, j] += mu[t, i] * T[i, j]
        for j in range(nm):
            cj = max(c[t, j], 1e-300)
            for i in range(nm):
                w[i, j] = mu[t, i] * T[i, j] / cj
            for i in range(nm):
                for k in range(n):
                    x0[t, j, k] += w[i, j] * x[t, i, k]
            for i in range(nm):
                for k in range(n):
                    d[k] = x[t, i, k] - x0[t, j, k]
                for k in range(n):
                    for q in range(n):
                        P0[t, j, k, q] += w[i, j] * P[t, i, k, q] + w[i, j] * d[k] * d[q]
    return x0, P0, c


@njit
def imm_predict_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, dt: np.ndarray,
    ballistic_mean_s: float, boost_mean_s: float, q_accel_ballistic: float,
    q_accel_boost: float, q_thrust_boost: float, q_kappa: float, drag_error: float,
    thrust_var_floor: float, h_max_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.imm.imm_predict` of the two-model IMM in one call: :func:`mix_kernel`,
    then :func:`.kernels_dynamics.predict_rows` over the (track, model) rows with the
    per-model parameters of :func:`.imm.model_rows` (ballistic: drag, no thrust; boost:
    thrust, no drag). Returns (x (N, 2, n), P (N, 2, n, n), c (N, 2))."""
    nt, nm, n = x.shape[0], x.shape[1], x.shape[2]
    x0, P0, c = mix_kernel(x, P, mu, dt, ballistic_mean_s, boost_mean_s)
    m = nt * nm
    dt_rows = np.empty(m)
    thrust_on = np.empty(m)
    drag_on = np.empty(m)
    q_accel = np.empty(m)
    q_thrust = np.empty(m)
    q_kap = np.full(m, q_kappa)
    for t in range(nt):
        for j in range(nm):
            r = t * nm + j
            dt_rows[r] = dt[t]
            thrust_on[r] = 1.0 if j == 1 else 0.0
            drag_on[r] = 1.0 - thrust_on[r]
            q_accel[r] = q_accel_boost if j == 1 else q_accel_ballistic
            q_thrust[r] = q_thrust_boost if j == 1 else 0.0
    xf, Pf = predict_rows(
        x0.reshape(m, n), P0.reshape(m, n, n), dt_rows, thrust_on, drag_on, q_accel,
        q_thrust, q_kap, drag_error, thrust_var_floor, h_max_s,
    )  # fmt: skip
    return xf.reshape(nt, nm, n), Pf.reshape(nt, nm, n, n), c


@njit
def combine_kernel(x: np.ndarray, P: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`.imm.combine`: the moment-matched mixture (N, n), (N, n, n)."""
    nt, nm, n = x.shape[0], x.shape[1], x.shape[2]
    xc = np.zeros((nt, n))
    Pc = np.zeros((nt, n, n))
    d = np.empty(n)
    for t in range(nt):
        for j in range(nm):
            for k in range(n):
                xc[t, k] += mu[t, j] * x[t, j, k]
        for j in range(nm):
            for k in range(n):
                d[k] = x[t, j, k] - xc[t, k]
            for k in range(n):
                for q in range(n):
                    Pc[t, k, q] += mu[t, j] * P[t, j, k, q] + mu[t, j] * d[k] * d[q]
    return xc, Pc


@njit
def update_kernel(
    x: np.ndarray, P: np.ndarray, z: np.ndarray, R: np.ndarray, sensor: np.ndarray,
    rot: np.ndarray, radar: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.filters.update` of M rows: (x, P, NIS (M,))."""
    xu = np.empty_like(x)
    Pu = np.empty_like(P)
    nis = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        nis[i], _ = update_row(x[i], P[i], z[i], R[i], sensor, rot, radar, xu[i], Pu[i])
    return xu, Pu, nis


@njit
def cv_predict_kernel(
    x: np.ndarray, P: np.ndarray, dt: np.ndarray, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`.filters.cv_predict`: x <- F x, P <- F P F^T + Q for rows (M, n), n >= 6,
    with F the constant-velocity transition over dt (M,) and Q its white-acceleration
    noise; states past the sixth are unchanged."""
    m, n = x.shape[0], x.shape[1]
    xo = x.copy()
    Po = np.empty_like(P)
    for i in range(m):
        h = dt[i]
        ah = abs(h)
        for a in range(3):
            xo[i, a] = x[i, a] + h * x[i, 3 + a]
        # rows of F P: position rows gain h times the velocity rows
        for a in range(n):
            for b in range(n):
                Po[i, a, b] = P[i, a, b]
        for a in range(3):
            for b in range(n):
                Po[i, a, b] += h * P[i, 3 + a, b]
        # columns of (F P) F^T likewise
        for a in range(n):
            for b in range(3):
                Po[i, a, b] += h * Po[i, a, 3 + b]
        for a in range(3):
            Po[i, a, a] += q * ah**3 / 3.0
            Po[i, a, 3 + a] += q * ah**2 / 2.0
            Po[i, 3 + a, a] += q * ah**2 / 2.0
            Po[i, 3 + a, 3 + a] += q * ah
    return xo, Po
