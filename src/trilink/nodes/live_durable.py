"""The hub that survives its own death (``trilink hub --state``), as a service on a bus.

:func:`run_durable_hub` reads the national streams ``HUB_FROM_<N>`` through durable
consumers (:class:`StreamInput`, on NATS :class:`trilink.link.nats_bus.DurableStreams`) at
the position saved with its state, and checkpoints with
:class:`~trilink.nodes.persist.HubCheckpoint` (the write-ahead protocol and what a restart
does: :mod:`trilink.nodes.persist`, docs/operations.md "Hub restart"). The hub that reads
the live subjects instead is :func:`trilink.nodes.live.run_hub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from trilink.link import Bus
from trilink.nodes.base import Outbound
from trilink.nodes.hub import HubNode
from trilink.nodes.live import ServiceStats, hub_ignores, publish_all, settle_heap
from trilink.nodes.persist import Fence, HubCheckpoint, Resume, outbound_with_ids

log = logging.getLogger(__name__)


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
    last_commit_s: float = 0.0
    last_commit_at: float | None = None
    """``time.monotonic()`` at the end of the last commit (the metrics' checkpoint age)."""
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
        await publish_all(bus, again, stats)
        stats.resent = len(again)
    await inputs.start(resume.offsets, since_ns=since_ns)
    skip = hub_ignores(hub)
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
                await publish_all(bus, outbound_with_ids(out), stats)
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
    stats.last_commit_s = checkpoint.commit_s[-1]
    stats.max_commit_s = max(stats.max_commit_s, stats.last_commit_s)
    stats.last_commit_at = time.monotonic()
    await publish_all(bus, sent, stats)
    with contextlib.suppress(Exception):
        await bus.flush()
    await inputs.ack(offsets)
