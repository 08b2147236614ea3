"""The same coalition on the simulated link, as services on the in-memory bus, and over a
real NATS hub + leaf topology (mutual TLS, JetStream): the same fused picture.

The hub fuses on a grid of measurement times, each cycle exactly the reports its
sources' watermarks vouch for, so the picture must not depend on the transport: the
comparison is exact.
"""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from trilink.link import InMemoryBus
from trilink.nodes.liverun import LEAD_S, run_live
from trilink.nodes.national import NationalNode
from trilink.nodes.simrun import RunConfig, RunResult, run_simulation
from trilink.nodes.up import start_local_coalition
from trilink.nodes.warnings import make_warner
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

DURATION_S = 150.0  # the boost and early mid-course of one SRBM: every stage of the chain


@pytest.fixture(scope="module")
def scenario_and_sim():
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1], duration_s=DURATION_S)
    return sc, simulate(sc)


@pytest.fixture(scope="module")
def simulated(scenario_and_sim) -> RunResult:
    sc, sim = scenario_and_sim
    return run_simulation(sc, sim, RunConfig())


def picture(result: RunResult) -> dict[str, list[tuple]]:
    """What each partner received: (number, epoch, status, state, impact) in order."""
    out = {}
    for n, node in result.nodes.items():
        rows = []
        for ev in node.events:
            if ev.kind == "link_track":
                rows.append((ev.ref, ev.measured_ns))
        tracks = sorted(
            (t.system_track_number, t.measured_ns, t.status, t.state_ecef, t.covariance_ecef,
             None if t.impact is None else (t.impact.lat_deg, t.impact.lon_deg, t.impact.t_ns))
            for t in node.system_tracks.values()
        )  # fmt: skip
        out[n] = [*rows, *tracks]
    return out


def hub_picture(result: RunResult) -> tuple:
    p = result.hub.last_picture
    assert p is not None
    return (p.t_ns, tuple(p.number), np.round(p.x, 6).tobytes(), tuple(p.status))


def test_simulated_run_links_every_partner(simulated: RunResult) -> None:
    for n, node in simulated.nodes.items():
        assert any(e.kind == "link_track" for e in node.events), n
        assert node.link.deadletters.total == 0
    assert simulated.hub.link.deadletters.total == 0
    assert simulated.hub.cycles >= DURATION_S / 0.5 - 2


def test_in_memory_services_give_the_same_picture(scenario_and_sim, simulated: RunResult) -> None:
    sc, sim = scenario_and_sim
    bus = InMemoryBus()

    async def bus_for(_node: str) -> InMemoryBus:
        return bus

    live = asyncio.run(run_live(sc, sim, bus_for, timeout_s=300))
    assert hub_picture(live) == hub_picture(simulated)
    assert picture(live) == picture(simulated)


def test_alone_each_nation_warns_itself_as_in_the_simulated_run(scenario_and_sim) -> None:
    """Without the link, live services run each nation's own warning rules (as the
    simulated run does): the same warnings at the same epochs."""
    sc, sim = scenario_and_sim
    alone = RunConfig(link=False)
    simulated = run_simulation(sc, sim, alone, warner_factory=make_warner)
    bus = InMemoryBus()

    async def bus_for(_node: str) -> InMemoryBus:
        return bus

    live = asyncio.run(
        run_live(sc, sim, bus_for, config=alone, warner_factory=make_warner, timeout_s=300)
    )

    def warned(result: RunResult) -> dict[str, list[tuple]]:
        return {
            n: [(e.ref, e.measured_ns, e.detail) for e in node.events if e.kind == "warning"]
            for n, node in result.nodes.items()
        }

    assert warned(live) == warned(simulated)
    assert all(warned(simulated).values())  # every nation warned of the launch itself


def test_as_fast_as_possible_the_nodes_keep_in_step_with_the_hub(
    scenario_and_sim, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path
) -> None:
    """Over NATS, no node ticks more than LEAD_S of measurement time ahead of the newest
    cycle the hub has vouched for to it (nodes.live, "In step"), and none gives up
    waiting for the hub. Without the lockstep the nodes ran up to 32.5 s ahead here (the
    hub, reading three leaf connections, lags behind nodes that never wait)."""
    sc, sim = scenario_and_sim
    ahead: list[float] = []
    tick = NationalNode.tick

    def watched(self: NationalNode, t_ns: int):  # type: ignore[no-untyped-def]
        if self.hub_cycle_ns is not None:
            ahead.append((t_ns - self.hub_cycle_ns) / 1e9)
        return tick(self, t_ns)

    monkeypatch.setattr(NationalNode, "tick", watched)

    async def go() -> RunResult:
        coalition = await start_local_coalition(tmp_path, [n.id for n in sc.nations], sc.hub.id)
        try:
            return await run_live(sc, sim, coalition.bus_for, timeout_s=300)
        finally:
            coalition.stop()

    with caplog.at_level("WARNING", logger="trilink.nodes.live"):
        asyncio.run(go())
    assert len(ahead) >= 3 * DURATION_S / 0.5 - 20
    assert max(ahead) <= LEAD_S
    assert min(ahead) >= 0.0  # the hub never vouches for a time a node has not reached
    assert "the hub is silent" not in caplog.text


def test_nats_hub_and_leaves_give_the_same_picture(
    scenario_and_sim, simulated: RunResult, tmp_path
) -> None:
    sc, sim = scenario_and_sim

    async def go() -> RunResult:
        coalition = await start_local_coalition(tmp_path, [n.id for n in sc.nations], sc.hub.id)
        try:
            return await run_live(sc, sim, coalition.bus_for, timeout_s=300)
        finally:
            coalition.stop()

    live = asyncio.run(go())
    for n, node in live.nodes.items():
        assert node.link.deadletters.total == 0, (n, node.link.deadletters.by_reason)
    assert hub_picture(live) == hub_picture(simulated)
    assert picture(live) == picture(simulated)


def test_nats_with_the_fast_path_keeps_the_grid_picture(
    scenario_and_sim, simulated: RunResult, tmp_path
) -> None:
    """With the hub's fast path over real NATS, partners get releases between cycles,
    every one admitted, and the hub's grid picture is the simulated run's, exactly."""
    sc, sim = scenario_and_sim

    async def go() -> RunResult:
        coalition = await start_local_coalition(tmp_path, [n.id for n in sc.nations], sc.hub.id)
        try:
            return await run_live(
                sc, sim, coalition.bus_for, config=RunConfig(fast_path=True), timeout_s=300
            )
        finally:
            coalition.stop()

    live = asyncio.run(go())
    for n, node in live.nodes.items():
        assert node.link.deadletters.total == 0, (n, node.link.deadletters.by_reason)
    # In step with the hub (nodes.live), reports of numbered tracks arrive between cycles:
    # 57-96 fast releases in five runs of this test's run.
    assert live.hub is not None and live.hub.fast_releases >= 10
    assert hub_picture(live) == hub_picture(simulated)
    # Every partner holds a track at least as recent as the grid's last release of it.
    grid = {n: {t.system_track_number: t.measured_ns for t in node.system_tracks.values()}
            for n, node in simulated.nodes.items()}  # fmt: skip
    for n, node in live.nodes.items():
        for number, t in grid[n].items():
            assert node.system_tracks[number].measured_ns >= t, (n, number)
