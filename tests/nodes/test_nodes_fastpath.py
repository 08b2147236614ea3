"""The hub's fast path: a report of a track the grid has numbered is fused and released
to each partner when it arrives, under the same policy, audit and contract as the cycle's
releases, and never back in time for a partner."""

import msgspec
import numpy as np

from trilink.fusion import align, fuse
from trilink.fusion.align import propagate_state
from trilink.fusion.synthetic import JPN, KOR, launch_state, radar_covariance
from trilink.geo.wgs84 import DEG
from trilink.link import DeadLetterLog, Decoder, Receiver, ReplayGuard, subjects
from trilink.messages import SystemTrack, TrackReport
from trilink.nodes.base import LinkEndpoint
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.convert import (
    covariance_from_wire,
    covariance_to_wire,
    quality_of,
    state_to_wire,
)
from trilink.nodes.live import ManualClock
from trilink.scenario import load_scenario

S = 1_000_000_000
N = 4
MODELS = {"KOR": KOR, "JPN": JPN}


def _objects() -> np.ndarray:
    rng = np.random.default_rng(5)
    return launch_state(
        rng.uniform(38.0, 40.0, N) * DEG, rng.uniform(127.0, 131.0, N) * DEG,
        rng.uniform(150e3, 250e3, N), rng.uniform(2500.0, 3500.0, N),
        rng.uniform(60.0, 120.0, N) * DEG, rng.uniform(0.0, 10.0, N) * DEG,
    )  # fmt: skip


class Coalition:
    """A hub (fast path on or off) fed by signed KOR and JPN reports of N objects."""

    def __init__(self, fast: bool, seed: int = 21):
        sc = load_scenario("korea-japan")
        self.identity = Identity.simulated(sc, seed)
        self.t0 = sc.start_t_ns
        self.clock = ManualClock(self.t0)
        self.hub = make_hub(sc, self.identity, self.clock, self.t0, cycle_s=1.0)
        self.hub.fast_path = fast
        self.x0 = _objects()
        self.rng = np.random.default_rng(seed)
        self.nodes = {
            n: LinkEndpoint(n, self.identity.keys[n], self.identity.keyring, self.clock)
            for n in MODELS
        }
        self.partners = {
            p: Receiver(
                Decoder(), self.identity.keyring, ReplayGuard(self.clock.now_ns), DeadLetterLog()
            )
            for p in ("JPN", "KOR", "USA")
        }
        self.sent: list[TrackReport] = []

    def report(self, nation: str, j: int, t_ns: int) -> TrackReport:
        x = propagate_state(self.x0[j : j + 1], (t_ns - self.t0) / S)[0]
        P = radar_covariance(x[None, :3], MODELS[nation])[0]
        x = x + np.linalg.cholesky(P) @ self.rng.standard_normal(6)
        msg = TrackReport(
            source=nation, measured_ns=t_ns, releasability=("JPN", "KOR", "USA"),
            track_id=f"{nation}-{j}", nation=nation, state_ecef=state_to_wire(x),
            covariance_ecef=covariance_to_wire(P), phase="ballistic", status="confirmed",
            quality=quality_of(P), n_updates=10,
        )  # fmt: skip
        self.sent.append(msg)
        return msg

    def deliver(self, nation: str, reports: list[TrackReport]) -> dict[str, list[SystemTrack]]:
        """Send one bundle to the hub; what each partner admits of the hub's answer."""
        self.clock.t = max(self.clock.t, max(r.measured_ns for r in reports))
        out = []
        for ob in self.nodes[nation].seal_bundle(reports, subjects.tracks(nation)):
            out.extend(self.hub.on_message(ob.subject, ob.payload))
        return self.receive(out)

    def cycle(self, t_ns: int) -> dict[str, list[SystemTrack]]:
        self.clock.t = max(self.clock.t, t_ns)
        for n in ("USA", "KOR", "JPN"):
            self.hub.watermarks[n] = t_ns
            self.hub.heard_ns[n] = t_ns
        return self.receive(self.hub.run_due())

    def receive(self, out) -> dict[str, list[SystemTrack]]:
        got: dict[str, list[SystemTrack]] = {p: [] for p in self.partners}
        for ob in out:
            partner = ob.subject.split(".")[3]
            for m in self.partners[partner].receive_all(ob.payload, ob.subject):
                if isinstance(m, SystemTrack):
                    got[partner].append(m)
        return got


def _all_tracks(c: Coalition, t_ns: int) -> None:
    for nation in MODELS:
        c.deliver(nation, [c.report(nation, j, t_ns) for j in range(N)])


def _settled(c: Coalition) -> tuple[int, dict[str, list[SystemTrack]]]:
    """Three cycles of reports from both nations: every object is one system track fused
    from both (the table associates a second nation's track after two cycles)."""
    for k in (1, 2, 3):
        _all_tracks(c, c.t0 + k * S)
        grid = c.cycle(c.t0 + k * S)
    for p, tracks in grid.items():
        assert len(tracks) == N and all(len(m.sources) == 2 for m in tracks), p
    return c.t0 + 3 * S, grid


