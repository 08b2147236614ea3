"""The seam between the link and the page: a :class:`PictureFeed` per partner.

A feed gives, for each partner, the picture released to that partner (a snapshot for a
page that has just connected) and a stream of deltas after it. :meth:`PictureFeed.watch`
takes both at once, with no await in between, so a page never misses or doubles a delta.

:class:`BusFeed` builds the pictures from any :class:`trilink.link.Bus` (in-memory or
NATS): one subscription per partner on ``trilink.hub.out.<PARTNER>.>`` and nothing
else, so one partner's page cannot receive another's releases. With a keyring, every
payload passes the partner node's own door (:class:`trilink.link.Receiver`: decode,
Ed25519 signature, subject, replay and clock checks); without one, messages are decoded
and subject-checked but their signatures are not verified, and the page says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

from trilink.errors import DecodeError
from trilink.link import (
    Bus,
    Decoder,
    Keyring,
    Receiver,
    ReplayGuard,
    Subscription,
    iter_payload_messages,
)
from trilink.link.subjects import HUB, expected, node_inbox_pattern
from trilink.messages import Message, kind
from trilink.web.picture import PartnerPicture
from trilink.web.views import View, ms

DEFAULT_QUEUE_LIMIT = 10_000
"""Deltas a page may fall behind by before its backlog is dropped for a fresh snapshot."""


class Watch:
    """One page's view of one partner: the snapshot it starts from, then its deltas.

    Deltas queue per watch. A page that falls more than ``limit`` deltas behind does not
    hold memory hostage: its queue is dropped and its next item is a fresh snapshot.
    """

    def __init__(self, partner: str, snapshot: View, refresh: Callable[[], View], limit: int):
        self.partner = partner
        self.snapshot = snapshot
        self._refresh = refresh
        self._queue: asyncio.Queue[View] = asyncio.Queue(maxsize=limit)
        self._overflowed = False
        self.closed = False

    def put(self, delta: View) -> None:
        if self.closed or self._overflowed:
            return
        try:
            self._queue.put_nowait(delta)
        except asyncio.QueueFull:
            self._overflowed = True
            self._queue = asyncio.Queue(maxsize=self._queue.maxsize)
            self._queue.put_nowait({"type": "resync"})  # wakes a waiting reader

    async def next(self) -> View:
        """The next delta (or a fresh snapshot after an overflow)."""
        item = await self._queue.get()
        if self._overflowed:
            self._overflowed = False
            self._queue = asyncio.Queue(maxsize=self._queue.maxsize)
            return self._refresh()
        return item

    def drain(self, limit: int) -> list[View]:
        """Deltas already queued, without waiting (at most ``limit``)."""
        out: list[View] = []
        while len(out) < limit and not self._overflowed:
            try:
                out.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return out


class PictureFeed(Protocol):
    """What the web server needs from whatever produces the pictures."""

    partners: tuple[str, ...]
    speed: float
    """Feed time runs this many times faster than wall time (a sped-up replay)."""
    verified: bool
    """True when every message shown had its signature verified."""

    def now_ns(self) -> int:
        """The feed's clock (live, simulated or replayed), UTC ns."""
        ...

    def snapshot(self, partner: str) -> View: ...

    def watch(self, partner: str) -> Watch: ...

    def unwatch(self, watch: Watch) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class BusFeed:
    """Per-partner pictures built from the hub's releases on a bus.

    ``clock`` is the receiving side's time (default: the wall clock; pass the simulated
    or replay clock when the messages carry such times); it stamps receive times and
    drives the replay and clock checks when a keyring is given.
    """

    def __init__(
        self,
        bus: Bus,
        partners: list[str] | tuple[str, ...],
        keyring: Keyring | None = None,
        *,
        clock: Callable[[], int] = time.time_ns,
        speed: float = 1.0,
        hub: str = HUB,
        trail_points: int = 120,
        trail_step_s: float = 2.0,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
    ):
        if not partners:
            raise ValueError("a feed needs at least one partner")
        self.bus = bus
        self.partners = tuple(partners)
        self.speed = float(speed)
        self.verified = keyring is not None
        self.hub = hub
        self._clock = clock
        self._queue_limit = queue_limit
        self.pictures = {
            p: PartnerPicture(p, trail_points=trail_points, trail_step_s=trail_step_s)
            for p in self.partners
        }
        self._receivers: dict[str, Receiver] | None = None
        if keyring is not None:
            # max_age_s=None: a display shows late messages rather than hide them; the
            # partner's node applies the age limit to what it acts on.
            self._receivers = {
                p: Receiver(Decoder(), keyring, ReplayGuard(clock, max_age_s=None), hub=hub)
                for p in self.partners
            }
        self._decoder = Decoder()
        self._watches: dict[str, list[Watch]] = {p: [] for p in self.partners}
        self._subs: list[Subscription] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.accepted = 0

    def now_ns(self) -> int:
        return self._clock()

    # --- pages ------------------------------------------------------------------------
    def snapshot(self, partner: str) -> View:
        snap = self.pictures[partner].snapshot()
        snap.update(now_ms=ms(self.now_ns()), speed=self.speed, verified=self.verified)
        return snap

    def watch(self, partner: str) -> Watch:
        w = Watch(partner, self.snapshot(partner), lambda: self.snapshot(partner),
                  self._queue_limit)  # fmt: skip
        self._watches[partner].append(w)
        return w

    def unwatch(self, watch: Watch) -> None:
        watch.closed = True
        with contextlib.suppress(ValueError):
            self._watches[watch.partner].remove(watch)

    def watchers(self, partner: str) -> int:
        return len(self._watches[partner])

    # --- bus --------------------------------------------------------------------------
    async def start(self) -> None:
        """Subscribe to every partner's releases and start consuming (idempotent)."""
        if self._subs:
            return
        for p in self.partners:
            sub = await self.bus.subscribe(node_inbox_pattern(p))
            self._subs.append(sub)
            self._tasks.append(asyncio.create_task(self._consume(p, sub), name=f"web-feed-{p}"))

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):  # a bus already closed has ended them
                await sub.unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._subs.clear()
        self._tasks.clear()

    async def _consume(self, partner: str, sub: Subscription) -> None:
        async for m in sub:
            self.ingest(partner, m.subject, m.payload)

    def ingest(self, partner: str, subject: str, payload: bytes) -> list[View]:
        """One payload (a message or a bundle of them) from ``partner``'s subjects: check,
        apply, fan the deltas out."""
        received_ns = self.now_ns()
        picture = self.pictures[partner]
        msgs, reasons = self._admit(partner, subject, payload)
        deltas: list[View] = []
        for reason in reasons:
            deltas.extend(picture.reject(reason))
        for msg in msgs:
            deltas.extend(picture.apply(msg, received_ns))
        self.accepted += len(msgs)
        for w in self._watches[partner]:
            for d in deltas:
                w.put(d)
        return deltas

    def _admit(self, partner: str, subject: str, payload: bytes) -> tuple[list[Message], list[str]]:
        """The admitted messages of a payload and the reasons of what was refused."""
        if not subject.startswith(node_inbox_pattern(partner)[:-1]):
            return [], ["wrong_subject"]  # a bus that delivered what we did not ask for
        if self._receivers is not None:
            rx = self._receivers[partner]
            before = rx.deadletters.total
            msgs = rx.receive_all(payload, subject)
            letters = rx.deadletters
            refused = letters.total - before
            reasons: list[str] = (
                [d.reason for d in list(letters.recent)[-refused:]] if refused else []
            )
            if not msgs and not reasons:
                reasons = ["refused"]
            return msgs, reasons
        try:
            msgs = iter_payload_messages(payload, self._decoder)
        except DecodeError:
            return [], ["invalid"]
        rule = expected(subject, self.hub)
        if rule is None or any(m.source != rule[0] or kind(m) not in rule[1] for m in msgs):
            return [], ["subject_mismatch"]
        return msgs, []
