"""Compiled kernels of track management: which tracks may be near a scan's detections,
which confirmed tracks have become the same object, which tracks are stale, and each
track's flight phase. The NumPy references are :func:`.association.candidates_reference`,
:func:`.association.duplicate_pairs_reference`, :func:`.management.stale_reference` and
:func:`.management.phase_codes_reference`. :func:`predict_gate_kernel`,
:func:`update_count_kernel` and :func:`duplicates_kernel` are the steps of a scan in one
call each (written out in NumPy in :mod:`.management`).

Each scan of a radar calls these on a handful of tracks, so what they save is NumPy's
per-call overhead (a few microseconds per operation, tens of operations per scan), not
arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from trilink.geo.wgs84 import A, F
from trilink.tracking.jit import njit, njit_inner
from trilink.tracking.kernels_filters import (
    combine_kernel,
    distances_kernel,
    imm_predict_kernel,
    imm_update_kernel,
)

PHASE_BOOST, PHASE_MIDCOURSE, PHASE_REENTRY = 0, 1, 2


@njit
def scan_candidates_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, dt: np.ndarray, z: np.ndarray,
    R: np.ndarray, sensor: np.ndarray, rot: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """:func:`candidates_kernel` for a radar scan given as measurements ``z`` (D, 3)
    ``[range, az, el]`` with covariances R (D, 3, 3) from a sensor at ``sensor`` (3,) with
    frame ``rot`` (3, 3): the converted positions of :func:`.initiation.radar_to_ecef`
    and the sigmas of :func:`.association.candidates`, then the same test."""
    nd = z.shape[0]
    det_pos = np.empty((nd, 3))
    sig_det = np.empty(nd)
    for d in range(nd):
        rng, az, el = z[d, 0], z[d, 1], z[d, 2]
        lx = rng * math.cos(el) * math.sin(az)
        ly = rng * math.cos(el) * math.cos(az)
        lz = rng * math.sin(el)
        for c in range(3):  # sensor + rot^T l
            det_pos[d, c] = sensor[c] + (lx * rot[0, c] + ly * rot[1, c] + lz * rot[2, c])
        sig_det[d] = math.sqrt(R[d, 0, 0] + z[d, 0] ** 2 * (R[d, 1, 1] + R[d, 2, 2]))
    return candidates_kernel(x, P, mu, dt, det_pos, sig_det)


@njit_inner
def mixture_position_sigma(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, t: int, xc: np.ndarray
) -> float:
    """Position sigma (sqrt of the trace of the position covariance) of the IMM mixture
    of row ``t`` (:func:`.management.position_sigma` of :func:`.imm.combine`); the
    mixture's mean position is left in ``xc`` (3,)."""
    nm = x.shape[1]
    xc[:] = 0.0
    for j in range(nm):
        for k in range(3):
            xc[k] += mu[t, j] * x[t, j, k]
    pkk = np.zeros(3)  # diagonal of the mixture's position covariance (combine)
    for j in range(nm):
        for k in range(3):
            d = x[t, j, k] - xc[k]
            pkk[k] += mu[t, j] * P[t, j, k, k] + mu[t, j] * d * d
    return math.sqrt(pkk[0] + pkk[1] + pkk[2])


@njit
def stale_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, t_hit: np.ndarray, confirmed: np.ndarray,
    t_ns: int, max_coast_s: float, max_sigma_m: float, tentative_s: float, min_alt_m: float,
) -> np.ndarray:  # fmt: skip
    """Flags (N,) of IMM tracks (x (N, M, n), P, mu) to delete at ``t_ns``: confirmed ones
    without a hit for ``max_coast_s`` or with a position sigma (sqrt of the trace of the
    mixture's position covariance) above ``max_sigma_m``, tentative ones without a hit
    for ``tentative_s``, and any whose mixture is below ``min_alt_m`` (first-order
    ellipsoid height) or whose sigma is not finite."""
    nt = x.shape[0]
    dead = np.zeros(nt, dtype=np.bool_)
    xc = np.empty(3)
    for t in range(nt):
        sigma = mixture_position_sigma(x, P, mu, t, xc)
        rn = math.sqrt(xc[0] * xc[0] + xc[1] * xc[1] + xc[2] * xc[2])
        h = rn - A * (1.0 - F * (xc[2] * xc[2] / (rn * rn)))
        age_s = (t_ns - t_hit[t]) * 1e-9
        if confirmed[t]:
            dead[t] = age_s > max_coast_s or sigma > max_sigma_m
        else:
            dead[t] = age_s > tentative_s
        dead[t] = dead[t] or h < min_alt_m or not math.isfinite(sigma)
    return dead


