"""Posterior Cramer-Rao lower bound (PCRLB) for tracking a ballistic object with one radar.

The bound (Tichavsky, Muravchik & Nehorai, "Posterior Cramer-Rao bounds for discrete-time
nonlinear filtering", IEEE TSP 46(5), 1998, eq. 21) is the inverse of the Fisher
information J_k of the state; no unbiased estimator has an error covariance below J_k^-1.
For x_{k+1} = f(x_k) + w_k, w_k ~ N(0, Q), z_k = h(x_k) + v_k, v_k ~ N(0, R):

    J_{k+1} = D22 - D21 (J_k + D11)^-1 D12,
    D11 = F^T Q^-1 F,  D12 = D21^T = -F^T Q^-1,  D22 = Q^-1 + H^T R^-1 H

with F, H the Jacobians of f and h at the truth (expectations over the truth; a
deterministic truth is a single trajectory, so no average is needed). Without process
noise (Q = 0) Q^-1 does not exist and the limit is

    J_{k+1} = F^-T J_k F^-1 + H^T R^-1 H.

The ballistic case uses the zero-noise form, because the true model has no process noise:
a missile after burnout and above the sensible atmosphere follows the J2 + rotating-frame
equations exactly, so its whole future is a deterministic function of one state and the
bound is the Fisher information of that state carried along the flight. A tracker's Q is
tuning for model mismatch (drag, manoeuvres), not part of the truth; bounding with it
would bound a different problem. The general form is here too (``Q=...``) for noisy models
and for the linear check (for linear-Gaussian models J_k^-1 equals the Kalman filter's
covariance, ibid. sec. IV).

Dynamics (ECEF, rotating): r' = v, v' = g_J2(r) - 2 w x v - w x (w x r)
(:mod:`trilink.physics.gravity`); its Jacobian is A = [[0, I], [G(r) - [w]x^2, -2 [w]x]]
with G the analytic J2 gravity gradient. F over a step is the state transition matrix,
from integrating the variational equations Phi' = A(x(t)) Phi, Phi(t_k) = I, with RK4
alongside the state, started each step from the truth state at t_k. Measurement
[range, az, el] with the analytic Jacobian of :func:`trilink.geo.range_az_el_jacobian`.

Shapes: states (..., 6) [m, m/s], information (K, 6, 6), times (K,) int64 ns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.measure import range_az_el_jacobian
from trilink.physics.gravity import OMEGA_VEC, ecef_acceleration, gravity_j2_jacobian
from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections

Array = NDArray[np.float64]

_WX = np.array(
    [
        [0.0, -OMEGA_VEC[2], OMEGA_VEC[1]],
        [OMEGA_VEC[2], 0.0, -OMEGA_VEC[0]],
        [-OMEGA_VEC[1], OMEGA_VEC[0], 0.0],
    ]
)  # [w]x, so that [w]x v = w x v


def ballistic_jacobian(x: ArrayLike) -> Array:
    """d(x')/dx (..., 6, 6) of the ECEF ballistic dynamics at states x (..., 6)."""
    x = np.asarray(x, dtype=float)
    a = np.zeros((*x.shape[:-1], 6, 6))
    a[..., :3, 3:] = np.eye(3)
    a[..., 3:, :3] = gravity_j2_jacobian(x[..., :3]) - _WX @ _WX  # centrifugal: -w x (w x r)
    a[..., 3:, 3:] = -2.0 * _WX  # Coriolis
    return a


def _deriv(x: Array, phi: Array) -> tuple[Array, Array]:
    dx = np.concatenate([x[..., 3:], ecef_acceleration(x[..., :3], x[..., 3:])], axis=-1)
    return dx, ballistic_jacobian(x) @ phi


def propagate_with_stm(
    x0: ArrayLike, dt_s: ArrayLike, max_step_s: float = 1.0
) -> tuple[Array, Array]:
    """Ballistic states (..., 6) after ``dt_s`` (...) and the transition matrices (..., 6, 6).

    Fixed-step RK4 on the state and the variational equations together, all rows at once
    with a common number of sub-steps (each row's step is its own dt over that number).
    With 1 s steps the state error over 60 s of ballistic flight is below a millimetre.
    """
    x = np.array(x0, dtype=float)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), x.shape[:-1])
    n = max(1, int(np.ceil(np.max(np.abs(dt), initial=0.0) / max_step_s)))
    h = (dt / n)[..., None]
    hm = h[..., None]
    phi = np.broadcast_to(np.eye(6), (*x.shape[:-1], 6, 6)).copy()
    for _ in range(n):
        k1x, k1p = _deriv(x, phi)
        k2x, k2p = _deriv(x + 0.5 * h * k1x, phi + 0.5 * hm * k1p)
        k3x, k3p = _deriv(x + 0.5 * h * k2x, phi + 0.5 * hm * k2p)
        k4x, k4p = _deriv(x + h * k3x, phi + hm * k3p)
        x = x + h / 6.0 * (k1x + 2 * k2x + 2 * k3x + k4x)
        phi = phi + hm / 6.0 * (k1p + 2 * k2p + 2 * k3p + k4p)
    return x, phi


