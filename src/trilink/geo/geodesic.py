"""Geodesics on the WGS84 ellipsoid (Karney 2013, via geographiclib).

Angles in radians, distances in metres, at the edges of this module too; geographiclib
itself speaks degrees, so the conversion lives only here. Vectorised by iteration: these
are edge functions (scenario set-up, reports), never in a hot loop.

For hot loops (the hub's warning rules, every track every cycle): :func:`vincenty_direct`
and :func:`vincenty_inverse`, compiled loops (:mod:`trilink.geo.kernels_geodesic`) that
cost about a microsecond per point: the direct one equals :func:`geodesic_direct` to a
few ulp, the inverse one equals :func:`geodesic_inverse` to ~1e-11 relative.
"""

from __future__ import annotations

import math

import numpy as np
from geographiclib.geodesic import Geodesic
from numpy.typing import ArrayLike, NDArray

from trilink.geo.kernels_geodesic import (
    as_arg,
    direct_points,
    inverse_one,
    inverse_points,
    line_points,
)
from trilink.geo.wgs84 import A, F

_WGS84 = Geodesic.WGS84


def geodesic_inverse(
    lat1_rad: ArrayLike, lon1_rad: ArrayLike, lat2_rad: ArrayLike, lon2_rad: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Distance [m], initial azimuth and final azimuth [rad, clockwise from north]."""
    b = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (lat1_rad, lon1_rad, lat2_rad, lon2_rad))
    )
    shape = b[0].shape
    flat = [x.ravel() for x in b]
    s12 = np.empty(flat[0].size)
    az1 = np.empty_like(s12)
    az2 = np.empty_like(s12)
    for i, (a1, o1, a2, o2) in enumerate(zip(*flat, strict=True)):
        g = _WGS84.Inverse(math.degrees(a1), math.degrees(o1), math.degrees(a2), math.degrees(o2))
        s12[i], az1[i], az2[i] = g["s12"], math.radians(g["azi1"]), math.radians(g["azi2"])
    return s12.reshape(shape), az1.reshape(shape), az2.reshape(shape)


def geodesic_direct(
    lat1_rad: ArrayLike, lon1_rad: ArrayLike, az1_rad: ArrayLike, distance_m: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """End point (lat, lon) [rad] after ``distance_m`` along a geodesic from a point.

    Vectorised Vincenty (1975) direct solution on WGS84: the direct problem always
    converges; we iterate a fixed 12 times (sub-millimetre for every distance short of
    the antipode; checked against geographiclib's Karney solution in the tests).
    Longitudes are wrapped to (-pi, pi].
    """
    lat1, lon1, az1, s = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (lat1_rad, lon1_rad, az1_rad, distance_m))
    )
    b = A * (1.0 - F)
    tan_u1 = (1.0 - F) * np.tan(lat1)
    cos_u1 = 1.0 / np.sqrt(1.0 + tan_u1 * tan_u1)
    sin_u1 = tan_u1 * cos_u1
    sin_a1, cos_a1 = np.sin(az1), np.cos(az1)
    sigma1 = np.arctan2(tan_u1, cos_a1)
    sin_alpha = cos_u1 * sin_a1
    cos2_alpha = 1.0 - sin_alpha * sin_alpha
    u2 = cos2_alpha * (A * A - b * b) / (b * b)
    big_a = 1.0 + u2 / 16384.0 * (4096.0 + u2 * (-768.0 + u2 * (320.0 - 175.0 * u2)))
    big_b = u2 / 1024.0 * (256.0 + u2 * (-128.0 + u2 * (74.0 - 47.0 * u2)))
    sigma = s / (b * big_a)
    for _ in range(12):
        cos_2sm = np.cos(2.0 * sigma1 + sigma)
        sin_s, cos_s = np.sin(sigma), np.cos(sigma)
        d_sigma = big_b * sin_s * (
            cos_2sm
            + big_b / 4.0 * (
                cos_s * (-1.0 + 2.0 * cos_2sm**2)
                - big_b / 6.0 * cos_2sm * (-3.0 + 4.0 * sin_s**2) * (-3.0 + 4.0 * cos_2sm**2)
            )
        )  # fmt: skip
        sigma = s / (b * big_a) + d_sigma
    cos_2sm = np.cos(2.0 * sigma1 + sigma)
    sin_s, cos_s = np.sin(sigma), np.cos(sigma)
    tmp = sin_u1 * sin_s - cos_u1 * cos_s * cos_a1
    lat2 = np.arctan2(
        sin_u1 * cos_s + cos_u1 * sin_s * cos_a1,
        (1.0 - F) * np.sqrt(sin_alpha * sin_alpha + tmp * tmp),
    )
    lam = np.arctan2(sin_s * sin_a1, cos_u1 * cos_s - sin_u1 * sin_s * cos_a1)
    c = F / 16.0 * cos2_alpha * (4.0 + F * (4.0 - 3.0 * cos2_alpha))
    big_l = lam - (1.0 - c) * F * sin_alpha * (
        sigma + c * sin_s * (cos_2sm + c * cos_s * (-1.0 + 2.0 * cos_2sm**2))
    )
    lon2 = np.pi - np.mod(np.pi - (lon1 + big_l), 2.0 * np.pi)
    return lat2, lon2


def geodesic_direct_karney(
    lat1_rad: ArrayLike, lon1_rad: ArrayLike, az1_rad: ArrayLike, distance_m: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The same through geographiclib (Karney 2013), point by point: the reference."""
    b = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (lat1_rad, lon1_rad, az1_rad, distance_m))
    )
    shape = b[0].shape
    flat = [x.ravel() for x in b]
    lat2 = np.empty(flat[0].size)
    lon2 = np.empty_like(lat2)
    for i, (a1, o1, az, s) in enumerate(zip(*flat, strict=True)):
        g = _WGS84.Direct(math.degrees(a1), math.degrees(o1), math.degrees(az), s)
        lat2[i], lon2[i] = math.radians(g["lat2"]), math.radians(g["lon2"])
    return lat2.reshape(shape), lon2.reshape(shape)


