"""CAP 1.2 (OASIS Common Alerting Protocol, 2010) XML for one warning message.

Mapping of a :class:`~trilink.alerts.state.WarningEvent` (see docs/alerts.md for the table):

=================  =====================================================================
CAP element        value
=================  =====================================================================
identifier         ``<prefix>-<partner>-<track>-<seq>`` (no spaces, commas, ``<``, ``&``)
sent               the decision time, whole seconds, UTC as ``-00:00`` (CAP 3.3.2)
status             ``Exercise`` by default: trilink is a simulation
msgType            Alert / Update / Cancel; Update and Cancel carry ``references``: every
                   earlier message of the thread as ``sender,identifier,sent``
scope              ``Public`` (or ``Restricted`` with a ``restriction`` text)
incidents          ``<prefix>-<track>``: one incident per missile, across partners
info/category      ``Security`` (CAP's category for military matters)
info/event         Missile launch / Missile threat / Missile overflight
responseType       Monitor (launch), Shelter (threat), AllClear (downgrade, Cancel)
urgency            Expected (launch), Immediate (threat), Past (Cancel)
severity           Minor (launch, Cancel); Extreme (impact on land or in the territorial
                   sea); Severe (impact in the 200-nm zone, or overflight only)
certainty          Observed (launch, Cancel); Likely / Possible from the rules
expires            impact time + 10 min (or sent + 30 min without a prediction; Cancel:
                   sent + 10 min)
area               the 95 % impact ellipse as a closed polygon (``lat,lon`` pairs, first =
                   last, 37 points) and a covering circle ``lat,lon radius_km``; without
                   a prediction, the launch point as a circle of radius 0
parameter          machine-readable values (track, phase, time to impact, ellipse, ...)
=================  =====================================================================
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from trilink.alerts.ellipse import K95
from trilink.alerts.state import WarningEvent
from trilink.alerts.timefmt import cap_time

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
DEFAULT_SENDER = "hub@trilink.example"
STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
SCOPES = ("Public", "Restricted", "Private")

_SHELTER = (
    "Take shelter at once in a sturdy building or underground; stay away from windows. "
    "Outdoors with no building near: take cover behind something solid or lie flat and "
    "protect your head."
)
_WATERS = (
    "Vessels and aircraft in or near the area: stay clear and watch for falling objects. "
    "Do not approach anything that has fallen; report it to the authorities."
)


def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, _q(tag))
    el.text = text
    return el


def _deg(lat_rad: float, lon_rad: float) -> tuple[float, float]:
    lat = math.degrees(lat_rad)
    lon = (math.degrees(lon_rad) + 180.0) % 360.0 - 180.0
    return lat, lon


def _where(lat_rad: float, lon_rad: float) -> str:
    lat, lon = _deg(lat_rad, lon_rad)
    return f"{abs(lat):.2f}{'N' if lat >= 0 else 'S'} {abs(lon):.2f}{'E' if lon >= 0 else 'W'}"


def _mmss(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    s = max(0, round(seconds))
    return f"{s // 60} min {s % 60:02d} s"


_PLACE_TEXT = {
    "land": "territory (land)",
    "territorial": "territorial sea (12 nm, approx.)",
    "zone": "waters (200-nm zone, approx.)",
    "outside": "outside its waters",
}


def _event_name(event: WarningEvent) -> str:
    a = event.assessment
    if event.msg_type == "Cancel":
        # A Cancel names the event it ends, as the thread last described it.
        return "Missile threat" if event.prior_level == "threat" else "Missile launch"
    if event.level == "threat":
        return "Missile threat" if a.threat_impact or a.held else "Missile overflight"
    return "Missile launch"


def _severity(event: WarningEvent) -> str:
    a = event.assessment
    if event.level != "threat":
        return "Minor"
    return "Extreme" if a.impact_place in ("land", "territorial") else "Severe"


def cap_codes(event: WarningEvent) -> tuple[list[str], str, str, str]:
    """``(responseTypes, urgency, severity, certainty)`` of a warning (table above)."""
    if event.msg_type == "Cancel":
        return ["AllClear"], "Past", "Minor", "Observed"
    if event.level == "threat":
        return ["Shelter"], "Immediate", _severity(event), event.assessment.certainty
    responses = ["AllClear", "Monitor"] if event.reason == "downgraded" else ["Monitor"]
    return responses, "Expected", "Minor", "Observed"


def event_name(event: WarningEvent) -> str:
    """CAP ``event`` text of a warning."""
    return _event_name(event)


def headline(event: WarningEvent) -> str:
    """CAP ``headline`` of a warning."""
    return _headline(event)


def description(event: WarningEvent) -> str:
    """CAP ``description`` of a warning."""
    return _description(event)


def _headline(event: WarningEvent) -> str:
    a, name = event.assessment, event.partner_name
    if event.msg_type == "Cancel":
        if event.reason == "impacted":
            return f"All clear for {name}: the missile has come down"
        return f"All clear for {name}: missile track ended, predicted impact time passed"
    tti = f" in {_mmss(a.time_to_impact_s)}" if math.isfinite(a.time_to_impact_s) else ""
    if event.level == "threat":
        if (a.threat_impact or a.held) and a.impact_place == "outside":
            # Held by hysteresis: the 95 % ellipse has just left the partner's areas.
            return f"MISSILE THREAT: possible impact near {name}'s 200-nm zone{tti}"
        if a.threat_impact or a.held:
            return f"MISSILE THREAT: possible impact in {name}'s {_PLACE_TEXT[a.impact_place]}{tti}"
        return f"MISSILE OVERFLIGHT: missile expected to pass over {name}{tti}"
    if event.reason == "downgraded":
        return f"Missile launch: {name} no longer threatened"
    if event.threat.impact is None:
        return "Missile launch detected: impact prediction pending"
    return f"Missile launch detected: no threat to {name} predicted"


def _description(event: WarningEvent) -> str:
    t, a = event.threat, event.assessment
    lines = [f"System track {t.track_id}, phase {t.phase}, status {t.status}."]
    if t.has_launch_point:
        when = f" at {cap_time(t.launch_t_ns)}" if t.launch_t_ns is not None else ""
        lines.append(f"Launch point {_where(t.launch_lat_rad, t.launch_lon_rad)}{when}.")
    if t.impact is not None:
        imp = t.impact
        lines.append(
            f"Predicted impact {_where(imp.lat_rad, imp.lon_rad)} at {cap_time(imp.t_ns)} "
            f"(+-{imp.t_sigma_s:.0f} s, 1 sigma); 95% ellipse {K95 * imp.semi_major_m / 1e3:.1f} x "
            f"{K95 * imp.semi_minor_m / 1e3:.1f} km (semi-axes), major axis at "
            f"{math.degrees(imp.orientation_rad):.0f} deg."
        )
        if event.msg_type != "Cancel":
            lines.append(f"Time to impact {_mmss(a.time_to_impact_s)}.")
            if a.distance_to_zone_m > 0:
                d = a.distance_to_zone_m
                far = f"{d / 1e3:.0f} km" if math.isfinite(d) else "more than 2000 km"
                lines.append(
                    f"The 3-sigma ellipse is {far} from {event.partner_name}'s 200-nm zone."
                )
            else:
                lines.append(
                    f"The 95% ellipse reaches {event.partner_name}'s {_PLACE_TEXT[a.impact_place]}."
                )
    if a.overflight:
        lines.append(f"The predicted ground track passes over {event.partner_name}.")
    if a.held:
        lines.append("The threat is held until the 3-sigma ellipse is well clear of the zone.")
    if event.changes:
        lines.append("Changes: " + "; ".join(event.changes) + ".")
    if event.msg_type == "Cancel" and event.reason == "impacted":
        where = _where(t.impact.lat_rad, t.impact.lon_rad) if t.impact is not None else "unknown"
        place = f"{event.partner_name}'s {_PLACE_TEXT[a.nominal_place]}"
        if a.nominal_place == "outside":
            place = f"outside {event.partner_name}'s waters"
        lines.append(f"The missile came down at {where}, {place}.")
    elif event.msg_type == "Cancel":
        lines.append("The track ended and its predicted impact time has passed.")
    return " ".join(lines)


def _instruction(event: WarningEvent) -> str:
    a = event.assessment
    if event.msg_type == "Cancel" or event.level != "threat":
        return "No protective action is needed. Stay informed through official channels."
    if a.impact_place in ("land", "territorial") or a.overflight:
        return _SHELTER
    return _WATERS


def _parameters(event: WarningEvent) -> list[tuple[str, str]]:
    t, a = event.threat, event.assessment
    out = [
        ("trackId", t.track_id),
        ("phase", t.phase),
        ("level", event.level),
        ("reason", event.reason),
    ]
    if t.impact is not None:
        lat, lon = _deg(t.impact.lat_rad, t.impact.lon_rad)
        out += [
            ("impactLatLon", f"{lat:.5f},{lon:.5f}"),
            ("impactTime", cap_time(t.impact.t_ns)),
            ("impactTimeSigmaS", f"{t.impact.t_sigma_s:.1f}"),
            ("impactSemiMajor1SigmaM", f"{t.impact.semi_major_m:.0f}"),
            ("impactSemiMinor1SigmaM", f"{t.impact.semi_minor_m:.0f}"),
            ("impactOrientationDeg", f"{math.degrees(t.impact.orientation_rad):.1f}"),
        ]
    if math.isfinite(a.time_to_impact_s) and event.msg_type != "Cancel":
        out.append(("timeToImpactS", f"{a.time_to_impact_s:.0f}"))
    if math.isfinite(a.distance_to_zone_m):
        out.append(("distanceToZoneKm", f"{a.distance_to_zone_m / 1e3:.1f}"))
    out.append(("overflight", "true" if a.overflight else "false"))
    return out


def cap_polygon(ring_rad) -> str:
    """CAP ``polygon`` text: whitespace-separated ``lat,lon`` pairs in degrees, closed."""
    pairs = [_deg(lat, lon) for lat, lon in ring_rad]
    if pairs[0] != pairs[-1]:
        pairs.append(pairs[0])
    return " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in pairs)


def to_cap(
    event: WarningEvent,
    *,
    sender: str = DEFAULT_SENDER,
    status: str = "Exercise",
    scope: str = "Public",
    restriction: str | None = None,
    sender_name: str = "trilink coalition hub (simulation)",
    id_prefix: str = "trilink",
    language: str = "en-US",
) -> str:
    """The CAP 1.2 ``<alert>`` document for one warning event, as an XML string."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}")
    if any(c in sender for c in " ,<&"):
        raise ValueError("CAP sender must not contain spaces, commas, '<' or '&'")

    ET.register_namespace("", CAP_NS)
    alert = ET.Element(_q("alert"))
    _sub(alert, "identifier", event.identifier)
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(event.sent_t_ns))
    _sub(alert, "status", status)
    _sub(alert, "msgType", event.msg_type)
    _sub(alert, "scope", scope)
    if scope == "Restricted":
        _sub(alert, "restriction", restriction or "Coalition warning partners only")
    if status == "Exercise":
        _sub(alert, "note", "Simulation: trilink exercise message, not a real warning.")
    if event.references:
        refs = " ".join(
            f"{sender},{r.identifier},{cap_time(r.sent_t_ns)}" for r in event.references
        )
        _sub(alert, "references", refs)
    _sub(alert, "incidents", f"{id_prefix}-{event.track_id}".replace(" ", "_").replace(",", "_"))

    info = ET.SubElement(alert, _q("info"))
    _sub(info, "language", language)
    _sub(info, "category", "Security")
    _sub(info, "event", _event_name(event))
    responses, urgency, severity, certainty = cap_codes(event)
    for r in responses:
        _sub(info, "responseType", r)
    _sub(info, "urgency", urgency)
    _sub(info, "severity", severity)
    _sub(info, "certainty", certainty)
    _sub(info, "audience", f"{event.partner_name} ({event.partner})")
    code = ET.SubElement(info, _q("eventCode"))
    _sub(code, "valueName", "trilink")
    _sub(code, "value", f"MISSILE-{event.level.upper()}")
    if event.msg_type == "Cancel" or event.threat.impact is None:
        expires = event.sent_t_ns + (600 if event.msg_type == "Cancel" else 1800) * 10**9
    else:
        expires = max(event.threat.impact.t_ns, event.sent_t_ns) + 600 * 10**9
    _sub(info, "expires", cap_time(expires))
    _sub(info, "senderName", sender_name)
    _sub(info, "headline", _headline(event))
    _sub(info, "description", _description(event))
    _sub(info, "instruction", _instruction(event))
    for name, value in _parameters(event):
        p = ET.SubElement(info, _q("parameter"))
        _sub(p, "valueName", name)
        _sub(p, "value", value)

    area = ET.SubElement(info, _q("area"))
    t = event.threat
    if t.impact is not None:
        imp = t.impact
        _sub(
            area,
            "areaDesc",
            f"Predicted impact area (95%) around {_where(imp.lat_rad, imp.lon_rad)}",
        )
        _sub(area, "polygon", cap_polygon(imp.ring(K95, n=36)))
        lat, lon = _deg(imp.lat_rad, imp.lon_rad)
        _sub(area, "circle", f"{lat:.4f},{lon:.4f} {K95 * imp.semi_major_m / 1e3:.1f}")
    elif t.has_launch_point:
        _sub(area, "areaDesc", f"Launch point {_where(t.launch_lat_rad, t.launch_lon_rad)}")
        lat, lon = _deg(t.launch_lat_rad, t.launch_lon_rad)
        _sub(area, "circle", f"{lat:.4f},{lon:.4f} 0")
    else:
        _sub(area, "areaDesc", f"{event.partner_name} and its waters")
    return ET.tostring(alert, encoding="unicode", xml_declaration=False)


def to_cap_document(event: WarningEvent, **kwargs) -> bytes:
    """:func:`to_cap` with an XML declaration, UTF-8 encoded (what a file or feed holds)."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + to_cap(event, **kwargs).encode("utf-8")