def information_recursion(
    F: ArrayLike,
    H: ArrayLike,
    R: ArrayLike,
    measured: ArrayLike,
    J0: ArrayLike,
    Q: ArrayLike | None = None,
) -> Array:
    """Fisher information J_k (K, n, n) at K times (Tichavsky et al. 1998, eq. 21).

    Args:
        F: (K-1, n, n) transition Jacobians from time k to k+1.
        H: (K, m, n) measurement Jacobians; R: (K, m, m) measurement covariances.
        measured: (K,) bool, whether a measurement was taken at time k.
        J0: (n, n) prior information at time 0 before its measurement (zeros: no prior).
        Q: (K-1, n, n) process noise covariances (full rank), or None for the
           zero-noise form J_{k+1} = F^-T J_k F^-1 + H^T R^-1 H.
    """
    f = np.asarray(F, dtype=float)
    h = np.asarray(H, dtype=float)
    r = np.asarray(R, dtype=float)
    meas = np.asarray(measured, dtype=bool)
    k = meas.shape[0]
    # Measurement information H^T R^-1 H for every time at once.
    jz = np.einsum("kmi,kmn,knj->kij", h, np.linalg.inv(r), h) * meas[:, None, None]
    out = np.empty((k, *np.shape(J0)))
    out[0] = np.asarray(J0, dtype=float) + jz[0]
    if Q is None:
        finv = np.linalg.inv(f)
        for i in range(k - 1):  # a recursion: each step needs the previous one
            out[i + 1] = finv[i].T @ out[i] @ finv[i] + jz[i + 1]
    else:
        qinv = np.linalg.inv(np.asarray(Q, dtype=float))
        d11 = np.swapaxes(f, -1, -2) @ qinv @ f
        d12 = -np.swapaxes(f, -1, -2) @ qinv
        for i in range(k - 1):
            out[i + 1] = qinv[i] + jz[i + 1] - d12[i].T @ np.linalg.solve(out[i] + d11[i], d12[i])
    return 0.5 * (out + np.swapaxes(out, -1, -2))  # keep exact symmetry against round-off


def bound_covariance(J: ArrayLike, max_condition: float = 1e14) -> Array:
    """J^-1 (..., n, n), NaN where J is singular (not yet observable).

    The inverse is taken after scaling J to unit diagonal (metres and metres per second
    give entries many decades apart), and judged singular above ``max_condition``.
    """
    j = np.asarray(J, dtype=float)
    d = np.sqrt(np.clip(np.diagonal(j, axis1=-2, axis2=-1), 1e-300, None))
    js = j / (d[..., :, None] * d[..., None, :])
    cond = np.linalg.cond(js)
    ok = np.isfinite(cond) & (cond < max_condition)
    inv = np.full_like(j, np.nan)
    if ok.any():
        inv[ok] = np.linalg.inv(js[ok]) / (d[ok][..., :, None] * d[ok][..., None, :])
    return inv


