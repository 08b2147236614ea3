"""Alert / Update / Cancel life cycle of one partner's warnings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from alerts_fixtures import T0_NS, D, flight, threat_at

from trilink.alerts.rules import ImpactPrediction, WarningRules
from trilink.alerts.state import WarningState, material_changes, run_warnings
from trilink.alerts.territory import ZONE, load_territory


@pytest.fixture(scope="module")
def jpn():
    return load_territory("JPN")


@pytest.fixture(scope="module")
def kor():
    return load_territory("KOR")


def test_flight_into_japans_waters(jpn):
    events = run_warnings(flight(), jpn)
    kinds = [(e.msg_type, e.level, e.reason) for e in events]
    assert kinds[0] == ("Alert", "threat", "threat")
    assert kinds[-1] == ("Cancel", "clear", "impacted")
    assert all(k[0] == "Update" for k in kinds[1:-1])
    # Identifiers are unique and every message lists all earlier ones of its thread.
    ids = [e.identifier for e in events]
    assert len(set(ids)) == len(ids)
    for i, e in enumerate(events):
        assert [r.identifier for r in e.references] == ids[:i]
    assert events[-1].assessment.nominal_place == "zone"


def test_flight_away_from_korea_is_launch_then_all_clear(kor):
    events = run_warnings(flight(), kor)
    assert [(e.msg_type, e.level) for e in events] == [("Alert", "launch"), ("Cancel", "clear")]
    assert events[0].assessment.distance_to_zone_m > 50e3


def test_updates_only_on_material_change_and_rate_limited(jpn):
    rules = WarningRules()
    state = WarningState(jpn, rules)
    first = state.step(threat_at((40.0, 135.0), t_s=100))
    assert first is not None and first.msg_type == "Alert"
    # 3 km shift: not material.
    assert state.step(threat_at((40.0, 135.035), t_s=100.5)) is None
    # 20 km shift only 1.5 s after the last message: material but rate-limited...
    assert state.step(threat_at((40.0, 135.24), t_s=101.5)) is None
    # ...and sent once the interval has passed (measured against the last *announced*).
    upd = state.step(threat_at((40.0, 135.24), t_s=102.5))
    assert upd is not None and upd.msg_type == "Update" and upd.reason == "changed"
    assert any("moved" in c for c in upd.changes)
    # Predicted impact time moved by 12 s (announced: 102.5 + 300 s): material.
    later = threat_at((40.0, 135.24), t_s=110, impact_in_s=402.5 + 12 - 110)
    assert state.step(later).changes == ("impact time moved +12 s",)


def test_slow_drift_accumulates_against_the_announced_prediction(jpn):
    state = WarningState(jpn)
    state.step(threat_at((40.0, 135.0), t_s=0))
    sent = []
    for i in range(1, 40):  # 1 km per step, 5 s apart: never 10 km between two inputs
        e = state.step(threat_at((40.0, 135.0 + 0.0118 * i), t_s=5 * i, impact_in_s=300 - 5 * i))
        if e is not None:
            sent.append(i)
    assert sent and sent[0] >= 9 and len(sent) <= 5


def test_downgrade_when_the_prediction_leaves_and_escalation_when_it_returns(jpn):
    state = WarningState(jpn)
    hold = state.rules.stand_down_hold_s
    assert state.step(threat_at((40.0, 135.0), t_s=0)).level == "threat"
    # a downgrade is sent once it has held (test_alerts_stand_down.py), not at once
    assert state.step(threat_at((35.0, 123.0), t_s=10)) is None
    down = state.step(threat_at((35.0, 123.0), t_s=10 + hold))
    assert (down.msg_type, down.level, down.reason) == ("Update", "launch", "downgraded")
    up = state.step(threat_at((40.0, 135.0), t_s=11 + hold))
    assert (up.msg_type, up.level, up.reason) == ("Update", "threat", "escalated")


def test_jitter_along_the_zone_edge_does_not_flap(jpn):
    # Find a point just outside the zone where the 95 % ellipse starts to reach it: west
    # from 133 E along 37 N, inside Japan's zone, to its median line with Korea (~132.1 E;
    # before the zones had median lines the scan began at 131.5 E, then inside it).
    assert jpn.locate(D(37.0), D(133.0)) == ZONE
    lon_edge = None
    for lon in np.arange(133.0, 128.0, -0.01):
        if not jpn.area_intersects(
            ImpactPrediction(D(37.0), D(lon), 0, 1.0, 5e3, 5e3, 0.0).ring(2.4477)
        ):
            lon_edge = float(lon)
            break
    assert lon_edge is not None
    state = WarningState(jpn, WarningRules(min_update_interval_s=0.0))
    rng = np.random.default_rng(2)
    events = []
    for i in range(60):  # the prediction jitters +-3 km across the edge
        lon = lon_edge + rng.uniform(-0.035, 0.035)
        e = state.step(threat_at((37.0, lon), a_m=5e3, b_m=5e3, t_s=i))
        if e is not None:
            events.append(e)
    levels = [e.level for e in events]
    assert "threat" in levels and "launch" not in levels[levels.index("threat") :]


def test_lost_track_is_cancelled_after_predicted_impact_plus_grace(jpn):
    state = WarningState(jpn)
    t = threat_at((40.0, 135.0), t_s=0, impact_in_s=100)
    state.step(t)
    lost = dataclasses.replace(t, t_ns=t.t_ns + 10**9, status="lost", impact=None)
    assert state.step(lost) is None
    assert state.tick(t.t_ns + 129 * 10**9) == []
    (cancel,) = state.tick(t.t_ns + 130 * 10**9)
    assert (cancel.msg_type, cancel.reason) == ("Cancel", "lost")
    assert cancel.threat.impact is not None  # the last known prediction is kept
    assert state.open_tracks() == ()


def test_silent_track_without_prediction_times_out(jpn):
    state = WarningState(jpn, WarningRules(lost_timeout_s=60.0))
    t = dataclasses.replace(threat_at((40.0, 135.0)), impact=None, phase="boost")
    assert state.step(t).level == "launch"
    assert state.tick(t.t_ns + 59 * 10**9) == []
    assert [e.reason for e in state.tick(t.t_ns + 60 * 10**9)] == ["lost"]


def test_threads_are_per_track_and_impacted_without_thread_is_silent(jpn):
    state = WarningState(jpn)
    a = state.step(threat_at((40.0, 135.0), track_id="A"))
    b = state.step(threat_at((35.0, 123.0), track_id="B"))
    assert a.identifier != b.identifier and state.open_tracks() == ("A", "B")
    assert state.level("A") == "threat" and state.level("B") == "launch"
    assert state.step(threat_at((40.0, 135.0), track_id="C", status="impacted")) is None


def test_material_changes_is_pure_and_reports_first_prediction():
    rules = WarningRules()
    t = threat_at((40.0, 135.0))
    notes, urgent = material_changes(None, None, t, None, rules)  # type: ignore[arg-type]
    assert notes == ("impact point predicted",) and urgent
    bigger = dataclasses.replace(t.impact, semi_major_m=30e3)
    notes, urgent = material_changes(
        t.impact, None, dataclasses.replace(t, impact=bigger), None, rules
    )  # type: ignore[arg-type]
    assert len(notes) == 1 and "ellipse" in notes[0] and not urgent


def test_identifiers_are_safe_for_cap(jpn):
    state = WarningState(jpn, id_prefix="run 7,a")
    e = state.step(threat_at((40.0, 135.0), track_id="KOR<1>&2"))
    assert not any(c in e.identifier for c in " ,<&")
    assert e.sent_t_ns == T0_NS + 100 * 10**9
