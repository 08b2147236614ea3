"""Motion models of a ballistic missile in ECEF, with analytic Jacobians.

State ``x`` (..., 8), ECEF, SI units:

    x = [r (3) m, v (3) m/s, a_t m/s^2, kappa m^2/kg]

``r, v`` are the position and the velocity relative to the rotating Earth, ``a_t`` the
thrust acceleration (net of drag) along the velocity during boost, and ``kappa = 1/beta``
the inverse ballistic coefficient (``beta = m / (C_D A)``) that scales drag on re-entry.

Two models share this state (Li & Jilkov, "Survey of maneuvering target tracking, part II:
motion models of ballistic and space targets", IEEE TAES 46(1), 2010, sec. III-IV):

- *ballistic* (``thrust_on = 0``): J2 gravity, Coriolis and centrifugal terms, and drag
  ``-1/2 kappa rho(h) |v| v`` in an exponential atmosphere; ``a_t`` is reset to zero;
- *boost* (``thrust_on = 1``): the same gravity and rotation plus ``a_t v / |v|`` (a
  gravity-turn thrust along the velocity), with ``a_t`` a random walk. Drag is not modelled
  separately during boost: it is absorbed in the net ``a_t``.

The mean is integrated with a fixed-step RK4 and the state-transition matrix with it, by
integrating the variational equations ``dPhi/dt = A(x) Phi`` alongside (no finite
differences). Everything is batched over rows: ``x`` (M, 8), per-row model flags (M,).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from trilink.geo.wgs84 import OMEGA, A, F
from trilink.physics.gravity import gravity_j2, gravity_j2_jacobian, rotating_frame_acceleration

Array = NDArray[np.float64]

NX = 8  # state dimension
IA = 6  # index of the thrust acceleration
IK = 7  # index of the inverse ballistic coefficient

RHO0 = 1.225  # sea-level density of the exponential atmosphere [kg m^-3]
H_SCALE = 7_200.0  # density scale height [m] (US Standard Atmosphere 1976, 0-80 km fit)
V_REG = 100.0  # [m/s] regularises the thrust direction v/|v| at launch (|v| -> 0)

_W = np.array([[0.0, -OMEGA, 0.0], [OMEGA, 0.0, 0.0], [0.0, 0.0, 0.0]])  # [omega x]
_CENTRIFUGAL_JAC = np.diag([OMEGA**2, OMEGA**2, 0.0])  # d(-w x (w x r))/dr


def approx_altitude(r: Array) -> tuple[Array, Array]:
    """Altitude above an ellipsoid approximation [m] (...) and its gradient (..., 3).

    ``h = |r| - A (1 - F z^2/|r|^2)`` is the height above the first-order ellipsoid, within
    ~20 m of the geodetic height below 1000 km: plenty for an atmosphere with a 7 km scale
    height, and cheap with an exact analytic gradient (which the drag Jacobian needs).
    The tracker's surface crossings use the exact geodetic height instead.
    """
    rn = np.linalg.norm(r, axis=-1)
    z = r[..., 2]
    s = z * z / (rn * rn)
    h = rn - A * (1.0 - F * s)
    # d s/dr = 2 z e_z / |r|^2 - 2 z^2 r / |r|^4
    ds = -2.0 * (s / (rn * rn))[..., None] * r
    ds[..., 2] += 2.0 * z / (rn * rn)
    grad = r / rn[..., None] + A * F * ds
    return h, grad


def density(h: Array) -> Array:
    """Exponential atmosphere rho0 exp(-h/H) [kg m^-3]; capped below ground (h < -1 km)."""
    return RHO0 * np.exp(-np.maximum(h, -1_000.0) / H_SCALE)


def derivative(x: Array, thrust_on: Array, drag_on: Array) -> Array:
    """dx/dt (M, 8) of the motion model; ``thrust_on``, ``drag_on`` (M,) in {0, 1}."""
    r, v = x[..., 0:3], x[..., 3:6]
    vn = np.sqrt(np.einsum("...i,...i->...", v, v))
    v_eff = np.sqrt(vn * vn + V_REG * V_REG)
    h, _ = approx_altitude(r)
    acc = gravity_j2(r) + rotating_frame_acceleration(r, v)
    acc += (thrust_on * x[..., IA] / v_eff)[..., None] * v
    acc -= (drag_on * 0.5 * x[..., IK] * density(h) * vn)[..., None] * v
    out = np.zeros_like(x)
    out[..., 0:3] = v
    out[..., 3:6] = acc
    return out


def jacobian(x: Array, thrust_on: Array, drag_on: Array) -> tuple[Array, Array]:
    """(dx/dt (M, 8), d(dx/dt)/dx (M, 8, 8)), both analytic."""
    r, v = x[..., 0:3], x[..., 3:6]
    a_t, kappa = x[..., IA], x[..., IK]
    vn = np.sqrt(np.einsum("...i,...i->...", v, v))
    v_eff = np.sqrt(vn * vn + V_REG * V_REG)
    h, dh = approx_altitude(r)
    rho = density(h) * (h > -1_000.0)  # the cap has zero gradient
    eye = np.eye(3)
    vv = np.einsum("...i,...j->...ij", v, v)

    thrust_dir = v / v_eff[..., None]
    drag_k = drag_on * 0.5 * kappa * rho  # drag acceleration = -drag_k |v| v
    acc = gravity_j2(r) + rotating_frame_acceleration(r, v)
    acc += (thrust_on * a_t)[..., None] * thrust_dir
    acc -= (drag_k * vn)[..., None] * v
    f = np.zeros_like(x)
    f[..., 0:3] = v
    f[..., 3:6] = acc

    jac = np.zeros((*x.shape, NX))
    jac[..., 0:3, 3:6] = eye
    # d acc / d r: gravity gradient, centrifugal term, density gradient of the drag.
    d_drag_dr = (drag_k * vn / H_SCALE)[..., None, None] * np.einsum("...i,...j->...ij", v, dh)
    jac[..., 3:6, 0:3] = gravity_j2_jacobian(r) + _CENTRIFUGAL_JAC + d_drag_dr
    # d acc / d v: Coriolis, the turning of the thrust direction, the drag's |v| v.
    v_eff3 = v_eff**3
    d_thrust_dv = (thrust_on * a_t)[..., None, None] * (
        eye / v_eff[..., None, None] - vv / v_eff3[..., None, None]
    )
    vn_safe = np.maximum(vn, 1e-9)
    d_drag_dv = -drag_k[..., None, None] * (
        vn[..., None, None] * eye + vv / vn_safe[..., None, None]
    )
    jac[..., 3:6, 3:6] = -2.0 * _W + d_thrust_dv + d_drag_dv
    jac[..., 3:6, IA] = thrust_on[..., None] * thrust_dir
    jac[..., 3:6, IK] = -(drag_on * 0.5 * rho * vn)[..., None] * v
    return f, jac


def rk4_step_stm(x: Array, h: float, thrust_on: Array, drag_on: Array) -> tuple[Array, Array]:
    """One RK4 step of the state and of the variational equations: (x(t+h), Phi(t+h, t)).

    The STM is the RK4 solution of dPhi/dt = A(x(t)) Phi with Phi(t) = I, evaluated on the
    same stages as the mean (so it is the exact derivative of this discrete RK4 map to
    O(h^5)).
    """
    f1, a1 = jacobian(x, thrust_on, drag_on)
    k1 = a1  # A Phi with Phi = I
    x2 = x + 0.5 * h * f1
    f2, a2 = jacobian(x2, thrust_on, drag_on)
    phi2 = np.eye(NX) + 0.5 * h * k1
    k2 = a2 @ phi2
    x3 = x + 0.5 * h * f2
    f3, a3 = jacobian(x3, thrust_on, drag_on)
    phi3 = np.eye(NX) + 0.5 * h * k2
    k3 = a3 @ phi3
    x4 = x + h * f3
    f4, a4 = jacobian(x4, thrust_on, drag_on)
    phi4 = np.eye(NX) + h * k3
    k4 = a4 @ phi4
    x_new = x + h / 6.0 * (f1 + 2.0 * f2 + 2.0 * f3 + f4)
    phi = np.eye(NX) + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x_new, phi


def rk4_step(x: Array, h: Array | float, thrust_on: Array, drag_on: Array) -> Array:
    """One RK4 step of the mean only; ``h`` may differ per row (M,) and be negative."""
    hh = np.asarray(h, dtype=float)[..., None] if np.ndim(h) else h
    k1 = derivative(x, thrust_on, drag_on)
    k2 = derivative(x + 0.5 * hh * k1, thrust_on, drag_on)
    k3 = derivative(x + 0.5 * hh * k2, thrust_on, drag_on)
    k4 = derivative(x + hh * k3, thrust_on, drag_on)
    return x + hh / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def propagate(
    x: Array, dt_s: float, thrust_on: Array, drag_on: Array, h_max_s: float = 2.0
) -> tuple[Array, Array]:
    """Propagate states (M, 8) by ``dt_s`` in equal RK4 steps <= ``h_max_s``: (x, Phi)."""
    x = np.array(x, dtype=float)
    n_steps = max(1, int(np.ceil(abs(dt_s) / h_max_s)))
    h = dt_s / n_steps
    phi_total = np.broadcast_to(np.eye(NX), (*x.shape, NX)).copy()
    for _ in range(n_steps):
        x, phi = rk4_step_stm(x, h, thrust_on, drag_on)
        phi_total = phi @ phi_total
    return x, phi_total


def _cwpa_block(h: float, q: Array, b: Array, idx: int) -> Array:
    """Discrete noise (M, 8, 8) of a random-walk parameter ``p = x[idx]`` entering the
    acceleration as ``b p`` (b (M, 3)): the continuous Wiener-process-acceleration integrals
    (Bar-Shalom, Li & Kirubarajan 2001, sec. 6.2.3) along the direction ``b``."""
    m = q.shape[0]
    out = np.zeros((m, NX, NX))
    bb = np.einsum("...i,...j->...ij", b, b)
    qq = q[:, None, None]
    out[:, 0:3, 0:3] = qq * bb * h**5 / 20.0
    out[:, 0:3, 3:6] = qq * bb * h**4 / 8.0
    out[:, 3:6, 0:3] = out[:, 0:3, 3:6]
    out[:, 3:6, 3:6] = qq * bb * h**3 / 3.0
    out[:, 0:3, idx] = q[:, None] * b * h**3 / 6.0
    out[:, 3:6, idx] = q[:, None] * b * h**2 / 2.0
    out[:, idx, 0:3] = out[:, 0:3, idx]
    out[:, idx, 3:6] = out[:, 3:6, idx]
    out[:, idx, idx] = q * h
    return out


def process_noise(
    x: Array,
    h: float,
    thrust_on: Array,
    drag_on: Array,
    q_accel: Array,
    q_thrust: Array,
    q_kappa: Array,
    drag_error: float,
) -> Array:
    """Discrete process noise (M, 8, 8) over a step of ``h`` seconds.

    Three independent continuous white-noise sources:

    - a 3-axis white acceleration of PSD ``q_accel`` [m^2 s^-3] (unmodelled forces; for the
      boost model, thrust off the velocity axis), plus, where drag is on, a white
      acceleration of standard deviation ``drag_error`` times the modelled drag over a
      correlation time of 1 s (the exponential atmosphere is a model, not the air);
    - a random walk of the thrust acceleration, PSD ``q_thrust`` [m^2 s^-5] (mass
      depletion, throttling), entering along the velocity;
    - a random walk of kappa, PSD ``q_kappa`` [m^4 kg^-2 s^-1].

    Each enters through the CWNA/CWPA integrals, so position, velocity and parameter
    cross-covariances are consistent.
    """
    r, v = x[..., 0:3], x[..., 3:6]
    vn = np.linalg.norm(v, axis=-1)
    hgt, _ = approx_altitude(r)
    drag_acc = drag_on * 0.5 * x[..., IK] * density(hgt) * vn * vn
    q_a = q_accel + (drag_error * drag_acc) ** 2 * 1.0
    m = x.shape[0]
    q = np.zeros((m, NX, NX))
    eye = np.eye(3)
    q[:, 0:3, 0:3] = q_a[:, None, None] * eye * h**3 / 3.0
    q[:, 0:3, 3:6] = q_a[:, None, None] * eye * h**2 / 2.0
    q[:, 3:6, 0:3] = q[:, 0:3, 3:6]
    q[:, 3:6, 3:6] = q_a[:, None, None] * eye * h
    v_eff = np.sqrt(vn * vn + V_REG * V_REG)
    q += _cwpa_block(h, q_thrust * thrust_on, v / v_eff[:, None], IA)
    rho = density(hgt)
    q += _cwpa_block(h, q_kappa, -(drag_on * 0.5 * rho * vn)[:, None] * v, IK)
    return q
