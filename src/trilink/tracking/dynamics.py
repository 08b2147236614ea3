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
from trilink.physics.gravity import gravity_j2, gravity_j2_jacobian

Array = NDArray[np.float64]

NX = 8  # state dimension
IA = 6  # index of the thrust acceleration
IK = 7  # index of the inverse ballistic coefficient

RHO0 = 1.225  # sea-level density of the exponential atmosphere [kg m^-3]
H_SCALE = 7_200.0  # density scale height [m] (US Standard Atmosphere 1976, 0-80 km fit)
V_REG = 100.0  # [m/s] regularises the thrust direction v/|v| at launch (|v| -> 0)

_W = np.array([[0.0, -OMEGA, 0.0], [OMEGA, 0.0, 0.0], [0.0, 0.0, 0.0]])  # [omega x]
_CENTRIFUGAL_JAC = np.diag([OMEGA**2, OMEGA**2, 0.0])  # d(-w x (w x r))/dr


def approx_altitude(r: Array, gradient: bool = True) -> tuple[Array, Array | None]:
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
    if not gradient:
        return h, None
    # d s/dr = 2 z e_z / |r|^2 - 2 z^2 r / |r|^4
    ds = -2.0 * (s / (rn * rn))[..., None] * r
    ds[..., 2] += 2.0 * z / (rn * rn)
    grad = r / rn[..., None] + A * F * ds
    return h, grad


def density(h: Array) -> Array:
    """Exponential atmosphere rho0 exp(-h/H) [kg m^-3]; capped below ground (h < -1 km)."""
    return RHO0 * np.exp(-np.maximum(h, -1_000.0) / H_SCALE)


def _common(
    x: Array, drag_on: Array, gradient: bool = True
) -> tuple[Array, Array, Array, Array, Array | None, Array]:
    """Shared pieces of f and its Jacobian: (acc without thrust, |v|, v_eff, rho, dh/dr,
    drag factor ``1/2 kappa rho``)."""
    r, v = x[:, 0:3], x[:, 3:6]
    vn = np.sqrt(np.einsum("ij,ij->i", v, v))
    v_eff = np.sqrt(vn * vn + V_REG * V_REG)
    h, dh = approx_altitude(r, gradient)
    rho = density(h)
    drag_k = drag_on * 0.5 * x[:, IK] * rho
    # gravity_j2 plus the rotating-frame terms of rotating_frame_acceleration written out
    # for omega = (0, 0, OMEGA): -2 w x v = 2 OMEGA (v_y, -v_x, 0) and
    # -w x (w x r) = OMEGA^2 (x, y, 0) (np.cross costs more than the whole gravity field).
    acc = gravity_j2(r)
    acc[:, 0] += 2.0 * OMEGA * v[:, 1] + OMEGA * OMEGA * r[:, 0]
    acc[:, 1] += -2.0 * OMEGA * v[:, 0] + OMEGA * OMEGA * r[:, 1]
    acc -= (drag_k * vn)[:, None] * v
    return acc, vn, v_eff, rho, dh, drag_k


def derivative(x: Array, thrust_on: Array, drag_on: Array) -> Array:
    """dx/dt (M, 8) of the motion model; ``thrust_on``, ``drag_on`` (M,) in {0, 1}."""
    acc, _, v_eff, _, _, _ = _common(x, drag_on, gradient=False)
    acc += (thrust_on * x[:, IA] / v_eff)[:, None] * x[:, 3:6]
    out = np.zeros_like(x)
    out[:, 0:3] = x[:, 3:6]
    out[:, 3:6] = acc
    return out


def jacobian(x: Array, thrust_on: Array, drag_on: Array) -> tuple[Array, Array]:
    """(dx/dt (M, 8), d(dx/dt)/dx (M, 8, 8)), both analytic."""
    r, v = x[:, 0:3], x[:, 3:6]
    acc, vn, v_eff, rho, dh, drag_k = _common(x, drag_on)
    assert dh is not None
    thrust_dir = v / v_eff[:, None]
    ta = thrust_on * x[:, IA]
    acc += ta[:, None] * thrust_dir
    f = np.zeros_like(x)
    f[:, 0:3] = v
    f[:, 3:6] = acc

    eye = np.eye(3)
    vv = v[:, :, None] * v[:, None, :]
    jac = np.zeros((*x.shape, NX))
    jac[:, 0:3, 3:6] = eye
    # d acc / d r: gravity gradient, centrifugal term, density gradient of the drag.
    jac[:, 3:6, 0:3] = gravity_j2_jacobian(r) + _CENTRIFUGAL_JAC
    jac[:, 3:6, 0:3] += (drag_k * vn / H_SCALE)[:, None, None] * (v[:, :, None] * dh[:, None, :])
    # d acc / d v: Coriolis, the turning of the thrust direction, the drag's |v| v.
    c1 = ta / v_eff - drag_k * vn
    c2 = -ta / v_eff**3 - drag_k / np.maximum(vn, 1e-9)
    jac[:, 3:6, 3:6] = c1[:, None, None] * eye + c2[:, None, None] * vv - 2.0 * _W
    jac[:, 3:6, IA] = thrust_on[:, None] * thrust_dir
    jac[:, 3:6, IK] = -(drag_on * 0.5 * rho * vn)[:, None] * v
    return f, jac


