"""Azimuthal equidistant projections for metric work on land and sea polygons.

An azimuthal equidistant (AEQD) projection centred on a point keeps the true distance
and azimuth *from that centre*: a point at geodesic distance ``s`` and initial azimuth
``az`` maps to ``x = s sin(az)``, ``y = s cos(az)`` (Snyder 1987, *Map Projections - A
Working Manual*, USGS PP 1395, ch. 25). Distances between two other points are stretched
across the radial direction by ``(rho/R) / sin(rho/R)`` (Snyder eq. 25-2 on the sphere):
+0.1 % at 500 km from the centre, +0.4 % at 1,000 km. Callers keep the geometry within a
few hundred kilometres of the centre and say how far that lets the error grow.

Two forms:

- :func:`aeqd_forward` / :func:`aeqd_inverse`: the ellipsoidal projection, exact, built on
  WGS84 geodesics (Karney 2013, via :mod:`trilink.geo.geodesic`): for build-time work
  (the 200-nautical-mile zones) where tens of thousands of points cost seconds.
- :func:`aeqd_sphere_forward`: vectorised spherical AEQD with the Gaussian radius of
  curvature at the centre: for run-time distances near the centre, where it agrees with
  the geodesic distance to 0.2-0.3 % (measured 25-45 deg N out to 750 km: the spread of
  the normal-section radius between the meridian radius M and the prime-vertical
  radius N, wider nearer the equator).

Angles in radians, distances in metres, arrays with components last: ``(..., 2)`` holding
``[lat_rad, lon_rad]`` on the geographic side and ``[x_east_m, y_north_m]`` on the plane.
Longitudes from the inverse are unrolled about the centre's longitude (continuous across
the antimeridian), so a ring around a centre near 180 degrees stays a ring.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.geo.horizon import gaussian_radius

Array = NDArray[np.float64]


def wrap_pi(angle: ArrayLike) -> Array:
    """Angle(s) wrapped into [-pi, pi)."""
    return np.mod(np.asarray(angle, dtype=float) + np.pi, 2.0 * np.pi) - np.pi


def aeqd_forward(latlon_rad: ArrayLike, centre_rad: ArrayLike) -> Array:
    """Geographic ``[lat, lon]`` rad (..., 2) to ellipsoidal AEQD ``[x, y]`` m (..., 2)."""
    ll = np.asarray(latlon_rad, dtype=float)
    lat0, lon0 = (float(v) for v in np.asarray(centre_rad, dtype=float))
    s, az, _ = geodesic_inverse(lat0, lon0, ll[..., 0], ll[..., 1])
    return np.stack([s * np.sin(az), s * np.cos(az)], axis=-1)


def aeqd_inverse(xy_m: ArrayLike, centre_rad: ArrayLike) -> Array:
    """Ellipsoidal AEQD ``[x, y]`` m (..., 2) back to ``[lat, lon]`` rad (..., 2).

    The longitude is unrolled: ``lon0 + wrap(lon - lon0)``, continuous about the centre.
    """
    xy = np.asarray(xy_m, dtype=float)
    lat0, lon0 = (float(v) for v in np.asarray(centre_rad, dtype=float))
    s = np.hypot(xy[..., 0], xy[..., 1])
    az = np.arctan2(xy[..., 0], xy[..., 1])
    lat, lon = geodesic_direct(lat0, lon0, az, s)
    return np.stack([lat, lon0 + wrap_pi(lon - lon0)], axis=-1)


def aeqd_sphere_forward(latlon_rad: ArrayLike, centre_rad: ArrayLike) -> Array:
    """Vectorised spherical AEQD about ``centre`` with the Gaussian radius there.

    Great-circle distance by the haversine (well conditioned at short range) and initial
    bearing by the usual atan2 form (Snyder eqs. 5-3a, 25-2 to 25-5 rearranged).
    """
    ll = np.asarray(latlon_rad, dtype=float)
    lat0, lon0 = (float(v) for v in np.asarray(centre_rad, dtype=float))
    radius = float(gaussian_radius(lat0))
    lat, dlon = ll[..., 0], ll[..., 1] - lon0
    hav = np.sin((lat - lat0) / 2.0) ** 2 + np.cos(lat0) * np.cos(lat) * np.sin(dlon / 2.0) ** 2
    c = 2.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))  # central angle
    az = np.arctan2(
        np.sin(dlon) * np.cos(lat),
        np.cos(lat0) * np.sin(lat) - np.sin(lat0) * np.cos(lat) * np.cos(dlon),
    )
    rho = radius * c
    return np.stack([rho * np.sin(az), rho * np.cos(az)], axis=-1)
