"""From released SystemTrack messages to ThreatInputs, and from warnings to Warning messages."""

from __future__ import annotations

import dataclasses
import math

import msgspec
import numpy as np
import pytest
from alerts_fixtures import T0_NS, D, flight

from trilink import messages
from trilink.alerts.adapters import threat_from_system_track, warning_fields
from trilink.alerts.rules import assess
from trilink.alerts.state import run_warnings
from trilink.alerts.territory import load_territory


def _system_track(threat, status="confirmed", number=42):
    imp = threat.impact
    cov = np.diag([300.0**2, 300.0**2, 300.0**2, 10.0**2, 10.0**2, 10.0**2])
    return messages.SystemTrack(
        source="HUB",
        measured_ns=threat.t_ns,
        releasability=("USA", "KOR", "JPN"),
        system_track_number=number,
        state_ecef=(*map(float, threat.r_ecef_m), *map(float, threat.v_ecef_mps)),
        covariance_ecef=messages.pack_covariance(cov.tolist()),
        phase=threat.phase,
        status=status,
        quality=10,
        launch=messages.GroundPoint(
            lat_deg=39.17,
            lon_deg=127.48,
            t_ns=T0_NS,
            t_sigma_s=2.0,
            ellipse=messages.Ellipse(sigma_major_m=3e3, sigma_minor_m=1e3, major_azimuth_deg=10.0),
        ),
        impact=messages.GroundPoint(
            lat_deg=math.degrees(imp.lat_rad),
            lon_deg=math.degrees(imp.lon_rad),
            t_ns=imp.t_ns,
            t_sigma_s=imp.t_sigma_s,
            ellipse=messages.Ellipse(
                sigma_major_m=float(imp.semi_major_m),
                sigma_minor_m=float(imp.semi_minor_m),
                major_azimuth_deg=math.degrees(imp.orientation_rad),
            ),
        ),
    )


def test_system_track_becomes_a_threat_input():
    src = flight()[30]
    t = threat_from_system_track(_system_track(src))
    assert t.track_id == "42" and t.status == "in_flight" and t.confirmed
    assert t.phase == src.phase and t.t_ns == src.t_ns
    np.testing.assert_allclose(t.r_ecef_m, src.r_ecef_m)
    assert t.impact.semi_major_m == pytest.approx(src.impact.semi_major_m)
    assert t.impact.orientation_rad == pytest.approx(D(70.0))
    assert t.launch_lat_rad == pytest.approx(D(39.17))
    assert t.cov_pos_ecef_m2[0, 0] == pytest.approx(300.0**2)
    # Geodesic ground track from the sub-missile point to the impact point, every <= 20 km.
    gt = t.ground_track_rad
    assert gt[-1] == pytest.approx([src.impact.lat_rad, src.impact.lon_rad], abs=1e-9)
    assert len(gt) > 10
    assert assess(t, load_territory("JPN")).level == "threat"


@pytest.mark.parametrize(
    "index, status, expected, confirmed",
    [
        (30, "tentative", "in_flight", False),
        (30, "lost", "lost", True),  # lost high in flight
        (60, "lost", "impacted", True),  # last state on the ground at the impact time
    ],
)
def test_status_mapping(index, status, expected, confirmed):
    src = flight()[index]
    t = threat_from_system_track(_system_track(src, status=status))
    assert (t.status, t.confirmed) == (expected, confirmed)


def test_warning_fields_make_a_valid_warning_message():
    jpn = load_territory("JPN")
    threats = [
        threat_from_system_track(
            _system_track(s, "lost" if s.status == "impacted" else "confirmed")
        )
        for s in flight()
    ]
    events = run_warnings(threats, jpn)
    assert events[0].msg_type == "Alert" and events[-1].msg_type == "Cancel"
    for e in events:
        w = messages.Warning(
            source="HUB", measured_ns=e.sent_t_ns, releasability=("JPN",), **warning_fields(e)
        )
        # Round trip through the contract's own validation (ranges, lengths, literals).
        back = msgspec.json.decode(msgspec.json.encode(w), type=messages.Warning)
        assert back.warning_id == e.identifier and back.system_track_number == 42
        if back.impact_polygon:
            assert (
                back.impact_polygon[0] == back.impact_polygon[-1] and len(back.impact_polygon) >= 4
            )
    last = messages.Warning(
        source="HUB", measured_ns=1, releasability=("JPN",), **warning_fields(events[-1])
    )
    assert last.references == tuple(e.identifier for e in events[:-1])
    assert last.urgency == "Past" and last.certainty == "Observed"
    first = warning_fields(events[0])
    assert first["urgency"] == "Immediate" and first["event"] == "Missile threat"
    assert first["time_to_impact_s"] == pytest.approx(600.0)


def test_track_numbers_must_be_integers():
    event = run_warnings(flight()[:2], load_territory("JPN"))[0]
    with pytest.raises(ValueError):
        warning_fields(dataclasses.replace(event, track_id="T0001"))
