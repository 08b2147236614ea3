"""Time alignment: a batched ballistic propagator of state and covariance in ECEF.

States are rows ``(N, 6)`` ``[x, y, z, vx, vy, vz]`` in ECEF metres and metres per second,
covariances ``(N, 6, 6)``, time steps ``dt_s`` ``(N,)`` in seconds (negative steps
retrodict). The motion model is an unpowered, drag-free body in the rotating Earth frame:
J2 gravity plus Coriolis and centrifugal terms (``trilink.physics.gravity``).

The mean is integrated with classical fixed-step RK4. Every track takes the same number
of steps, each with its own step length ``dt_s / n``, so one code path serves the whole
batch with no per-track solver set-up. The state transition matrix ``Phi`` and the
sensitivity to a constant acceleration ``Psi`` are integrated alongside the mean from
the variational equations (Montenbruck & Gill, *Satellite Orbits*, 2000, sec. 7.1):

    dPhi/dt = F(x) Phi,           Phi(0) = I
    dPsi/dt = F(x) Psi + G,       Psi(0) = 0,      G = [0; I3]

with ``F = [[0, I], [dA/dr, dA/dv]]`` analytic. Unmodelled forces enter the covariance
honestly in two parts, per flight phase (:class:`ProcessNoise`):

* white acceleration noise of spectral density ``q`` [m^2 s^-3] (small errors of the
  force model), accumulated step by step as ``P <- Phi_k P Phi_k^T + Q_k(h)``, with the
  discrete ``Q_k`` of a white-noise-acceleration model (Bar-Shalom, Li & Kirubarajan,
  *Estimation with Applications to Tracking and Navigation*, 2001, eq. 6.2.2-12);
* an unknown but constant acceleration of standard deviation ``sigma_acc`` [m s^-2] per
  axis (thrust during boost, drag in re-entry: forces the ballistic mean omits), added as
  ``sigma_acc^2 Psi Psi^T``. A constant bias does not average out over the interval the
  way white noise does, so treating thrust as white would understate the spread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.fusion import compiled
from trilink.geo.wgs84 import GM, J2, OMEGA, A
from trilink.physics.gravity import gravity_j2, gravity_j2_jacobian, rotating_frame_acceleration

Array = NDArray[np.float64]

# d(centrifugal)/dr and d(Coriolis)/dv for omega along +z: a_cf = w^2 (x, y, 0),
# a_cor = -2 w x v = 2 w (vy, -vx, 0).
_DCF_DR = np.diag([OMEGA**2, OMEGA**2, 0.0])
_DCOR_DV = np.array([[0.0, 2.0 * OMEGA, 0.0], [-2.0 * OMEGA, 0.0, 0.0], [0.0, 0.0, 0.0]])


@dataclass(frozen=True)
class ProcessNoise:
    """Unmodelled acceleration of one flight phase.

    Attributes:
        q_m2ps3: spectral density of white acceleration noise per axis [m^2 s^-3].
        sigma_acc_mps2: standard deviation of an unknown constant acceleration per axis
            over the alignment interval [m s^-2].
    """

    q_m2ps3: float
    sigma_acc_mps2: float


# Chosen to cover what the ballistic mean leaves out, phase by phase:
#   boost: thrust accelerations of 2-6 g along an unknown direction (SRBM to IRBM stages);
#   ballistic: J2 omits higher harmonics (~1e-5 g) and thin-air drag above 100 km;
#   reentry: drag deceleration of tens of g at low altitude for a high-beta RV;
#   unknown: anything a national tracker has not classified yet.
DEFAULT_PROCESS_NOISE: Mapping[str, ProcessNoise] = {
    "boost": ProcessNoise(q_m2ps3=1.0, sigma_acc_mps2=50.0),
    "ballistic": ProcessNoise(q_m2ps3=1e-2, sigma_acc_mps2=0.05),
    "reentry": ProcessNoise(q_m2ps3=10.0, sigma_acc_mps2=150.0),
    "unknown": ProcessNoise(q_m2ps3=1.0, sigma_acc_mps2=50.0),
}


def ecef_dynamics_jacobian(r: Array) -> Array:
    """d(acceleration)/d(position) (N, 3, 3): J2 gravity gradient plus centrifugal term."""
    return gravity_j2_jacobian(r) + _DCF_DR


def _derivatives(x: Array, m: Array) -> tuple[Array, Array]:
    """Time derivatives of the mean (N, 6) and of M = [Phi | Psi] (N, 6, 9)."""
    r, v = x[:, :3], x[:, 3:]
    dx = np.empty_like(x)
    dx[:, :3] = v
    dx[:, 3:] = gravity_j2(r) + rotating_frame_acceleration(r, v)
    # F @ M with F = [[0, I], [a_r, a_v]] needs only two 3x3 products per block; the
    # constant-acceleration input G = [0; I] adds to the Psi columns.
    dm = np.empty_like(m)
    dm[:, :3, :] = m[:, 3:, :]
    dm[:, 3:, :] = ecef_dynamics_jacobian(r) @ m[:, :3, :] + _DCOR_DV @ m[:, 3:, :]
    dm[:, 3:, 6:] += np.eye(3)
    return dx, dm


def _rk4_step(x: Array, h: Array) -> tuple[Array, Array, Array]:
    """One RK4 step of length h (N,) from x; returns x(h), Phi(h), Psi(h) for this step.

    Phi and Psi ride together as the (N, 6, 9) block M = [Phi | Psi], M(0) = [I | 0].
    """
    m0 = np.zeros((x.shape[0], 6, 9))
    m0[:, :, :6] = np.eye(6)
    hv, hm = h[:, None], h[:, None, None]
    k1x, k1m = _derivatives(x, m0)
    k2x, k2m = _derivatives(x + 0.5 * hv * k1x, m0 + 0.5 * hm * k1m)
    k3x, k3m = _derivatives(x + 0.5 * hv * k2x, m0 + 0.5 * hm * k2m)
    k4x, k4m = _derivatives(x + hv * k3x, m0 + hm * k3m)
    x1 = x + hv / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
    m1 = m0 + hm / 6.0 * (k1m + 2.0 * k2m + 2.0 * k3m + k4m)
    return x1, m1[:, :, :6], m1[:, :, 6:]


def _rk4_mean(x: Array, h: Array) -> Array:
    """One RK4 step of the mean alone (no variational equations)."""

    def f(y: Array) -> Array:
        r, v = y[:, :3], y[:, 3:]
        return np.concatenate([v, gravity_j2(r) + rotating_frame_acceleration(r, v)], axis=1)

    hv = h[:, None]
    k1 = f(x)
    k2 = f(x + 0.5 * hv * k1)
    k3 = f(x + 0.5 * hv * k2)
    k4 = f(x + hv * k3)
    return x + hv / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def _per_row(value: ArrayLike, rows: int) -> Array:
    """A scalar or (rows,) argument as a contiguous, writable float array (rows,): the one
    array type the kernel is compiled for."""
    a = np.asarray(value, dtype=float)
    if a.shape == (rows,) and a.flags.c_contiguous and a.flags.writeable:
        return a
    return np.array(np.broadcast_to(a, (rows,)))


def _n_steps(dt_s: Array, max_step_s: float) -> int:
    longest = float(np.abs(dt_s).max(initial=0.0))
    return max(1, math.ceil(longest / max_step_s)) if longest > 0.0 else 0


def white_noise_q(h: ArrayLike, q: ArrayLike) -> Array:
    """Discrete process noise (N, 6, 6) of white acceleration noise over a signed step h.

    Q = q [[|h|^3/3 I, h|h|/2 I], [h|h|/2 I, |h| I]]; the sign of the cross term follows
    the direction of time, so retrodiction (h < 0) anti-correlates position and velocity.
    """
    h = np.asarray(h, dtype=float)
    q = np.broadcast_to(np.asarray(q, dtype=float), h.shape)
    ah = np.abs(h)
    blocks = np.stack([ah**3 / 3.0, h * ah / 2.0, h * ah / 2.0, ah], axis=-1) * q[..., None]
    out = np.einsum("...k,kij->...ij", blocks, _BLOCK_BASIS)
    return out


def _block_basis() -> Array:
    basis = np.zeros((4, 6, 6))
    eye = np.eye(3)
    basis[0, :3, :3] = eye
    basis[1, :3, 3:] = eye
    basis[2, 3:, :3] = eye
    basis[3, 3:, 3:] = eye
    return basis


_BLOCK_BASIS = _block_basis()


def propagate_state(x: ArrayLike, dt_s: ArrayLike, max_step_s: float = 2.0) -> Array:
    """Mean states (N, 6) carried by ``dt_s`` (N,) seconds along ballistic arcs.

    Used to build truth for tests and to coast system tracks; for the covariance as well
    use :func:`propagate`.
    """
    x = np.array(x, dtype=float, ndmin=2)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), x.shape[:1])
    n = _n_steps(dt, max_step_s)
    h = dt / max(n, 1)
    for _ in range(n):
        x = _rk4_mean(x, h)
    return x


def transition(
    x: ArrayLike, dt_s: ArrayLike, max_step_s: float = 2.0
) -> tuple[Array, Array, Array]:
    """States (N, 6), transition matrices Phi (N, 6, 6) and constant-acceleration
    sensitivities Psi (N, 6, 3) over ``dt_s`` (N,) seconds: x(t+dt) ~ x + Phi dx0 + Psi da.
    """
    x = np.array(x, dtype=float, ndmin=2)
    dt = np.broadcast_to(np.asarray(dt_s, dtype=float), x.shape[:1])
    n = _n_steps(dt, max_step_s)
    h = dt / max(n, 1)
    phi_total = np.broadcast_to(np.eye(6), (x.shape[0], 6, 6)).copy()
    psi_total = np.zeros((x.shape[0], 6, 3))
    for _ in range(n):
        x, phi, psi = _rk4_step(x, h)
        phi_total = phi @ phi_total
        psi_total = phi @ psi_total + psi
    return x, phi_total, psi_total


def propagate(
    x: ArrayLike,
    P: ArrayLike,
    dt_s: ArrayLike,
    q_m2ps3: ArrayLike = 0.0,
    sigma_acc_mps2: ArrayLike = 0.0,
    max_step_s: float = 2.0,
) -> tuple[Array, Array]:
    """Predict states (N, 6) and covariances (N, 6, 6) by ``dt_s`` (N,) seconds.

    ``q_m2ps3`` and ``sigma_acc_mps2`` (scalars or (N,)) are the process noise of
    :class:`ProcessNoise`. RK4 with ``ceil(max|dt| / max_step_s)`` equal steps per track;
    a 2 s step keeps the position error of RK4 on a ballistic arc below a millimetre over
    a minute (checked in tests against a 0.1 s reference). Inputs are not modified.
    """
    x = np.array(x, dtype=float, ndmin=2, order="C")
    cov: Array = np.array(P, dtype=float, ndmin=3, order="C")
    rows = x.shape[0]
    dt, q, sig = (_per_row(v, rows) for v in (dt_s, q_m2ps3, sigma_acc_mps2))
    n = _n_steps(dt, max_step_s)
    if n == 0:
        return x, cov
    if compiled.use_kernels():
        from trilink.fusion.kernels_align import propagate_kernel

        return propagate_kernel(x, cov, dt, q, sig, n, GM, J2, A, OMEGA)
    h = dt / n
    psi_total = np.zeros((x.shape[0], 6, 3))
    q_step = white_noise_q(h, q)
    for _ in range(n):
        x, phi, psi = _rk4_step(x, h)
        cov = phi @ cov @ np.swapaxes(phi, -1, -2) + q_step
        psi_total = phi @ psi_total + psi
    cov = cov + (sig**2)[:, None, None] * (psi_total @ np.swapaxes(psi_total, -1, -2))
    return x, 0.5 * (cov + np.swapaxes(cov, -1, -2))


def phase_noise(
    phase: ArrayLike, table: Mapping[str, ProcessNoise] | None = None
) -> tuple[Array, Array]:
    """Per-row (q, sigma_acc) arrays (N,) for flight-phase names (N,); unknown -> "unknown"."""
    table = DEFAULT_PROCESS_NOISE if table is None else table
    fallback = table.get("unknown", DEFAULT_PROCESS_NOISE["unknown"])
    names = np.asarray(phase, dtype=object).ravel().tolist()
    # A dict lookup per row: the few phase names repeat, and np.unique's sort of a string
    # array cost more than the propagation itself for the hub's small batches.
    noise = {u: table.get(str(u), fallback) for u in set(names)}
    q = np.fromiter((noise[u].q_m2ps3 for u in names), float, count=len(names))
    s = np.fromiter((noise[u].sigma_acc_mps2 for u in names), float, count=len(names))
    return q, s


def align(
    x: ArrayLike,
    P: ArrayLike,
    t_ns: ArrayLike,
    phase: ArrayLike,
    t_fuse_ns: int,
    process_noise: Mapping[str, ProcessNoise] | None = None,
    max_step_s: float = 2.0,
) -> tuple[Array, Array]:
    """Every report (x (N,6), P (N,6,6) at t_ns (N,)) predicted to one fusion time.

    The time difference is taken in integer nanoseconds before the conversion to seconds,
    so 64-bit epoch times lose no precision.
    """
    t = np.asarray(t_ns, dtype=np.int64)
    dt_s = (np.int64(t_fuse_ns) - t).astype(float) * 1e-9
    q, sig = phase_noise(phase, process_noise)
    return propagate(x, P, dt_s, q, sig, max_step_s)
