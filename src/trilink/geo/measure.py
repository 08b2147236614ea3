"""Sensor measurement functions and their analytic Jacobians, shared by the sensor
simulation (which generates measurements) and the trackers (which invert them).

A sensor frame is a rotation ``rot`` (3, 3) whose rows are the sensor's x ("east"),
y ("north", the zero-azimuth direction) and z ("up") axes in ECEF. For a ground radar it
is the ENU frame of the site (:func:`trilink.geo.frames.enu_rotation`); for a staring
infrared sensor it is a frame whose y axis is the boresight, so angles stay small and far
from the azimuth singularity at the zenith.

Measurements: ``[range_m, az_rad, el_rad]`` for radars, ``[az_rad, el_rad]`` for
angle-only sensors. Azimuth is wrapped to (-pi, pi] here (the tracker differences
angles with :func:`wrap_angle`); :func:`trilink.geo.frames.enu_to_aer` reports [0, 2pi).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def wrap_angle(a: ArrayLike) -> Array:
    """Wrap angles to (-pi, pi]."""
    a = np.asarray(a, dtype=float)
    return np.pi - np.mod(np.pi - a, 2.0 * np.pi)


def _local(x_ecef: ArrayLike, sensor_ecef: ArrayLike, rot: ArrayLike) -> Array:
    d = np.asarray(x_ecef, dtype=float) - np.asarray(sensor_ecef, dtype=float)
    return np.einsum("...ij,...j->...i", np.asarray(rot, dtype=float), d)


def range_az_el(x_ecef: ArrayLike, sensor_ecef: ArrayLike, rot: ArrayLike) -> Array:
    """Target ECEF (..., 3) to ``[range_m, az_rad, el_rad]`` (..., 3) in a sensor frame."""
    e, n, u = np.moveaxis(_local(x_ecef, sensor_ecef, rot), -1, 0)
    rho = np.hypot(e, n)
    return np.stack([np.hypot(rho, u), np.arctan2(e, n), np.arctan2(u, rho)], axis=-1)


def range_az_el_jacobian(x_ecef: ArrayLike, sensor_ecef: ArrayLike, rot: ArrayLike) -> Array:
    """d[range, az, el] / d(x_ecef): (..., 3, 3), analytic.

    With local ``l = rot (x - s) = (e, n, u)``, ``rho^2 = e^2 + n^2``, ``r^2 = rho^2 + u^2``:
    ``dr/dl = l / r``; ``daz/dl = (n, -e, 0) / rho^2``;
    ``del/dl = (-e u, -n u, rho^2) / (r^2 rho)``; then chain with ``rot``.
    """
    loc = _local(x_ecef, sensor_ecef, rot)
    e, n, u = np.moveaxis(loc, -1, 0)
    rho2 = e * e + n * n
    rho = np.sqrt(rho2)
    r2 = rho2 + u * u
    r = np.sqrt(r2)
    zero = np.zeros_like(e)
    j_local = np.stack(
        [
            np.stack([e / r, n / r, u / r], -1),
            np.stack([n / rho2, -e / rho2, zero], -1),
            np.stack([-e * u / (r2 * rho), -n * u / (r2 * rho), rho / r2], -1),
        ],
        axis=-2,
    )
    return j_local @ np.asarray(rot, dtype=float)


def az_el(x_ecef: ArrayLike, sensor_ecef: ArrayLike, rot: ArrayLike) -> Array:
    """Angle-only measurement ``[az_rad, el_rad]`` (..., 2)."""
    return range_az_el(x_ecef, sensor_ecef, rot)[..., 1:]


def az_el_jacobian(x_ecef: ArrayLike, sensor_ecef: ArrayLike, rot: ArrayLike) -> Array:
    """d[az, el] / d(x_ecef): (..., 2, 3)."""
    return range_az_el_jacobian(x_ecef, sensor_ecef, rot)[..., 1:, :]


def boresight_frame(sensor_ecef: ArrayLike, aim_ecef: ArrayLike) -> Array:
    """Sensor frame (3, 3) whose y axis points from the sensor at an aim point.

    x is perpendicular to the boresight and to the Earth's axis (roughly east), z
    completes a right-handed frame (roughly north for a geostationary sensor).
    """
    s = np.asarray(sensor_ecef, dtype=float)
    y = np.asarray(aim_ecef, dtype=float) - s
    y = y / np.linalg.norm(y)
    x = np.cross(y, np.array([0.0, 0.0, 1.0]))
    x = x / np.linalg.norm(x)
    z = np.cross(x, y)
    return np.stack([x, y, z])