def rk4_step_stm(
    x: Array, h: Array | float, thrust_on: Array, drag_on: Array
) -> tuple[Array, Array]:
    """One step of the mean (RK4) and of the STM: (x(t+h) (M, 8), Phi(t+h, t) (M, 8, 8)).

    The variational equations ``dPhi/dt = A(x(t)) Phi`` are integrated by the midpoint
    (second-order Magnus) rule ``Phi = exp(h A(x(t + h/2)))``, the exponential by its
    Taylor series to third order: ``A`` couples position to velocity exactly (``h I``)
    and everything else through rates of 1e-6 .. 1e-1 s^-1, so the truncation is below
    1e-9 for steps of seconds, while one Jacobian per step instead of RK4's four halves
    the cost. ``h`` may be a scalar or (M,) (per-row steps).
    """
    hh = np.asarray(h, dtype=float)
    hc = hh[:, None] if hh.ndim else hh
    k1 = derivative(x, thrust_on, drag_on)
    x_mid = x + 0.5 * hc * k1
    k2, a_mid = jacobian(x_mid, thrust_on, drag_on)
    k3 = derivative(x + 0.5 * hc * k2, thrust_on, drag_on)
    k4 = derivative(x + hc * k3, thrust_on, drag_on)
    x_new = x + hc / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    ah = a_mid * (hh[:, None, None] if hh.ndim else hh)
    ah2 = ah @ ah
    phi = np.eye(NX) + ah + 0.5 * ah2 + (ah2 @ ah) / 6.0
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
    x: Array, dt_s: Array | float, thrust_on: Array, drag_on: Array, h_max_s: float = 2.0
) -> tuple[Array, Array]:
    """Propagate states (M, 8) by ``dt_s`` (scalar or (M,)) in equal steps <= ``h_max_s``:
    (x (M, 8), Phi (M, 8, 8))."""
    x = np.array(x, dtype=float)
    dt = np.asarray(dt_s, dtype=float)
    n_steps = max(1, int(np.ceil(np.max(np.abs(dt)) / h_max_s)))
    h = dt / n_steps
    phi_total = np.broadcast_to(np.eye(NX), (*x.shape, NX)).copy()
    for _ in range(n_steps):
        x, phi = rk4_step_stm(x, h, thrust_on, drag_on)
        phi_total = phi @ phi_total
    return x, phi_total


def _cwpa_block(q: Array, b: Array, idx: int, h: Array, out: Array) -> None:
    """Add to ``out`` (M, 8, 8) the discrete noise of a random-walk parameter
    ``p = x[idx]`` (PSD ``q`` (M,)) entering the acceleration as ``b p`` (b (M, 3)): the
    continuous Wiener-process-acceleration integrals (Bar-Shalom, Li & Kirubarajan 2001,
    sec. 6.2.3) along the direction ``b``; ``h`` (M,) step lengths."""
    bb = b[:, :, None] * b[:, None, :]
    qb = (q * h)[:, None] * b
    h3 = h[:, None, None]
    out[:, 0:3, 0:3] += q[:, None, None] * bb * h3**5 / 20.0
    rv = q[:, None, None] * bb * h3**4 / 8.0
    out[:, 0:3, 3:6] += rv
    out[:, 3:6, 0:3] += rv
    out[:, 3:6, 3:6] += q[:, None, None] * bb * h3**3 / 3.0
    rp = qb * (h * h / 6.0)[:, None]
    vp = qb * (h / 2.0)[:, None]
    out[:, 0:3, idx] += rp
    out[:, idx, 0:3] += rp
    out[:, 3:6, idx] += vp
    out[:, idx, 3:6] += vp
    out[:, idx, idx] += q * h


def process_noise(
    x: Array,
    h: Array | float,
    thrust_on: Array,
    drag_on: Array,
    q_accel: Array,
    q_thrust: Array,
    q_kappa: Array,
    drag_error: float,
) -> Array:
    """Discrete process noise (M, 8, 8) over steps of ``h`` seconds (scalar or (M,)).

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
    m = x.shape[0]
    hv = np.broadcast_to(np.abs(np.asarray(h, dtype=float)), (m,))
    v = x[:, 3:6]
    vn = np.sqrt(np.einsum("ij,ij->i", v, v))
    hgt, _ = approx_altitude(x[:, 0:3], gradient=False)
    rho = density(hgt)
    drag_acc = drag_on * 0.5 * x[:, IK] * rho * vn * vn
    q_a = q_accel + (drag_error * drag_acc) ** 2 * 1.0
    q = np.zeros((m, NX, NX))
    eye = np.eye(3)
    q[:, 0:3, 0:3] = (q_a * hv**3 / 3.0)[:, None, None] * eye
    q[:, 0:3, 3:6] = (q_a * hv**2 / 2.0)[:, None, None] * eye
    q[:, 3:6, 0:3] = q[:, 0:3, 3:6]
    q[:, 3:6, 3:6] = (q_a * hv)[:, None, None] * eye
    v_eff = np.sqrt(vn * vn + V_REG * V_REG)
    _cwpa_block(np.broadcast_to(q_thrust * thrust_on, (m,)), v / v_eff[:, None], IA, hv, q)
    b_kappa = -(drag_on * 0.5 * rho * vn)[:, None] * v
    _cwpa_block(np.broadcast_to(np.asarray(q_kappa, float), (m,)), b_kappa, IK, hv, q)
    return q
