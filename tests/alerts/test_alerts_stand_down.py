"""Asymmetric hysteresis of the warnings: quick to warn, slow to stand down.

A more severe warning (launch -> threat, a place further in, an overflight newly
predicted) is sent at once; a less severe one only once it has held for
``WarningRules.stand_down_hold_s``; a flip back within the hold sends nothing.

The inputs are synthetic: a 5-km (1-sigma) circular prediction either just inside
reach of Japan's zone (its 95 % circle overlaps the zone), just out of it (held as a
threat by rule 3: the 3-sigma circle is within 50 km), or far away in the Yellow Sea.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from alerts_fixtures import D, threat_at
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trilink.alerts.changes import LESS_SEVERE, MORE_SEVERE, SAME, severity_change
from trilink.alerts.rules import Assessment, ImpactPrediction, WarningRules, assess
from trilink.alerts.snapshot import restore_state, state_to_json
from trilink.alerts.state import WarningState
from trilink.alerts.territory import load_territory

HOLD_S = WarningRules().stand_down_hold_s
FAR = (35.0, 123.0)  # Yellow Sea: hundreds of km from Japan's zone


@pytest.fixture(scope="module")
def jpn():
    return load_territory("JPN")


@pytest.fixture(scope="module")
def edge(jpn):
    """(IN, OUT): two impact points 37 N, 2.7 km either side of the longitude where a
    5-km circle's 95 % ring stops reaching Japan's zone (its median line with Korea)."""
    for lon in np.arange(133.0, 128.0, -0.01):
        ring = ImpactPrediction(D(37.0), D(lon), 0, 1.0, 5e3, 5e3, 0.0).ring(2.4477)
        if not jpn.area_intersects(ring):
            inside, outside = (37.0, float(lon) + 0.03), (37.0, float(lon) - 0.03)
            assert assess(at(inside, 0), jpn).impact_place == "zone"
            assert assess(at(outside, 0), jpn).impact_place == "outside"
            assert assess(at(outside, 0), jpn, previously_threatened=True).level == "threat"
            return inside, outside
    raise AssertionError("no zone edge found")


def at(point, t_s, **kw):
    """A 5-km circular prediction of an impact at 400 s (a fixed time: no time drift)."""
    return threat_at(point, a_m=5e3, b_m=5e3, t_s=t_s, impact_in_s=400.0 - t_s, **kw)


def run(state, inputs):
    """[(t_s, event)] for the inputs [(point, t_s)] that sent something."""
    out = []
    for point, t_s in inputs:
        e = state.step(at(point, t_s))
        if e is not None:
            out.append((t_s, e))
    return out


def wavering(edge, t0_s=10.0, seconds=60.0):
    """The re-entry pattern measured on srbm-3: every 2 s, one 0.5-s cycle whose ellipse
    reaches the zone and three that do not."""
    inside, outside = edge
    n = int(seconds / 0.5)
    return [(inside if k % 4 == 0 else outside, t0_s + 0.5 * k) for k in range(n)]


def test_a_prediction_wavering_across_the_zone_edge_escalates_once(jpn, edge):
    state = WarningState(jpn)
    assert state.step(at(FAR, 0.0)).level == "launch"
    sent = run(state, wavering(edge))
    assert len(sent) == 1
    t_s, e = sent[0]
    assert (t_s, e.msg_type, e.level, e.reason) == (10.0, "Update", "threat", "escalated")
    assert e.assessment.impact_place == "zone"
    # the rule before the hold (0 s) sent every flip: Korea's srbm-3 problem
    old = WarningState(jpn, WarningRules(stand_down_hold_s=0.0))
    old.step(at(FAR, 0.0))
    assert len(run(old, wavering(edge))) >= 50


def test_a_stand_down_that_holds_is_sent_after_the_hold_not_before(jpn, edge):
    inside, outside = edge
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    ticks = np.arange(1.0, 1.0 + HOLD_S + 0.5, 0.5)
    sent = run(state, [(outside, float(t)) for t in ticks])
    assert [t for t, _ in sent] == [1.0 + HOLD_S]  # nothing before, at once when held
    e = sent[0][1]
    assert (e.level, e.reason, e.changes) == (
        "threat",
        "changed",
        ("impact_place zone -> outside",),
    )
    # a downgrade (threat -> launch) too
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    sent = run(state, [(FAR, float(t)) for t in ticks])
    assert [(t, e.msg_type, e.level, e.reason) for t, e in sent] == [
        (1.0 + HOLD_S, "Update", "launch", "downgraded")
    ]


def test_escalation_is_at_once_even_during_a_pending_stand_down(jpn, edge):
    inside, outside = edge
    state = WarningState(jpn)
    assert state.step(at(FAR, 0.0)).level == "launch"
    up = state.step(at(inside, 0.5))  # launch -> threat: the first input that reaches
    assert (up.reason, up.level) == ("escalated", "threat")
    state.step(at(outside, 1.0))  # less severe: pending
    # the nominal point itself in the zone: more severe than announced, at once
    deeper = state.step(at((37.0, edge[0][1] + 0.3), 2.0))
    assert deeper is not None and deeper.changes[0] == "nominal_place outside -> zone"
    assert state.step(at(FAR, 3.0)) is None  # and its stand-down waits again


def test_a_flip_back_within_the_hold_sends_nothing_and_restarts_the_clock(jpn, edge):
    inside, outside = edge
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    almost = [(outside, 1.0 + 0.5 * k) for k in range(int(HOLD_S / 0.5))]  # 1.0 .. hold + 0.5
    assert run(state, almost) == []
    t_back = almost[-1][1] + 0.5
    assert state.step(at(inside, t_back)) is None  # back as announced: nothing
    # a second run of the same length is not added to the first
    again = [(outside, t_back + 0.5 + 0.5 * k) for k in range(int(HOLD_S / 0.5))]
    assert run(state, again) == []
    t_last = again[-1][1] + 0.5
    (sent,) = run(state, [(outside, t_last)])
    assert sent[0] == t_last == again[0][1] + HOLD_S


def test_routine_refinements_wait_with_a_pending_stand_down(jpn, edge):
    inside, outside = edge
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    moved = (outside[0], outside[1] - 0.2)  # 18 km west, further out of reach
    assert state.step(at(moved, 5.0)) is None  # material move, but it would stand down
    e = state.step(at(moved, 5.0 + HOLD_S))
    assert e.changes[0] == "impact_place zone -> outside"
    assert any("moved" in c for c in e.changes)


def test_the_cap_thread_stays_consistent(jpn, edge):
    state = WarningState(jpn)
    events = [state.step(at(FAR, 0.0))]
    events += [e for _, e in run(state, wavering(edge, seconds=30.0))]
    events += [e for _, e in run(state, [(FAR, 40.0 + 0.5 * k) for k in range(30)])]
    events.append(state.step(at(FAR, 60.0, status="impacted")))
    assert [(e.msg_type, e.level, e.reason) for e in events] == [
        ("Alert", "launch", "launch"),
        ("Update", "threat", "escalated"),
        ("Update", "launch", "downgraded"),
        ("Cancel", "clear", "impacted"),
    ]
    ids = [e.identifier for e in events]
    assert [int(i.rsplit("-", 1)[1]) for i in ids] == [1, 2, 3, 4]  # no gaps
    for k, e in enumerate(events):
        assert [r.identifier for r in e.references] == ids[:k]
        assert [r.sent_t_ns for r in e.references] == [x.sent_t_ns for x in events[:k]]
        assert k == 0 or e.prior_level == events[k - 1].level
    assert (events[2].sent_t_ns - events[2 - 1].sent_t_ns) / 1e9 >= HOLD_S


def test_a_pending_stand_down_survives_a_snapshot(jpn, edge):
    inside, outside = edge
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    state.step(at(outside, 1.0))  # pending since 1 s
    saved = json.loads(json.dumps(state_to_json(state)))
    assert saved[0][1]["stand_down_since_t_ns"] == at(outside, 1.0).t_ns
    restored = WarningState(jpn)
    restore_state(restored, saved)
    rest = [(outside, 1.0 + 0.5 * k) for k in range(1, int(HOLD_S / 0.5) + 2)]
    got = [(t, e.identifier, e.changes) for t, e in run(restored, rest)]
    want = [(t, e.identifier, e.changes) for t, e in run(state, rest)]
    assert got == want and [t for t, *_ in got] == [1.0 + HOLD_S]
    # a snapshot written before the hold existed has no such key: nothing pending
    del saved[0][1]["stand_down_since_t_ns"]
    old = WarningState(jpn)
    restore_state(old, saved)
    assert old._threads["T0001"].stand_down_since_t_ns is None


def _assessment(level="threat", place="zone", nominal="outside", overflight=False):
    return Assessment(
        level, place != "outside", overflight, False, place, nominal, 0.0, 100.0, "Possible"
    )


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        ({}, {}, SAME),
        ({}, {"place": "territorial"}, MORE_SEVERE),
        ({}, {"place": "outside"}, LESS_SEVERE),
        ({}, {"overflight": True}, MORE_SEVERE),
        ({"overflight": True}, {}, LESS_SEVERE),
        ({"place": "land", "nominal": "land"}, {"place": "land", "nominal": "zone"}, LESS_SEVERE),
        # more severe anywhere wins: sent at once, even if another part eased
        ({"overflight": True}, {"place": "land"}, MORE_SEVERE),
        ({"level": "launch", "place": "outside"}, {}, MORE_SEVERE),
        ({}, {"level": "launch", "place": "outside"}, LESS_SEVERE),
    ],
)
def test_severity_change(old, new, want):
    a, b = _assessment(**old), _assessment(**new)
    assert severity_change(a.level, a, b.level, b) == want


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pattern=st.lists(st.sampled_from(["in", "out", "far", "deep"]), min_size=5, max_size=40))
def test_escalations_at_once_stand_downs_after_the_hold(jpn, edge, pattern):
    """Property, against a model of the rule: an input more severe than the warning last
    announced sends a message at that input; a less severe one sends one exactly when
    every input since the first less severe one has been so for the hold; the first
    threat goes at the same input with the hold as without it."""
    points = {"in": edge[0], "out": edge[1], "far": FAR, "deep": (37.0, edge[0][1] + 0.3)}
    inputs = [(points[p], 0.5 * k) for k, p in enumerate(pattern)]
    first_threat = {}
    for hold in (0.0, HOLD_S):
        state = WarningState(jpn, WarningRules(stand_down_hold_s=hold))
        announced: tuple[str, Assessment] | None = None
        less_since = None
        for point, t_s in inputs:
            threat = at(point, t_s)
            a = assess(threat, jpn, previously_threatened=state.level("T0001") == "threat")
            e = state.step(threat)
            if announced is None:
                assert e is not None and e.msg_type == "Alert"
            else:
                direction = severity_change(*announced, a.level, a)
                if direction == MORE_SEVERE:
                    assert e is not None
                if direction == LESS_SEVERE:
                    less_since = t_s if less_since is None else less_since
                    assert (e is not None) == (t_s - less_since >= hold)
                else:
                    less_since = None
            if e is not None:
                announced, less_since = (e.level, e.assessment), None
                if e.level == "threat":
                    first_threat.setdefault(hold, t_s)
    assert first_threat.get(0.0) == first_threat.get(HOLD_S)


def test_an_impact_due_sooner_is_not_held_back_by_a_pending_stand_down(jpn, edge):
    """Review finding: the place eases (zone -> outside, a stand-down) while the
    predicted impact comes 20 s sooner; that is news a threatened population needs at
    once, so it goes out with the stand-down instead of waiting out the hold."""
    inside, outside = edge
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    sooner = threat_at(outside, a_m=5e3, b_m=5e3, t_s=1.0, impact_in_s=380.0 - 1.0)
    e = state.step(sooner)
    assert e is not None and e.msg_type == "Update" and e.level == "threat"
    assert "impact time moved -20 s" in e.changes
    assert "impact_place zone -> outside" in e.changes
    # the same ease with the impact time unchanged still waits out the hold
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    assert state.step(at(outside, 1.0)) is None


def test_a_hold_does_not_run_across_a_lost_track(jpn, edge):
    """Review finding: a stand-down pending when the track is lost starts again when it
    is re-acquired; one input after a long gap does not complete it."""
    inside, outside = edge
    state = WarningState(jpn)
    state.step(at(inside, 0.0))
    assert run(state, [(outside, float(t)) for t in range(1, 9)]) == []
    assert state.step(at(outside, 9.0, status="lost")) is None
    assert state.step(at(outside, 30.0)) is None  # re-acquired: the hold starts again
    sent = run(state, [(outside, 30.0 + float(t)) for t in range(1, int(HOLD_S) + 1)])
    assert [t for t, _ in sent] == [30.0 + HOLD_S]
