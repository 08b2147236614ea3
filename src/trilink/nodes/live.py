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

:func:`run_hub` reads the live subjects (what arrives while it runs). :func:`run_durable_hub`
is the hub that survives its own death (``trilink hub --state``): it reads the national
streams ``HUB_FROM_<N>`` through durable consumers at the position saved with its state,
and checkpoints with :class:`~trilink.nodes.persist.HubCheckpoint`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from trilink.link import Bus
from trilink.link.subjects import ROOT, node_inbox_pattern
from trilink.nodes.base import Outbound
from trilink.nodes.clock import Clock
from trilink.nodes.hub import HubNode
from trilink.nodes.national import NationalNode
from trilink.nodes.persist import Fence, HubCheckpoint, Resume, outbound_with_ids
from trilink.nodes.schedule import SCAN, Step

log = logging.getLogger(__name__)

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


async def _publish(bus: Bus, out: Iterable[Outbound], stats: ServiceStats) -> None:
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
) -> ServiceStats:
    """Drive one national node through its schedule, reading the hub's releases
    meanwhile; keep reading after the schedule ends until ``done`` is set."""
    stats = stats or ServiceStats()
    sub = bus.subscribe(node_inbox_pattern(node.nation))
    await sub.wait_ready()

    async def reader() -> None:
        async for m in sub:
            stats.received += 1
            await _publish(bus, node.on_message(m.subject, m.payload), stats)

    task = asyncio.create_task(reader())
    try:
        for step in schedule:
            await clock.sleep_until(step.t_ns)
            if step.kind == SCAN:
                node.on_detections(step.scan)
            else:
                out = node.tick(step.t_ns)
                if publish:
                    await _publish(bus, out, stats)
                await asyncio.sleep(0)  # let the reader and the bus breathe
        with contextlib.suppress(Exception):
            await bus.flush()
        await done.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return stats


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
    # The pattern also matches what the hub itself publishes and every node's dead
    # letters (JSON, not messages): skip those, or a refusal would feed on itself.
    skip = (f"{ROOT}.hub.", f"{ROOT}.{hub.link.node_id}.", f"{ROOT}.deadletter.")

    # The fast path releases when the input queue runs dry: one batch (one signature per
    # partner) for whatever arrived meanwhile, so its cost per report falls under load.
    hub.defer_fast = hub.fast_path

    async def reader() -> None:
        async for m in sub:
            if m.subject.startswith(skip):
                continue
            stats.received += 1
            await _publish(bus, hub.on_message(m.subject, m.payload), stats)
            await _publish(bus, hub.run_due(), stats)
            if hub.fast_path and sub.pending() == 0:
                await _publish(bus, hub.flush_fast(), stats)

    async def timer() -> None:
        while tick_s is not None:
            await asyncio.sleep(tick_s)
            await _publish(bus, hub.run_due(), stats)
            await _publish(bus, hub.flush_fast(), stats)

    tasks = [asyncio.create_task(reader()), asyncio.create_task(timer())]
    await stop.wait()
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    await _publish(bus, hub.run_due(), stats)
    with contextlib.suppress(Exception):
        await bus.flush()
    return stats


