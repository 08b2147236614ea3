"""The feed: per-partner pictures from signed hub releases, snapshot then deltas."""

from __future__ import annotations

import asyncio
import math

import msgspec
import pytest
from web_scene import (
    IMPACT_GP,
    KEYRING,
    NS,
    T0_NS,
    HubOut,
    heartbeat,
    launch_event,
    scene,
    system_track,
    warning,
)

from trilink.link import InMemoryBus, Stamper, private_key_from_seed, subjects
from trilink.web import BusFeed, PartnerPicture


def feed_clock() -> int:
    return T0_NS + 3600 * NS  # after every message of the scene: none is "from the future"


def run_scene(feed: BusFeed, messages) -> None:
    async def go() -> None:
        await feed.start()
        for subject, payload in messages:
            await feed.bus.publish(subject, payload)
        await asyncio.sleep(0.05)
        await feed.stop()

    asyncio.run(go())


def make_feed(**kw) -> BusFeed:
    return BusFeed(InMemoryBus(), ["JPN", "KOR"], KEYRING, clock=feed_clock, **kw)


def test_each_partner_sees_only_its_own_subjects():
    feed = make_feed()
    run_scene(feed, scene(HubOut()))
    jpn, kor = feed.snapshot("JPN"), feed.snapshot("KOR")
    assert sorted(t["number"] for t in jpn["tracks"]) == [101, 102]
    assert [t["number"] for t in kor["tracks"]] == [101]  # 102 went to JPN only
    assert [w["id"] for w in jpn["warnings"]] == ["W-JPN-101-1"]
    assert kor["warnings"] == []
    assert all(t["rel"] == ["KOR"] for t in kor["tracks"])
    assert jpn["verified"] and kor["rejected"] == {} and jpn["rejected"] == {}


def test_a_message_on_another_partners_subject_never_reaches_this_picture():
    feed = make_feed()
    hub = HubOut()
    # JPN-labelled track published on KOR's subject: KOR refuses it (label), JPN never sees it
    payload = hub.stamper.seal(system_track(7, 100.0, ("JPN",)), T0_NS + 100 * NS)
    run_scene(feed, [(subjects.hub_out("KOR", "tracks"), payload)])
    assert feed.snapshot("KOR")["tracks"] == []
    assert feed.snapshot("KOR")["rejected"] == {"not_releasable": 1}
    assert feed.snapshot("JPN")["tracks"] == [] and feed.snapshot("JPN")["rejected"] == {}


def test_forged_signature_and_wrong_publisher_are_refused_and_counted():
    feed = make_feed()
    rogue = Stamper("HUB", private_key_from_seed(b"\x07" * 32))
    forged = rogue.seal(system_track(9, 50.0, ("KOR",)), T0_NS + 50 * NS)
    hub = HubOut()
    good = hub.seal("KOR", system_track(9, 60.0, ("KOR",)))
    replay = good  # the same bytes again: the replay guard refuses it
    run_scene(feed, [(subjects.hub_out("KOR", "tracks"), forged), good, replay])
    snap = feed.snapshot("KOR")
    assert [t["number"] for t in snap["tracks"]] == [9]
    assert snap["rejected"] == {"bad_signature": 1, "replayed": 1}


def test_without_keyring_decodes_but_says_unverified_and_checks_subject():
    feed = BusFeed(InMemoryBus(), ["KOR"], None, clock=feed_clock)
    hub = HubOut()
    good = hub.seal("KOR", system_track(3, 30.0, ("KOR",)))
    event_on_tracks = (
        subjects.hub_out("KOR", "tracks"),
        hub.seal("KOR", launch_event(3, 30.0, ("KOR",)))[1],
    )
    run_scene(feed, [good, event_on_tracks, (good[0], b"\x00garbage")])
    snap = feed.snapshot("KOR")
    assert snap["verified"] is False
    assert [t["number"] for t in snap["tracks"]] == [3]
    assert snap["rejected"] == {"subject_mismatch": 1, "invalid": 1}


def test_snapshot_then_deltas_reach_a_watch_in_order():
    feed = make_feed()
    hub = HubOut()
    msgs = [hub.seal("JPN", system_track(101, t, ("JPN",))) for t in (30.0, 40.0)]

    async def go():
        await feed.start()
        await feed.bus.publish(*msgs[0])
        await asyncio.sleep(0.01)
        w = feed.watch("JPN")
        await feed.bus.publish(*msgs[1])
        await asyncio.sleep(0.01)
        deltas = w.drain(100)
        await feed.stop()
        return w.snapshot, deltas

    snap, deltas = asyncio.run(go())
    assert [t["t_ms"] for t in snap["tracks"]] == [(T0_NS + 30 * NS) / 1e6]
    assert [d["type"] for d in deltas] == ["track"]
    assert deltas[0]["track"]["t_ms"] == (T0_NS + 40 * NS) / 1e6
    assert len(deltas[0]["track"]["trail"]) == 2
    msgspec.json.encode(snap)  # JSON-ready: the server sends it as is


