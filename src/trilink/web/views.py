"""Messages as the page reads them: plain JSON-ready dicts in degrees, metres and ms.

The page gets what it needs to draw and nothing it would have to compute with a
geodesy library: geodetic position and height of a track, its speed and course in the
local east/north/up frame, and its 1-sigma horizontal position ellipse from the
covariance. Ellipse *rings* are drawn by the page from (centre, sigma axes, azimuth);
ground points already travel that way on the wire.

Times for the page are **milliseconds since the Unix epoch as floats** (``*_ms``): a
JavaScript number holds integers exactly only up to 2**53, and nanoseconds since 1970
(~1.8e18) are past that; milliseconds as a float keep sub-microsecond resolution.

Frames and units: ECEF (WGS84) metres in, geodetic latitude/longitude in degrees and
heights above the ellipsoid in metres out; azimuths clockwise from true north, degrees.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trilink.alerts.ellipse import ellipse_from_covariance
from trilink.geo.frames import ecef_to_geodetic, enu_rotation
from trilink.messages import (
    GroundPoint,
    Heartbeat,
    LaunchEvent,
    SystemTrack,
    Warning,
    unpack_covariance,
)

View = dict[str, Any]
NS_PER_MS = 1_000_000


def ms(t_ns: int | None) -> float | None:
    """UTC nanoseconds -> float milliseconds (None stays None)."""
    return None if t_ns is None else t_ns / NS_PER_MS


def ground_point_view(g: GroundPoint | None) -> View | None:
    """A launch or impact point: centre, time and its 1-sigma ground ellipse."""
    if g is None:
        return None
    return {
        "lat": g.lat_deg,
        "lon": g.lon_deg,
        "t_ms": ms(g.t_ns),
        "t_sigma_s": g.t_sigma_s,
        "sigma_major_m": g.ellipse.sigma_major_m,
        "sigma_minor_m": g.ellipse.sigma_minor_m,
        "azimuth_deg": g.ellipse.major_azimuth_deg,
    }


def kinematics(state_ecef: tuple[float, ...], covariance_ecef: tuple[float, ...]) -> View:
    """Geodetic position, local velocity and horizontal 1-sigma ellipse of an ECEF state.

    The position covariance is rotated into the local east/north/up frame at the track,
    ``P_enu = R P_xyz R^T`` (rows of R: east, north, up in ECEF); its east/north block gives
    the horizontal ellipse (:func:`trilink.alerts.ellipse.ellipse_from_covariance`) and its
    up element the vertical sigma.
    """
    x = np.asarray(state_ecef, dtype=float)
    lat, lon, h = ecef_to_geodetic(x[:3])
    rot = enu_rotation(lat, lon)
    v_enu = rot @ x[3:]
    p_pos = np.asarray(unpack_covariance(covariance_ecef), dtype=float)[:3, :3]
    p_enu = rot @ p_pos @ rot.T
    a, b, az = ellipse_from_covariance(p_enu[:2, :2])
    return {
        "lat": math.degrees(float(lat)),
        "lon": math.degrees(float(lon)),
        "alt_m": float(h),
        "speed_mps": float(np.linalg.norm(x[3:])),
        "ground_speed_mps": float(math.hypot(v_enu[0], v_enu[1])),
        "course_deg": math.degrees(math.atan2(v_enu[0], v_enu[1])) % 360.0,
        "climb_mps": float(v_enu[2]),
        "sigma": {
            "major_m": float(a),
            "minor_m": float(b),
            "azimuth_deg": math.degrees(float(az)),
            "vertical_m": math.sqrt(max(0.0, float(p_enu[2, 2]))),
        },
    }


def track_view(msg: SystemTrack, received_ns: int, trail: list[list[float]]) -> View:
    """A system track as the page draws it; ``trail`` is ``[[lat, lon, alt_m], ...]``."""
    view: View = {
        "number": msg.system_track_number,
        "t_ms": ms(msg.measured_ns),
        "received_ms": ms(received_ns),
        "phase": msg.phase,
        "status": msg.status,
        "quality": msg.quality,
        "missile_class": msg.missile_class,
        "apogee_m": msg.apogee_height_m,
        "launch": ground_point_view(msg.launch),
        "impact": ground_point_view(msg.impact),
        "time_to_impact_s": (
            None if msg.impact is None else (msg.impact.t_ns - msg.measured_ns) / 1e9
        ),
        "sources": sorted({s.nation for s in msg.sources}),
        "rel": list(msg.releasability),
        "trail": trail,
        "state_ecef": list(msg.state_ecef),  # the page propagates the ballistic path from it
    }
    view.update(kinematics(msg.state_ecef, msg.covariance_ecef))
    return view


def launch_view(msg: LaunchEvent, received_ns: int) -> View:
    return {
        "number": msg.system_track_number,
        "t_ms": ms(msg.measured_ns),
        "received_ms": ms(received_ns),
        "launch": ground_point_view(msg.launch),
        "first_detection_ms": ms(msg.first_detection_ns),
        "detecting": list(msg.detecting_nations),
        "missile_class": msg.missile_class,
        "rel": list(msg.releasability),
    }


def warning_view(msg: Warning, received_ns: int, active: bool) -> View:
    """A warning; ``polygon`` is ``[[lat, lon], ...]`` as on the wire."""
    return {
        "id": msg.warning_id,
        "partner": msg.partner,
        "number": msg.system_track_number,
        "msg_type": msg.msg_type,
        "references": list(msg.references),
        "event": msg.event,
        "urgency": msg.urgency,
        "severity": msg.severity,
        "certainty": msg.certainty,
        "polygon": [[lat, lon] for lat, lon in msg.impact_polygon],
        "impact_ms": ms(msg.impact_t_ns),
        "time_to_impact_s": msg.time_to_impact_s,
        "area_desc": msg.area_desc,
        "text": msg.text,
        "t_ms": ms(msg.measured_ns),
        "received_ms": ms(received_ns),
        "rel": list(msg.releasability),
        "active": active,
        "closed_by": None,
    }


def status_view(msg: Heartbeat, received_ns: int) -> View:
    return {
        "source": msg.source,
        "state": msg.state,
        "uptime_s": msg.uptime_s,
        "deadletters": msg.deadletters,
        "t_ms": ms(msg.measured_ns),
        "received_ms": ms(received_ns),
    }
