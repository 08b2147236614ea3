"""Between the message contract (:mod:`trilink.messages`) and this package's plain values.

- :func:`threat_from_system_track`: a released ``SystemTrack`` (what a partner receives)
  to the :class:`ThreatInput` the rules, CoT and exports use;
- :func:`warning_fields`: a :class:`WarningEvent` to the fields of a ``messages.Warning``
  (the node adds the envelope: id, source, sequence, times, releasability, signature).

Status mapping: ``confirmed`` -> in flight; ``tentative`` -> in flight, unconfirmed (no
warning yet); ``lost`` -> *impacted* when the last state is below ``impacted_height_m``
(1 km) or at/after the predicted impact time, otherwise *lost*. Whatever the status, a
state below ``impacted_height_m`` that is not rising is *impacted*: a hub coasts a track
past the impact (below the ground) before it ends it.

The overflight test needs the remaining ground track. A SystemTrack carries no sampled
prediction, so unless the caller passes one, it is the WGS84 geodesic from the current
sub-missile point to the predicted impact point, sampled every 20 km: a ballistic
missile's Earth-fixed ground track bends away from that geodesic only through Earth's
rotation, by up to tens of kilometres for an IRBM: a stated approximation, good enough
to tell "over Honshu" from "over the Sea of Japan", not for a ragged coastline.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from trilink import messages
from trilink.alerts.cap import cap_codes, description, event_name, headline
from trilink.alerts.ellipse import K95
from trilink.alerts.rules import ImpactPrediction, ThreatInput
from trilink.alerts.state import WarningEvent
from trilink.geo.frames import ecef_to_geodetic, enu_rotation
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse


def ground_point_to_impact(gp: messages.GroundPoint) -> ImpactPrediction:
    """A message GroundPoint (degrees, 1-sigma ellipse) as an ImpactPrediction (radians)."""
    e = gp.ellipse
    return ImpactPrediction(
        lat_rad=math.radians(gp.lat_deg),
        lon_rad=math.radians(gp.lon_deg),
        t_ns=gp.t_ns,
        t_sigma_s=gp.t_sigma_s,
        semi_major_m=e.sigma_major_m,
        semi_minor_m=e.sigma_minor_m,
        orientation_rad=math.radians(e.major_azimuth_deg),
    )


def geodesic_ground_track(
    lat_rad: float, lon_rad: float, impact: ImpactPrediction, step_m: float = 20e3
) -> NDArray[np.float64]:
    """``[lat, lon]`` rad samples (K, 2) along the geodesic to the impact point."""
    s12, az1, _ = geodesic_inverse(lat_rad, lon_rad, impact.lat_rad, impact.lon_rad)
    n = max(2, math.ceil(float(s12) / step_m) + 1)
    lat, lon = geodesic_direct(lat_rad, lon_rad, az1, np.linspace(0.0, float(s12), n))
    return np.column_stack([lat, lon])


def threat_from_system_track(
    msg: messages.SystemTrack,
    *,
    ground_track_rad: NDArray[np.float64] | None = None,
    impacted_height_m: float = 1e3,
    step_m: float = 20e3,
) -> ThreatInput:
    """The rules' view of one released system track (see module notes)."""
    state = np.asarray(msg.state_ecef, dtype=float)
    cov = np.asarray(messages.unpack_covariance(msg.covariance_ecef), dtype=float)
    lat, lon, h = (float(x) for x in ecef_to_geodetic(state[:3]))
    impact = ground_point_to_impact(msg.impact) if msg.impact is not None else None
    if msg.status == "lost":
        fallen = h < impacted_height_m or (impact is not None and msg.measured_ns >= impact.t_ns)
        status = "impacted" if fallen else "lost"
    elif h < impacted_height_m and float(enu_rotation(lat, lon)[2] @ state[3:]) <= 0.0:
        # Down below 1 km and descending: fallen, whatever the status says. A hub coasts
        # a track past the impact before it ends it (measured in a simulated SRBM run:
        # confirmed tracks down to -17 km); a missile in boost near the ground is rising.
        status = "impacted"
    else:
        status = "in_flight"
    if ground_track_rad is None:
        ground_track_rad = (
            geodesic_ground_track(lat, lon, impact, step_m)
            if impact is not None and status == "in_flight"
            else np.zeros((0, 2))
        )
    launch = msg.launch
    return ThreatInput(
        track_id=str(msg.system_track_number),
        t_ns=msg.measured_ns,
        status=status,
        phase=msg.phase,
        confirmed=msg.status != "tentative",
        launch_lat_rad=math.radians(launch.lat_deg) if launch else math.nan,
        launch_lon_rad=math.radians(launch.lon_deg) if launch else math.nan,
        launch_t_ns=launch.t_ns if launch else None,
        impact=impact,
        ground_track_rad=ground_track_rad,
        r_ecef_m=state[:3],
        v_ecef_mps=state[3:],
        cov_pos_ecef_m2=cov[:3, :3],
        cov_vel_ecef_m2s2=cov[3:, 3:],
        missile_class=msg.missile_class or "",
    )


def _lon_deg(lon_rad: float) -> float:
    return (math.degrees(lon_rad) + 180.0) % 360.0 - 180.0


def warning_fields(event: WarningEvent, vertices: int = 36) -> dict:
    """Keyword arguments for ``messages.Warning`` (without the envelope fields)."""
    _, urgency, severity, certainty = cap_codes(event)
    impact = event.threat.impact
    polygon: tuple[tuple[float, float], ...] = ()
    area = f"{event.partner_name} and its waters"
    if impact is not None:
        ring = impact.ring(K95, n=vertices)
        polygon = tuple((round(math.degrees(la), 6), round(_lon_deg(lo), 6)) for la, lo in ring)
        area = "Predicted impact area (95%)"
    tti = event.assessment.time_to_impact_s
    text = f"{headline(event)}. {description(event)}"
    return {
        "warning_id": event.identifier,
        "partner": event.partner,
        "system_track_number": int(event.track_id),
        "msg_type": event.msg_type,
        "references": tuple(r.identifier for r in event.references),
        "event": event_name(event),
        "urgency": urgency,
        "severity": severity,
        "certainty": certainty,
        "impact_polygon": polygon,
        "impact_t_ns": impact.t_ns if impact is not None else None,
        "time_to_impact_s": tti if math.isfinite(tti) else None,
        "area_desc": area,
        "text": text[:4096],
    }
