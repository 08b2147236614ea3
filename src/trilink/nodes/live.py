"""The same nodes as services on a real bus (InMemoryBus or NATS), paced by a clock.

Each service is a pair of asyncio tasks: one drives the node (its sensor schedule, or the
hub's cycle timer), one reads its subscription. A service subscribes to one pattern only,
so that a source's reports and its heartbeat watermark reach the hub in the order they
were published (nats-py gives each subscription its own queue; two subscriptions would
let a heartbeat overtake the reports it vouches for).

``speed=None`` runs as fast as the nodes can compute: the hub still fuses exactly the
reports its watermarks vouch for, so the picture equals the simulated run's bit for bit.
Clock-skew checks are then meaningless (simulated time runs ahead of the wall clock), so
that mode switches them off; a paced run keeps them.

**In step.** Run as fast as possible, a national node would otherwise race through its
whole schedule while the hub, which fuses only what every watermark vouches for, is still
at the start: every report reaches the hub before any cycle has numbered its track, which
no live run looks like (the hub's fast path, for one, would never fire). With ``lead_s``
each node stays at most that much measurement time ahead of the newest cycle the hub has
vouched for to it (:attr:`NationalNode.hub_cycle_ns`, from the hub's heartbeats). It
cannot deadlock while ``lead_s`` exceeds a tick plus a cycle: a cycle needs only the
watermarks of ticks the nodes may already send (:func:`trilink.nodes.liverun.run_live`
takes the larger of 2 s and twice that). The picture is the same either way.

:func:`run_hub` reads the live subjects (what arrives while it runs). The hub that
survives its own death (``trilink hub --state``) is
:func:`trilink.nodes.live_durable.run_durable_hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from trilink.link import Bus
from trilink.link.subjects import ROOT, node_inbox_pattern
from trilink.nodes.base import Outbound
from trilink.nodes.clock import Clock
from trilink.nodes.hub import HubNode
from trilink.nodes.national import NationalNode
from trilink.nodes.schedule import SCAN, Step

log = logging.getLogger(__name__)

STALL_S = 30.0
"""Wall seconds a node in step waits for the hub before it runs on without it."""

HUB_INPUT_PATTERN = f"{ROOT}.*.>"
"""Everything nodes publish: ``trilink.<NODE>.tracks|status|...`` (hub.out is skipped)."""


class ManualClock:
    """A clock moved by the driver of an as-fast-as-possible run."""

    def __init__(self, t_ns: int):
        self.t = int(t_ns)

    def now_ns(self) -> int:
        return self.t

    async def sleep_until(self, t_ns: int) -> None:
        self.t = max(self.t, int(t_ns))


@dataclass
class ServiceStats:
    published: int = 0
    received: int = 0
    publish_errors: int = 0


async def publish_all(bus: Bus, out: Iterable[Outbound], stats: ServiceStats) -> None:
    """Publish ``out`` in order, counting what went out and what the bus refused."""
    for ob in out:
        try:
            await bus.publish(ob.subject, ob.payload, ob.headers or None)
            stats.published += 1
        except Exception:  # a broken link must not stop the node; the stream resends
            stats.publish_errors += 1


async def run_national(
    node: NationalNode,
    bus: Bus,
    schedule: Iterable[Step],
    clock: Clock,
    *,
    done: asyncio.Event,
    publish: bool = True,
    stats: ServiceStats | None = None,
    lead_s: float | None = None,
) -> ServiceStats:
    """Drive one national node through its schedule, reading the hub's releases
    meanwhile; keep reading after the schedule ends until ``done`` is set.

    ``lead_s`` (a run as fast as possible, with a hub): the node does not take a step more
    than ``lead_s`` of measurement time ahead of the newest cycle the hub has vouched for
    (its heartbeats), so the nodes and the hub advance together as they would live
    (module notes, "In step"). If the hub is heard from no more for ``STALL_S`` of wall
    time, the node stops waiting for it."""
    stats = stats or ServiceStats()
    sub = bus.subscribe(node_inbox_pattern(node.nation))
    await sub.wait_ready()
    heard = asyncio.Event()

    async def reader() -> None:
        async for m in sub:
            stats.received += 1
            await publish_all(bus, node.on_message(m.subject, m.payload), stats)
            heard.set()

    lead_ns = None if lead_s is None else int(lead_s * 1e9)
    task = asyncio.create_task(reader())
    try:
        first_ns: int | None = None
        for step in schedule:
            first_ns = step.t_ns if first_ns is None else first_ns
            while (
                lead_ns is not None
                and not done.is_set()
                and step.t_ns > (node.hub_cycle_ns or first_ns) + lead_ns
            ):
                heard.clear()
                if not await _first_of(heard, done, STALL_S):
                    log.warning("%s: the hub is silent; running on without it", node.nation)
                    lead_ns = None
            if done.is_set():  # the run was ended (settled, timed out or failed elsewhere)
                break
            await clock.sleep_until(step.t_ns)
            if step.kind == SCAN:
                node.on_detections(step.scan)
            else:
                out = node.tick(step.t_ns)
                if publish:
                    await publish_all(bus, out, stats)
                await asyncio.sleep(0)  # let the reader and the bus breathe
        with contextlib.suppress(Exception):
            await bus.flush()
        await done.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return stats


async def _first_of(a: asyncio.Event, b: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``a`` or ``b`` is set; False if neither was within ``timeout_s``."""
    waits = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    finished, pending = await asyncio.wait(
        waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
    )
    for w in pending:
        w.cancel()
    return bool(finished)


