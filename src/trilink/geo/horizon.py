"""Radar line of sight over a refracting Earth (the effective-Earth-radius model).

Standard atmospheric refraction bends radar rays downward; the classic equivalent is a
straight ray over an Earth of radius k*R with k = 4/3 (Skolnik, *Introduction to Radar
Systems*, 3rd ed., sec. 8.2; Doerry, Sandia SAND2013-9447). In that model a target at
ground range ``d`` is first visible at height ``~ d^2 / (2 k R)`` above the radar's
horizon plane, which is why a distant radar cannot see a launch.

We evaluate the *apparent* elevation angle in the effective-Earth geometry:
with ``R_e = k * R`` (R the local Gaussian radius of curvature at the site), the central
angle ``psi = d / R`` between site and target on the true Earth becomes
``phi = d / R_e`` on the effective sphere, and

    el_app = atan2((R_e + h_t) cos(phi) - (R_e + h_s), (R_e + h_t) sin(phi))

A target is in line of sight when ``el_app >= el_min``. Shapes: (..., 3) in, (...) out.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.frames import ecef_to_geodetic, geodetic_to_ecef
from trilink.geo.wgs84 import E2, K_REFRACTION, A

Array = NDArray[np.float64]


def gaussian_radius(lat_rad: ArrayLike) -> Array:
    """Gaussian mean radius of curvature sqrt(M N) [m] at a geodetic latitude."""
    s2 = np.sin(np.asarray(lat_rad, dtype=float)) ** 2
    return A * np.sqrt(1.0 - E2) / (1.0 - E2 * s2)


def central_angle(site_ecef: ArrayLike, target_ecef: ArrayLike) -> Array:
    """Angle [rad] between two geocentric position vectors (..., 3)."""
    a = np.asarray(site_ecef, dtype=float)
    b = np.asarray(target_ecef, dtype=float)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    return np.arctan2(cross, np.einsum("...i,...i->...", a, b))


def apparent_elevation(
    site_lla: ArrayLike, target_ecef: ArrayLike, k: float = K_REFRACTION
) -> Array:
    """Elevation [rad] of a target as seen over an Earth of effective radius k*R.

    ``site_lla`` (..., 3) geodetic; ``target_ecef`` (..., 3). With ``k = 1`` this is the
    geometric elevation over a spherical Earth of the site's local radius.
    """
    site = np.asarray(site_lla, dtype=float)
    target_lla = ecef_to_geodetic(target_ecef)
    r = gaussian_radius(site[..., 0])
    psi = central_angle(geodetic_to_ecef(site), target_ecef)
    ground_range = psi * r
    r_eff = k * r
    phi = ground_range / r_eff
    h_s, h_t = site[..., 2], target_lla[..., 2]
    return np.arctan2((r_eff + h_t) * np.cos(phi) - (r_eff + h_s), (r_eff + h_t) * np.sin(phi))


def in_line_of_sight(
    site_lla: ArrayLike,
    target_ecef: ArrayLike,
    min_elevation_rad: float | ArrayLike = 0.0,
    k: float = K_REFRACTION,
) -> NDArray[np.bool_]:
    """True where the target clears the refracted horizon and the minimum elevation."""
    return apparent_elevation(site_lla, target_ecef, k) >= np.asarray(min_elevation_rad)


def horizon_height(
    ground_range_m: ArrayLike,
    site_height_m: float = 0.0,
    k: float = K_REFRACTION,
    radius_m: float | None = None,
) -> Array:
    """Lowest visible target height [m] at a ground range over a k*R Earth (el = 0).

    Exact form of the ``d^2 / (2 k R)`` rule: ``h = (R_e + h_s) / cos(d / R_e) - R_e``.
    """
    r_eff = k * (radius_m if radius_m is not None else float(gaussian_radius(0.0)))
    d = np.asarray(ground_range_m, dtype=float)
    return (r_eff + site_height_m) / np.cos(d / r_eff) - r_eff
