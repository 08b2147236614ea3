"""Between the numerical rooms' values and the wire's messages (the ICD's units).

Inside: radians, SI, numpy arrays. On the wire: degrees for angles people read, ECEF
metres for states, 21-float upper-triangle covariances. Everything here is pure.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from trilink.messages import Ellipse, GroundPoint, pack_covariance, track_quality, unpack_covariance
from trilink.tracking import GroundPoint as TrackGroundPoint

Array = NDArray[np.float64]

# The tracker names mid-course "midcourse"; the ICD's word is "ballistic".
PHASE_TO_WIRE = {
    "boost": "boost",
    "midcourse": "ballistic",
    "ballistic": "ballistic",
    "reentry": "reentry",
}


def phase_to_wire(phase: str) -> str:
    return PHASE_TO_WIRE.get(phase, "unknown")


def ground_point_to_wire(p: TrackGroundPoint | None) -> GroundPoint | None:
    """A tracker ground point (radians, 1-sigma metres) to the ICD's GroundPoint."""
    if p is None:
        return None
    values = (p.lat_rad, p.lon_rad, p.semi_major_m, p.semi_minor_m, p.orientation_rad, p.t_sigma_s)
    if not all(math.isfinite(v) for v in values) or p.t_ns < 0:
        return None
    major = max(p.semi_major_m, p.semi_minor_m)
    minor = min(p.semi_major_m, p.semi_minor_m)
    az = math.degrees(p.orientation_rad) % 180.0
    if az >= 180.0:  # float rounding of values a hair below 180
        az = 0.0
    lon = (math.degrees(p.lon_rad) + 180.0) % 360.0 - 180.0
    return GroundPoint(
        lat_deg=max(-90.0, min(90.0, math.degrees(p.lat_rad))),
        lon_deg=lon,
        t_ns=int(p.t_ns),
        t_sigma_s=max(0.0, float(p.t_sigma_s)),
        ellipse=Ellipse(
            sigma_major_m=float(major), sigma_minor_m=float(minor), major_azimuth_deg=az
        ),
    )


def ground_point_from_wire(g: GroundPoint | None) -> TrackGroundPoint | None:
    if g is None:
        return None
    return TrackGroundPoint(
        math.radians(g.lat_deg),
        math.radians(g.lon_deg),
        g.ellipse.sigma_major_m,
        g.ellipse.sigma_minor_m,
        math.radians(g.ellipse.major_azimuth_deg),
        g.t_ns,
        g.t_sigma_s,
    )


def symmetric(P: Array) -> Array:
    P = np.asarray(P, dtype=float)
    return 0.5 * (P + np.swapaxes(P, -1, -2))


def covariance_to_wire(P: Array) -> tuple[float, ...]:
    return pack_covariance(symmetric(P).tolist())


def covariance_from_wire(c: tuple[float, ...]) -> Array:
    return np.array(unpack_covariance(c), dtype=float)


_UPPER_I, _UPPER_J = np.triu_indices(6)  # the wire's covariance order (row-major)


def rows_to_wire(
    x: Array, P: Array
) -> tuple[list[tuple[float, ...]], list[tuple[float, ...]], list[int]]:
    """States (N, >=6), covariances (N, 6, 6) -> their wire forms and track qualities,
    all rows at once: the same values as :func:`state_to_wire`, :func:`covariance_to_wire`
    and :func:`quality_of` row by row, without their per-call cost."""
    states = [tuple(r) for r in np.asarray(x, dtype=float)[:, :6].tolist()]
    covs = [tuple(r) for r in symmetric(P)[:, _UPPER_I, _UPPER_J].tolist()]
    rms = (np.trace(np.asarray(P)[:, :3, :3], axis1=1, axis2=2) / 3.0).tolist()
    return states, covs, [track_quality(math.sqrt(max(0.0, v))) for v in rms]


def covariances_from_wire(rows: list[tuple[float, ...]]) -> Array:
    """Many wire covariances (21 floats each) -> (N, 6, 6), as :func:`covariance_from_wire`
    row by row."""
    upper = np.array(rows, dtype=float).reshape(-1, 21)
    P = np.empty((upper.shape[0], 6, 6))
    P[:, _UPPER_I, _UPPER_J] = upper
    P[:, _UPPER_J, _UPPER_I] = upper
    return P


def quality_of(P: Array) -> int:
    """Track quality 0..15 from the RMS one-sigma position error."""
    return track_quality(math.sqrt(max(0.0, float(np.trace(np.asarray(P)[:3, :3])) / 3.0)))


def state_to_wire(x: Array) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(x, dtype=float)[:6])
