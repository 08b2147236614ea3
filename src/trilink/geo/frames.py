"""Coordinate frames on the WGS84 ellipsoid, vectorised over leading axes.

Conventions (every function): arrays with the last axis as components; SI units and
radians; inputs are never mutated.

- geodetic ``lla``: ``[lat_rad, lon_rad, h_m]`` (..., 3), height above the ellipsoid.
- ECEF: Earth-centred, Earth-fixed metres (..., 3).
- ENU: east, north, up metres (..., 3) in the local tangent frame of an origin.
- AER: ``[range_m, az_rad, el_rad]`` (..., 3); azimuth clockwise from north in [0, 2pi),
  elevation above the local tangent plane (geodetic normal).
- ECI: an Earth-centred inertial frame whose x axis points to the equinox of the
  Earth-rotation-angle convention (IERS 2010, eq. 5.15); rotation only about z (no
  precession/nutation/polar motion: below a kilometre over a flight of an hour, and the
  dynamics need only an inertial frame, not a particular one).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.wgs84 import E2, EP2, OMEGA, A, B

Array = NDArray[np.float64]


def _f(x: ArrayLike) -> Array:
    return np.asarray(x, dtype=float)


def geodetic_to_ecef(lla: ArrayLike) -> Array:
    """Geodetic ``[lat_rad, lon_rad, h_m]`` (..., 3) to ECEF metres (..., 3)."""
    lat, lon, h = np.moveaxis(_f(lla), -1, 0)
    n = A / np.sqrt(1.0 - E2 * np.sin(lat) ** 2)  # prime-vertical radius of curvature
    return np.stack(
        [
            (n + h) * np.cos(lat) * np.cos(lon),
            (n + h) * np.cos(lat) * np.sin(lon),
            (n * (1.0 - E2) + h) * np.sin(lat),
        ],
        axis=-1,
    )


def ecef_to_geodetic(ecef: ArrayLike) -> Array:
    """ECEF metres (..., 3) to geodetic ``[lat_rad, lon_rad, h_m]`` (..., 3).

    Bowring's parametric-latitude start refined by two Newton-style iterations of the
    closed form (Bowring 1976; Fukushima 2006): sub-millimetre from the centre of the
    Earth out past geostationary orbit, and exact at the poles (no division by the
    equatorial distance).
    """
    x, y, z = np.moveaxis(_f(ecef), -1, 0)
    p = np.hypot(x, y)
    lon = np.arctan2(y, x)
    beta = np.arctan2(A * z, B * p)  # parametric latitude, first guess
    lat = np.arctan2(z + EP2 * B * np.sin(beta) ** 3, p - E2 * A * np.cos(beta) ** 3)
    for _ in range(2):
        beta = np.arctan2((1.0 - E2) ** 0.5 * np.sin(lat), np.cos(lat))
        lat = np.arctan2(z + EP2 * B * np.sin(beta) ** 3, p - E2 * A * np.cos(beta) ** 3)
    sin_lat, cos_lat = np.sin(lat), np.cos(lat)
    n = A / np.sqrt(1.0 - E2 * sin_lat**2)
    # Height projected on the normal: stable at the poles and the equator alike.
    h = p * cos_lat + z * sin_lat - A * A / n
    return np.stack([lat, lon, h], axis=-1)


def enu_rotation(lat_rad: ArrayLike, lon_rad: ArrayLike) -> Array:
    """Rotation (..., 3, 3) whose rows are the east, north, up unit vectors in ECEF."""
    lat, lon = _f(lat_rad), _f(lon_rad)
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(sl * so)
    east = np.stack([-so + zero, co + zero, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl + zero], axis=-1)
    up = np.stack([cl * co, cl * so, sl + zero], axis=-1)
    return np.stack([east, north, up], axis=-2)


def ecef_to_enu(ecef: ArrayLike, origin_lla: ArrayLike) -> Array:
    """ECEF points (..., 3) to ENU metres about a geodetic origin (..., 3)."""
    origin = _f(origin_lla)
    rot = enu_rotation(origin[..., 0], origin[..., 1])
    d = _f(ecef) - geodetic_to_ecef(origin)
    return np.einsum("...ij,...j->...i", rot, d)


def enu_to_ecef(enu: ArrayLike, origin_lla: ArrayLike) -> Array:
    """ENU metres about a geodetic origin (..., 3) to ECEF points (..., 3)."""
    origin = _f(origin_lla)
    rot = enu_rotation(origin[..., 0], origin[..., 1])
    return geodetic_to_ecef(origin) + np.einsum("...ji,...j->...i", rot, _f(enu))


def ecef_vector_to_enu(vec: ArrayLike, origin_lla: ArrayLike) -> Array:
    """Rotate a free ECEF vector (velocity, offset) into the ENU axes of an origin."""
    origin = _f(origin_lla)
    rot = enu_rotation(origin[..., 0], origin[..., 1])
    return np.einsum("...ij,...j->...i", rot, _f(vec))


def enu_vector_to_ecef(vec: ArrayLike, origin_lla: ArrayLike) -> Array:
    """Rotate a free ENU vector into ECEF axes."""
    origin = _f(origin_lla)
    rot = enu_rotation(origin[..., 0], origin[..., 1])
    return np.einsum("...ji,...j->...i", rot, _f(vec))


def enu_to_aer(enu: ArrayLike) -> Array:
    """ENU (..., 3) to ``[range_m, az_rad, el_rad]`` (..., 3); az in [0, 2pi)."""
    e, n, u = np.moveaxis(_f(enu), -1, 0)
    horiz = np.hypot(e, n)
    rng = np.hypot(horiz, u)
    az = np.mod(np.arctan2(e, n), 2.0 * np.pi)
    el = np.arctan2(u, horiz)
    return np.stack([rng, az, el], axis=-1)


def aer_to_enu(aer: ArrayLike) -> Array:
    """``[range_m, az_rad, el_rad]`` (..., 3) to ENU metres (..., 3)."""
    rng, az, el = np.moveaxis(_f(aer), -1, 0)
    horiz = rng * np.cos(el)
    return np.stack([horiz * np.sin(az), horiz * np.cos(az), rng * np.sin(el)], axis=-1)


def ecef_to_aer(ecef: ArrayLike, site_lla: ArrayLike) -> Array:
    """Target ECEF (..., 3) seen from a geodetic site (..., 3) as AER (..., 3)."""
    return enu_to_aer(ecef_to_enu(ecef, site_lla))


def aer_to_ecef(aer: ArrayLike, site_lla: ArrayLike) -> Array:
    """AER (..., 3) from a geodetic site to target ECEF (..., 3)."""
    return enu_to_ecef(aer_to_enu(aer), site_lla)


# --- Earth rotation -------------------------------------------------------------------

_NS_PER_DAY = 86_400_000_000_000
_J2000_UNIX_NS = 946_727_935_816_000_000  # 2000-01-01T12:00:00 TT = 11:58:55.816 UTC


def earth_rotation_angle(t_ns: ArrayLike) -> Array:
    """Earth rotation angle [rad] at UTC nanoseconds since the Unix epoch (IERS 2010 eq. 5.15).

    UT1 is taken as UTC (|UT1-UTC| < 0.9 s, i.e. < 66 m of rotation at the equator; the
    frame is only ever used as an inertial frame for dynamics, so the offset cancels).
    The day count is split into whole days and fraction so that float64 keeps
    sub-microsecond resolution.
    """
    t = np.asarray(t_ns, dtype=np.int64) - np.int64(_J2000_UNIX_NS)
    days, rem = np.divmod(t, np.int64(_NS_PER_DAY))
    frac = rem.astype(float) / _NS_PER_DAY
    du = days.astype(float) + frac
    # 1.00273781191135448 * du = du + 0.00273781191135448 * du; whole days are whole turns.
    turns = 0.779_057_273_264_0 + 0.002_737_811_911_354_48 * du + frac
    return np.mod(turns, 1.0) * 2.0 * np.pi


def _rot_z(theta: Array) -> Array:
    c, s = np.cos(theta), np.sin(theta)
    z, o = np.zeros_like(c), np.ones_like(c)
    return np.stack(
        [np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2
    )


def ecef_to_eci(r_ecef: ArrayLike, t_ns: ArrayLike, v_ecef: ArrayLike | None = None):
    """ECEF position (..., 3) [and velocity] at time ``t_ns`` (...) to ECI.

    Returns the position, or ``(r_eci, v_eci)`` when a velocity is given:
    ``v_eci = R (v_ecef + omega x r_ecef)``.
    """
    rot = _rot_z(earth_rotation_angle(t_ns))
    r = _f(r_ecef)
    r_eci = np.einsum("...ij,...j->...i", rot, r)
    if v_ecef is None:
        return r_eci
    w = np.array([0.0, 0.0, OMEGA])
    v_eci = np.einsum("...ij,...j->...i", rot, _f(v_ecef) + np.cross(w, r))
    return r_eci, v_eci


def eci_to_ecef(r_eci: ArrayLike, t_ns: ArrayLike, v_eci: ArrayLike | None = None):
    """Inverse of :func:`ecef_to_eci`."""
    rot = _rot_z(earth_rotation_angle(t_ns))
    r = np.einsum("...ji,...j->...i", rot, _f(r_eci))
    if v_eci is None:
        return r
    w = np.array([0.0, 0.0, OMEGA])
    v = np.einsum("...ji,...j->...i", rot, _f(v_eci)) - np.cross(w, r)
    return r, v