@njit
def phase_kernel(x: np.ndarray, p_boost: np.ndarray) -> np.ndarray:
    """Phase codes (K,) of estimates x (K, >= 6) (``PHASE_*``; see
    :func:`.management.phase_codes_reference`)."""
    k_rows = x.shape[0]
    out = np.empty(k_rows, dtype=np.int8)
    for i in range(k_rows):
        rx, ry, rz = x[i, 0], x[i, 1], x[i, 2]
        rn = math.sqrt(rx * rx + ry * ry + rz * rz)
        rr = rn * rn
        s = rz * rz / rr
        h = rn - A * (1.0 - F * s)
        # the gradient of the first-order ellipsoid height (dynamics.approx_altitude)
        c = -2.0 * (s / rr)
        ux = rx / rn + A * F * (c * rx)
        uy = ry / rn + A * F * (c * ry)
        uz = rz / rn + A * F * (c * rz + 2.0 * rz / rr)
        falling = ux * x[i, 3] + uy * x[i, 4] + uz * x[i, 5] < 0.0
        if p_boost[i] > 0.5:
            out[i] = PHASE_BOOST
        elif falling and h < 100_000.0:
            out[i] = PHASE_REENTRY
        else:
            out[i] = PHASE_MIDCOURSE
    return out


@njit
def candidates_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, dt: np.ndarray, det_pos: np.ndarray,
    sig_det: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Flags (N,) of tracks (IMM x (N, M, n), P, mu) that a straight-line extrapolation
    over dt (N,) puts within reach of some detection (positions (D, 3), sigmas (D,)):
    ``6 (sigma_track + sigma_det) + 60 dt^2 + 1 km`` (see the reference)."""
    nt, nm = x.shape[0], x.shape[1]
    out = np.zeros(nt, dtype=np.bool_)
    xc = np.empty(6)
    for t in range(nt):
        xc[:] = 0.0
        for j in range(nm):
            for k in range(6):
                xc[k] += mu[t, j] * x[t, j, k]
        tr_r = tr_v = 0.0  # traces of the mixture's position and velocity covariances
        for j in range(nm):
            for k in range(3):
                dr = x[t, j, k] - xc[k]
                dv = x[t, j, 3 + k] - xc[3 + k]
                tr_r += mu[t, j] * P[t, j, k, k] + mu[t, j] * dr * dr
                tr_v += mu[t, j] * P[t, j, 3 + k, 3 + k] + mu[t, j] * dv * dv
        h = dt[t]
        sig_trk = math.sqrt(tr_r) + math.sqrt(tr_v) * h
        for d in range(det_pos.shape[0]):
            reach = 6.0 * (sig_trk + sig_det[d]) + 60.0 * h * h + 1_000.0
            s = 0.0
            for k in range(3):
                e = xc[k] + xc[3 + k] * h - det_pos[d, k]
                s += e * e
            if math.sqrt(s) <= reach:
                out[t] = True
                break
    return out


@njit
def duplicate_pairs_kernel(xc: np.ndarray, Pc: np.ndarray, gate: float) -> np.ndarray:
    """(C, C) flags of pairs of estimates (xc (C, n >= 6), Pc (C, n, n)) whose 6-D
    states are within squared Mahalanobis distance ``gate`` under ``Pc_i + Pc_j``.

    A pair whose position difference alone exceeds ``gate`` times the trace of the
    summed position covariance is skipped: the 6-D distance is at least the position
    distance, which is at least ``|dr|^2 / trace``, so it cannot be inside."""
    c = xc.shape[0]
    same = np.zeros((c, c), dtype=np.bool_)
    S = np.empty((6, 6))
    L = np.empty((6, 6))
    d = np.empty(6)
    y = np.empty(6)
    for a in range(c):
        for b in range(a + 1, c):
            dr2 = tr = 0.0
            for k in range(3):
                dr2 += (xc[a, k] - xc[b, k]) ** 2
                tr += Pc[a, k, k] + Pc[b, k, k]
            if dr2 > gate * tr:
                continue
            for i in range(6):
                d[i] = xc[a, i] - xc[b, i]
                for j in range(6):
                    S[i, j] = Pc[a, i, j] + Pc[b, i, j]
            ok = True  # Cholesky S = L L^T, then |L^-1 d|^2
            for j in range(6):
                s = S[j, j]
                for k in range(j):
                    s -= L[j, k] * L[j, k]
                if not s > 0.0:
                    ok = False
                    break
                L[j, j] = math.sqrt(s)
                for i in range(j + 1, 6):
                    t = S[i, j]
                    for k in range(j):
                        t -= L[i, k] * L[j, k]
                    L[i, j] = t / L[j, j]
            if not ok:
                continue
            d2 = 0.0
            for i in range(6):
                t = d[i]
                for k in range(i):
                    t -= L[i, k] * y[k]
                y[i] = t / L[i, i]
                d2 += y[i] * y[i]
            if d2 < gate:
                same[a, b] = same[b, a] = True
    return same


@njit
def predict_gate_kernel(
    x: np.ndarray,
    P: np.ndarray,
    mu: np.ndarray,
    t_trk: np.ndarray,
    t_ns: int,
    z: np.ndarray,
    R: np.ndarray,
    sensor: np.ndarray,
    rot: np.ndarray,
    radar: bool,
    ballistic_mean_s: float,
    boost_mean_s: float,
    q_accel_ballistic: float,
    q_accel_boost: float,
    q_thrust_boost: float,
    q_kappa: float,
    drag_error: float,
    thrust_var_floor: float,
    h_max_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`.management.predict_and_gate_reference` of a two-model IMM table in one
    call: candidates (:func:`scan_candidates_kernel` for a radar, all tracks for angles),
    their time update to ``t_ns`` (:func:`.kernels_filters.imm_predict_kernel`), and
    their gating distances and costs (:func:`.kernels_filters.distances_kernel`), the
    smaller of the two models' for each detection (NaN if either is NaN, as ``np.min``).
    ``x``, ``P``, ``mu`` and ``t_trk`` are updated in place (the caller copies them if it
    must keep them: arrays made here cost microseconds each to hand back to Python).
    Returns (candidate rows, d2 (C, D), cost (C, D))."""
    n, nm, nx = x.shape[0], x.shape[1], x.shape[2]
    nd = z.shape[0]
    if n == 0 or nd == 0:
        cand = np.zeros(0, dtype=np.int64)
    elif radar:
        dt_all = np.empty(n)
        for i in range(n):
            dt_all[i] = (t_ns - t_trk[i]) * 1e-9
        cand = np.nonzero(scan_candidates_kernel(x, P, mu, dt_all, z, R, sensor, rot))[0]
    else:
        cand = np.arange(n)
    c = cand.size
    if c == 0:
        return cand, np.zeros((0, nd)), np.zeros((0, nd))
    dt = np.empty(c)
    for k in range(c):
        dt[k] = (t_ns - t_trk[cand[k]]) * 1e-9
    xp, Pp, mup = imm_predict_kernel(
        x[cand], P[cand], mu[cand], dt, ballistic_mean_s, boost_mean_s, q_accel_ballistic,
        q_accel_boost, q_thrust_boost, q_kappa, drag_error, thrust_var_floor, h_max_s,
    )  # fmt: skip
    for k in range(c):  # (loops, not slice copies: those compile for seconds)
        i = cand[k]
        t_trk[i] = t_ns
        for j in range(nm):
            mu[i, j] = mup[k, j]
            for a in range(nx):
                x[i, j, a] = xp[k, j, a]
                for b in range(nx):
                    P[i, j, a, b] = Pp[k, j, a, b]
    d2m, costm = distances_kernel(
        xp.reshape(c * nm, nx), Pp.reshape(c * nm, nx, nx), z, R, sensor, rot, radar
    )
    d2 = np.empty((c, nd))
    cost = np.empty((c, nd))
    for k in range(c):
        for j in range(nd):
            d2[k, j] = _nanmin(d2m, k * nm, nm, j)
            cost[k, j] = _nanmin(costm, k * nm, nm, j)
    return cand, d2, cost


