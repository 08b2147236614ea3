"""The hub's warner over a real SRBM flight (Wonsan -> Sea of Japan, inside Japan's zone).

The SystemTracks are what a hub would release each cycle: the truth state of
:func:`trilink.physics.design_flight`, no prediction during boost, then an impact
prediction that starts 30 km long and 20 s late with a 1-sigma ellipse of 25 km and
converges on the true impact point; after impact, two cycles of a track coasting below
the ground (as the hub does) and a "lost" report.
"""

from __future__ import annotations

import dataclasses
import math

import capvalidator
import numpy as np
import pytest

from trilink import messages
from trilink.alerts import K95, assess, load_territory, to_cap_document
from trilink.alerts.state import MessageRef
from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.link import Stamper, decode, encode, private_key_from_seed
from trilink.nodes.warnings import (
    MAX_REFERENCES,
    make_warner,
    replay_warnings,
    warning_message,
)
from trilink.physics import design_flight
from trilink.scenario import load_scenario
from trilink.scenario.model import Nation

D = math.radians
T0_NS = 1_700_000_000_000_000_000
NS = 1_000_000_000
IMPACT_DEG = (40.0, 135.5)  # ~700 km from Wonsan, in Japan's 200-nm zone, ~120 km from Korea's
CYCLE_S = 1.0


@pytest.fixture(scope="module")
def trajectory():
    return design_flight(
        D(39.17), D(127.48), impact_lat_rad=D(IMPACT_DEG[0]), impact_lon_rad=D(IMPACT_DEG[1]),
        missile_class="SRBM", launch_t_ns=T0_NS, missile_id="srbm",
    )  # fmt: skip


def _ground(lat_rad, lon_rad, t_ns, a_m, az_deg, t_sigma_s=3.0):
    return messages.GroundPoint(
        lat_deg=math.degrees(lat_rad),
        lon_deg=math.degrees(lon_rad),
        t_ns=int(t_ns),
        t_sigma_s=t_sigma_s,
        ellipse=messages.Ellipse(
            sigma_major_m=a_m, sigma_minor_m=a_m / 3.0, major_azimuth_deg=az_deg % 180.0
        ),
    )


def system_track(traj, t_ns, partner, status="confirmed", number=7, r=None, v=None):
    """What the hub would release to ``partner`` about the flight at ``t_ns``."""
    launch_t, impact_t = int(traj.t_ns[0]), int(traj.t_ns[-1])
    if r is None:
        r, v, _ = traj.state_at(int(t_ns))
    lat0, lon0, _ = ecef_to_geodetic(traj.r_ecef_m[0])
    lat1, lon1, _ = ecef_to_geodetic(traj.r_ecef_m[-1])
    _, az_track, _ = geodesic_inverse(lat0, lon0, lat1, lon1)
    impact = None
    since_bo_s = (t_ns - traj.burnout_t_ns) / NS
    if since_bo_s >= 5.0 and status != "lost":
        decay = math.exp(-since_bo_s / 60.0)
        # overshoot along the track, late, and a shrinking ellipse: converging on truth
        la, lo = geodesic_direct(lat1, lon1, float(az_track), np.array([30e3 * decay]))
        impact = _ground(
            float(la[0]), float(lo[0]), impact_t + 20 * NS * decay,
            25e3 * math.exp(-since_bo_s / 80.0) + 800.0, math.degrees(float(az_track)),
        )  # fmt: skip
    cov = np.diag([300.0**2] * 3 + [10.0**2] * 3)
    return messages.SystemTrack(
        source="HUB",
        measured_ns=int(t_ns),
        releasability=(partner,),
        system_track_number=number,
        state_ecef=(*map(float, r), *map(float, v)),
        covariance_ecef=messages.pack_covariance(cov.tolist()),
        phase="boost" if t_ns < traj.burnout_t_ns else "ballistic",
        status=status,
        quality=12,
        launch=_ground(lat0, lon0, launch_t, 2e3, 80.0),
        impact=impact,
        sources=(messages.SourceTrack(nation="KOR"), messages.SourceTrack(nation="USA")),
    )


