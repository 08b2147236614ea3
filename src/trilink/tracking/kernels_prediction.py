"""Compiled kernel of :func:`.prediction.predict_points`: the whole per-sigma-point
pipeline (sigma points, forward flight to the surface, backward flight to burnout, the
straight line to the ground) and the statistics over each track's 15 points, in one call.

The equations, step rules and stopping tests are those of the NumPy reference in
:mod:`.prediction` (see its docstring and docs/tracking.md), written per point: the
reference advances all points of all tracks together and drops each one as it finishes;
the kernel does the same one track (15 points) at a time, which gives the same flights.
Output is one (K, N_OUT) array whose columns are named by the ``C_*`` indices below;
:mod:`.prediction` turns it into dataclasses.
"""

from __future__ import annotations

import math

import numpy as np

from trilink.geo.wgs84 import E2, EP2, GM, R_MEAN, A, B
from trilink.tracking.dynamics import H_SCALE, IK, NX
from trilink.tracking.jit import njit, njit_inner
from trilink.tracking.kernels_dynamics import rk4_row

_SQ1ME2 = (1.0 - E2) ** 0.5
N7 = 7  # [r, v, kappa]
N_PTS = 2 * N7 + 1

# Output columns: impact (lat, lon, cov_ee, cov_en, cov_nn, t_mean, t_sigma, ok), launch
# (the same), apogee (mean, sigma), then the ellipse of each (a, b, bearing).
(
    C_I_LAT, C_I_LON, C_I_EE, C_I_EN, C_I_NN, C_I_T, C_I_TS, C_I_OK,
    C_L_LAT, C_L_LON, C_L_EE, C_L_EN, C_L_NN, C_L_T, C_L_TS, C_L_OK,
    C_APO, C_APO_S, C_I_A, C_I_B, C_I_O, C_L_A, C_L_B, C_L_O,
) = range(24)  # fmt: skip
N_OUT = 24


@njit_inner
def geodetic(x: float, y: float, z: float) -> tuple[float, float, float]:
    """:func:`trilink.geo.frames.ecef_to_geodetic` of one point: (lat, lon, h) (the same
    iterations; see :func:`_up`)."""
    _, _, _, h, ly, lx = _up_lat(x, y, z)
    return math.atan2(ly, lx), math.atan2(y, x), h


@njit_inner
def _up_lat(x: float, y: float, z: float) -> tuple[float, float, float, float, float, float]:
    """Geodetic up unit vector (3), height, and ``(ly, lx)`` with ``lat = atan2(ly, lx)``.

    Bowring's start and two refinements as :func:`trilink.geo.frames.ecef_to_geodetic`,
    with each ``sin``/``cos`` of an ``atan2(a, b)`` taken as ``a, b / sqrt(a^2 + b^2)``:
    equal to rounding, and no trigonometric call (the flight loop calls this every step,
    where the trigonometric version cost more than the RK4 step itself)."""
    p = math.sqrt(x * x + y * y)
    co, so = (x / p, y / p) if p > 0.0 else (1.0, 0.0)
    ay, bx = A * z, B * p  # beta = atan2(A z, B p)
    ly = lx = 0.0
    for _ in range(2):  # the reference's third pass changes nothing (lat < 1e-15 rad)
        inv = 1.0 / math.sqrt(ay * ay + bx * bx)
        sb, cb = ay * inv, bx * inv
        ly, lx = z + EP2 * B * (sb * sb * sb), p - E2 * A * (cb * cb * cb)  # lat = atan2(ly, lx)
        ay, bx = _SQ1ME2 * ly, lx  # beta = atan2(sqrt(1 - e^2) sin(lat), cos(lat))
    inv = 1.0 / math.sqrt(ly * ly + lx * lx)
    sl, cl = ly * inv, lx * inv
    # h = p cos(lat) + z sin(lat) - A^2 / N, N = A / sqrt(1 - e^2 sin^2(lat))
    h = p * cl + z * sl - A * math.sqrt(1.0 - E2 * sl * sl)
    return cl * co, cl * so, sl, h, ly, lx


