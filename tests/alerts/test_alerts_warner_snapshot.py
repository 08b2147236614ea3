"""Warner snapshot and restore (issue 7: a restarted hub must not re-send launch alerts).

The recorded SRBM salvo (``data/warner_salvo.msgpack.gz``, see record_warner_salvo.py)
is replayed once without a break; at several cycles - before any track, during the
launch alerts, while Korea and Japan are threatened and one threat is held, while a
stand-down waits out its hold, after the first all-clear - a snapshot goes through ``json.dumps``/``json.loads`` into a fresh
warner, which must then send exactly the warnings the uninterrupted one sent from the
next call on: same messages byte for byte, no second Alert.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest
from alerts_fixtures import recorded_zones

from trilink import messages
from trilink.alerts.rules import Assessment, ImpactPrediction, ThreatInput
from trilink.alerts.snapshot import threat_from_json, threat_to_json
from trilink.nodes.warnings import make_warner
from trilink.scenario import load_scenario

DATA = Path(__file__).resolve().parent / "data" / "warner_salvo.msgpack.gz"


@pytest.fixture(scope="module")
def calls():
    rec = msgspec.msgpack.decode(gzip.decompress(DATA.read_bytes()))
    products = [msgspec.msgpack.decode(b, type=messages.SystemTrack) for b in rec["products"]]
    return [
        (p, t, [msgspec.structs.replace(products[i], releasability=(p,)) for i in idx])
        for p, t, idx, _ in rec["calls"]
    ]


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("korea-japan")


@pytest.fixture(scope="module", autouse=True)
def zones_of_the_recording(tmp_path_factory):
    """The recorded calls replayed on the zones they were decided on (no median lines),
    where Korea and Japan are threatened at the chosen snapshot points."""
    with recorded_zones(tmp_path_factory.getbasetemp()):
        yield


def _first_call(calls, predicate):
    return next(i for i, c in enumerate(calls) if predicate(c))


@pytest.fixture(scope="module")
def uninterrupted(calls, scenario):
    """Each call's encoded warnings, and JSON snapshots taken after chosen calls."""
    first_track = _first_call(calls, lambda c: c[2])
    splits = sorted(
        {
            first_track - 1,  # nothing seen yet
            first_track + 1,  # Alerts sent to some partners of this cycle, not all
            first_track + 40,
            first_track + 200,  # Korea threatened, updates rate-limited
            len(calls) // 2,  # Japan's held threat on track 3
            len(calls) - 140,  # after the first impacts' all-clear
        }
    )
    warner = make_warner(scenario)
    out, snaps = [], {}
    pending = None  # and the first call after which a stand-down waits out its hold
    for k, (partner, t_ns, tracks) in enumerate(calls):
        out.append([msgspec.msgpack.encode(w) for w in warner(partner, tracks, t_ns)])
        if pending is None and any(
            th.stand_down_since_t_ns is not None
            for state in warner.states.values()
            for th in state._threads.values()
        ):
            pending = k
        if k in splits or k == pending:
            text = json.dumps(warner.snapshot(), allow_nan=False)  # strict JSON
            snaps[k] = json.loads(text)
    return out, snaps


def test_a_restored_warner_continues_exactly(calls, scenario, uninterrupted):
    out, snaps = uninterrupted
    assert sum(map(len, out)) == 38  # 40 without the stand-down hold (Japan's srbm-3: 9 -> 7)
    assert any(
        th["stand_down_since_t_ns"] is not None
        for snap in snaps.values()
        for _, threads in snap["partners"]
        for _, th in threads
    )  # one split falls while a stand-down waits out its hold
    held = False
    for k, snap in snaps.items():
        warner = make_warner(scenario)
        warner.restore(snap)
        got = [[msgspec.msgpack.encode(w) for w in warner(p, tr, t)] for p, t, tr in calls[k + 1 :]]
        assert got == out[k + 1 :], f"differs after a restore at call {k}"
        held |= any(
            th["level"] == "threat" and th["announced_assessment"]["held"]
            for _, threads in snap["partners"]
            for _, th in threads
        )
    assert held  # one split falls while a threat is held by hysteresis


def test_restarting_from_a_snapshot_sends_no_second_alert(calls, scenario, uninterrupted):
    _, snaps = uninterrupted
    k = sorted(snaps)[3]  # missiles in flight, partners alerted
    alerted = {(p, int(tid)) for p, threads in snaps[k]["partners"] for tid, _ in threads}
    assert len(alerted) >= 4

    def alerts(warner):
        sent = (w for p, t, tr in calls[k + 1 :] for w in warner(p, tr, t))
        return {(w.partner, w.system_track_number) for w in sent if w.msg_type == "Alert"}

    warner = make_warner(scenario)
    warner.restore(snaps[k])
    assert not alerts(warner) & alerted
    fresh = make_warner(scenario)  # what a restart without the snapshot would do
    assert alerts(fresh) >= alerted  # ... it would alert them all again


def test_snapshot_is_plain_json_and_round_trips(uninterrupted, scenario):
    _, snaps = uninterrupted
    snap = snaps[max(k for k, s in snaps.items() if any(t for _, t in s["partners"]))]
    text = json.dumps(snap, allow_nan=False)
    warner = make_warner(scenario)
    warner.restore(json.loads(text))
    assert json.dumps(warner.snapshot(), allow_nan=False) == text


def test_restore_refuses_another_kind_version_or_prefix(scenario, uninterrupted):
    _, snaps = uninterrupted
    snap = next(iter(snaps.values()))
    warner = make_warner(scenario)
    for bad in ({**snap, "version": 99}, {**snap, "kind": "x"}, {**snap, "id_prefix": "other"}):
        with pytest.raises(ValueError):
            warner.restore(bad)


def test_threat_round_trip_keeps_non_finite_values_and_the_track():
    t = ThreatInput(
        track_id="9",
        t_ns=1_800_000_000_123_456_789,
        launch_t_ns=None,
        impact=ImpactPrediction(0.7, 2.3, 1_800_000_100_000_000_001, 2.5, 1e4, 3e3, 0.4),
        ground_track_rad=np.array([[0.7, 2.2], [0.71, 2.25]]),
        r_ecef_m=np.array([1.0, 2.0, 3.0]),
    )
    d = json.loads(json.dumps(threat_to_json(t), allow_nan=False))
    assert d["launch_lat_rad"] == "nan"
    back = threat_from_json(d)
    assert back is not None and math.isnan(back.launch_lat_rad)
    assert back.t_ns == t.t_ns and back.impact == t.impact
    np.testing.assert_array_equal(back.ground_track_rad, t.ground_track_rad)
    np.testing.assert_array_equal(back.r_ecef_m, t.r_ecef_m)
    assert back.v_ecef_mps is None
    a = Assessment(
        "launch", False, False, False, "outside", "outside", math.inf, math.nan, "Observed"
    )
    from trilink.alerts.snapshot import assessment_from_json, assessment_to_json

    a_back = assessment_from_json(json.loads(json.dumps(assessment_to_json(a), allow_nan=False)))
    assert a_back is not None and a_back.distance_to_zone_m == math.inf
    assert math.isnan(a_back.time_to_impact_s)
