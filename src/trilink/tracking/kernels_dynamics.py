"""Compiled kernels of the motion model: the equations of :mod:`.dynamics` written per row.

Same physics, same order of operations where it matters, as the NumPy reference:
J2 gravity (``physics.gravity.gravity_j2`` and its Jacobian), Coriolis and centrifugal
terms for omega = (0, 0, OMEGA), drag ``-1/2 kappa rho(h) |v| v`` in the exponential
atmosphere of :func:`.dynamics.density` over the first-order ellipsoid height of
:func:`.dynamics.approx_altitude`, thrust ``a_t v / sqrt(|v|^2 + V_REG^2)``.

State rows are ``[r (3), v (3), a_t, kappa]`` (8,), ECEF, SI. Thrust and kappa are
constant within a step, so the RK4 stages carry positions and velocities only, as tuples
of floats (no allocation in the inner loop). Only :mod:`.jit` decides whether these run.
"""

from __future__ import annotations

import math

import numpy as np

from trilink.geo.wgs84 import GM, J2, OMEGA, A, F
from trilink.tracking.dynamics import H_SCALE, IA, IK, NX, RHO0, V_REG
from trilink.tracking.jit import njit, njit_inner

_J2K = 1.5 * J2 * GM * A * A


@njit_inner
def height(rx: float, ry: float, rz: float) -> float:
    """:func:`.dynamics.approx_altitude` without the gradient."""
    rn = math.sqrt(rx * rx + ry * ry + rz * rz)
    s = rz * rz / (rn * rn)
    return rn - A * (1.0 - F * s)


@njit_inner
def density(h: float) -> float:
    return RHO0 * math.exp(max(h, -1_000.0) * (-1.0 / H_SCALE))


@njit_inner
def acceleration(
    rx: float, ry: float, rz: float, vx: float, vy: float, vz: float,
    at: float, kap: float, thrust_on: float, drag_on: float,
) -> tuple[float, float, float]:  # fmt: skip
    """dv/dt of the motion model (see the module docstring). Terms switched off by a zero
    flag are skipped (they would add exact zeros).

    Written for latency: a flight is one long chain of dependent steps, so the density's
    exponential starts from ``sqrt(r^2)`` and ``z^2 / r^2`` (computed side by side), not
    after the division that the gravity terms need."""
    r2 = rx * rx + ry * ry + rz * rz
    rn = math.sqrt(r2)
    drag = drag_on != 0.0 and kap != 0.0
    rho = density(rn - A * (1.0 - F * (rz * rz / r2))) if drag else 0.0  # approx_altitude
    inv_rn = 1.0 / rn
    inv_r2 = inv_rn * inv_rn
    zr2 = rz * rz * inv_r2
    mu_r3 = GM * inv_r2 * inv_rn
    k = mu_r3 * (_J2K / GM) * inv_r2
    ax = -mu_r3 * rx - k * rx * (1.0 - 5.0 * zr2)
    ay = -mu_r3 * ry - k * ry * (1.0 - 5.0 * zr2)
    az = -mu_r3 * rz - k * rz * (3.0 - 5.0 * zr2)
    ax += 2.0 * OMEGA * vy + OMEGA * OMEGA * rx
    ay += -2.0 * OMEGA * vx + OMEGA * OMEGA * ry
    if drag:
        vn = math.sqrt(vx * vx + vy * vy + vz * vz)
        dv = drag_on * 0.5 * kap * rho * vn
        ax -= dv * vx
        ay -= dv * vy
        az -= dv * vz
    if thrust_on != 0.0:
        tk = thrust_on * at / math.sqrt(vx * vx + vy * vy + vz * vz + V_REG * V_REG)
        ax += tk * vx
        ay += tk * vy
        az += tk * vz
    return ax, ay, az


@njit_inner
def rk4_row(x: np.ndarray, h: float, thrust_on: float, drag_on: float, out: np.ndarray) -> None:
    """One RK4 step of the mean of one row ``x`` (8,) into ``out`` (8,) (may be ``x``)."""
    rx, ry, rz, vx, vy, vz, at, kap = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    hh = 0.5 * h
    a1x, a1y, a1z = acceleration(rx, ry, rz, vx, vy, vz, at, kap, thrust_on, drag_on)
    r2x, r2y, r2z = rx + hh * vx, ry + hh * vy, rz + hh * vz
    v2x, v2y, v2z = vx + hh * a1x, vy + hh * a1y, vz + hh * a1z
    a2x, a2y, a2z = acceleration(r2x, r2y, r2z, v2x, v2y, v2z, at, kap, thrust_on, drag_on)
    r3x, r3y, r3z = rx + hh * v2x, ry + hh * v2y, rz + hh * v2z
    v3x, v3y, v3z = vx + hh * a2x, vy + hh * a2y, vz + hh * a2z
    a3x, a3y, a3z = acceleration(r3x, r3y, r3z, v3x, v3y, v3z, at, kap, thrust_on, drag_on)
    r4x, r4y, r4z = rx + h * v3x, ry + h * v3y, rz + h * v3z
    v4x, v4y, v4z = vx + h * a3x, vy + h * a3y, vz + h * a3z
    a4x, a4y, a4z = acceleration(r4x, r4y, r4z, v4x, v4y, v4z, at, kap, thrust_on, drag_on)
    h6 = h / 6.0
    out[0] = rx + h6 * (vx + 2.0 * v2x + 2.0 * v3x + v4x)
    out[1] = ry + h6 * (vy + 2.0 * v2y + 2.0 * v3y + v4y)
    out[2] = rz + h6 * (vz + 2.0 * v2z + 2.0 * v3z + v4z)
    out[3] = vx + h6 * (a1x + 2.0 * a2x + 2.0 * a3x + a4x)
    out[4] = vy + h6 * (a1y + 2.0 * a2y + 2.0 * a3y + a4y)
    out[5] = vz + h6 * (a1z + 2.0 * a2z + 2.0 * a3z + a4z)
    out[6] = at
    out[7] = kap