@njit_inner
def _up(x: float, y: float, z: float) -> tuple[float, float, float, float]:
    """Geodetic up unit vector and height (:func:`_up_lat`)."""
    ux, uy, uz, h, _, _ = _up_lat(x, y, z)
    return ux, uy, uz, h


@njit_inner
def _height_rate(x: np.ndarray) -> tuple[float, float]:
    """Geodetic height and vertical speed (along the geodetic up) of a state row."""
    ux, uy, uz, h = _up(x[0], x[1], x[2])
    return h, ux * x[3] + uy * x[4] + uz * x[5]


@njit_inner
def _sign(a: float) -> float:
    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else (0.0 if a == 0.0 else a))


@njit_inner
def fly_points(
    X: np.ndarray, direction: float, stop_height: np.ndarray, mode: np.ndarray,
    coarse_frac: float, air_h: float, air_frac: float, max_time_s: float,
    elapsed: np.ndarray, top: np.ndarray, done: np.ndarray,
) -> None:  # fmt: skip
    """:func:`.prediction.fly_to_height` for the rows of ``X`` (n, 8), flown in place;
    fills ``elapsed`` (s), ``top`` (highest height) and ``done`` (converged), all (n,).
    ``mode`` (n, 3) holds each row's ``[apogee_frac, floor_m, drag_on]``: with
    ``apogee_frac`` < 0 the row stops at ``stop_height``, else at
    ``max(apogee_frac * highest height so far, floor_m)``; ``drag_on`` is 1.0 or 0.0.

    The rows advance in lockstep, one step each per pass, as in the reference (each
    row's flight is independent of the others, so this equals flying them one by one)."""
    n = X.shape[0]
    h = np.empty(n)
    vup = np.empty(n)
    r2 = np.empty(n)
    active = np.ones(n, dtype=np.bool_)
    x_new = np.empty(NX)
    for j in range(n):
        h[j], vup[j] = _height_rate(X[j])
        top[j] = h[j]
        elapsed[j] = 0.0
        done[j] = False
        r2[j] = X[j, 0] * X[j, 0] + X[j, 1] * X[j, 1] + X[j, 2] * X[j, 2]
    n_active = n
    for _ in range(2000):
        if n_active == 0:
            break
        for j in range(n):
            if not active[j]:
                continue
            x = X[j]
            hj, vj = h[j], vup[j]
            apogee_frac, floor_m, drag_on = mode[j, 0], mode[j, 1], mode[j, 2]
            if apogee_frac >= 0.0:
                target = max(apogee_frac * top[j], floor_m)
            else:
                target = stop_height[j]
            rn = math.sqrt(r2[j])
            coarse = coarse_frac * rn * math.sqrt(rn * (1.0 / GM))  # sqrt(r^3 / GM)
            if drag_on != 0.0:
                # in the air, a fraction of the time to cross a scale height; from above,
                # no deeper into the air than one such step
                inv_rate = 1.0 / max(abs(vj), 1.0)
                air_step = max(air_frac * H_SCALE * inv_rate, 0.5)
                to_air = (hj - air_h) * inv_rate if direction * vj < 0.0 else math.inf
                limit = air_step if hj < air_h else max(to_air, air_step)
                coarse = min(coarse, limit)
            approaching = direction * vj < 0.0  # on the branch that crosses the target
            newton = (target - hj) / (1e-9 if vj == 0.0 else vj)
            use_newton = approaching and abs(newton) <= coarse
            step = newton if use_newton else direction * coarse
            if use_newton and abs(target - hj) < 0.5:
                done[j] = True
                active[j] = False
                n_active -= 1
                continue
            if abs(elapsed[j]) > max_time_s:
                active[j] = False
                n_active -= 1
                continue
            rk4_row(x, step, 0.0, drag_on, x_new)
            if math.isfinite(x_new[0] + x_new[1] + x_new[2] + x_new[3] + x_new[4] + x_new[5]):
                for i in range(NX):  # (no slice copy: see kernels_dynamics.predict_rows)
                    x[i] = x_new[i]
            else:  # a point flown into nonsense: keep the state, give up at the next test
                elapsed[j] = math.inf
            elapsed[j] += step
            h_new, v_new = _height_rate(x)
            crossed = _sign(v_new) != _sign(vj)
            r2[j] = x[0] * x[0] + x[1] * x[1] + x[2] * x[2]
            # apex between two steps: the top of the local parabola (g = GM / r^2) from
            # the end nearer the apex, never above what the step could reach
            half_inv_g = 0.5 * r2[j] * (1.0 / GM)
            if abs(vj) < abs(v_new):
                apex = hj + vj * vj * half_inv_g
            else:
                apex = h_new + v_new * v_new * half_inv_g
            reach = max(hj, h_new) + 0.5 * abs(step) * min(abs(vj), abs(v_new))
            apex = min(apex, reach)
            top[j] = max(top[j], apex if crossed else h_new)
            h[j], vup[j] = h_new, v_new