def vincenty_direct(
    lat1_rad: ArrayLike, lon1_rad: ArrayLike, az1_rad: ArrayLike, distance_m: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """:func:`geodesic_direct` as a compiled loop (same equations; a few ulp apart)."""
    lat1, lon1, az1, s = (
        as_arg(x).ravel()
        for x in np.broadcast_arrays(
            *(np.asarray(v, dtype=float) for v in (lat1_rad, lon1_rad, az1_rad, distance_m))
        )
    )
    shape = np.broadcast_shapes(*(np.shape(v) for v in (lat1_rad, lon1_rad, az1_rad, distance_m)))
    lat2, lon2 = np.empty(lat1.size), np.empty(lat1.size)
    direct_points(lat1, lon1, az1, s, A, F, lat2, lon2)
    return lat2.reshape(shape), lon2.reshape(shape)


def vincenty_inverse(
    lat1_rad: ArrayLike, lon1_rad: ArrayLike, lat2_rad: ArrayLike, lon2_rad: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Distance [m], initial and final azimuth [rad]: Vincenty's inverse, compiled.

    Agrees with :func:`geodesic_inverse` (Karney) to ~1e-11 relative in distance and
    ~2e-11 rad in azimuth (tests); NaN for nearly antipodal points, where it does not
    converge (the warner's geodesics are a few thousand kilometres at most).
    """
    args = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lat1_rad, lon1_rad, lat2_rad, lon2_rad))
    )
    shape = args[0].shape
    flat = [as_arg(x).ravel() for x in args]
    out = [np.empty(flat[0].size) for _ in range(3)]
    inverse_points(flat[0], flat[1], flat[2], flat[3], A, F, out[0], out[1], out[2])
    return out[0].reshape(shape), out[1].reshape(shape), out[2].reshape(shape)


def vincenty_distance_m(
    lat1_rad: float, lon1_rad: float, lat2_rad: float, lon2_rad: float
) -> float:
    """:func:`vincenty_inverse`'s distance [m] for one pair of points (no arrays: ~1 us)."""
    return float(
        inverse_one(float(lat1_rad), float(lon1_rad), float(lat2_rad), float(lon2_rad), A, F)[0]
    )


def geodesic_samples(
    lat1_rad: ArrayLike,
    lon1_rad: ArrayLike,
    az1_rad: ArrayLike,
    length_m: ArrayLike,
    counts: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Points spaced evenly along several geodesics, one after another (sum(counts),).

    Geodesic ``g`` starts at ``(lat1[g], lon1[g])`` with azimuth ``az1[g]`` and gets
    ``counts[g] >= 2`` points from its start to ``length_m[g]`` (as
    ``np.linspace(0, length, count)`` distances through :func:`vincenty_direct`; equal to
    that to a few ulp). Longitudes wrapped to (-pi, pi].
    """
    lat1, lon1, az1, s12 = (
        as_arg(np.atleast_1d(np.asarray(v, dtype=float)))
        for v in (lat1_rad, lon1_rad, az1_rad, length_m)
    )
    n = np.require(np.atleast_1d(counts), dtype=np.int64, requirements=("C",))
    if (n < 2).any():
        raise ValueError("every geodesic needs at least 2 points")
    total = int(n.sum())
    lat2, lon2 = np.empty(total), np.empty(total)
    line_points(lat1, lon1, az1, s12, n, A, F, lat2, lon2)
    return lat2, lon2