def run_cycles(traj):
    """``(t_ns, {partner: [tracks]})`` per cycle: flight, then below-ground coast, then lost."""
    launch_t, impact_t = int(traj.t_ns[0]), int(traj.t_ns[-1])
    out = []
    t = launch_t + 10 * NS
    while t <= impact_t:
        out.append((t, "confirmed", None, None))
        t += int(CYCLE_S * NS)
    r_end, v_end = traj.r_ecef_m[-1], traj.v_ecef_mps[-1]
    for k in (1, 2):  # coasting on below the ground, as a hub's track does
        out.append((t, "confirmed", r_end + v_end * k * CYCLE_S, v_end))
        t += int(CYCLE_S * NS)
    out.append((t, "lost", r_end + v_end * 3 * CYCLE_S, v_end))
    return out


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("korea-japan")


@pytest.fixture(scope="module")
def warnings_run(trajectory, scenario):
    """Every partner's Warning messages and events, cycle by cycle."""
    warner = make_warner(scenario, keep=True)
    sent: dict[str, list[messages.Warning]] = {}
    for t, status, r, v in run_cycles(trajectory):
        for partner in ("JPN", "KOR", "USA"):
            track = system_track(trajectory, t, partner, status, r=r, v=v)
            sent.setdefault(partner, []).extend(warner(partner, [track], t))
    return sent, warner.history


def test_japan_gets_alert_updates_then_cancel_after_impact(warnings_run, trajectory):
    sent, history = warnings_run
    jpn = sent["JPN"]
    types = [w.msg_type for w in jpn]
    assert types[0] == "Alert" and types[-1] == "Cancel"
    assert set(types[1:-1]) == {"Update"} and len(types) >= 3
    # The Alert is the launch warning (no prediction in boost), then the threat.
    assert jpn[0].event == "Missile launch" and jpn[0].urgency == "Expected"
    threat = [w for w in jpn if w.urgency == "Immediate"]
    assert threat and threat[0].event == "Missile threat" and threat[0].severity == "Severe"
    events = history["JPN"]
    assert events[1].reason == "escalated"
    assert {e.assessment.impact_place for e in events if e.level == "threat"} == {"zone"}
    # Cancel as the track reaches the ground (below 1 km and descending: within a cycle
    # of the true impact), not only when the hub finally reports it lost.
    cancel = events[-1]
    assert cancel.reason == "impacted" and cancel.threat.status == "impacted"
    assert abs(cancel.threat.t_ns - int(trajectory.t_ns[-1])) <= CYCLE_S * NS
    assert cancel.assessment.nominal_place == "zone"
    # The thread: every message references all the earlier ones.
    ids = [w.warning_id for w in jpn]
    assert len(set(ids)) == len(ids)
    for i, w in enumerate(jpn):
        assert w.references == tuple(ids[:i])


def test_korea_and_usa_get_the_launch_but_no_threat(warnings_run):
    sent, history = warnings_run
    for partner in ("KOR", "USA"):
        ws = sent[partner]
        assert [w.msg_type for w in ws] == ["Alert", "Cancel"], partner
        assert ws[0].event == "Missile launch" and ws[0].urgency == "Expected"
        assert all(w.urgency != "Immediate" for w in ws)
        assert all(e.level != "threat" for e in history[partner])
    assert history["KOR"][0].threat.impact is None  # the Alert came in boost
    # Korea's zone is well away: every prediction Japan was warned of keeps its 3-sigma
    # ellipse more than 50 km from Korea's zone ("far": no threat, none held).
    kor = load_territory("KOR")
    threats = [e.threat for e in history["JPN"] if e.level == "threat"]
    assert threats
    for t in threats:
        a = assess(t, kor)
        assert a.level == "launch" and a.distance_to_zone_m > 50e3


