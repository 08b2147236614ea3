"""Geodesics on the WGS84 ellipsoid (Karney 2013, via geographiclib).

Angles in radians, distances in metres, at the edges of this module too; geographiclib
itself speaks degrees, so the conversion lives only here. Vectorised by iteration: these
are edge functions (scenario set-up, reports), never in a hot loop.
"""

from __future__ import annotations

import math

import numpy as np
from geographiclib.geodesic import Geodesic
from numpy.typing import ArrayLike, NDArray

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
    """End point (lat, lon) [rad] after ``distance_m`` along a geodesic from a point."""
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
