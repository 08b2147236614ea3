"""Closed-form two-body ballistics: the free-flight ellipse and the textbook formulas.

Used twice: by the trajectory designer for a fast first guess (vacuum, point-mass coast
from many candidate burnout states in one array operation), and by the tests as the
independent textbook reference for flight times.

Shapes: N bodies, positions/velocities (N, 3) in an inertial frame, radii (N,).

References: Bate, Mueller & White, *Fundamentals of Astrodynamics* (1971), §6.2
(ballistic missile trajectories: free-flight range equation, the minimum-energy
flight-path angle gamma = (pi - Psi) / 4); Wheelon, "Free flight of a ballistic
missile", *ARS Journal* 29 (1959) 915-926; Vallado, 4th ed., §7.6 (Lambert: the
minimum-energy transfer, a_m = s / 2, and its time of flight from Lagrange's equation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.wgs84 import GM

Array = NDArray[np.float64]


@dataclass(frozen=True)
class FreeFlight:
    """Where a vacuum two-body coast from (r0, v0) meets the sphere of radius r_impact.

    ``psi_rad``: central angle flown; ``tof_s``: time of flight; ``r_impact``: inertial
    impact position (N, 3); ``r_apogee_m``: apogee radius; ``r_apogee``: apogee position
    (N, 3) (the burnout point itself when the body is already descending);
    ``valid``: the ellipse reaches r_impact on its way down.
    """

    psi_rad: Array
    tof_s: Array
    r_impact: Array
    r_apogee_m: Array
    r_apogee: Array
    valid: NDArray[np.bool_]


def _eccentric_anomaly(nu: Array, e: Array) -> Array:
    """E in [0, 2pi) for true anomaly nu (any real), ellipse e < 1."""
    return np.mod(np.arctan2(np.sqrt(1.0 - e * e) * np.sin(nu), e + np.cos(nu)), 2.0 * np.pi)


def free_flight(r0: ArrayLike, v0: ArrayLike, r_impact_m: ArrayLike) -> FreeFlight:
    """Conic coast from (r0, v0) (N, 3) to radius ``r_impact_m`` (N,) on the descending branch."""
    r0 = np.atleast_2d(np.asarray(r0, dtype=float))
    v0 = np.atleast_2d(np.asarray(v0, dtype=float))
    ri = np.broadcast_to(np.asarray(r_impact_m, dtype=float), r0.shape[:1])
    rn = np.linalg.norm(r0, axis=-1)
    hvec = np.cross(r0, v0)
    h2 = np.einsum("ij,ij->i", hvec, hvec)
    energy = 0.5 * np.einsum("ij,ij->i", v0, v0) - GM / rn
    a = -GM / (2.0 * energy)
    p = h2 / GM
    evec = np.cross(v0, hvec) / GM - r0 / rn[:, None]
    e = np.linalg.norm(evec, axis=-1)
    rv = np.einsum("ij,ij->i", r0, v0)
    with np.errstate(divide="ignore", invalid="ignore"):  # e = 0: a circle never lands
        return _conic(r0, v0, ri, rn, hvec, h2, energy, a, p, e, rv)


def _conic(
    r0: Array, v0: Array, ri: Array, rn: Array, hvec: Array, h2: Array,
    energy: Array, a: Array, p: Array, e: Array, rv: Array,
) -> FreeFlight:  # fmt: skip
    nu0 = np.arccos(np.clip((p / rn - 1.0) / e, -1.0, 1.0))
    nu0 = np.where(rv >= 0.0, nu0, 2.0 * np.pi - nu0)
    cos1 = (p / ri - 1.0) / e
    valid = (energy < 0.0) & (np.abs(cos1) <= 1.0)
    nu1 = 2.0 * np.pi - np.arccos(np.clip(cos1, -1.0, 1.0))  # descending branch
    psi = np.where(nu1 >= nu0, nu1 - nu0, np.nan)
    valid &= np.isfinite(psi)
    ea = np.where(valid, a, np.nan)
    n_mean = np.sqrt(GM / np.abs(ea) ** 3)
    e0, e1 = _eccentric_anomaly(nu0, e), _eccentric_anomaly(nu1, e)
    tof = ((e1 - e * np.sin(e1)) - (e0 - e * np.sin(e0))) / n_mean
    # In-plane unit vectors: u along r0, w = h x u (direction of motion).
    u = r0 / rn[:, None]
    hhat = hvec / np.sqrt(h2)[:, None]
    w = np.cross(hhat, u)
    r_imp = ri[:, None] * (np.cos(psi)[:, None] * u + np.sin(psi)[:, None] * w)
    r_apo_m = a * (1.0 + e)
    ang_apo = np.where(nu0 <= np.pi, np.pi - nu0, 0.0)
    rad_apo = np.where(nu0 <= np.pi, r_apo_m, rn)
    r_apo = rad_apo[:, None] * (np.cos(ang_apo)[:, None] * u + np.sin(ang_apo)[:, None] * w)
    return FreeFlight(psi, tof, r_imp, rad_apo, r_apo, valid)


def min_energy_flight_path_angle(r1: ArrayLike, r2: ArrayLike) -> Array:
    """Flight-path angle [rad] at r1 (N, 3) of the minimum-energy ellipse through r2 (N, 3).

    The vacant focus of the minimum-energy ellipse lies on the chord r1 -> r2, and by
    the reflection property the velocity bisects the angle between the radial
    direction r1/|r1| and the chord. For |r1| = |r2| this is gamma = (pi - Psi) / 4.
    """
    r1 = np.atleast_2d(np.asarray(r1, dtype=float))
    r2 = np.atleast_2d(np.asarray(r2, dtype=float))
    u = r1 / np.linalg.norm(r1, axis=-1, keepdims=True)
    chord = r2 - r1
    c = chord / np.linalg.norm(chord, axis=-1, keepdims=True)
    alpha = np.arccos(np.clip(np.einsum("ij,ij->i", u, c), -1.0, 1.0))
    return 0.5 * (np.pi - alpha)


def min_energy_time_of_flight(r1_m: ArrayLike, r2_m: ArrayLike, psi_rad: ArrayLike) -> Array:
    """Time of flight [s] on the minimum-energy ellipse between radii r1, r2, angle Psi < pi.

    Lagrange's equation with a = s / 2: alpha = pi, sin(beta/2) = sqrt((s - c) / s),
    t = sqrt(a^3 / mu) (alpha - sin alpha - (beta - sin beta)) (Vallado §7.6).
    """
    r1 = np.asarray(r1_m, dtype=float)
    r2 = np.asarray(r2_m, dtype=float)
    psi = np.asarray(psi_rad, dtype=float)
    c = np.sqrt(r1 * r1 + r2 * r2 - 2.0 * r1 * r2 * np.cos(psi))
    s = 0.5 * (r1 + r2 + c)
    a = 0.5 * s
    beta = 2.0 * np.arcsin(np.sqrt((s - c) / s))
    return np.sqrt(a**3 / GM) * (np.pi - (beta - np.sin(beta)))


def min_energy_burnout_speed(r_m: ArrayLike, psi_rad: ArrayLike) -> Array:
    """Burnout speed [m/s] for the minimum-energy flight of range angle Psi, equal radii.

    nu = v^2 r / mu = 2 sin(Psi/2) / (1 + sin(Psi/2)) (Bate, Mueller & White §6.2, the minimum-energy case of the free-flight range equation).
    """
    r = np.asarray(r_m, dtype=float)
    sh = np.sin(0.5 * np.asarray(psi_rad, dtype=float))
    return np.sqrt(2.0 * sh / (1.0 + sh) * GM / r)
