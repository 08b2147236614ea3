"""Time alignment: the batched RK4 propagator against independent physics checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.stats import chi2

from trilink.fusion.align import (
    align,
    phase_noise,
    propagate,
    propagate_state,
    transition,
    white_noise_q,
)
from trilink.fusion.synthetic import launch_state
from trilink.geo.wgs84 import DEG, GM, J2, OMEGA, A
from trilink.physics.gravity import ecef_acceleration

MM = 1e-3
T0 = 1_700_000_000_123_456_789


def _states() -> np.ndarray:
    """A few ballistic states: mid-course, high apogee, near-polar, descending."""
    return launch_state(
        np.array([39.2, 40.0, 70.0, 35.0]) * DEG,
        np.array([127.5, 125.0, 10.0, 135.0]) * DEG,
        np.array([120e3, 300e3, 500e3, 80e3]),
        np.array([3400.0, 5000.0, 6500.0, 2500.0]),
        np.array([100.0, 80.0, 180.0, 120.0]) * DEG,
        np.array([35.0, 60.0, 10.0, -30.0]) * DEG,
    )


def _jacobi(x: np.ndarray) -> np.ndarray:
    """Jacobi integral of the rotating J2 field: conserved by unpowered ECEF motion."""
    r, v = x[..., :3], x[..., 3:]
    rn = np.linalg.norm(r, axis=-1)
    s = r[..., 2] / rn
    potential = GM / rn - GM * J2 * A**2 / rn**3 * (1.5 * s**2 - 0.5)
    return 0.5 * np.sum(v * v, -1) - 0.5 * OMEGA**2 * np.sum(r[..., :2] ** 2, -1) - potential


def test_mean_matches_an_independent_high_order_integrator():
    x0 = _states()
    dt = np.array([60.0, 300.0, 120.0, 20.0])
    ours = propagate_state(x0, dt, max_step_s=2.0)
    for i in range(len(x0)):
        sol = solve_ivp(
            lambda _t, y: np.concatenate([y[3:], ecef_acceleration(y[:3], y[3:])]),
            (0.0, dt[i]),
            x0[i],
            method="DOP853",
            rtol=1e-12,
            atol=1e-9,
        )
        assert np.linalg.norm(ours[i, :3] - sol.y[:3, -1]) < 1 * MM
        assert np.linalg.norm(ours[i, 3:] - sol.y[3:, -1]) < 1e-5


def test_two_second_steps_agree_with_a_tenth_of_a_second_reference():
    x0 = _states()
    coarse = propagate_state(x0, 60.0, max_step_s=2.0)
    fine = propagate_state(x0, 60.0, max_step_s=0.1)
    assert np.max(np.linalg.norm(coarse[:, :3] - fine[:, :3], axis=-1)) < 1 * MM


def test_jacobi_integral_is_conserved_over_ten_minutes():
    x0 = _states()[:3]
    x1 = propagate_state(x0, 600.0)
    rel = np.abs(_jacobi(x1) - _jacobi(x0)) / np.abs(_jacobi(x0))
    assert np.all(rel < 1e-10)


def test_forward_then_backward_returns_state_and_covariance():
    x0 = _states()
    P0 = np.broadcast_to(np.diag([1e4, 4e4, 9e4, 25.0, 100.0, 400.0]), (4, 6, 6))
    x1, P1 = propagate(x0, P0, 45.0)
    x2, P2 = propagate(x1, P1, -45.0)
    assert np.max(np.abs(x2[:, :3] - x0[:, :3])) < 1 * MM
    np.testing.assert_allclose(P2, P0, rtol=1e-6, atol=1e-6)


def test_transition_matrix_matches_central_differences():
    x0 = _states()[:2]
    dt = 90.0
    _, phi, _ = transition(x0, dt)
    # Steps large enough that round-off of ECEF-sized numbers does not swamp the
    # difference, small enough that the flow is linear over them.
    steps = np.array([10.0, 10.0, 10.0, 0.1, 0.1, 0.1])
    for j in range(6):
        dx = np.zeros(6)
        dx[j] = steps[j]
        col = (propagate_state(x0 + dx, dt) - propagate_state(x0 - dx, dt)) / (2 * steps[j])
        np.testing.assert_allclose(phi[:, :, j], col, rtol=1e-6, atol=1e-6)


def test_constant_acceleration_sensitivity_is_kinematic_for_short_steps():
    # Over 2 s, Psi = [h^2/2 I; h I] up to the Coriolis coupling ~ 2 omega h^2 (3e-4 in v).
    _, _, psi = transition(_states(), 2.0)
    expected = np.vstack([np.eye(3) * 2.0**2 / 2, np.eye(3) * 2.0])
    np.testing.assert_allclose(psi, np.broadcast_to(expected, psi.shape), rtol=0, atol=6e-4)


def test_covariance_matches_monte_carlo_of_the_truth_propagator():
    rng = np.random.default_rng(7)
    x0 = _states()[0]
    L = rng.normal(size=(6, 6)) * np.array([300.0] * 3 + [20.0] * 3)[:, None]
    P0 = L @ L.T / 6 + np.diag([1e4] * 3 + [4.0] * 3)
    n = 4000
    samples = rng.multivariate_normal(x0, P0, size=n)
    moved = propagate_state(samples, 60.0)
    x1, P1 = propagate(x0, P0, 60.0)
    err = moved - x1
    nees = np.einsum("ni,ij,nj->n", err, np.linalg.inv(P1[0]), err)
    lo, hi = chi2.ppf([0.0005, 0.9995], 6 * n) / n
    assert lo < nees.mean() < hi
    ratio = np.sqrt(np.diag(np.cov(err.T)) / np.diag(P1[0]))
    assert np.all(np.abs(ratio - 1.0) < 0.1)


def test_white_noise_q_is_psd_and_changes_sign_of_cross_term_backwards():
    qf = white_noise_q(np.array([3.0]), 2.0)[0]
    qb = white_noise_q(np.array([-3.0]), 2.0)[0]
    assert np.all(np.linalg.eigvalsh(qf) > 0) and np.all(np.linalg.eigvalsh(qb) > 0)
    np.testing.assert_allclose(qf[:3, 3:], -qb[:3, 3:])
    np.testing.assert_allclose(qf[0, 0], 2.0 * 27 / 3)


def _thrusting(x0: np.ndarray, accel_mps2: float, dt: float, n: int = 200) -> np.ndarray:
    """Truth for a boosting missile: the ballistic field plus thrust along velocity."""

    def f(x: np.ndarray) -> np.ndarray:
        v = x[3:]
        a = ecef_acceleration(x[:3], v) + accel_mps2 * v / np.linalg.norm(v)
        return np.concatenate([v, a])

    x, h = x0.copy(), dt / n
    for _ in range(n):
        k1 = f(x)
        k2 = f(x + h / 2 * k1)
        k3 = f(x + h / 2 * k2)
        k4 = f(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@pytest.mark.parametrize("accel", [20.0, 40.0, 60.0])
def test_boost_noise_covers_unmodelled_thrust_and_ballistic_noise_does_not(accel):
    x0 = launch_state(39.2 * DEG, 127.5 * DEG, 30e3, 1500.0, 100 * DEG, 50 * DEG)
    P0 = np.diag([50.0**2] * 3 + [5.0**2] * 3)
    truth = _thrusting(x0, accel, 1.5)
    t_report = np.array([T0])
    t_fuse = T0 + 1_500_000_000
    d2 = {}
    for phase in ("boost", "ballistic"):
        x1, P1 = align(x0[None], P0[None], t_report, [phase], t_fuse)
        e = truth - x1[0]
        d2[phase] = e @ np.linalg.solve(P1[0], e)
    assert d2["boost"] < chi2.ppf(0.99, 6)
    assert d2["ballistic"] > chi2.ppf(0.9999, 6)


def test_align_uses_integer_nanoseconds_and_never_mutates_inputs():
    x = _states()[:2]
    P = np.broadcast_to(np.eye(6) * 100.0, (2, 6, 6)).copy()
    t = np.array([T0, T0 + 250_000_001], dtype=np.int64)
    before = (x.copy(), P.copy(), t.copy())
    x1, _ = align(x, P, t, ["ballistic", "ballistic"], T0 + 1_000_000_000)
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(P, before[1])
    np.testing.assert_array_equal(t, before[2])
    expected = propagate_state(x, np.array([1.0, 0.749999999]))
    np.testing.assert_allclose(x1, expected, rtol=0, atol=1e-6)


def test_unknown_phase_names_fall_back_to_unknown_noise():
    q, s = phase_noise(["ballistic", "mystery", "boost"])
    q_u, s_u = phase_noise(["unknown"])
    assert q[1] == q_u[0] and s[1] == s_u[0]
    assert s[0] < s[2]
