"""At scale, what the hub releases to a partner is admitted by that partner's replay
guard: one cycle with 1,200 system tracks, three partners, launch events and tracks in
their own bundles. Each partner's sequence numbers rise through its payloads in the order
they are published, every payload is signed once, and nothing is refused."""

import numpy as np

from trilink.fusion.synthetic import JPN, KOR, launch_state, radar_covariance
from trilink.geo.wgs84 import DEG
from trilink.link import (
    DeadLetterLog,
    Decoder,
    Receiver,
    ReplayGuard,
    iter_payload_messages,
    subjects,
)
from trilink.messages import LaunchEvent, SystemTrack, TrackReport
from trilink.nodes.base import LinkEndpoint
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.convert import covariance_to_wire, quality_of, state_to_wire
from trilink.nodes.live import ManualClock
from trilink.scenario import load_scenario

N = 1200
S = 1_000_000_000


def objects(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return launch_state(
        rng.uniform(36.0, 41.0, n) * DEG, rng.uniform(126.0, 136.0, n) * DEG,
        rng.uniform(100e3, 300e3, n), rng.uniform(2500.0, 4000.0, n),
        rng.uniform(0.0, 360.0, n) * DEG, rng.uniform(0.0, 20.0, n) * DEG,
    )  # fmt: skip


def test_partners_admit_every_release_of_a_big_cycle_in_order():
    sc = load_scenario("korea-japan")
    identity = Identity.simulated(sc, 11)
    t0 = sc.start_t_ns
    clock = ManualClock(t0)
    hub = make_hub(sc, identity, clock, t0, cycle_s=1.0)
    x = objects(N)
    t_k = t0 + S
    clock.t = t_k
    for model in (KOR, JPN):
        node = LinkEndpoint(model.name, identity.keys[model.name], identity.keyring, clock)
        P = radar_covariance(x[:, :3], model)
        reports = [
            TrackReport(
                source=model.name,
                measured_ns=t_k,
                releasability=("JPN", "KOR", "USA"),
                track_id=f"{model.name}-{j}",
                nation=model.name,
                state_ecef=state_to_wire(x[j]),
                covariance_ecef=covariance_to_wire(P[j]),
                phase="ballistic",
                status="confirmed",
                quality=quality_of(P[j]),
                n_updates=10,
            )
            for j in range(N)
        ]
        for ob in node.seal_bundle(reports, subjects.tracks(model.name)):
            assert hub.on_message(ob.subject, ob.payload) == []
    for nation in ("USA", "KOR", "JPN"):
        hub.watermarks[nation] = t_k
        hub.heard_ns[nation] = t_k
    out = hub.run_due()
    assert hub.cycles == 1
    for partner in ("JPN", "KOR", "USA"):
        mine = [ob for ob in out if ob.subject.startswith(f"trilink.hub.out.{partner}.")]
        seqs = [m.seq for ob in mine for m in iter_payload_messages(ob.payload)]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        rx = Receiver(Decoder(), identity.keyring, ReplayGuard(clock.now_ns), DeadLetterLog())
        got = [m for ob in mine for m in rx.receive_all(ob.payload, ob.subject)]
        assert rx.rejected == 0
        tracks = [m for m in got if isinstance(m, SystemTrack)]
        events = [m for m in got if isinstance(m, LaunchEvent)]
        assert len({m.system_track_number for m in tracks}) == len(tracks) > N // 2
        assert events, "the cycle's launch events reach the partner too"
        # One signature per payload: far fewer payloads than messages.
        assert len(mine) < len(got) / 50


def test_a_release_that_breaks_the_contract_is_withheld_and_audited():
    sc = load_scenario("korea-japan")
    identity = Identity.simulated(sc, 12)
    clock = ManualClock(sc.start_t_ns)
    hub = make_hub(sc, identity, clock, sc.start_t_ns)
    good = np.array([-3.0e6, 4.0e6, 3.9e6, 100.0, 2000.0, 1500.0])
    P = np.diag([1e4, 1e4, 1e4, 1e2, 1e2, 1e2])
    for number, x in ((7, good), (8, np.full(6, np.nan))):
        body = SystemTrack(
            source="HUB", measured_ns=sc.start_t_ns, releasability=("JPN",),
            system_track_number=number, state_ecef=tuple(x.tolist()),
            covariance_ecef=covariance_to_wire(P), phase="ballistic", status="lost",
            quality=quality_of(P),
        )  # fmt: skip
        hub._release(body, ("KOR",), "JPN", subjects.hub_out("JPN", "tracks"), sc.start_t_ns)
    out = hub._send_outbox()
    sent = [m for ob in out for m in iter_payload_messages(ob.payload)]
    assert [m.system_track_number for m in sent] == [7]
    assert hub.withheld == 1
    last = hub.audit.records[-1]
    assert last["number"] == 8 and not last["allowed"] and "withheld" in last["reason"]
    assert last["message_id"] is None


def test_a_shared_body_that_breaks_the_contract_is_withheld_for_every_partner():
    from trilink.fusion import NationalTrackBatch
    from trilink.nodes.hub_release import Release

    sc = load_scenario("korea-japan")
    identity = Identity.simulated(sc, 13)
    clock = ManualClock(sc.start_t_ns)
    hub = make_hub(sc, identity, clock, sc.start_t_ns)
    picture = hub.table.update(NationalTrackBatch.from_rows([], lost=[]), sc.start_t_ns)
    P = np.diag([1e4, 1e4, 1e4, 1e2, 1e2, 1e2])
    bad = np.full(6, np.nan)
    products = [Release(p, 9, ("KOR",), bad, P) for p in ("JPN", "KOR", "USA")]
    got = hub._publish_products(products, picture, sc.start_t_ns)
    assert got == {} and hub.withheld == 3
    assert hub._send_outbox() == []
    assert [r["reason"].startswith("withheld") for r in hub.audit.records] == [True] * 3


def test_the_hub_heartbeat_closes_each_partners_tracks_bundle_or_goes_alone():
    from trilink.messages import Heartbeat

    sc = load_scenario("korea-japan")
    identity = Identity.simulated(sc, 14)
    t0 = sc.start_t_ns
    clock = ManualClock(t0)
    hub = make_hub(sc, identity, clock, t0, cycle_s=1.0)
    node = LinkEndpoint("KOR", identity.keys["KOR"], identity.keyring, clock)
    x = objects(3)
    P = radar_covariance(x[:, :3], KOR)
    clock.t = t0 + S
    reports = [
        TrackReport(
            source="KOR", measured_ns=t0 + S, releasability=("JPN", "KOR", "USA"),
            track_id=f"KOR-{j}", nation="KOR", state_ecef=state_to_wire(x[j]),
            covariance_ecef=covariance_to_wire(P[j]), phase="ballistic", status="confirmed",
            quality=quality_of(P[j]), n_updates=10,
        )
        for j in range(3)
    ]  # fmt: skip
    for ob in node.seal_bundle(reports, subjects.tracks("KOR")):
        hub.on_message(ob.subject, ob.payload)
    for t in (t0 + S, t0 + 2 * S):
        for nation in ("USA", "KOR", "JPN"):
            hub.watermarks[nation] = hub.heard_ns[nation] = t
    clock.t = t0 + 2 * S
    out = hub.run_due()
    assert hub.cycles == 2
    for partner in ("JPN", "USA"):  # KOR's data goes to JPN and USA (and home: KOR)
        rx = Receiver(Decoder(), identity.keyring, ReplayGuard(clock.now_ns), DeadLetterLog())
        mine = [ob for ob in out if ob.subject.startswith(f"trilink.hub.out.{partner}.")]
        assert {ob.subject.rsplit(".", 1)[1] for ob in mine} == {"tracks", "events"}
        for ob in mine:
            got = rx.receive_all(ob.payload, ob.subject)
            kinds = [type(m).__name__ for m in got]
            if ob.subject.endswith(".tracks"):  # one per cycle: tracks, then the heartbeat
                assert kinds[-1] == "Heartbeat" and kinds.count("Heartbeat") == 1
                assert all(k == "SystemTrack" for k in kinds[:-1]) and len(kinds) == 4
        assert rx.rejected == 0
    # A cycle with nothing to release: the heartbeat goes alone on the status subject.
    empty = make_hub(sc, identity, clock, t0, cycle_s=1.0)
    for nation in ("USA", "KOR", "JPN"):
        empty.watermarks[nation] = empty.heard_ns[nation] = t0 + S
    out = empty.run_due()
    assert sorted(ob.subject for ob in out) == [
        subjects.hub_out(p, "status") for p in ("JPN", "KOR", "USA")
    ]
    assert all(isinstance(m, Heartbeat) for ob in out for m in iter_payload_messages(ob.payload))
