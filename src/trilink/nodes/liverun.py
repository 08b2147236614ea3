"""The whole coalition as services in one process, over any bus: the in-memory bus
(``trilink run --realtime``) or NATS connections (tests, ``trilink up``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from trilink.link import Bus
from trilink.nodes.clock import Clock, WallClock
from trilink.nodes.coalition import Identity, make_hub, make_national, write_keyring
from trilink.nodes.hub import HUB_ID, Warner
from trilink.nodes.live import ManualClock, ServiceStats, run_coalition
from trilink.nodes.replay import write_run_meta
from trilink.nodes.schedule import node_schedule
from trilink.nodes.simrun import RunConfig, RunResult
from trilink.scenario.model import Scenario
from trilink.scenario.simulate import SimulationResult

LEAD_S = 2.0
"""How far (measurement seconds) a node of an as-fast-as-possible run may be ahead of the
hub's newest cycle: several ticks and cycles, so nobody waits on every step."""

BusFactory = Callable[[str], Awaitable[Bus]]
"""node id -> a connected bus for that node (one connection each on NATS)."""


async def run_live(
    scenario: Scenario,
    sim: SimulationResult,
    bus_for: BusFactory,
    *,
    config: RunConfig | None = None,
    speed: float | None = None,
    warner_factory: Callable[[Scenario], Warner] | None = None,
    timeout_s: float = 3600.0,
) -> RunResult:
    """Run the scenario's detections through every node as live services.

    ``speed`` None: as fast as possible (each node on its own manual clock, clock-skew
    checks off); a number: paced by the wall clock, ``speed`` scenario seconds per second.
    """
    cfg = config or RunConfig()
    nations = [n.id for n in scenario.nations]
    identity = Identity.simulated(scenario, sim.seed)
    paced = speed is not None
    clocks: dict[str, Clock] = {}
    for n in [*nations, HUB_ID]:
        clocks[n] = WallClock(sim.t_start_ns, speed) if paced else ManualClock(sim.t_start_ns)  # type: ignore[arg-type]
    nodes = {n: make_national(scenario, n, identity, clocks[n], check_clock=paced) for n in nations}
    if not cfg.link and warner_factory is not None:
        for node in nodes.values():  # alone, each nation warns from its own tracks
            node.own_warner = warner_factory(scenario)
    hub = None
    if cfg.link:
        hub = make_hub(
            scenario, identity, clocks[HUB_ID], sim.t_start_ns, cycle_s=cfg.cycle_s,
            warner_factory=warner_factory, check_clock=paced,
            source_timeout_s=10.0 if paced else None, fast_path=cfg.fast_path,
        )  # fmt: skip
    buses = {n: await bus_for(n) for n in [*nations, *([HUB_ID] if hub else [])]}
    recorder = None
    if cfg.record_dir is not None:
        write_keyring(cfg.record_dir, identity)
        write_run_meta(cfg.record_dir, scenario, sim.t_start_ns, cfg.cycle_s, sim.seed)
        recorder = asyncio.create_task(
            _record(await bus_for("RECORDER"), cfg.record_dir, clocks[HUB_ID])
        )
        await asyncio.sleep(0.05)
    schedules = {
        n: node_schedule(n, sim.detections, sim.t_start_ns, sim.t_end_ns, cfg.tick_s)
        for n in nations
    }
    try:
        # As fast as possible, the nodes keep in step with the hub (nodes.live, "In step").
        lead_s = None if paced else max(LEAD_S, 2 * (cfg.tick_s + cfg.cycle_s))
        stats: dict[str, ServiceStats] = await run_coalition(
            nodes, hub, buses, schedules, clocks, t_end_ns=sim.t_end_ns, timeout_s=timeout_s,
            lead_s=lead_s,
        )  # fmt: skip
    finally:
        if recorder is not None:
            recorder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recorder
        for bus in buses.values():
            await bus.close()
    published = sum(s.published for s in stats.values())
    result = RunResult(scenario, sim, cfg, nodes, hub, messages=published)
    result.extra["stats"] = stats
    return result


async def _record(bus: Bus, directory: Path, clock: Clock) -> None:
    """Tap every subject into ``directory/messages.tlog`` (receive time, subject, bytes)."""
    from trilink.link.recordlog import LogWriter

    directory.mkdir(parents=True, exist_ok=True)
    sub = bus.subscribe(">")
    await sub.wait_ready()
    with LogWriter(directory / "messages.tlog") as log:
        try:
            async for m in sub:
                log.append(clock.now_ns(), m.subject, m.payload, m.headers)
        finally:
            log.flush()
