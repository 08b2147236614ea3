"""The PCRLB: equals the Kalman filter covariance in the linear-Gaussian case; the
ballistic transition matrices and the bound agree with independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from trilink.evaluate import (
    ballistic_jacobian,
    bound_ratio,
    information_recursion,
    pcrlb_ballistic,
    propagate_with_stm,
)
from trilink.geo import enu_rotation, geodetic_to_ecef, range_az_el
from trilink.physics.gravity import ecef_acceleration

S = 1_000_000_000


def cv_model(dt, q):
    """Nearly-constant-velocity model, 3-D, continuous white-noise acceleration q."""
    f = np.eye(6)
    f[:3, 3:] = dt * np.eye(3)
    blk = np.array([[dt**3 / 3, dt**2 / 2], [dt**2 / 2, dt]]) * q
    qm = np.kron(blk, np.eye(3))
    return f, qm


def kalman_covariances(f, qm, h, r, p0, measured):
    p = p0.copy()
    out = []
    for k, m in enumerate(measured):
        if k > 0:
            p = f @ p @ f.T + qm
        if m:
            s = h @ p @ h.T + r
            gain = p @ h.T @ np.linalg.inv(s)
            i_kh = np.eye(6) - gain @ h
            p = i_kh @ p @ i_kh.T + gain @ r @ gain.T  # Joseph form
        out.append(p)
    return np.array(out)


@pytest.mark.parametrize("q", [0.5, 0.0])
def test_pcrlb_equals_kalman_covariance_linear_gaussian(q):
    """Tichavsky et al. 1998 sec. IV: for linear-Gaussian models J_k^-1 = P_k|k."""
    dt, n = 2.0, 40
    f, qm = cv_model(dt, q)
    h = np.hstack([np.eye(3), np.zeros((3, 3))])
    r = np.diag([25.0, 100.0, 400.0])
    p0 = np.diag([1e4, 1e4, 1e4, 1e2, 1e2, 1e2])
    measured = np.ones(n, bool)
    measured[[5, 6, 20]] = False  # missed detections: prediction only
    p_kf = kalman_covariances(f, qm, h, r, p0, measured)
    j = information_recursion(
        np.broadcast_to(f, (n - 1, 6, 6)),
        np.broadcast_to(h, (n, 3, 6)),
        np.broadcast_to(r, (n, 3, 3)),
        measured,
        np.linalg.inv(p0),
        None if q == 0.0 else np.broadcast_to(qm, (n - 1, 6, 6)),
    )
    np.testing.assert_allclose(np.linalg.inv(j), p_kf, rtol=1e-8, atol=1e-10)


def test_jacobian_matches_finite_differences():
    r = geodetic_to_ecef([0.7, 2.2, 300e3])
    x = np.concatenate([r, [1500.0, -800.0, 2500.0]])
    a = ballistic_jacobian(x)

    def f(y):
        return np.concatenate([y[3:], ecef_acceleration(y[:3], y[3:])])

    steps = np.array([1.0, 1.0, 1.0, 1e-3, 1e-3, 1e-3])
    num = np.stack(
        [(f(x + s * e) - f(x - s * e)) / (2 * s) for s, e in zip(steps, np.eye(6), strict=True)],
        axis=1,
    )
    np.testing.assert_allclose(a, num, rtol=1e-6, atol=1e-12)


def test_stm_matches_finite_differences_of_an_independent_integrator():
    r = geodetic_to_ecef([0.68, 2.18, 150e3])
    x0 = np.concatenate([r, [2000.0, 1500.0, 1000.0]])

    def prop(y0, dt):
        def f(_t, y):
            return np.concatenate([y[3:], ecef_acceleration(y[:3], y[3:])])

        return solve_ivp(f, (0, dt), y0, method="DOP853", rtol=1e-13, atol=1e-9).y[:, -1]

    dt = 20.0
    x1, phi = propagate_with_stm(x0, dt, max_step_s=0.5)
    np.testing.assert_allclose(x1, prop(x0, dt), rtol=0, atol=1e-3)  # RK4 vs DOP853: < 1 mm
    steps = np.array([10.0, 10.0, 10.0, 0.01, 0.01, 0.01])
    num = np.stack(
        [
            (prop(x0 + s * e, dt) - prop(x0 - s * e, dt)) / (2 * s)
            for s, e in zip(steps, np.eye(6), strict=True)
        ],
        axis=1,
    )
    np.testing.assert_allclose(phi, num, rtol=1e-5, atol=1e-7)
    # Vectorised over several rows and steps at once.
    _, phis = propagate_with_stm(np.stack([x0, x0]), np.array([dt, 0.0]), max_step_s=0.5)
    np.testing.assert_allclose(phis[0], phi)
    np.testing.assert_allclose(phis[1], np.eye(6), atol=1e-15)


def test_ballistic_bound_equals_batch_fisher_information(ballistic):
    """Zero-noise recursion vs the Fisher information of the final state computed
    independently: propagate perturbed final states backwards with scipy and
    differentiate the measurement function numerically."""
    site = np.array([0.64, 2.24, 100.0])  # lat, lon [rad], h [m]
    s_ecef = geodetic_to_ecef(site)
    rot = enu_rotation(site[0], site[1])
    r0 = geodetic_to_ecef([0.69, 2.17, 120e3])
    traj = ballistic("b", r0, np.array([1200.0, 2200.0, 1800.0]), 150.0)
    t = traj.t_ns[0] + np.arange(0, 121, 10, dtype=np.int64) * S
    r_cov = np.diag([30.0**2, 1e-3**2, 1.5e-3**2])
    bound = pcrlb_ballistic(traj, t, s_ecef, rot, r_cov)

    x_end = np.concatenate(traj.state_at(t[-1])[:2])

    def f(_t, y):
        return np.concatenate([y[3:], ecef_acceleration(y[:3], y[3:])])

    back = (t - t[-1]) * 1e-9  # <= 0

    def meas(y_end):
        sol = solve_ivp(
            f, (0.0, back[0]), y_end, method="DOP853", t_eval=back[::-1], rtol=1e-13, atol=1e-9
        )
        return range_az_el(sol.y[:3].T[::-1], s_ecef, rot)  # (K, 3) in time order

    steps = np.array([5.0, 5.0, 5.0, 5e-3, 5e-3, 5e-3])
    cols = [
        (meas(x_end + s * e) - meas(x_end - s * e)) / (2 * s)
        for s, e in zip(steps, np.eye(6), strict=True)
    ]
    jac = np.stack(cols, axis=-1)  # (K, 3, 6)
    fisher = np.einsum("kmi,mn,knj->ij", jac, np.linalg.inv(r_cov), jac)
    np.testing.assert_allclose(
        bound.information[-1], fisher, rtol=2e-4, atol=1e-6 * np.abs(fisher).max()
    )
    cov = np.linalg.inv(fisher)
    assert bound.position_bound_m[-1] == pytest.approx(np.sqrt(np.trace(cov[:3, :3])), rel=1e-3)
    assert bound.velocity_bound_mps[-1] == pytest.approx(np.sqrt(np.trace(cov[3:, 3:])), rel=1e-3)


def test_bound_shape_observability_and_ratio(ballistic):
    site = np.array([0.64, 2.24, 100.0])
    traj = ballistic(
        "b", geodetic_to_ecef([0.69, 2.17, 120e3]), np.array([1200.0, 2200.0, 1800.0]), 100.0
    )
    t = traj.t_ns[0] + np.arange(0, 61, 2, dtype=np.int64) * S
    measured = np.ones(t.size, bool)
    measured[10:15] = False
    b = pcrlb_ballistic(
        traj,
        t,
        geodetic_to_ecef(site),
        enu_rotation(site[0], site[1]),
        np.diag([30.0**2, 1e-3**2, 1e-3**2]),
        measured=measured,
    )
    pos = b.position_bound_m
    assert np.isnan(pos[0])  # one 3-D measurement cannot fix a 6-D state
    assert np.all(np.isfinite(pos[2:]))
    # Information grows with each measurement: the bound falls while measuring ...
    assert np.all(np.diff(pos[2:10]) < 0)
    # ... and the velocity bound is smaller at the end than when first observable.
    assert b.velocity_bound_mps[-1] < b.velocity_bound_mps[2]
    # With a prior the bound exists from the first time and never exceeds the prior.
    p0 = np.diag([1e6] * 3 + [1e4] * 3)
    bp = pcrlb_ballistic(
        traj,
        t,
        geodetic_to_ecef(site),
        enu_rotation(site[0], site[1]),
        np.diag([30.0**2, 1e-3**2, 1e-3**2]),
        P0=p0,
    )
    assert bp.position_bound_m[0] < np.sqrt(3e6)
    pb, _ = b.at(t[20:] + S // 2)
    np.testing.assert_allclose(pb, pos[20:])
    np.testing.assert_allclose(bound_ratio(2 * pos[20:], pos[20:]), 2.0)
    assert np.isnan(bound_ratio([1.0], [np.nan])[0])
    with pytest.raises(ValueError):
        pcrlb_ballistic(traj, t[::-1], geodetic_to_ecef(site), np.eye(3), np.eye(3))