class StreamDelivery(Protocol):
    """One input message and its place: stream name, sequence number in that stream."""

    @property
    def stream(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def payload(self) -> bytes: ...


class StreamInput(Protocol):
    """Input streams read at a position the reader keeps
    (:class:`trilink.link.nats_bus.DurableStreams`)."""

    async def start(self, after: Mapping[str, int], *, since_ns: int | None = None) -> None: ...
    async def get(self, max_n: int, timeout_s: float) -> Sequence[StreamDelivery]: ...
    async def ack(self, upto: Mapping[str, int]) -> None: ...
    async def close(self) -> None: ...


@dataclass
class DurableStats(ServiceStats):
    restored: bool = False
    resent: int = 0
    """Messages of the snapshot's outbox published again at start."""
    batches: int = 0
    commits: int = 0
    max_commit_s: float = 0.0
    skipped: int = 0
    """Input on subjects the hub does not read (dead letters, its own output)."""
    diverged: int = 0
    """Restarts whose cycles, run again, used fewer sequence numbers than the first time
    (:class:`~trilink.nodes.persist.Fence`): the sequence number was moved past them."""


async def run_durable_hub(
    hub: HubNode,
    bus: Bus,
    inputs: StreamInput,
    checkpoint: HubCheckpoint,
    resume: Resume,
    *,
    stop: asyncio.Event,
    since_ns: int | None = None,
    every_s: float = 2.0,
    max_share: float = 0.1,
    batch: int = 512,
    tick_s: float = 0.1,
    fence_timeout_s: float = 60.0,
    stats: DurableStats | None = None,
) -> DurableStats:
    """Serve ``hub`` (already restored: ``resume = checkpoint.resume(hub)``) from durable
    input until ``stop`` is set, with the write-ahead protocol of :mod:`trilink.nodes.persist`.

    At start: publish the snapshot's outbox again, and read each stream on from the saved
    position (a stream with none: from ``since_ns``, Unix ns; None: from its start). Per
    batch of input (or per ``tick_s`` without input, for cycles a silent source no longer
    holds back): admit every message, run the due cycles, then either **commit** (state,
    the batch's messages, positions), publish, acknowledge the input — or, between commits,
    publish at once. A commit happens when ``every_s`` wall seconds have passed since the
    last one, stretched to ``last commit duration / max_share`` so that committing a large
    picture never takes more than ``max_share`` of the hub's time (``every_s`` 0: after
    every batch, however long it takes). After a kill, the input since the last commit is
    read and its cycles run again: the same cycles under the same sequence numbers, which
    partners and JetStream drop as copies (docs/operations.md, "Hub restart"). A first
    start commits once before it publishes anything. Before each publication between
    commits the service notes the highest sequence number it sends
    (:meth:`~trilink.nodes.persist.HubCheckpoint.fence`); should the cycles run again use
    fewer, it moves its sequence number past them once it has read exactly as far as the
    killed process had (input beyond that waits; after ``fence_timeout_s`` it goes on
    regardless, should a stream no longer hold what the killed process read). On
    ``stop``: a last commit.
    """
    stats = stats or DurableStats()
    settle_heap()
    stats.restored = resume.restored
    if resume.restored:
        # The hub was down, not its sources: each source it had heard gets a fresh
        # source_timeout from now, so that catching up on the streams is not mistaken for
        # silence (which would run cycles without that source, unlike the first time).
        now = hub.clock.now_ns()
        for src in hub.heard_ns:
            hub.heard_ns[src] = max(hub.heard_ns[src], now)
        again = outbound_with_ids(resume.outbox)
        await _publish(bus, again, stats)
        stats.resent = len(again)
    await inputs.start(resume.offsets, since_ns=since_ns)
    skip = (f"{ROOT}.hub.", f"{ROOT}.{hub.link.node_id}.", f"{ROOT}.deadletter.")
    offsets = dict(resume.offsets)
    fence = resume.fence
    if fence is not None and (not fence.offsets or fence.seq < hub.link.stamper.next_seq):
        fence = None  # nothing read, or older than the checkpoint (killed while clearing it)
    fence_by = time.monotonic() + fence_timeout_s
    held: list[StreamDelivery] = []  # read beyond the fence before every stream reached it
    dirty = False  # state changed since the last commit
    last_commit = time.monotonic()

    def admit(msgs: Iterable[StreamDelivery]) -> list[Outbound]:
        out: list[Outbound] = []
        for m in msgs:
            offsets[m.stream] = m.seq
            if m.subject.startswith(skip):
                stats.skipped += 1
                continue
            stats.received += 1
            out.extend(hub.on_message(m.subject, m.payload))
        return out

    try:
        if not resume.restored:
            # A first checkpoint before anything is published: a process killed before
            # its first regular one then restarts with this run's sequence numbers (not a
            # new start) and runs the same cycles again, which partners refuse as copies.
            await _commit(hub, bus, inputs, checkpoint, [], offsets, stats)
            last_commit = time.monotonic()
        while not stop.is_set():
            got = list(await inputs.get(batch, tick_s))
            if fence is not None:
                # Read up to the fence exactly, to compare with the killed process where
                # it stood; what lies beyond waits until every stream has got there.
                got, held = (
                    [m for m in [*held, *got] if not fence.beyond(m.stream, m.seq)],
                    [m for m in [*held, *got] if fence.beyond(m.stream, m.seq)],
                )
            out = admit(got)
            out.extend(hub.run_due())
            if fence is not None and (fence.passed(offsets) or time.monotonic() > fence_by):
                _past_fence(hub, fence, stats)
                fence = None
                out.extend(admit(held))
                out.extend(hub.run_due())
                got, held = [*got, *held], []
            stats.batches += bool(got)
            dirty = dirty or bool(got) or bool(out)
            wait_s = every_s
            if every_s > 0 and checkpoint.commit_s:
                wait_s = max(every_s, checkpoint.commit_s[-1] / max_share)
            if dirty and time.monotonic() - last_commit >= wait_s:
                await _commit(hub, bus, inputs, checkpoint, out, offsets, stats)
                last_commit, dirty = time.monotonic(), False
            elif out:
                checkpoint.fence(hub, offsets)
                await _publish(bus, outbound_with_ids(out), stats)
        out = hub.run_due()
        if dirty or out:
            await _commit(hub, bus, inputs, checkpoint, out, offsets, stats)
    finally:
        await inputs.close()
    with contextlib.suppress(Exception):
        await bus.flush()
    return stats


def _past_fence(hub: HubNode, fence: Fence, stats: DurableStats) -> None:
    """The input the killed process had read has been read again: its cycles, run again,
    must have used the same sequence numbers. If not, they went another way (module
    notes of :mod:`trilink.nodes.persist`): say so, and never reuse a number it used."""
    used = hub.link.stamper.next_seq - 1
    if used == fence.seq:
        return
    stats.diverged += 1
    log.warning(
        "hub restart: the cycles run again used sequence numbers up to %d, the killed "
        "process up to %d: they went another way (partners may have refused or got twice "
        "some releases of that stretch); continuing from %d",
        used, fence.seq, max(used, fence.seq) + 1,
    )  # fmt: skip
    hub.link.stamper._next_seq = max(used, fence.seq) + 1


async def _commit(
    hub: HubNode,
    bus: Bus,
    inputs: StreamInput,
    checkpoint: HubCheckpoint,
    out: list[Outbound],
    offsets: Mapping[str, int],
    stats: DurableStats,
) -> None:
    """Commit (state + ``out`` + positions), publish ``out``, acknowledge the input."""
    sent = checkpoint.commit(hub, out, offsets)
    stats.commits += 1
    stats.max_commit_s = max(stats.max_commit_s, checkpoint.commit_s[-1])
    await _publish(bus, sent, stats)
    with contextlib.suppress(Exception):
        await bus.flush()
    await inputs.ack(offsets)


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
) -> dict[str, ServiceStats]:
    """Run every node (and the hub) as services in this process, each on its own bus
    connection (``buses`` keyed by node id, ``"HUB"`` for the hub), until every schedule
    has ended, the hub has run its last cycle and the link has gone quiet."""
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
