"""Gravity of the WGS84 Earth to J2, and the rotating-frame accelerations.

Shapes: positions (..., 3) in metres, accelerations (..., 3) in m s^-2, Jacobians
(..., 3, 3). The J2 field is axisymmetric about z, so the same expression holds in ECEF
and in any ECI frame that shares the z axis.

Reference: Vallado, *Fundamentals of Astrodynamics and Applications*, 4th ed., eq. 8-30
(the J2 acceleration); the Jacobian is its analytic derivative.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.wgs84 import GM, J2, OMEGA, A

Array = NDArray[np.float64]
OMEGA_VEC = np.array([0.0, 0.0, OMEGA])


def gravity_point_mass(r: ArrayLike) -> Array:
    """-GM r / |r|^3 (..., 3)."""
    r = np.asarray(r, dtype=float)
    rn = np.linalg.norm(r, axis=-1, keepdims=True)
    return -GM * r / rn**3


def gravity_j2(r: ArrayLike) -> Array:
    """Point mass plus J2 acceleration (..., 3) at ECEF or ECI position r (..., 3).

    a = -mu r / r^3 - 3/2 J2 mu a_e^2 / r^5 * [x (1 - 5 z^2/r^2), y (1 - 5 z^2/r^2),
        z (3 - 5 z^2/r^2)]
    """
    r = np.asarray(r, dtype=float)
    x, y, z = np.moveaxis(r, -1, 0)
    r2 = x * x + y * y + z * z
    rn = np.sqrt(r2)
    zr2 = z * z / r2
    k = 1.5 * J2 * GM * A * A / (r2 * r2 * rn)
    mu_r3 = GM / (r2 * rn)
    return np.stack(
        [
            -mu_r3 * x - k * x * (1.0 - 5.0 * zr2),
            -mu_r3 * y - k * y * (1.0 - 5.0 * zr2),
            -mu_r3 * z - k * z * (3.0 - 5.0 * zr2),
        ],
        axis=-1,
    )


def gravity_j2_jacobian(r: ArrayLike) -> Array:
    """d(gravity_j2)/dr (..., 3, 3), analytic and symmetric (a gradient of a potential)."""
    r = np.asarray(r, dtype=float)
    x, y, z = np.moveaxis(r, -1, 0)
    r2 = x * x + y * y + z * z
    rn = np.sqrt(r2)
    eye = np.eye(3)
    rr = np.einsum("...i,...j->...ij", r, r)
    # Point mass: -mu/r^3 (I - 3 r r^T / r^2)
    mu_r3 = (GM / (r2 * rn))[..., None, None]
    jac = -mu_r3 * (eye - 3.0 * rr / r2[..., None, None])
    # J2 part: a_J2 = -k(r) * g(r) with k = c / r^5, g = (x s, y s, z (s + 2)), s = 1 - 5 z^2/r^2
    c = 1.5 * J2 * GM * A * A
    k = c / (r2 * r2 * rn)
    s = 1.0 - 5.0 * z * z / r2
    g = np.stack([x * s, y * s, z * (s + 2.0)], axis=-1)
    dk = -5.0 * k[..., None] * r / r2[..., None]  # dk/dr
    ds = (10.0 * z * z / (r2 * r2))[..., None] * r  # ds/dr, z-part below
    ds = ds + np.stack([np.zeros_like(z), np.zeros_like(z), -10.0 * z / r2], axis=-1)
    dg = np.einsum("...i,...j->...ij", np.stack([x, y, z], -1), ds)
    dg = dg + s[..., None, None] * eye
    dg[..., 2, 2] += 2.0
    return jac - (np.einsum("...i,...j->...ij", g, dk) + k[..., None, None] * dg)


def rotating_frame_acceleration(r_ecef: ArrayLike, v_ecef: ArrayLike) -> Array:
    """Coriolis plus centrifugal acceleration in ECEF: -2 w x v - w x (w x r)."""
    r = np.asarray(r_ecef, dtype=float)
    v = np.asarray(v_ecef, dtype=float)
    return -2.0 * np.cross(OMEGA_VEC, v) - np.cross(OMEGA_VEC, np.cross(OMEGA_VEC, r))


def ecef_acceleration(r_ecef: ArrayLike, v_ecef: ArrayLike) -> Array:
    """Total acceleration of an unpowered, drag-free body in the rotating ECEF frame."""
    return gravity_j2(r_ecef) + rotating_frame_acceleration(r_ecef, v_ecef)