@njit_inner
def _line_to_ground(x: np.ndarray) -> tuple[float, float, float, float, float]:
    """:func:`.prediction._line_to_ground` of one state: (lat, lon, length, time, h0)."""
    vn = max(math.sqrt(x[3] * x[3] + x[4] * x[4] + x[5] * x[5]), 1.0)
    ux, uy, uz = x[3] / vn, x[4] / vn, x[5] / vn
    s = 0.0
    for _ in range(4):
        upx, upy, upz, h = _up(x[0] - s * ux, x[1] - s * uy, x[2] - s * uz)
        rate = max(upx * ux + upy * uy + upz * uz, 0.05)
        s = s + h / rate
    lat, lon, h = geodetic(x[0] - s * ux, x[1] - s * uy, x[2] - s * uz)
    return lat, lon, s, 2.0 * s / vn, h


@njit_inner
def _cholesky(P: np.ndarray, L: np.ndarray) -> bool:
    """Lower Cholesky factor of the (n, n) matrix into ``L``; False if not definite."""
    n = P.shape[0]
    L[:, :] = 0.0
    for j in range(n):
        s = P[j, j]
        for k in range(j):
            s -= L[j, k] * L[j, k]
        if not s > 0.0:
            return False
        L[j, j] = math.sqrt(s)
        for i in range(j + 1, n):
            t = P[i, j]
            for k in range(j):
                t -= L[i, k] * L[j, k]
            L[i, j] = t / L[j, j]
    return True


@njit_inner
def _spread(
    lat: np.ndarray, lon: np.ndarray, w: np.ndarray
) -> tuple[float, float, float, float, float]:
    """:func:`.prediction._enu_spread` of one track's points: mean (lat, lon) and the
    east/north covariance entries (ee, en, nn)."""
    n = lat.shape[0]
    ux = np.empty(n)
    uy = np.empty(n)
    uz = np.empty(n)
    mx = my = mz = 0.0
    for j in range(n):
        cl = math.cos(lat[j])
        ux[j], uy[j], uz[j] = cl * math.cos(lon[j]), cl * math.sin(lon[j]), math.sin(lat[j])
        mx += w[j] * ux[j]
        my += w[j] * uy[j]
        mz += w[j] * uz[j]
    mx += 1e-12 * ux[0]
    my += 1e-12 * uy[0]
    mz += 1e-12 * uz[0]
    lat_m = math.atan2(mz, math.hypot(mx, my))
    lon_m = math.atan2(my, mx)
    sl, cl, so, co = math.sin(lat_m), math.cos(lat_m), math.sin(lon_m), math.cos(lon_m)
    ee = en = nn = 0.0
    for j in range(n):
        dx, dy, dz = ux[j] - mx, uy[j] - my, uz[j] - mz
        e = (-so * dx + co * dy) * R_MEAN
        nr = (-sl * co * dx - sl * so * dy + cl * dz) * R_MEAN
        ee += w[j] * e * e
        en += w[j] * e * nr
        nn += w[j] * nr * nr
    return lat_m, lon_m, ee, en, nn


@njit_inner
def _ellipse(ee: float, en: float, nn: float) -> tuple[float, float, float]:
    """:func:`.prediction.ellipse` of [[ee, en], [en, nn]]: (a, b, bearing in [0, pi))."""
    m = 0.5 * (ee + nn)
    d = math.hypot(0.5 * (ee - nn), en)
    theta = 0.5 * math.atan2(2.0 * en, ee - nn)  # major axis from east, counter-clockwise
    bearing = math.atan2(math.cos(theta), math.sin(theta)) % math.pi
    return math.sqrt(max(m + d, 0.0)), math.sqrt(max(m - d, 0.0)), bearing


