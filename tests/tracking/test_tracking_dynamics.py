"""Motion models: the analytic STM against central differences, the mean against an
independent integrator, the process noise's symmetry and definiteness."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from trilink.geo import enu_rotation, geodetic_to_ecef
from trilink.physics.gravity import ecef_acceleration, rotating_frame_acceleration
from trilink.tracking.dynamics import (
    NX,
    approx_altitude,
    derivative,
    jacobian,
    process_noise,
    propagate,
)

DEG = np.pi / 180.0


def _state(h_m: float, v_enu: tuple[float, float, float], a_t: float = 30.0) -> np.ndarray:
    lla = np.array([38.0 * DEG, 128.0 * DEG, h_m])
    rot = enu_rotation(lla[0], lla[1])
    return np.concatenate([geodetic_to_ecef(lla), rot.T @ np.asarray(v_enu), [a_t, 2e-4]])[None]


def _numeric_stm(x, dt, thrust, drag):
    # Central differences, steps chosen per component (position 1 m, velocity 1 cm/s,
    # thrust 1 cm/s^2, kappa 1e-6 m^2/kg): truncation and round-off both far below the
    # tolerance below. Only the test differentiates numerically; the tracker never does.
    steps = np.array([1.0, 1.0, 1.0, 0.01, 0.01, 0.01, 0.01, 1e-6])
    num = np.zeros((NX, NX))
    for j in range(NX):
        e = np.zeros(NX)
        e[j] = steps[j]
        xp, _ = propagate(x + e, dt, thrust, drag)
        xm, _ = propagate(x - e, dt, thrust, drag)
        num[:, j] = (xp - xm)[0] / (2 * steps[j])
    return num


@pytest.mark.parametrize(
    ("name", "h_m", "v_enu", "thrust", "drag", "tol_rv"),
    [
        ("midcourse", 150e3, (1500.0, 1500.0, 300.0), 0.0, 1.0, 1e-5),
        ("boost", 30e3, (600.0, 400.0, 900.0), 1.0, 0.0, 5e-4),
        ("reentry", 40e3, (1500.0, 1500.0, -800.0), 0.0, 1.0, 5e-3),
    ],
)
def test_stm_matches_central_difference(name, h_m, v_enu, thrust, drag, tol_rv):
    x = _state(h_m, v_enu)
    t, d = np.array([thrust]), np.array([drag])
    _, phi = propagate(x, 10.0, t, d, h_max_s=2.0)
    num = _numeric_stm(x, 10.0, t, d)
    err = np.abs(phi[0] - num)
    # Compare block by block (position rows, velocity rows) against each block's scale,
    # so that entries of different units don't hide each other.
    for rows in (slice(0, 3), slice(3, 6)):
        scale = np.abs(num[rows, 0:6]).max()
        assert err[rows, 0:6].max() <= tol_rv * scale, (name, rows)
        # The parameter columns (thrust, kappa) ride on the midpoint-exponential STM,
        # second order: within 2 % where the density e-folds within a few steps.
        for col in (6, 7):
            scale_p = np.abs(num[rows, col]).max()
            if scale_p > 0:
                assert err[rows, col].max() <= 2e-2 * scale_p, (name, rows, col)


def test_jacobian_matches_difference_of_derivative():
    x = _state(40e3, (1500.0, 1500.0, -800.0))
    for thrust, drag in [(0.0, 1.0), (1.0, 0.0)]:
        t, d = np.array([thrust]), np.array([drag])
        _, jac = jacobian(x, t, d)
        steps = np.array([1.0, 1.0, 1.0, 0.01, 0.01, 0.01, 0.01, 1e-7])
        for j in range(NX):
            e = np.zeros(NX)
            e[j] = steps[j]
            col = (derivative(x + e, t, d) - derivative(x - e, t, d))[0] / (2 * steps[j])
            np.testing.assert_allclose(jac[0, :, j], col, rtol=1e-5, atol=1e-11)


def test_rotating_terms_equal_physics():
    rng = np.random.default_rng(3)
    x = np.zeros((20, NX))
    x[:, 0:3] = rng.normal(0, 4e6, (20, 3)) + 6.4e6
    x[:, 3:6] = rng.normal(0, 3e3, (20, 3))
    acc = derivative(x, np.zeros(20), np.zeros(20))[:, 3:6]
    np.testing.assert_allclose(acc, ecef_acceleration(x[:, 0:3], x[:, 3:6]), rtol=1e-12)
    assert np.abs(rotating_frame_acceleration(x[:, 0:3], x[:, 3:6])).max() > 0.01


def test_rk4_mean_matches_independent_integrator():
    """Ten minutes of vacuum flight: the filter's RK4 (2 s steps) against DOP853."""
    x = _state(300e3, (3000.0, 2000.0, 1500.0), a_t=0.0)
    x[0, 7] = 0.0  # no drag

    def rhs(_t, y):
        return np.r_[y[3:], ecef_acceleration(y[:3], y[3:])]

    ref = solve_ivp(rhs, (0, 600.0), x[0, :6], method="DOP853", rtol=1e-12, atol=1e-6)
    xf, _ = propagate(x, 600.0, np.zeros(1), np.ones(1), h_max_s=2.0)
    assert np.linalg.norm(xf[0, 0:3] - ref.y[:3, -1]) < 0.05  # metres
    assert np.linalg.norm(xf[0, 3:6] - ref.y[3:, -1]) < 1e-4  # m/s


def test_process_noise_symmetric_positive_semidefinite():
    x = np.concatenate([_state(30e3, (600.0, 400.0, -900.0)), _state(200e3, (1e3, 0, 0))])
    for h in (0.1, 2.0, 30.0):
        q = process_noise(x, h, np.array([1.0, 0.0]), np.array([0.0, 1.0]),
                          np.array([4.0, 1e-4]), np.array([9.0, 0.0]), np.array([1e-12, 1e-12]), 0.2)  # fmt: skip
        np.testing.assert_allclose(q, np.swapaxes(q, 1, 2), atol=0)
        # Relative to the largest eigenvalue: the position block grows like h^5.
        ev = np.linalg.eigvalsh(q)
        assert np.all(ev >= -1e-12 * ev.max(axis=1, keepdims=True))


def test_approx_altitude_close_to_geodetic():
    from trilink.geo import ecef_to_geodetic

    lat = np.linspace(-89, 89, 15) * DEG
    for h in (0.0, 50e3, 800e3):
        r = geodetic_to_ecef(np.stack([lat, np.zeros_like(lat), np.full_like(lat, h)], -1))
        approx, _ = approx_altitude(r)
        assert np.abs(approx - ecef_to_geodetic(r)[:, 2]).max() < 50.0