def test_without_the_fast_path_reports_wait_for_the_grid():
    c = Coalition(fast=False)
    _all_tracks(c, c.t0 + S)
    c.cycle(c.t0 + S)
    got = c.deliver("KOR", [c.report("KOR", 0, c.t0 + S + S // 4)])
    assert got == {p: [] for p in c.partners}


def test_a_new_track_waits_for_the_grid_to_number_it():
    c = Coalition(fast=True)
    got = c.deliver("KOR", [c.report("KOR", j, c.t0 + S // 2) for j in range(N)])
    assert got == {p: [] for p in c.partners}
    assert c.hub.fast_releases == 0


def test_a_known_track_is_released_at_once_fused_as_the_policy_allows():
    c = Coalition(fast=True)
    t1, grid = _settled(c)
    number = {p: {m.system_track_number for m in grid[p]} for p in grid}
    records, fast = c.hub.audit.count, c.hub.fast_releases
    t2 = t1 + S // 4
    got = c.deliver("KOR", [c.report("KOR", 0, t2)])
    for partner in ("JPN", "KOR", "USA"):
        (msg,) = got[partner]
        assert msg.measured_ns == t2
        assert msg.system_track_number in number[partner]
        assert sorted(s.nation for s in msg.sources) == ["JPN", "KOR"]
        # Exactly the CI of the two nations' newest reports aligned to t2.
        newest = {r.source: r for r in c.sent if r.track_id.endswith("-0")}
        xs = np.array([newest[n].state_ecef for n in ("JPN", "KOR")])
        Ps = np.array([covariance_from_wire(newest[n].covariance_ecef) for n in ("JPN", "KOR")])
        ts = np.array([newest[n].measured_ns for n in ("JPN", "KOR")])
        cfg = c.hub.fusion_config
        xa, Pa = align(xs, Ps, ts, ["ballistic"] * 2, t2, cfg.noise_table, cfg.max_step_s)
        xf, Pf = fuse(xa[None], Pa[None], method=cfg.method)
        np.testing.assert_allclose(msg.state_ecef, xf[0], rtol=1e-12, atol=1e-6)
        np.testing.assert_allclose(
            covariance_from_wire(msg.covariance_ecef), Pf[0], rtol=1e-9, atol=1e-9
        )
        # The grid's predictions ride along until the next cycle renews them.
        (before,) = [m for m in grid[partner] if m.system_track_number == msg.system_track_number]
        assert msg.impact == before.impact and msg.launch == before.launch
    assert c.hub.audit.count == records + 3  # one decision per release, as on the grid
    assert c.hub.fast_releases == fast + 3


def test_a_partner_never_gets_an_older_state_from_the_fast_path():
    c = Coalition(fast=True)
    t1, _ = _settled(c)
    assert c.deliver("JPN", [c.report("JPN", 1, t1 + S // 2)])["KOR"]
    late = c.deliver("JPN", [c.report("JPN", 1, t1 + S // 4)])  # overtaken on the way
    assert late == {p: [] for p in c.partners}


def test_fast_releases_and_the_next_cycle_are_admitted_in_order():
    c = Coalition(fast=True)
    t1, _ = _settled(c)
    fast, before = 0, c.hub.fast_releases
    for k in range(1, 4):
        t = t1 + k * S // 4
        for nation in MODELS:
            got = c.deliver(nation, [c.report(nation, j, t) for j in range(N)])
            fast += sum(len(v) for v in got.values())
    grid = c.cycle(t1 + S)
    assert fast == c.hub.fast_releases - before > 0
    assert all(len(v) == N for v in grid.values())
    assert all(r.rejected == 0 for r in c.partners.values())


def test_a_lost_report_releases_nothing_at_once():
    c = Coalition(fast=True)
    t1, _ = _settled(c)
    msg = c.report("KOR", 2, t1 + S // 4)
    lost = msgspec.structs.replace(msg, status="lost")
    got = c.deliver("KOR", [lost])
    assert got == {p: [] for p in c.partners}


def test_the_salvo_with_the_fast_path_keeps_the_grid_record_and_tracks_sooner():
    """The built-in SRBM salvo, simulated: with the fast path the hub's cycles fuse and
    release exactly what they did without it (same numbers, times and states), every fast
    release is admitted by its partner, and partners hold more recent states."""
    import dataclasses

    from trilink.nodes.simrun import RunConfig, run_simulation
    from trilink.scenario.simulate import simulate

    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id == "srbm-1"))
    sim = simulate(sc)
    runs = {f: run_simulation(sc, sim, RunConfig(fast_path=f)) for f in (False, True)}
    hubs = {f: r.hub for f, r in runs.items()}
    assert hubs[False].fast_releases == 0 < hubs[True].fast_releases
    pics = {f: h.last_picture for f, h in hubs.items()}
    np.testing.assert_array_equal(pics[True].number, pics[False].number)
    np.testing.assert_array_equal(pics[True].x, pics[False].x)
    assert hubs[True].cycles == hubs[False].cycles
    for f, r in runs.items():
        for node in r.nodes.values():
            assert node.link.deadletters.total == 0, (f, node.nation)
    # Audit: one decision per release on both paths; the fast path adds its own.
    extra = hubs[True].audit.count - hubs[False].audit.count
    assert extra == hubs[True].fast_releases


def test_a_partner_node_keeps_the_newest_state_and_always_takes_an_end():
    from trilink.nodes.coalition import make_national

    c = Coalition(fast=True)
    t1, grid = _settled(c)
    node = make_national(load_scenario("korea-japan"), "JPN", c.identity, c.clock)
    newer = c.deliver("KOR", [c.report("KOR", 0, t1 + S // 2)])["JPN"][0]
    older = next(m for m in grid["JPN"] if m.system_track_number == newer.system_track_number)
    node._take(newer)
    node._take(older)  # the cycle's release, older than the fast one already held
    assert node.system_tracks[newer.system_track_number] is newer
    node._take(msgspec.structs.replace(older, status="lost"))
    assert newer.system_track_number not in node.system_tracks
