"""A node's link door with bundles: what one endpoint seals in bundles the other takes in,
and a national node takes the hub's releases whether they come bundled or one by one."""

from __future__ import annotations

import msgspec

from trilink.link import Keyring, encode, sign
from trilink.link.golden import unsigned_examples
from trilink.link.subjects import hub_out, tracks
from trilink.messages import Bundle, SystemTrack, TrackReport
from trilink.nodes.base import LinkEndpoint, simulation_keys
from trilink.nodes.clock import SimClock
from trilink.nodes.national import NationalNode

T = 1_704_067_400_000_000_000
KEYS = simulation_keys(["KOR", "JPN", "USA", "HUB"], seed=3)
RING = Keyring.of_private(KEYS)
REPORT = unsigned_examples()["track_report"]
TRACK = msgspec.structs.replace(
    unsigned_examples()["system_track"], measured_ns=T - 10**9, releasability=("JPN",)
)


def test_seal_bundle_then_receive():
    clock = SimClock(T)
    kor = LinkEndpoint("KOR", KEYS["KOR"], RING, clock)
    hub = LinkEndpoint("HUB", KEYS["HUB"], RING, clock)
    bodies = [msgspec.structs.replace(REPORT, n_updates=k) for k in range(7)]
    out = kor.seal_bundle(bodies, tracks("KOR"))
    assert len(out) == 1 and out[0].subject == tracks("KOR")
    got = [m for o in out for m in hub.receive(o.payload, o.subject)]
    assert [m.n_updates for m in got if isinstance(m, TrackReport)] == list(range(7))
    assert kor.seal_bundle([], tracks("KOR")) == []
    assert hub.receive(out[0].payload, out[0].subject) == []  # replayed, item by item
    assert hub.deadletters.by_reason == {"replayed": 7}
    assert len(hub.refusals()) == 7  # each published on trilink.deadletter.HUB


def test_national_node_takes_bundled_and_single_releases_alike():
    clock = SimClock(T)
    hub = LinkEndpoint("HUB", KEYS["HUB"], RING, clock)
    numbers = [3001, 3002, 3003]
    releases = [msgspec.structs.replace(TRACK, system_track_number=n) for n in numbers]
    bundled = hub.seal_bundle(releases, hub_out("JPN", "tracks"))
    single = [hub.seal(m, hub_out("JPN", "tracks")) for m in releases]
    pictures = []
    for outs in (bundled, single):
        jpn = NationalNode("JPN", KEYS["JPN"], RING, clock, hub_nation="HUB")
        for o in outs:
            assert jpn.on_message(o.subject, o.payload) == []
        pictures.append(sorted(t.system_track_number for t in jpn.picture()))
        assert [e.kind for e in jpn.events] == ["link_track"] * 3
    assert pictures == [numbers, numbers]


def test_national_node_dead_letters_a_bad_item_and_keeps_the_rest():
    clock = SimClock(T)
    hub = LinkEndpoint("HUB", KEYS["HUB"], RING, clock)
    stamped = [hub.stamper.stamp(TRACK, T, sign=False) for _ in range(2)]
    narrow = msgspec.structs.replace(stamped[1], releasability=())
    items = (encode(stamped[0]), encode(narrow))
    bundle = hub.stamper.stamp(
        Bundle(source="HUB", measured_ns=T, releasability=("JPN",), items=items), T, sign=False
    )
    payload = encode(sign(bundle, KEYS["HUB"]))
    jpn = NationalNode("JPN", KEYS["JPN"], RING, clock, hub_nation="HUB")
    refused = jpn.on_message(hub_out("JPN", "tracks"), payload)
    assert len(refused) == 1 and refused[0].subject == "trilink.deadletter.JPN"
    assert list(jpn.system_tracks) == [TRACK.system_track_number]
    assert isinstance(jpn.system_tracks[TRACK.system_track_number], SystemTrack)