def test_watch_that_falls_behind_gets_a_fresh_snapshot():
    feed = make_feed(queue_limit=3)
    hub = HubOut()
    msgs = [hub.seal("KOR", system_track(5, 20.0 + i, ("KOR",))) for i in range(10)]

    async def go():
        await feed.start()
        w = feed.watch("KOR")
        for m in msgs:
            await feed.bus.publish(*m)
        await asyncio.sleep(0.02)
        item = await w.next()
        await feed.stop()
        return item

    item = asyncio.run(go())
    assert item["type"] == "snapshot"
    assert item["tracks"][0]["t_ms"] == (T0_NS + 29 * NS) / 1e6  # the latest, not the backlog


def test_cancel_closes_the_warning_it_references():
    p = PartnerPicture("JPN")
    p.apply(warning("W1", 101, 90.0, "JPN"), T0_NS + 91 * NS)
    p.apply(warning("W2", 101, 120.0, "JPN", "Update", ("W1",)), T0_NS + 121 * NS)
    assert [w["id"] for w in p.active_warnings()] == ["W2"]
    deltas = p.apply(warning("W3", 101, 300.0, "JPN", "Cancel", ("W2",)), T0_NS + 301 * NS)
    assert p.active_warnings() == []
    closed = [d["warning"] for d in deltas if d["type"] == "warning" and d["warning"]["id"] == "W2"]
    assert closed == [{**closed[0], "active": False, "closed_by": "W3"}]
    kinds = [e["kind"] for e in p.snapshot()["events"]]
    assert kinds == ["alert", "update", "cancel"]


def test_cancel_without_known_reference_closes_that_tracks_warnings_only():
    p = PartnerPicture("JPN")
    p.apply(warning("A", 101, 90.0, "JPN"), T0_NS + 91 * NS)
    p.apply(warning("B", 102, 90.0, "JPN"), T0_NS + 91 * NS)
    p.apply(warning("C", 101, 300.0, "JPN", "Cancel", ("never-seen",)), T0_NS + 301 * NS)
    assert [w["id"] for w in p.active_warnings()] == ["B"]


def test_warning_for_another_partner_is_refused():
    p = PartnerPicture("KOR")
    w = msgspec.structs.replace(warning("W1", 101, 90.0, "JPN"), releasability=("KOR",))
    assert p.apply(w, T0_NS) == [{"type": "rejected", "rejected": {"not_for_partner": 1}}]
    assert p.active_warnings() == []


@pytest.mark.parametrize(("points", "step_s"), [(1, 0.0), (5, 0.0), (5, 25.0), (120, 2.0)])
def test_trail_is_bounded_spaced_and_ends_at_the_latest_position(points, step_s):
    p = PartnerPicture("JPN", trail_points=points, trail_step_s=step_s)
    times = [20.0 + 10 * i for i in range(30)]
    for t in times:
        p.apply(system_track(1, t, ("JPN",)), T0_NS + int(t * NS))
    tr = p.track(1)
    assert tr is not None
    assert 1 <= len(tr["trail"]) <= points
    assert tr["trail"][-1] == [tr["lat"], tr["lon"], tr["alt_m"]]
    if step_s >= 10 and points > 1:  # 10-s updates, kept >= 25 s apart except the newest
        assert len(tr["trail"]) == min(points, 11)
    if step_s == 0:
        assert len(tr["trail"]) == min(points, len(times))


def test_late_older_epoch_does_not_move_the_track_back():
    p = PartnerPicture("JPN")
    p.apply(system_track(1, 100.0, ("JPN",)), T0_NS + 101 * NS)
    assert p.apply(system_track(1, 90.0, ("JPN",)), T0_NS + 102 * NS) == []
    assert p.track(1)["t_ms"] == (T0_NS + 100 * NS) / 1e6


def test_a_late_end_of_track_still_ends_it_keeping_the_newer_state():
    # The hub's fast path may send a state newer than the cycle that then ends the track.
    p = PartnerPicture("JPN")
    p.apply(system_track(1, 100.0, ("JPN",)), T0_NS + 101 * NS)
    lost = msgspec.structs.replace(system_track(1, 90.0, ("JPN",)), status="lost")
    out = p.apply(lost, T0_NS + 102 * NS)
    assert [d["type"] for d in out][:2] == ["track", "event"]
    assert p.track(1)["status"] == "lost" and p.track(1)["t_ms"] == (T0_NS + 100 * NS) / 1e6
    assert p.apply(lost, T0_NS + 103 * NS) == []  # once