@njit_inner
def _moments(v: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Weighted mean and variance (weights ``w``; point 0 has weight 0, as in the
    reference, so a failed nominal point still makes the result NaN)."""
    mean = 0.0
    for j in range(v.shape[0]):
        mean += w[j] * v[j]
    var = 0.0
    for j in range(v.shape[0]):
        var += w[j] * (v[j] - mean) ** 2
    return mean, var


@njit
def predict_kernel(
    x: np.ndarray, P: np.ndarray, t_ns: np.ndarray, boosting: np.ndarray,
    burnout_h: np.ndarray, kappa_prior: float, kappa_sigma: float, coarse_frac: float,
    air_h: float, air_frac: float, max_time_s: float, launch_frac: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Impact, launch and apogee statistics (K, N_OUT) of K Gaussians (x (K, n), P (K, n,
    n), n = 8 or 6, at times ``t_ns`` (K,)), the impact and launch times (2, K) int64 ns
    (:func:`_add_s` of the mean times), and a (K,) flag of covariances that
    were not definite. Each Gaussian is first cut to [r, v, kappa] (7) as
    :func:`.prediction._state7` does (kappa and its covariance from the state when n = 8,
    else ``kappa_prior`` +- ``kappa_sigma``)."""
    k_rows = x.shape[0]
    n_in = x.shape[1]
    out = np.full((k_rows, N_OUT), np.nan)
    bad = np.zeros(k_rows, dtype=np.bool_)
    w = np.full(N_PTS, 1.0 / (2 * N7))
    w[0] = 0.0
    L = np.empty((N7, N7))
    Pr = np.empty((N7, N7))
    flat = np.empty((N_PTS, NX))
    legs = np.empty((2, N_PTS, NX))
    t_leg, top_leg = np.empty((2, N_PTS)), np.empty((2, N_PTS))
    done_leg = np.empty((2, N_PTS), dtype=np.bool_)
    stop = np.zeros(N_PTS)
    mode = np.empty((N_PTS, 3))
    h0 = np.empty(N_PTS)
    lat_i, lon_i = np.empty(N_PTS), np.empty(N_PTS)
    lat_l, lon_l, t_l = np.empty(N_PTS), np.empty(N_PTS), np.empty(N_PTS)
    len_l, tline, top = np.empty(N_PTS), np.empty(N_PTS), np.empty(N_PTS)
    scale = math.sqrt(N7)
    x7 = np.empty(N7)
    P7 = np.empty((N7, N7))
    for k in range(k_rows):
        P7[:, :] = 0.0
        for i in range(6):
            x7[i] = x[k, i]
            for j in range(6):
                P7[i, j] = P[k, i, j]
        if n_in >= NX:
            x7[6] = x[k, IK]
            P7[6, 6] = P[k, IK, IK]
            for i in range(6):
                P7[i, 6] = P[k, i, IK]
                P7[6, i] = P[k, IK, i]
        else:
            x7[6] = kappa_prior
            P7[6, 6] = kappa_sigma * kappa_sigma
        tr = 0.0
        for i in range(N7):
            tr += P7[i, i]
        for i in range(N7):
            for j in range(N7):
                Pr[i, j] = P7[i, j] + (1e-12 * tr / N7 if i == j else 0.0)
        if not _cholesky(Pr, L):
            bad[k] = True
            continue
        flat[:, :] = 0.0
        for j in range(N_PTS):
            for i in range(N7):
                if j == 0:
                    d = 0.0
                elif j <= N7:
                    d = scale * L[i, j - 1]
                else:
                    d = -scale * L[i, j - 1 - N7]
                flat[j, i if i < 6 else IK] = x7[i] + d
            # a negative kappa would be thrust in the air: such a point flies without drag
            flat[j, IK] = max(flat[j, IK], 0.0)
        for j in range(N_PTS):
            _, _, _, h0[j] = _up(flat[j, 0], flat[j, 1], flat[j, 2])
        unknown = math.isnan(burnout_h[k])
        # leg 0: forward to the surface with drag (impact, and apogee if still rising);
        # leg 1: backward in vacuum to burnout (none while boosting: the line starts now).
        for leg in range(2):
            Xl = legs[leg]
            for j in range(N_PTS):
                for i in range(NX):
                    Xl[j, i] = flat[j, i]
            if leg == 0:
                d, frac, floor, drag = 1.0, -1.0, 0.0, 1.0
            else:
                d, frac, floor, drag = -1.0, 0.25 if unknown else -1.0, 0.0, 0.0
                if unknown:
                    floor = 30_000.0
            for j in range(N_PTS):
                mode[j, 0], mode[j, 1], mode[j, 2] = frac, floor, drag
            if leg == 1:
                for j in range(N_PTS):
                    lat_i[j], lon_i[j], _ = geodetic(legs[0, j, 0], legs[0, j, 1], legs[0, j, 2])
                    stop[j] = min(burnout_h[k], h0[j])
                if boosting[k]:
                    t_leg[1, :] = 0.0
                    for j in range(N_PTS):
                        top_leg[1, j] = h0[j]
                    done_leg[1, :] = True
                    continue
            fly_points(
                Xl, d, stop, mode, coarse_frac, air_h, air_frac, max_time_s, t_leg[leg],
                top_leg[leg], done_leg[leg],
            )  # fmt: skip
        Xb, t_f, top_f, done_f = legs[1], t_leg[0], top_leg[0], done_leg[0]
        t_b, top_b, done_b = t_leg[1], top_leg[1], done_leg[1]
        ok_f = ok_b = True
        for j in range(N_PTS):
            ok_f &= done_f[j]
            ok_b &= done_b[j]
            if unknown and not boosting[k]:
                top_b[j] = max(top_b[j], max(top_f[j], h0[j]))
            lat_l[j], lon_l[j], len_l[j], tline[j], _ = _line_to_ground(Xb[j])
            t_l[j] = t_b[j] - tline[j]
            top[j] = max(top_f[j], top_b[j])
            stop[j] = 0.0
        o = out[k]
        o[C_I_LAT], o[C_I_LON], o[C_I_EE], o[C_I_EN], o[C_I_NN] = _spread(lat_i, lon_i, w)
        o[C_I_T], var = _moments(t_f, w)
        o[C_I_TS] = math.sqrt(var)
        o[C_I_OK] = 1.0 if ok_f else 0.0
        o[C_L_LAT], o[C_L_LON], o[C_L_EE], o[C_L_EN], o[C_L_NN] = _spread(lat_l, lon_l, w)
        len_mean, _ = _moments(len_l, w)
        tline_mean, _ = _moments(tline, w)
        extra = (launch_frac * len_mean) ** 2  # straight-line model error, see reference
        o[C_L_EE] += extra
        o[C_L_NN] += extra
        o[C_L_T], var = _moments(t_l, w)
        o[C_L_TS] = math.sqrt(var + (launch_frac * tline_mean) ** 2)
        o[C_L_OK] = 1.0 if ok_b else 0.0
        o[C_APO], var = _moments(top, w)
        o[C_APO_S] = math.sqrt(var)
        o[C_I_A], o[C_I_B], o[C_I_O] = _ellipse(o[C_I_EE], o[C_I_EN], o[C_I_NN])
        o[C_L_A], o[C_L_B], o[C_L_O] = _ellipse(o[C_L_EE], o[C_L_EN], o[C_L_NN])
    times = np.zeros((2, k_rows), dtype=np.int64)
    for k in range(k_rows):
        times[0, k] = _add_s(t_ns[k], out[k, C_I_T])
        times[1, k] = _add_s(t_ns[k], out[k, C_L_T])
    return out, times, bad


@njit_inner
def _add_s(t_ns: np.int64, dt_s: float) -> np.int64:
    """:func:`.prediction._add_s` of one time (``np.rint`` rounds half to even, as
    ``np.round``)."""
    if abs(dt_s) < 1e6:  # (False for NaN)
        return t_ns + np.int64(np.rint(dt_s * 1e9))
    return np.int64(0)