@dataclass(frozen=True)
class Pcrlb:
    """The bound at K times. ``covariance`` = J^-1 (NaN before the state is observable)."""

    t_ns: NDArray[np.int64]
    information: Array  # (K, 6, 6)
    covariance: Array  # (K, 6, 6)

    @property
    def position_bound_m(self) -> Array:
        """sqrt(trace of the position block): the least achievable position RMSE."""
        return np.sqrt(np.trace(self.covariance[:, :3, :3], axis1=-2, axis2=-1))

    @property
    def velocity_bound_mps(self) -> Array:
        return np.sqrt(np.trace(self.covariance[:, 3:, 3:], axis1=-2, axis2=-1))

    def at(self, t_ns: ArrayLike) -> tuple[Array, Array]:
        """Position and velocity bounds at the latest bound time at or before each time."""
        t = np.asarray(t_ns, dtype=np.int64)
        i = np.searchsorted(self.t_ns, t, side="right") - 1
        ok = i >= 0
        i = np.maximum(i, 0)
        return (
            np.where(ok, self.position_bound_m[i], np.nan),
            np.where(ok, self.velocity_bound_mps[i], np.nan),
        )


def pcrlb_ballistic(
    truth: Trajectory,
    t_ns: ArrayLike,
    sensor_ecef_m: ArrayLike,
    rot: ArrayLike,
    R: ArrayLike,
    *,
    measured: ArrayLike | None = None,
    P0: ArrayLike | None = None,
    max_step_s: float = 1.0,
) -> Pcrlb:
    """PCRLB along a truth's ballistic phase for one radar measuring [range, az, el].

    Args:
        truth: the trajectory; every time must be after its burnout (the model is
            ballistic) and inside its flight.
        t_ns: (K,) increasing times at which to evaluate the bound.
        sensor_ecef_m, rot: the radar's position (3,) and frame (3, 3).
        R: (3, 3) or (K, 3, 3) measurement covariance in [m, rad, rad].
        measured: (K,) which times carry a measurement (default all), e.g. from
            :func:`detection_times`.
        P0: (6, 6) prior covariance at t_ns[0] (default: no prior information).
    """
    t = np.asarray(t_ns, dtype=np.int64)
    if t.ndim != 1 or t.size == 0 or np.any(np.diff(t) <= 0):
        raise ValueError("t_ns must be a non-empty, strictly increasing (K,) array")
    if t[0] < truth.burnout_t_ns:
        raise ValueError("the PCRLB here is for the ballistic phase: t_ns[0] is before burnout")
    r, v, inside = truth.state_at(t)
    if not inside.all():
        raise ValueError("every t_ns must lie inside the truth's flight")
    x = np.concatenate([r, v], axis=-1)
    dt = np.diff(t) / 1e9
    F = propagate_with_stm(x[:-1], dt, max_step_s)[1]
    H = np.zeros((t.size, 3, 6))
    H[:, :, :3] = range_az_el_jacobian(r, sensor_ecef_m, rot)
    Rk = np.broadcast_to(np.asarray(R, dtype=float), (t.size, 3, 3))
    meas = np.ones(t.size, dtype=bool) if measured is None else np.asarray(measured, dtype=bool)
    J0 = np.zeros((6, 6)) if P0 is None else np.linalg.inv(np.asarray(P0, dtype=float))
    J = information_recursion(F, H, Rk, meas, J0)
    return Pcrlb(t, J, bound_covariance(J))


def detection_times(detections: Detections, missile_id: str) -> NDArray[np.int64]:
    """Sorted, unique times [ns] at which a radar detected one missile (reads truth_id)."""
    return np.unique(detections.t_ns[detections.truth_id == missile_id])


def bound_ratio(rmse: ArrayLike, bound: ArrayLike) -> Array:
    """Tracker RMSE over the PCRLB bound (>= 1 for any unbiased estimator, up to Monte
    Carlo noise); NaN where the bound is not defined."""
    b = np.asarray(bound, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, np.asarray(rmse, dtype=float) / b, np.nan)