@njit_inner
def jacobian_row(x: np.ndarray, thrust_on: float, drag_on: float, jac: np.ndarray) -> None:
    """d(dx/dt)/dx (8, 8) of one row into ``jac`` (:func:`.dynamics.jacobian`)."""
    rx, ry, rz, vx, vy, vz = x[0], x[1], x[2], x[3], x[4], x[5]
    jac[:, :] = 0.0
    vn = math.sqrt(vx * vx + vy * vy + vz * vz)
    v_eff = math.sqrt(vn * vn + V_REG * V_REG)
    r2 = rx * rx + ry * ry + rz * rz
    rn = math.sqrt(r2)
    # approx_altitude and its gradient
    s = rz * rz / r2
    rho = density(rn - A * (1.0 - F * s))
    r = (rx, ry, rz)
    v = (vx, vy, vz)
    drag_k = drag_on * 0.5 * x[IK] * rho
    ta = thrust_on * x[IA]
    # gravity gradient (gravity_j2_jacobian), point mass then J2
    mu_r3 = GM / (r2 * rn)
    k = _J2K / (r2 * r2 * rn)
    sj = 1.0 - 5.0 * rz * rz / r2
    g = (rx * sj, ry * sj, rz * (sj + 2.0))
    c_drag = drag_k * vn / H_SCALE
    c1 = ta / v_eff - drag_k * vn
    c2 = -ta / v_eff**3 - drag_k / max(vn, 1e-9)
    for i in range(3):
        jac[i, 3 + i] = 1.0
        for j in range(3):
            eye = 1.0 if i == j else 0.0
            pm = -mu_r3 * (eye - 3.0 * r[i] * r[j] / r2)
            dk_j = -5.0 * k * r[j] / r2
            ds_j = 10.0 * rz * rz / (r2 * r2) * r[j] - (10.0 * rz / r2 if j == 2 else 0.0)
            dg_ij = r[i] * ds_j + sj * eye + (2.0 if (i == 2 and j == 2) else 0.0)
            grav = pm - (g[i] * dk_j + k * dg_ij)
            ds_alt = -2.0 * (s / r2) * r[j] + (2.0 * rz / r2 if j == 2 else 0.0)
            dh_j = r[j] / rn + A * F * ds_alt
            centrifugal = OMEGA * OMEGA if (i == j and i < 2) else 0.0
            jac[3 + i, j] = grav + centrifugal + c_drag * (v[i] * dh_j)
            jac[3 + i, 3 + j] = c1 * eye + c2 * v[i] * v[j]
        jac[3 + i, IA] = thrust_on * (v[i] / v_eff)
        jac[3 + i, IK] = -(drag_on * 0.5 * rho * vn) * v[i]
    # Coriolis: -2 [omega x]
    jac[3, 4] += 2.0 * OMEGA
    jac[4, 3] -= 2.0 * OMEGA


@njit_inner
def _cwpa(q: float, b: tuple[float, float, float], idx: int, h: float, out: np.ndarray) -> None:
    """:func:`.dynamics._cwpa_block` for one row."""
    h2, h3 = h * h, h * h * h
    for i in range(3):
        for j in range(3):
            qbb = q * (b[i] * b[j])
            out[i, j] += qbb * (h3 * h2) / 20.0
            rv = qbb * (h2 * h2) / 8.0
            out[i, 3 + j] += rv
            out[3 + i, j] += rv
            out[3 + i, 3 + j] += qbb * h3 / 3.0
        qb = (q * h) * b[i]
        rp = qb * (h * h / 6.0)
        vp = qb * (h / 2.0)
        out[i, idx] += rp
        out[idx, i] += rp
        out[3 + i, idx] += vp
        out[idx, 3 + i] += vp
    out[idx, idx] += q * h