def test_timeline_latencies_are_receive_minus_measured_and_since_launch():
    p = PartnerPicture("JPN")
    p.apply(launch_event(101, 20.0, ("JPN",)), T0_NS + int(20.4 * NS))
    p.apply(system_track(101, 30.0, ("JPN",)), T0_NS + int(30.25 * NS))
    p.apply(warning("W", 101, 90.0, "JPN"), T0_NS + int(90.5 * NS))
    ev = {e["kind"]: e for e in p.snapshot()["events"]}
    assert ev["launch"]["latency_s"] == pytest.approx(0.4)
    assert ev["first_track"]["latency_s"] == pytest.approx(0.25)
    assert ev["first_track"]["since_launch_s"] == pytest.approx(30.25)  # launch at T0
    assert ev["alert"]["since_launch_s"] == pytest.approx(90.5)


def test_track_view_kinematics_and_uncertainty_are_right():
    p = PartnerPicture("JPN")
    t = 300.0  # apogee: climb ~ 0
    p.apply(system_track(1, t, ("JPN",)), T0_NS + int(t * NS))
    v = p.track(1)
    assert v["alt_m"] == pytest.approx(550e3, rel=1e-6)
    assert abs(v["climb_mps"]) < 1.0
    # covariance was built 3:1 along east/north (2700 m x 900 m) and 1800 m vertical
    assert v["sigma"]["major_m"] == pytest.approx(2700.0, rel=1e-9)
    assert v["sigma"]["minor_m"] == pytest.approx(900.0, rel=1e-9)
    assert v["sigma"]["azimuth_deg"] == pytest.approx(90.0, abs=1e-6)
    assert v["sigma"]["vertical_m"] == pytest.approx(1800.0, rel=1e-9)
    assert v["time_to_impact_s"] == pytest.approx(300.0)
    assert 60 < v["course_deg"] < 90  # heading east-north-east toward the Sea of Japan
    assert v["impact"]["sigma_major_m"] == IMPACT_GP.ellipse.sigma_major_m
    assert math.isclose(v["impact"]["t_ms"], IMPACT_GP.t_ns / 1e6)


def test_status_and_heartbeat_view():
    p = PartnerPicture("KOR")
    (d,) = p.apply(heartbeat(60.0, "KOR"), T0_NS + 61 * NS)
    assert d["status"]["state"] == "running" and d["status"]["uptime_s"] == 3660.0


def test_track_table_is_bounded():
    p = PartnerPicture("JPN", max_tracks=3)
    for n in range(1, 6):
        p.apply(system_track(n, 20.0 + n, ("JPN",)), T0_NS + int((21 + n) * NS))
    assert [t["number"] for t in p.snapshot()["tracks"]] == [3, 4, 5]


def test_bundled_releases_are_verified_once_and_applied_item_by_item():
    feed, hub = make_feed(), HubOut()
    t = T0_NS + 31 * NS
    stamped = [
        hub.stamper.stamp(system_track(n, 30.0, ("JPN",)), t, sign=False) for n in (101, 102)
    ]
    (payload,) = hub.stamper.bundle(stamped, t)
    tampered = bytearray(payload)
    tampered[-3] ^= 1  # inside the last item: the bundle's signature no longer holds
    subject = subjects.hub_out("JPN", "tracks")
    run_scene(feed, [(subject, payload), (subject, bytes(tampered)), (subject, payload)])
    snap = feed.snapshot("JPN")
    assert sorted(t["number"] for t in snap["tracks"]) == [101, 102]
    assert feed.accepted == 2
    assert snap["rejected"] == {"bad_signature": 1, "replayed": 2}  # the replay, per item


def test_unverified_feed_opens_bundles_too():
    feed = BusFeed(InMemoryBus(), ["JPN"], None, clock=feed_clock)
    hub = HubOut()
    t = T0_NS + 31 * NS
    stamped = [
        hub.stamper.stamp(system_track(n, 30.0, ("JPN",)), t, sign=False) for n in (101, 102)
    ]
    run_scene(
        feed, [(subjects.hub_out("JPN", "tracks"), p) for p in hub.stamper.bundle(stamped, t)]
    )
    assert sorted(t["number"] for t in feed.snapshot("JPN")["tracks"]) == [101, 102]
