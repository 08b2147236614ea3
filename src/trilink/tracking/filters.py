"""Extended Kalman filter predict and update as pure functions over batches of tracks.

Shapes: states ``x`` (M, n), covariances ``P`` (M, n, n), measurements ``z`` (M, m),
measurement covariances ``R`` (M, m, m). Nothing here mutates its inputs.

Measurement models (:class:`Measurement`): a radar's ``[range_m, az_rad, el_rad]`` and an
angle-only infrared sensor's ``[az_rad, el_rad]``, both in a sensor frame ``rot`` from
``sensor_ecef`` (:mod:`trilink.geo.measure`), with analytic Jacobians. Azimuth innovations
are wrapped to (-pi, pi] so that a target near north does not produce a 2 pi residual.

References: Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and
Navigation* (Wiley 2001), ch. 5 (KF), 10 (EKF); Bucy & Joseph (1968) for the Joseph form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.geo.measure import az_el, az_el_jacobian, range_az_el, range_az_el_jacobian, wrap_angle
from trilink.tracking.dynamics import IA, NX, process_noise, rk4_step_stm
from trilink.tracking.jit import arg, use_kernels

Array = NDArray[np.float64]

LOG_2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class Measurement:
    """Where a sensor is and what it measures; ``kind`` is ``"radar"`` or ``"ir"``."""

    kind: str
    sensor_ecef: Array  # (3,) m
    rot: Array  # (3, 3) sensor frame, rows = axes in ECEF

    @property
    def dim(self) -> int:
        return 3 if self.kind == "radar" else 2

    @property
    def azimuth_index(self) -> int:
        return 1 if self.kind == "radar" else 0

    def predict(self, x: Array) -> tuple[Array, Array]:
        """Predicted measurement (M, m) and its Jacobian d h / d x (M, m, n)."""
        r = x[..., 0:3]
        if self.kind == "radar":
            zhat = range_az_el(r, self.sensor_ecef, self.rot)
            jr = range_az_el_jacobian(r, self.sensor_ecef, self.rot)
        else:
            zhat = az_el(r, self.sensor_ecef, self.rot)
            jr = az_el_jacobian(r, self.sensor_ecef, self.rot)
        jac = np.zeros((*jr.shape[:-1], x.shape[-1]))
        jac[..., 0:3] = jr
        return zhat, jac

    def frame(self) -> tuple[Array, Array]:
        """``(sensor_ecef, rot)`` as contiguous float arrays (for the compiled kernels)."""
        return (
            arg(self.sensor_ecef),
            arg(self.rot),
        )

    def residual(self, z: Array, zhat: Array) -> Array:
        """Innovation ``z - zhat`` with the azimuth wrapped to (-pi, pi]."""
        nu = np.array(z, dtype=float) - zhat
        k = self.azimuth_index
        nu[..., k] = wrap_angle(nu[..., k])
        return nu


@dataclass(frozen=True)
class ModelRows:
    """Per-row parameters of the motion model (each (M,) or broadcastable).

    ``thrust_on``/``drag_on`` are 0/1 flags; ``q_*`` the process-noise PSDs of
    :func:`trilink.tracking.dynamics.process_noise`; ``thrust_var_floor`` the variance the
    ballistic model leaves on its (zeroed) thrust acceleration so that P stays definite.
    """

    thrust_on: Array
    drag_on: Array
    q_accel: Array
    q_thrust: Array
    q_kappa: Array
    drag_error: float = 0.2
    thrust_var_floor: float = 1e-4


def predict(
    x: Array, P: Array, dt_s: Array | float, model: ModelRows, h_max_s: float = 2.0
) -> tuple[Array, Array]:
    """EKF time update of (M, 8) states and (M, 8, 8) covariances over ``dt_s`` seconds
    (a scalar, or (M,) for rows that start at different times): the compiled kernel
    (:func:`.kernels_dynamics.predict_rows`) when :mod:`.jit` allows, else
    :func:`predict_reference` (same equations, same numbers)."""
    if not use_kernels():
        return predict_reference(x, P, dt_s, model, h_max_s)
    from trilink.tracking.kernels_dynamics import predict_rows

    m = np.shape(x)[0]

    def rows(a: Array | float) -> Array:
        return arg(np.broadcast_to(np.asarray(a, dtype=float), (m,)))

    return predict_rows(
        arg(x), arg(P),
        rows(dt_s), rows(model.thrust_on), rows(model.drag_on), rows(model.q_accel),
        rows(model.q_thrust), rows(model.q_kappa), float(model.drag_error),
        float(model.thrust_var_floor), float(h_max_s),
    )  # fmt: skip


def predict_reference(
    x: Array, P: Array, dt_s: Array | float, model: ModelRows, h_max_s: float = 2.0
) -> tuple[Array, Array]:
    """EKF time update of (M, n) states and (M, n, n) covariances over ``dt_s`` seconds
    (a scalar, or (M,) for rows that start at different times), in NumPy.

    Each RK4 step ``h <= h_max_s`` carries the mean and the STM ``Phi`` together, and the
    covariance as ``P <- Phi P Phi^T + Q(h)`` (the noise is added per step so that long
    gaps, e.g. a coast between two radars, get the right ``h^3`` growth).
    Rows of the ballistic model end with ``a_t = 0`` and no thrust correlations.
    """
    x = np.array(x, dtype=float)
    P = np.array(P, dtype=float)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), (x.shape[0],))
    if np.any(dt != 0.0):
        n_steps = max(1, int(np.ceil(np.max(np.abs(dt)) / h_max_s)))
        h = dt / n_steps
        for _ in range(n_steps):
            q = process_noise(
                x, h, model.thrust_on, model.drag_on,
                model.q_accel, model.q_thrust, model.q_kappa, model.drag_error,
            )  # fmt: skip
            x, phi = rk4_step_stm(x, h, model.thrust_on, model.drag_on)
            P = phi @ P @ np.swapaxes(phi, -1, -2) + q
    off = model.thrust_on == 0
    if np.any(off):
        x[off, IA] = 0.0
        P[off, IA, :] = 0.0
        P[off, :, IA] = 0.0
        P[off, IA, IA] = model.thrust_var_floor
    return x, 0.5 * (P + np.swapaxes(P, -1, -2))


def innovation(
    x: Array, P: Array, z: Array, R: Array, meas: Measurement
) -> tuple[Array, Array, Array]:
    """Innovation ``nu`` (M, m), its covariance ``S`` (M, m, m) and ``H`` (M, m, n)."""
    zhat, H = meas.predict(x)
    nu = meas.residual(z, zhat)
    S = H @ P @ np.swapaxes(H, -1, -2) + R
    return nu, S, H


def update_from_innovation(
    x: Array, P: Array, nu: Array, S: Array, H: Array, R: Array
) -> tuple[Array, Array, Array, Array]:
    """Kalman update given the innovation: (x, P, nis (M,), log-likelihood (M,))."""
    # Solve rather than invert: K^T = S^-1 H P (S, P symmetric).
    PHt = P @ np.swapaxes(H, -1, -2)
    K = np.swapaxes(np.linalg.solve(S, np.swapaxes(PHt, -1, -2)), -1, -2)
    x_new = x + np.einsum("...ij,...j->...i", K, nu)
    # Joseph form (I - K H) P (I - K H)^T + K R K^T: symmetric and positive definite for
    # any gain, so round-off (radar range sigmas of metres against a velocity prior of
    # kilometres per second at initiation) cannot drive P indefinite as the short form
    # (I - K H) P can.
    ikh = np.eye(x.shape[-1]) - K @ H
    P_new = ikh @ P @ np.swapaxes(ikh, -1, -2) + K @ R @ np.swapaxes(K, -1, -2)
    P_new = 0.5 * (P_new + np.swapaxes(P_new, -1, -2))
    sinv_nu = np.linalg.solve(S, nu[..., None])[..., 0]
    nis = np.einsum("...i,...i->...", nu, sinv_nu)
    _, logdet = np.linalg.slogdet(S)
    loglik = -0.5 * (nis + logdet + nu.shape[-1] * LOG_2PI)
    return x_new, P_new, nis, loglik


def update(x: Array, P: Array, z: Array, R: Array, meas: Measurement) -> tuple[Array, Array, Array]:
    """EKF measurement update: (x (M, n), P (M, n, n), NIS (M,)); the compiled kernel
    when :mod:`.jit` allows, else :func:`update_reference`."""
    if not use_kernels():
        return update_reference(x, P, z, R, meas)
    from trilink.tracking.kernels_filters import update_kernel

    sensor, rot = meas.frame()
    return update_kernel(arg(x), arg(P), arg(z), arg(R), sensor, rot, meas.kind == "radar")


def update_reference(
    x: Array, P: Array, z: Array, R: Array, meas: Measurement
) -> tuple[Array, Array, Array]:
    """:func:`update` in NumPy (the reference the kernel is tested against)."""
    nu, S, H = innovation(x, P, z, R, meas)
    x_new, P_new, nis, _ = update_from_innovation(x, P, nu, S, H, R)
    return x_new, P_new, nis


def cv_predict(x: Array, P: Array, dt_s: Array | float, q_accel: float) -> tuple[Array, Array]:
    """Nearly-constant-velocity time update of (M, n) states, n >= 6 ([r, v, ...] ECEF,
    no gravity), over ``dt_s`` (scalar or (M,)): ``x <- F x``, ``P <- F P F^T + Q`` with
    the continuous white-noise acceleration of PSD ``q_accel`` [m^2 s^-3] per axis,
    ``Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]]`` (Bar-Shalom et al. 2001, sec. 6.2.2; the
    form of Stone Soup's ``ConstantVelocity``). States past the sixth are left as they
    are. The compiled kernel when :mod:`.jit` allows, else NumPy."""
    m = np.shape(x)[0]
    dt = arg(np.broadcast_to(np.asarray(dt_s, dtype=float), (m,)))
    if use_kernels():
        from trilink.tracking.kernels_filters import cv_predict_kernel

        return cv_predict_kernel(arg(x), arg(P), dt, float(q_accel))
    return cv_predict_reference(x, P, dt, q_accel)


def cv_predict_reference(
    x: Array, P: Array, dt_s: Array | float, q_accel: float
) -> tuple[Array, Array]:
    """:func:`cv_predict` in NumPy."""
    x = np.array(x, dtype=float)
    m, n = x.shape
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), (m,))
    F = np.broadcast_to(np.eye(n), (m, n, n)).copy()
    F[:, 0:3, 3:6] = dt[:, None, None] * np.eye(3)
    h = np.abs(dt)[:, None, None]
    Q = np.zeros((m, n, n))
    Q[:, 0:3, 0:3] = q_accel * h**3 / 3.0 * np.eye(3)
    Q[:, 0:3, 3:6] = Q[:, 3:6, 0:3] = q_accel * h**2 / 2.0 * np.eye(3)
    Q[:, 3:6, 3:6] = q_accel * h * np.eye(3)
    x_new = np.einsum("mij,mj->mi", F, x)
    return x_new, F @ P @ np.swapaxes(F, -1, -2) + Q


def sigma_points(x: Array, P: Array) -> tuple[Array, Array]:
    """Symmetric sigma points (M, 2n+1, n) and weights (2n+1,) of the unscented transform.

    Julier & Uhlmann, "Unscented filtering and nonlinear estimation", Proc. IEEE 92(3),
    2004, with kappa = 0: points ``x +- sqrt(n) L e_i`` (``L`` the Cholesky factor), weight
    1/(2n) each and 0 for the centre (kept as the nominal trajectory). All weights are
    non-negative, so the transformed covariance is positive semi-definite.
    """
    n = x.shape[-1]
    L = np.linalg.cholesky(
        P + 1e-12 * np.eye(n) * np.trace(P, axis1=-2, axis2=-1)[..., None, None] / n
    )
    scaled = np.sqrt(n) * np.swapaxes(L, -1, -2)  # rows = columns of L
    pts = np.concatenate(
        [x[..., None, :], x[..., None, :] + scaled, x[..., None, :] - scaled], axis=-2
    )
    w = np.full(2 * n + 1, 1.0 / (2 * n))
    w[0] = 0.0
    return pts, w


def is_positive_definite(P: Array) -> NDArray[np.bool_]:
    """Row-wise test (M,) that symmetric P is positive definite (all eigenvalues > 0)."""
    return np.all(np.linalg.eigvalsh(P) > 0.0, axis=-1)


__all__ = [
    "NX",
    "Measurement",
    "ModelRows",
    "cv_predict",
    "cv_predict_reference",
    "innovation",
    "is_positive_definite",
    "predict",
    "predict_reference",
    "sigma_points",
    "update",
    "update_from_innovation",
    "update_reference",
]