def hub_ignores(hub: HubNode) -> tuple[str, ...]:
    """Subject prefixes the hub's input pattern also matches and the hub must not read:
    what the hub itself publishes and every node's dead letters (JSON, not messages);
    read, a refusal would feed on itself."""
    return (f"{ROOT}.hub.", f"{ROOT}.{hub.link.node_id}.", f"{ROOT}.deadletter.")


def settle_heap() -> None:
    """Move everything allocated so far (scenario, territories, compiled kernels, the
    interpreter's own objects) out of the garbage collector's sight before serving.

    A busy hub allocates fast and so runs full collections often; each rescanned these
    long-lived objects for nothing (~110 ms a time at 1,000 tracks, the slowest of its
    cycles; ~30 ms after freezing them, measured with the warner's soak cycle).
    """
    gc.collect()
    gc.freeze()


async def run_hub(
    hub: HubNode,
    bus: Bus,
    *,
    stop: asyncio.Event,
    tick_s: float | None = 0.1,
    stats: ServiceStats | None = None,
) -> ServiceStats:
    """Serve the hub until ``stop`` is set: ingest, fuse when the watermarks allow, release.

    ``tick_s`` also runs due cycles on a timer, for a live hub whose sources fell silent
    (the source timeout lets the cycles go on without them).
    """
    stats = stats or ServiceStats()
    settle_heap()
    sub = bus.subscribe(HUB_INPUT_PATTERN)
    await sub.wait_ready()
    skip = hub_ignores(hub)

    # The fast path releases when the input queue runs dry: one batch (one signature per
    # partner) for whatever arrived meanwhile, so its cost per report falls under load.
    hub.defer_fast = hub.fast_path

    async def reader() -> None:
        async for m in sub:
            if m.subject.startswith(skip):
                continue
            stats.received += 1
            await publish_all(bus, hub.on_message(m.subject, m.payload), stats)
            await publish_all(bus, hub.run_due(), stats)
            if hub.fast_path and sub.pending() == 0:
                await publish_all(bus, hub.flush_fast(), stats)

    async def timer() -> None:
        while tick_s is not None:
            await asyncio.sleep(tick_s)
            await publish_all(bus, hub.run_due(), stats)
            await publish_all(bus, hub.flush_fast(), stats)

    tasks = [asyncio.create_task(reader()), asyncio.create_task(timer())]
    await stop.wait()
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await publish_all(bus, hub.run_due(), stats)
    with contextlib.suppress(Exception):
        await bus.flush()
    return stats


async def run_coalition(
    nodes: dict[str, NationalNode],
    hub: HubNode | None,
    buses: dict[str, Bus],
    schedules: Mapping[str, Iterable[Step]],
    clocks: dict[str, Clock],
    *,
    t_end_ns: int,
    quiet_s: float = 0.3,
    timeout_s: float = 3600.0,
    lead_s: float | None = None,
) -> dict[str, ServiceStats]:
    """Run every node (and the hub) as services in this process, each on its own bus
    connection (``buses`` keyed by node id, ``"HUB"`` for the hub), until every schedule
    has ended, the hub has run its last cycle and the link has gone quiet. ``lead_s``:
    see :func:`run_national` (used only with a hub)."""
    done = asyncio.Event()
    stop_hub = asyncio.Event()
    stats = {n: ServiceStats() for n in [*nodes, "HUB"]}
    hub_task = None
    if hub is not None:
        hub_task = asyncio.create_task(
            run_hub(hub, buses["HUB"], stop=stop_hub, stats=stats["HUB"])
        )
        await asyncio.sleep(0.05)  # the hub subscribes before anyone publishes
    node_tasks = [
        asyncio.create_task(
            run_national(
                node,
                buses[n],
                schedules[n],
                clocks[n],
                done=done,
                publish=hub is not None,
                stats=stats[n],
                lead_s=lead_s if hub is not None else None,
            )
        )
        for n, node in nodes.items()
    ]

    async def settle() -> None:
        # Everything is in when the hub has fused past the end and nobody has heard
        # anything new for ``quiet_s``.
        while hub is not None and hub.next_cycle_ns <= t_end_ns:
            if any(t.done() and t.exception() for t in node_tasks):
                return
            if hub_task is not None and hub_task.done():  # the hub died: nothing more comes
                return
            await asyncio.sleep(0.02)
        last = -1
        while True:
            seen = sum(s.received for s in stats.values())
            if seen == last:
                return
            last = seen
            await asyncio.sleep(quiet_s)

    try:
        await asyncio.wait_for(settle(), timeout_s)
    finally:
        done.set()
        stop_hub.set()
        await asyncio.gather(*node_tasks, return_exceptions=False)
        if hub_task is not None:
            await hub_task
    return stats