@njit_inner
def process_noise_row(
    x: np.ndarray, h: float, thrust_on: float, drag_on: float, q_accel: float,
    q_thrust: float, q_kappa: float, drag_error: float, out: np.ndarray,
) -> None:  # fmt: skip
    """:func:`.dynamics.process_noise` of one row over a step ``h`` into ``out`` (8, 8)."""
    hv = abs(h)
    out[:, :] = 0.0
    vx, vy, vz = x[3], x[4], x[5]
    vn = math.sqrt(vx * vx + vy * vy + vz * vz)
    rho = density(height(x[0], x[1], x[2]))
    drag_acc = drag_on * 0.5 * x[IK] * rho * vn * vn
    q_a = q_accel + (drag_error * drag_acc) ** 2
    for i in range(3):
        out[i, i] = q_a * hv**3 / 3.0
        out[i, 3 + i] = q_a * hv**2 / 2.0
        out[3 + i, i] = out[i, 3 + i]
        out[3 + i, 3 + i] = q_a * hv
    v_eff = math.sqrt(vn * vn + V_REG * V_REG)
    c = -(drag_on * 0.5 * rho * vn)
    for idx in (IA, IK):  # one call site: a literal index per call would compile twice
        if idx == IA:
            _cwpa(q_thrust * thrust_on, (vx / v_eff, vy / v_eff, vz / v_eff), idx, hv, out)
        else:
            _cwpa(q_kappa, (c * vx, c * vy, c * vz), idx, hv, out)


@njit_inner
def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out = a @ b`` for small square matrices (no BLAS call, no allocation)."""
    n = a.shape[0]
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += a[i, k] * b[k, j]
            out[i, j] = s


@njit_inner
def matmul_bt(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out = a @ b.T`` for small square matrices."""
    n = a.shape[0]
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += a[i, k] * b[j, k]
            out[i, j] = s


@njit
def predict_rows(
    x: np.ndarray, P: np.ndarray, dt: np.ndarray, thrust_on: np.ndarray,
    drag_on: np.ndarray, q_accel: np.ndarray, q_thrust: np.ndarray, q_kappa: np.ndarray,
    drag_error: float, thrust_var_floor: float, h_max_s: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`.filters.predict` (EKF time update, RK4 + midpoint-Magnus STM + per-step
    noise) of M rows; all per-row arguments (M,). Returns new (x, P)."""
    m, nx = x.shape[0], x.shape[1]  # (nx, not the constant NX, in loop bounds: fully
    # unrolled 8 x 8 loops made this kernel take seconds to compile)
    x = x.copy()
    P = P.copy()
    dt_max = 0.0
    for i in range(m):
        dt_max = max(dt_max, abs(dt[i]))
    n_steps = max(1, math.ceil(dt_max / h_max_s))
    q = np.empty((NX, NX))
    jac = np.empty((NX, NX))
    ah2 = np.empty((NX, NX))
    ah3 = np.empty((NX, NX))
    phi = np.empty((NX, NX))
    tmp = np.empty((NX, NX))
    xm = np.empty(NX)
    for i in range(m):
        h = dt[i] / n_steps
        xi = x[i]
        Pi = P[i]
        for _ in range(n_steps if dt_max != 0.0 else 0):
            process_noise_row(
                xi, h, thrust_on[i], drag_on[i], q_accel[i], q_thrust[i], q_kappa[i],
                drag_error, q,
            )  # fmt: skip
            # midpoint from the first RK4 stage, as rk4_step_stm does
            a1x, a1y, a1z = acceleration(
                xi[0], xi[1], xi[2], xi[3], xi[4], xi[5], xi[6], xi[7], thrust_on[i], drag_on[i]
            )
            for a in range(nx):  # (a loop: an array-to-array slice copy drags in numba's
                xm[a] = xi[a]  # shape-mismatch error path, seconds of compile time)
            xm[0] += 0.5 * h * xi[3]
            xm[1] += 0.5 * h * xi[4]
            xm[2] += 0.5 * h * xi[5]
            xm[3] += 0.5 * h * a1x
            xm[4] += 0.5 * h * a1y
            xm[5] += 0.5 * h * a1z
            jacobian_row(xm, thrust_on[i], drag_on[i], jac)
            for a in range(nx):
                for b in range(nx):
                    jac[a, b] *= h
            matmul(jac, jac, ah2)
            matmul(ah2, jac, ah3)
            for a in range(nx):
                for b in range(nx):
                    phi[a, b] = (1.0 if a == b else 0.0) + jac[a, b] + 0.5 * ah2[a, b]
                    phi[a, b] += ah3[a, b] / 6.0
            rk4_row(xi, h, thrust_on[i], drag_on[i], xi)
            matmul(phi, Pi, tmp)
            matmul_bt(tmp, phi, ah2)
            for a in range(nx):
                for b in range(nx):
                    Pi[a, b] = ah2[a, b] + q[a, b]
        if thrust_on[i] == 0.0:
            xi[IA] = 0.0
            for a in range(nx):
                Pi[IA, a] = 0.0
                Pi[a, IA] = 0.0
            Pi[IA, IA] = thrust_var_floor
        for a in range(nx):
            for b in range(a + 1, NX):
                s = 0.5 * (Pi[a, b] + Pi[b, a])
                Pi[a, b] = s
                Pi[b, a] = s
    return x, P