@njit_inner
def _nanmin(a: np.ndarray, r0: int, nr: int, j: int) -> float:
    """``np.min(a[r0 : r0 + nr, j])``: the smallest, or NaN if any is NaN."""
    m = a[r0, j]
    for r in range(r0 + 1, r0 + nr):
        v = a[r, j]
        if math.isnan(m):
            break
        if math.isnan(v) or v < m:
            m = v
    return m


@njit
def duplicates_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, rows: np.ndarray, ids: np.ndarray,
    gate: float,
) -> np.ndarray:  # fmt: skip
    """:func:`.management.younger_duplicates_reference`: flags (C,) of the table rows
    ``rows`` (confirmed tracks) that duplicate an older one among them (smaller id),
    from their IMM mixtures (:func:`.kernels_filters.combine_kernel`,
    :func:`duplicate_pairs_kernel`)."""
    c = rows.size
    drop = np.zeros(c, dtype=np.bool_)
    if c < 2:
        return drop
    xc, Pc = combine_kernel(x[rows], P[rows], mu[rows])
    same = duplicate_pairs_kernel(xc, Pc, gate)
    for a in range(c):
        for b in range(c):
            if same[a, b] and ids[rows[b]] > ids[rows[a]]:
                drop[b] = True
    return drop


@njit
def update_count_kernel(
    x: np.ndarray,
    P: np.ndarray,
    mu: np.ndarray,
    nis: np.ndarray,
    t_hit: np.ndarray,
    hits: np.ndarray,
    burnout_h: np.ndarray,
    watch: np.ndarray,
    opps: np.ndarray,
    confirmed: np.ndarray,
    cand: np.ndarray,
    ti: np.ndarray,
    di: np.ndarray,
    ci: np.ndarray,
    d2: np.ndarray,
    z: np.ndarray,
    R: np.ndarray,
    sensor: np.ndarray,
    rot: np.ndarray,
    radar: bool,
    t_ns: int,
    col: int,
    confirm_m: int,
    confirm_n: int,
    max_sigma_m: float,
    gate: float,
    mu_floor: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`.management.update_and_count_reference` in one call, the table arrays
    (``x`` to ``confirmed``) updated in place (see :func:`predict_gate_kernel`). Returns
    the tracks that failed M-of-N (N,) and the detections free to start tracks (D,);
    M hits confirm a track only with its position sigma within ``max_sigma_m``."""
    n, nm, nx = x.shape[0], x.shape[1], x.shape[2]
    nd = z.shape[0]
    m = ti.size
    watchers = watch[:, col].copy()
    if m:
        xu, Pu, mu_u, _ = imm_update_kernel(
            x[ti], P[ti], mu[ti], z[di], R[di], sensor, rot, radar, mu_floor
        )
        for k in range(m):
            i = ti[k]
            for j in range(nm):  # (loops, not slice copies: those compile for seconds)
                mu[i, j] = mu_u[k, j]
                for a in range(nx):
                    x[i, j, a] = xu[k, j, a]
                    for b in range(nx):
                        P[i, j, a, b] = Pu[k, j, a, b]
            nis[i] = d2[ci[k], di[k]]
            t_hit[i] = t_ns
            hits[i] += 1
            # burnout height: the height of the models' mean at the last confident
            # boost update (approx_altitude)
            if nm > 1 and mu_u[k, 1] > 0.8 and hits[i] >= confirm_m:
                r = np.zeros(3)
                for j in range(nm):
                    for a in range(3):
                        r[a] += xu[k, j, a]
                for a in range(3):
                    r[a] /= nm
                rn = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
                burnout_h[i] = rn - A * (1.0 - F * (r[2] * r[2] / (rn * rn)))
            watchers[i] = True
            watch[i, col] = True
    failed = np.zeros(n, dtype=np.bool_)
    xc = np.empty(3)
    for i in range(n):
        if watchers[i]:
            opps[i] += 1
        if not confirmed[i]:
            if hits[i] >= confirm_m and mixture_position_sigma(x, P, mu, i, xc) <= max_sigma_m:
                confirmed[i] = True
            elif opps[i] >= confirm_n:
                failed[i] = True
    free = np.zeros(nd, dtype=np.bool_)
    if radar:
        for j in range(nd):
            free[j] = True
            for k in range(cand.size):
                if confirmed[cand[k]] and d2[k, j] <= gate:
                    free[j] = False
                    break
        for k in range(m):
            free[di[k]] = False
    return failed, free


@njit
def snapshot_kernel(
    x: np.ndarray, P: np.ndarray, mu: np.ndarray, t_trk: np.ndarray, t_ns: int,
    ballistic_mean_s: float, boost_mean_s: float, q_accel_ballistic: float,
    q_accel_boost: float, q_thrust_boost: float, q_kappa: float, drag_error: float,
    thrust_var_floor: float, h_max_s: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.management.snapshot_reference` of a two-model IMM table in one call: every
    track predicted to ``t_ns`` (:func:`.kernels_filters.imm_predict_kernel`), its
    moment-matched output (:func:`.kernels_filters.combine_kernel`) and its phase code
    (:func:`phase_kernel`, from the table's boost probability)."""
    n = x.shape[0]
    dt = np.empty(n)
    pb = np.empty(n)
    for i in range(n):
        dt[i] = (t_ns - t_trk[i]) * 1e-9
        pb[i] = mu[i, 1]
    xp, Pp, c = imm_predict_kernel(
        x, P, mu, dt, ballistic_mean_s, boost_mean_s, q_accel_ballistic, q_accel_boost,
        q_thrust_boost, q_kappa, drag_error, thrust_var_floor, h_max_s,
    )  # fmt: skip
    xc, Pc = combine_kernel(xp, Pp, c)
    return xc, Pc, phase_kernel(xc, pb)
