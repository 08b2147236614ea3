"""Compiled propagation of state and covariance: :func:`trilink.fusion.align.propagate`
as a loop over rows.

Same equations, same order of operations as the NumPy reference in ``align.py``: RK4 with
``n_steps`` equal steps of ``dt_s / n_steps`` per row, the transition ``Phi`` and the
constant-acceleration sensitivity ``Psi`` integrated as one 6 x 9 block from the
variational equations (Montenbruck & Gill, *Satellite Orbits*, 2000, sec. 7.1), white
acceleration noise added step by step (Bar-Shalom, Li & Kirubarajan 2001, eq. 6.2.2-12)
and the unknown constant acceleration as ``sigma^2 Psi Psi^T`` at the end. Gravity is
the J2 field of ``trilink.physics.gravity`` (Vallado, 4th ed., eq. 8-30, and its
analytic Jacobian), written out per component.

The Earth constants are arguments, not globals: numba freezes globals into its on-disk
cache, keyed on the fusion kernel files alone (:mod:`trilink.fusion.compiled`), so a
change in ``geo/wgs84.py`` would otherwise be missed. Shapes: x (N, 6) [m, m/s], P (N, 6, 6), dt_s, q, sigma (N,).
"""

from __future__ import annotations

import numpy as np

from trilink.fusion.compiled import njit, njit_inner


@njit_inner
def _derivatives(
    x: np.ndarray, m: np.ndarray, dx: np.ndarray, dm: np.ndarray, gm: float, j2: float,
    ae: float, om: float,
) -> None:  # fmt: skip
    """dx (6,) and dM (6, 9) of the mean and of M = [Phi | Psi], as in align._derivatives."""
    rx, ry, rz = x[0], x[1], x[2]
    r2 = rx * rx + ry * ry + rz * rz
    rn = np.sqrt(r2)
    zr2 = rz * rz / r2
    k = 1.5 * j2 * gm * ae * ae / (r2 * r2 * rn)
    mu_r3 = gm / (r2 * rn)
    dx[0], dx[1], dx[2] = x[3], x[4], x[5]
    # gravity_j2 + rotating_frame_acceleration (-2 w x v - w x (w x r), w along +z)
    dx[3] = (-mu_r3 * rx - k * rx * (1.0 - 5.0 * zr2)) + (2.0 * om * x[4] + om * om * rx)
    dx[4] = (-mu_r3 * ry - k * ry * (1.0 - 5.0 * zr2)) + (-2.0 * om * x[3] + om * om * ry)
    dx[5] = -mu_r3 * rz - k * rz * (3.0 - 5.0 * zr2)
    # Jacobian of gravity_j2 (gravity_j2_jacobian) plus the centrifugal term.
    r = (rx, ry, rz)
    s = 1.0 - 5.0 * rz * rz / r2
    g = (rx * s, ry * s, rz * (s + 2.0))
    jac = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            eye = 1.0 if i == j else 0.0
            pm = -mu_r3 * (eye - 3.0 * r[i] * r[j] / r2)
            dk = -5.0 * k * r[j] / r2
            ds = 10.0 * rz * rz / (r2 * r2) * r[j]
            if j == 2:
                ds = ds + -10.0 * rz / r2
            dg = r[i] * ds + s * eye
            if i == 2 and j == 2:
                dg += 2.0
            jac[i, j] = pm - (g[i] * dk + k * dg)
    jac[0, 0] += om * om
    jac[1, 1] += om * om
    for c in range(9):
        dm[0, c] = m[3, c]
        dm[1, c] = m[4, c]
        dm[2, c] = m[5, c]
        for i in range(3):
            dm[3 + i, c] = jac[i, 0] * m[0, c] + jac[i, 1] * m[1, c] + jac[i, 2] * m[2, c]
        # d(Coriolis)/dv = [[0, 2w, 0], [-2w, 0, 0], [0, 0, 0]]
        dm[3, c] += 2.0 * om * m[4, c]
        dm[4, c] += -2.0 * om * m[3, c]
    dm[3, 6] += 1.0
    dm[4, 7] += 1.0
    dm[5, 8] += 1.0


@njit
def propagate_kernel(
    x: np.ndarray, P: np.ndarray, dt_s: np.ndarray, q: np.ndarray, sigma: np.ndarray,
    n_steps: int, gm: float, j2: float, ae: float, om: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """States (N, 6) and covariances (N, 6, 6) after ``n_steps`` RK4 steps of dt_s / n."""
    n = x.shape[0]
    x_out = np.empty((n, 6))
    P_out = np.empty((n, 6, 6))
    m0 = np.zeros((6, 9))
    for i in range(6):
        m0[i, i] = 1.0
    kx = np.empty((4, 6))
    km = np.empty((4, 6, 9))
    xt = np.empty(6)
    mt = np.empty((6, 9))
    cov = np.empty((6, 6))
    tmp = np.empty((6, 6))
    psi_tot = np.empty((6, 3))
    psi_new = np.empty((6, 3))
    for row in range(n):
        xr = x[row].copy()
        cov[:, :] = P[row]
        psi_tot[:, :] = 0.0
        h = dt_s[row] / n_steps
        ah = abs(h)
        qpp, qpv, qvv = q[row] * (ah**3 / 3.0), q[row] * (h * ah / 2.0), q[row] * ah
        for _ in range(n_steps):
            _derivatives(xr, m0, kx[0], km[0], gm, j2, ae, om)
            for stage in range(1, 4):
                f = 0.5 * h if stage < 3 else h
                for a in range(6):
                    xt[a] = xr[a] + f * kx[stage - 1, a]
                    for b in range(9):
                        mt[a, b] = m0[a, b] + f * km[stage - 1, a, b]
                _derivatives(xt, mt, kx[stage], km[stage], gm, j2, ae, om)
            for a in range(6):
                xr[a] = xr[a] + h / 6.0 * (kx[0, a] + 2.0 * kx[1, a] + 2.0 * kx[2, a] + kx[3, a])
                for b in range(9):
                    mt[a, b] = m0[a, b] + h / 6.0 * (
                        km[0, a, b] + 2.0 * km[1, a, b] + 2.0 * km[2, a, b] + km[3, a, b]
                    )
            # cov <- Phi cov Phi^T + Q(h); psi_tot <- Phi psi_tot + Psi
            for a in range(6):
                for b in range(6):
                    acc = 0.0
                    for c in range(6):
                        acc += mt[a, c] * cov[c, b]
                    tmp[a, b] = acc
                for b in range(3):
                    acc = 0.0
                    for c in range(6):
                        acc += mt[a, c] * psi_tot[c, b]
                    psi_new[a, b] = acc + mt[a, 6 + b]
            for a in range(6):
                for b in range(6):
                    acc = 0.0
                    for c in range(6):
                        acc += tmp[a, c] * mt[b, c]
                    cov[a, b] = acc
            for a in range(3):
                cov[a, a] += qpp
                cov[a, a + 3] += qpv
                cov[a + 3, a] += qpv
                cov[a + 3, a + 3] += qvv
            psi_tot[:, :] = psi_new
        s2 = sigma[row] ** 2
        for a in range(6):
            for b in range(6):
                acc = 0.0
                for c in range(3):
                    acc += psi_tot[a, c] * psi_tot[b, c]
                tmp[a, b] = cov[a, b] + s2 * acc
        for a in range(6):
            x_out[row, a] = xr[a]
            for b in range(6):
                P_out[row, a, b] = 0.5 * (tmp[a, b] + tmp[b, a])
    return x_out, P_out
