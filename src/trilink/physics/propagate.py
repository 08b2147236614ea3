"""Vectorised fixed-step propagation of many bodies at once: RK4, drag, ground impact.

Frame: a launch-aligned inertial frame ("ECI" below) — the ECEF axes frozen at a
reference instant ``t = 0`` (seconds from that instant). It differs from
:func:`trilink.geo.ecef_to_eci`'s frame only by a constant rotation about z, and the J2
field is axisymmetric about z, so the dynamics are the same; converting back to ECEF
needs only the elapsed time (:func:`inertial_to_ecef`).

Shapes: N bodies; times (N,) seconds; positions/velocities (N, 3) metres, m/s. Every
body carries its own time and its own step, so bodies at different phases of flight
advance together in one array operation per RK4 stage (no Python loop over bodies).

Step rule (set by the state, not by error control, so results are smooth functions of
the initial state — what the trajectory designer's Newton iteration needs):
- gravity: ``VACUUM_STEP_FRACTION`` (0.008) of the local dynamical time sqrt(r^3/mu):
  6.5 s near the surface, at most 30 s; a point-mass vacuum coast then keeps its energy
  to < 1e-9 relative (tests/physics);
- drag: RK4's error on the drag term per step is ~ a_d h (h / tau)^4, with tau =
  1 / (|dr/dt| / H + a_d / v) the time to cross a density scale height H = 7 km or to
  lose the speed; the step holds that at ``DRAG_STEP_ERROR_MPS`` (0.01 m/s), floored at
  0.01 s: re-entry at 7 km/s takes ~0.05 s steps at peak drag, the thin air above 80 km
  seconds. Against 1e-8 m/s steps, impacts move < 0.4 m (measured, docs/physics.md);
- a step from above ``ATMOSPHERE_TOP_M`` never reaches far below it.
RK4 local error is O(h^5); the measured figures are in docs/physics.md.

Reference: Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., §8.6
(drag), §9 (numerical integration); Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.wgs84 import GM, J2, OMEGA, A, B
from trilink.physics import atmosphere
from trilink.physics.atmosphere import density, density_fast

Array = NDArray[np.float64]
Accel = Callable[[Array, Array, Array], Array]  # (t (N,), r (N,3), v (N,3)) -> a (N,3)

ATMOSPHERE_TOP_M = 100_000.0
ATMOSPHERE_CEILING_M = 1_000_000.0  # atmosphere.density is exactly 0 above
VACUUM_STEP_FRACTION = 0.008
VACUUM_STEP_MAX_S = 30.0
DENSITY_SCALE_HEIGHT_M = 7_000.0
DRAG_STEP_ERROR_MPS = 1e-2
MIN_STEP_S = 0.01
MAX_STEPS = 100_000


def ellipsoid_height(r: Array) -> Array:
    """Height above the WGS84 ellipsoid measured along the geocentric radius (N,).

    |r| minus the ellipsoid's radius in the direction of r. It differs from the
    geodetic height by a factor cos(geodetic - geocentric latitude) >= 0.99999 and is
    exactly zero on the ellipsoid, so it is a cheap and exact surface test.
    """
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    r2 = x * x + y * y + z * z
    rn = np.sqrt(r2)
    s2 = z * z / r2  # sin^2 of geocentric latitude (z is the same axis in ECEF and ECI)
    return rn - A * B / np.sqrt(B * B * (1.0 - s2) + A * A * s2)


def air_velocity(r: Array, v: Array) -> Array:
    """Velocity relative to the co-rotating atmosphere: v - omega x r (inertial axes)."""
    out = v.copy()
    out[..., 0] += OMEGA * r[..., 1]
    out[..., 1] -= OMEGA * r[..., 0]
    return out


def drag_acceleration(r: Array, v: Array, beta_kg_m2: ArrayLike) -> Array:
    """-rho |v_rel| v_rel / (2 beta), with beta = m / (Cd A) [kg m^-2] per body (N,).

    The reference form (exact US76 density); integrators use :func:`unpowered_acceleration`.
    """
    vr = air_velocity(r, v)
    speed = np.sqrt(np.einsum("...i,...i->...", vr, vr))
    rho = density(ellipsoid_height(r))
    k = -0.5 * rho * speed / np.asarray(beta_kg_m2, dtype=float)
    return k[..., None] * vr


_C_J2 = 1.5 * J2 * GM * A * A
_AB, _B2, _A2_B2 = A * B, B * B, A * A - B * B
# The density table of atmosphere.density_fast with a sentinel past its top, so that
# the compiled interp alone gives rho = 0 above 1000 km (exp(-745) underflows to 0).
_DRAG_Z = np.append(atmosphere._GRID_Z, atmosphere._GRID_Z[-1] + 10.0)
_DRAG_LN_RHO = np.append(atmosphere._GRID_LN_RHO, -745.0)
_interp = getattr(getattr(np, "_core", np).multiarray, "interp", np.interp)


def unpowered_acceleration(r: Array, v: Array, inv_beta: Array | None, j2: bool = True) -> Array:
    """Gravity (J2 or point mass) plus drag (N, 3) in the inertial frame, in one pass."""
    return gravity_drag(r, v, inv_beta, j2)[0]


def gravity_drag(
    r: Array, v: Array, inv_beta: Array | None, j2: bool = True
) -> tuple[Array, Array]:
    """:func:`unpowered_acceleration` (N, 3) and the height above the ellipsoid (N,).

    ``inv_beta`` (N,) is 1/beta [m^2 kg^-1] (0 = no drag), None = vacuum. The same
    expressions as :func:`trilink.physics.gravity.gravity_j2` and
    :func:`drag_acceleration` (tests compare them), written on component columns and
    sharing |r| between gravity, height and drag: an RK4 stage is called tens of
    thousands of times per scenario and numpy's per-call overhead dominates at small N.
    """
    x, y, z = r[:, 0], r[:, 1], r[:, 2]
    zz = z * z
    r2 = x * x + y * y + zz
    rn = np.sqrt(r2)
    ir2 = 1.0 / r2
    s2 = zz * ir2  # sin^2 of the geocentric latitude
    c = GM * ir2 / rn
    if j2:
        k = _C_J2 * ir2 * ir2 / rn
        c = c + k * (1.0 - 5.0 * s2)
    out = r * (-c)[:, None]
    if j2:
        out[:, 2] -= 2.0 * k * z  # z (3 - 5 s2) = z (1 - 5 s2) + 2 z
    alt = rn - _AB / np.sqrt(_B2 + _A2_B2 * s2)  # as ellipsoid_height
    if inv_beta is not None:
        va = v.copy()  # air-relative velocity v - w x r
        va[:, 0] += OMEGA * y
        va[:, 1] -= OMEGA * x
        speed = np.sqrt(np.einsum("ij,ij->i", va, va))
        rho = np.exp(_interp(alt, _DRAG_Z, _DRAG_LN_RHO))
        out -= (0.5 * rho * speed * inv_beta)[:, None] * va
    return out, alt


def ballistic_accel(beta_kg_m2: ArrayLike | None, *, j2: bool = True) -> Accel:
    """Acceleration of an unpowered body in the inertial frame: gravity (+ drag).

    ``beta_kg_m2=None`` means vacuum; ``j2=False`` uses the point-mass field (for the
    textbook and energy-conservation checks).
    """
    inv_beta = None if beta_kg_m2 is None else 1.0 / np.asarray(beta_kg_m2, dtype=float)

    def accel(t: Array, r: Array, v: Array) -> Array:
        return unpowered_acceleration(r, v, inv_beta, j2)

    return accel


def rk4_step(accel: Accel, t: Array, r: Array, v: Array, h: Array) -> tuple[Array, Array]:
    """One classical Runge-Kutta step of r'' = a(t, r, r') with per-body steps h (N,)."""
    hh = h[:, None]
    a1 = accel(t, r, v)
    r2, v2 = r + 0.5 * hh * v, v + 0.5 * hh * a1
    a2 = accel(t + 0.5 * h, r2, v2)
    r3, v3 = r + 0.5 * hh * v2, v + 0.5 * hh * a2
    a3 = accel(t + 0.5 * h, r3, v3)
    r4, v4 = r + hh * v3, v + hh * a3
    a4 = accel(t + h, r4, v4)
    r_new = r + hh / 6.0 * (v + 2.0 * v2 + 2.0 * v3 + v4)
    v_new = v + hh / 6.0 * (a1 + 2.0 * a2 + 2.0 * a3 + a4)
    return r_new, v_new


def propagate_fixed(
    accel: Accel, t0: ArrayLike, r0: ArrayLike, v0: ArrayLike, h: float, n_steps: int
) -> tuple[Array, Array, Array]:
    """n_steps fixed RK4 steps of size h from (t0, r0, v0); returns (t, r, v) at the end."""
    r = np.array(r0, dtype=float)
    v = np.array(v0, dtype=float)
    t = np.broadcast_to(np.asarray(t0, dtype=float), r.shape[:1]).copy()
    step = np.full(r.shape[0], float(h))
    for _ in range(n_steps):
        r, v = rk4_step(accel, t, r, v, step)
        t = t + step
    return t, r, v


def hermite(r0: Array, v0: Array, r1: Array, v1: Array, h: Array, s: Array) -> tuple[Array, Array]:
    """Cubic Hermite position and velocity at fraction s (N,) of steps of length h (N,)."""
    s = s[:, None]
    hh = h[:, None]
    s2, s3 = s * s, s * s * s
    m0, m1 = v0 * hh, v1 * hh
    r = (
        (2 * s3 - 3 * s2 + 1) * r0
        + (s3 - 2 * s2 + s) * m0
        + (-2 * s3 + 3 * s2) * r1
        + (s3 - s2) * m1
    )
    dr = (
        (6 * s2 - 6 * s) * r0
        + (3 * s2 - 4 * s + 1) * m0
        + (-6 * s2 + 6 * s) * r1
        + (3 * s2 - 2 * s) * m1
    )
    return r, dr / hh


@dataclass(frozen=True)
class CoastResult:
    """Nodes of a coast (K steps, N bodies) and each body's impact.

    ``t``, ``r``, ``v``: (K+1, N[, 3]) node times/states; after its impact a body's
    nodes repeat the impact state. ``t_hit``, ``r_hit``, ``v_hit``: (N,[3]) the state on
    the ellipsoid (NaN for a body that had not landed by ``t_max``); ``hit`` (N,) bool.
    """

    t: Array
    r: Array
    v: Array
    t_hit: Array
    r_hit: Array
    v_hit: Array
    hit: NDArray[np.bool_]


def coast_step_size(r: Array, v: Array, inv_beta: Array | None, alt: Array | None = None) -> Array:
    """The regime step rule described in the module docstring (N,) [s].

    ``alt``: :func:`ellipsoid_height` of r when the caller already has it.
    """
    rn = np.sqrt(np.einsum("ij,ij->i", r, r))
    h_vac = np.minimum(VACUUM_STEP_FRACTION * np.sqrt(rn**3 / GM), VACUUM_STEP_MAX_S)
    if inv_beta is None:
        return h_vac
    if alt is None:
        alt = ellipsoid_height(r)
    vr = air_velocity(r, v)
    speed = np.maximum(np.sqrt(np.einsum("ij,ij->i", vr, vr)), 1.0)
    climb = np.abs(np.einsum("ij,ij->i", r, v)) / rn
    a_drag = 0.5 * density_fast(alt) * speed * speed * inv_beta
    # Drag changes on the time the body takes to cross a density scale height, or to
    # lose its speed; RK4's error per step on that term is ~ a_drag h (h / tau)^4.
    tau = 1.0 / (climb / DENSITY_SCALE_HEIGHT_M + a_drag / speed)
    h_drag = tau * (DRAG_STEP_ERROR_MPS / np.maximum(a_drag * tau, 1e-300)) ** 0.2
    h = np.clip(np.minimum(h_drag, h_vac), MIN_STEP_S, None)
    # Never step from above the sensible atmosphere deep into it.
    h_to_top = (alt - ATMOSPHERE_TOP_M) / np.maximum(climb, 1.0) + h
    return np.where(alt > ATMOSPHERE_TOP_M, np.minimum(h, h_to_top), h)


def _locate_ground(
    accel: Accel, t0: Array, r0: Array, v0: Array, r1: Array, v1: Array, h: Array
) -> tuple[Array, Array, Array]:
    """Fraction s in (0, 1] of each step where the body meets the ellipsoid, and its state.

    First 30 bisections on the step's cubic Hermite arc, on the geodetic height of
    :func:`trilink.geo.ecef_to_geodetic` (frame-independent under rotations about z);
    then two Newton corrections with true RK4 sub-steps of length s h from the step's
    start, so the impact state is as accurate as the integrator (the Hermite arc's
    velocity is only O(h^3)) and its height is zero to well under a millimetre.
    """
    lo = np.zeros(len(h))
    hi = np.ones(len(h))
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        rm, _ = hermite(r0, v0, r1, v1, h, mid)
        above = ecef_to_geodetic(rm)[:, 2] > 0.0
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    s = 0.5 * (lo + hi)
    for _ in range(2):
        r_s, v_s = rk4_step(accel, t0, r0, v0, s * h)
        alt = ecef_to_geodetic(r_s)[:, 2]
        climb = np.einsum("ij,ij->i", r_s, v_s) / np.linalg.norm(r_s, axis=1)
        s = np.clip(s - alt / (climb * h), 0.0, 1.0)
    r_s, v_s = rk4_step(accel, t0, r0, v0, s * h)
    return s, r_s, v_s


def coast_to_ground(
    t0: ArrayLike,
    r0: ArrayLike,
    v0: ArrayLike,
    *,
    beta_kg_m2: ArrayLike | None,
    j2: bool = True,
    t_max: float = 20_000.0,
) -> CoastResult:
    """Propagate unpowered bodies until each reaches the ellipsoid (h = 0) or ``t_max``.

    ``beta_kg_m2`` (N,) ballistic coefficients, or None for vacuum. Bodies start above
    the surface; the impact is located inside the step by bisection on the Hermite arc.
    """
    r = np.array(r0, dtype=float)
    v = np.array(v0, dtype=float)
    n = r.shape[0]
    t = np.broadcast_to(np.asarray(t0, dtype=float), (n,)).copy()
    inv_beta = (
        None if beta_kg_m2 is None else 1.0 / np.broadcast_to(np.asarray(beta_kg_m2, float), (n,))
    )

    def accel_of(rows: slice | NDArray[np.intp]) -> Accel:
        ib = None if inv_beta is None else inv_beta[rows]
        return lambda t, r, v: unpowered_acceleration(r, v, ib, j2)

    accel = accel_of(slice(None))
    vacuum = (
        accel_of(slice(None))
        if inv_beta is None
        else lambda t, r, v: gravity_drag(r, v, None, j2)[0]
    )
    alt = ellipsoid_height(r)
    active = np.ones(n, dtype=bool)
    hit = np.zeros(n, dtype=bool)
    t_hit = np.full(n, np.nan)
    r_hit = np.full((n, 3), np.nan)
    v_hit = np.full((n, 3), np.nan)
    ts, rs, vs = [t.copy()], [r.copy()], [v.copy()]
    for _ in range(MAX_STEPS):
        if not active.any():
            break
        # Above the model atmosphere's top (density exactly 0) with a step that cannot
        # reach it, the drag term is skipped: the same numbers, half the work.
        h_vac = coast_step_size(r, v, None)
        descent = np.maximum(-np.einsum("ij,ij->i", r, v), 0.0) / np.sqrt(
            np.einsum("ij,ij->i", r, r)
        )
        if np.all((alt - descent * h_vac > ATMOSPHERE_CEILING_M) | ~active):
            h = np.where(active, h_vac, 0.0)
            r_new, v_new = rk4_step(vacuum, t, r, v, h)
        else:
            h = np.where(active, coast_step_size(r, v, inv_beta, alt), 0.0)
            r_new, v_new = rk4_step(accel, t, r, v, h)
        t_new = t + h
        alt = ellipsoid_height(r_new)
        down = active & (alt <= 0.0)
        if down.any():
            idx = np.flatnonzero(down)
            s, rh, vh = _locate_ground(
                accel_of(idx), t[idx], r[idx], v[idx], r_new[idx], v_new[idx], h[idx]
            )
            t_new[idx] = t[idx] + s * h[idx]
            r_new[idx], v_new[idx] = rh, vh
            alt[idx] = 0.0
            t_hit[idx], r_hit[idx], v_hit[idx] = t_new[idx], rh, vh
            hit[idx] = True
            active &= ~down
        late = active & (t_new >= t_max)
        active &= ~late
        t, r, v = t_new, r_new, v_new
        ts.append(t.copy())
        rs.append(r.copy())
        vs.append(v.copy())
    return CoastResult(np.array(ts), np.array(rs), np.array(vs), t_hit, r_hit, v_hit, hit)


def inertial_to_ecef(t_s: ArrayLike, r: ArrayLike, v: ArrayLike) -> tuple[Array, Array]:
    """Launch-aligned inertial (r, v) at seconds ``t_s`` after the reference to ECEF."""
    th = OMEGA * np.asarray(t_s, dtype=float)
    c, s = np.cos(th), np.sin(th)
    r = np.asarray(r, dtype=float)
    v = np.asarray(v, dtype=float)
    # ECEF = Rz(-theta) ECI; velocity also loses the frame's rotation: v_e = R v_i - w x r_e.
    x = c * r[..., 0] + s * r[..., 1]
    y = -s * r[..., 0] + c * r[..., 1]
    vx = c * v[..., 0] + s * v[..., 1] + OMEGA * y
    vy = -s * v[..., 0] + c * v[..., 1] - OMEGA * x
    return np.stack([x, y, r[..., 2]], -1), np.stack([vx, vy, v[..., 2]], -1)


def ecef_to_inertial(t_s: ArrayLike, r: ArrayLike, v: ArrayLike) -> tuple[Array, Array]:
    """Inverse of :func:`inertial_to_ecef`."""
    th = OMEGA * np.asarray(t_s, dtype=float)
    c, s = np.cos(th), np.sin(th)
    r = np.asarray(r, dtype=float)
    v = np.asarray(v, dtype=float)
    vx = v[..., 0] - OMEGA * r[..., 1]  # add w x r_e first, then rotate by +theta
    vy = v[..., 1] + OMEGA * r[..., 0]
    x = c * r[..., 0] - s * r[..., 1]
    y = s * r[..., 0] + c * r[..., 1]
    return np.stack([x, y, r[..., 2]], -1), np.stack(
        [c * vx - s * vy, s * vx + c * vy, v[..., 2]], -1
    )