def test_every_warning_is_a_valid_message_and_its_cap_validates(warnings_run):
    sent, history = warnings_run
    key = private_key_from_seed(bytes(32))
    stamper = Stamper("HUB", key)
    for partner, ws in sent.items():
        for w, event in zip(ws, history[partner], strict=True):
            assert w.source == "HUB" and w.releasability == (partner,) and w.partner == partner
            assert w.message_id == "" and w.seq == 0 and w.signature == b""  # unstamped
            stamped = stamper.stamp(w, w.measured_ns + 1000)
            back = decode(encode(stamped))  # the contract's full validation
            assert back == stamped
            if w.impact_t_ns is not None and w.time_to_impact_s is not None:
                assert w.time_to_impact_s == pytest.approx(
                    (w.impact_t_ns - w.measured_ns) / NS, abs=1e-3
                )
            result = capvalidator.check_schema(to_cap_document(event))
            assert result.passed, event.identifier


def test_threat_polygon_is_the_95_percent_ellipse(warnings_run):
    sent, history = warnings_run
    for w, e in zip(sent["JPN"], history["JPN"], strict=True):
        if w.msg_type == "Update" and e.threat.impact is not None:
            lat, lon = (math.radians(x) for x in w.impact_polygon[0])
            imp = e.threat.impact
            d = float(geodesic_inverse(imp.lat_rad, imp.lon_rad, lat, lon)[0])
            assert imp.semi_minor_m * K95 - 1.0 <= d <= imp.semi_major_m * K95 + 1.0


def test_deterministic_and_equal_to_a_replay(trajectory, scenario):
    def run():
        warner = make_warner(scenario)
        out, cycles = [], []
        for t, status, r, v in run_cycles(trajectory):
            track = system_track(trajectory, t, "JPN", status, r=r, v=v)
            cycles.append((t, [track]))
            out.extend(warner("JPN", [track], t))
        return out, cycles

    first, cycles = run()
    second, _ = run()
    assert [encode(w) for w in first] == [encode(w) for w in second]
    replayed = replay_warnings(cycles, load_territory("JPN"), id_prefix="trilink-korea-japan")
    assert [warning_message(e) for e in replayed] == first


def test_lost_high_track_is_cancelled_after_predicted_impact_plus_grace(trajectory, scenario):
    warner = make_warner(scenario)
    mid = int(trajectory.t_ns[0]) + 200 * NS
    impact_t = int(trajectory.t_ns[-1])
    assert warner("JPN", [system_track(trajectory, mid, "JPN")], mid)[0].msg_type == "Alert"
    lost = system_track(trajectory, mid + NS, "JPN", status="lost")
    assert warner("JPN", [lost], mid + NS) == []  # lost at ~200 km height: not fallen
    # The hub keeps calling (no tracks for this partner) until the deadline passes.
    announced_t = system_track(trajectory, mid, "JPN").impact.t_ns
    deadline = max(announced_t, impact_t) + 30 * NS
    assert warner("JPN", [], deadline - NS) == []
    (cancel,) = warner("JPN", [], deadline)
    assert cancel.msg_type == "Cancel" and cancel.urgency == "Past"


def test_several_tracks_in_one_cycle_and_a_nation_without_polygons(trajectory, scenario):
    sc = dataclasses.replace(
        scenario, nations=(*scenario.nations, Nation("NZL", "New Zealand", "partner"))
    )
    warner = make_warner(sc, keep=True)
    t = int(trajectory.t_ns[0]) + 200 * NS
    a = system_track(trajectory, t, "NZL", number=3)
    b = system_track(trajectory, t, "NZL", number=2)
    out = warner("NZL", [a, b], t)
    assert [w.system_track_number for w in out] == [2, 3]  # in track order
    assert all(w.msg_type == "Alert" and w.event == "Missile launch" for w in out)
    assert warner.history["NZL"][0].partner_name == "New Zealand"


def test_references_are_capped_at_the_contracts_limit(warnings_run):
    _, history = warnings_run
    event = history["JPN"][-1]
    refs = tuple(MessageRef(f"trilink-JPN-7-{i:03d}", T0_NS + i) for i in range(1, 80))
    w = warning_message(dataclasses.replace(event, references=refs))
    assert len(w.references) == MAX_REFERENCES
    assert w.references[0] == "trilink-JPN-7-001" and w.references[-1] == "trilink-JPN-7-079"
    stamped = Stamper("HUB", private_key_from_seed(bytes(32))).stamp(w, w.measured_ns)
    assert decode(encode(stamped)).references == w.references
