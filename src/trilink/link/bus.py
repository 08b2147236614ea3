"""The transport seam: a :class:`Bus` protocol, an in-memory bus, the shared Subscription.

Two implementations behave alike (one test suite runs on both): :class:`InMemoryBus`, the
default (asyncio queues, no network, deterministic), and
:class:`trilink.link.nats_bus.NatsBus` (nats-py; the only module that imports nats).

Semantics, as in core NATS: a subscription receives what is published after it is live,
in publish order per publisher; ``*`` matches one token, ``>`` the rest; each subscription
gets its own copy; nothing is stored for subscriptions that do not exist yet (JetStream,
configured by ``trilink nats-config``, is where durability lives).

A subscription is live once awaited::

    sub = await bus.subscribe("trilink.hub.out.JPN.>")
    async for m in sub:            # BusMessage(subject, payload, headers)
        ...

``bus.subscribe(p)`` without ``await`` also works as an async iterator; it goes live no
later than the first iteration (at once on the in-memory bus).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from trilink.errors import BusError
from trilink.link.subjects import check_pattern, check_subject, matches


@dataclass(frozen=True, slots=True)
class BusMessage:
    """One delivery: the subject it was published on, the payload, the headers."""

    subject: str
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class Subscription:
    """An async iterator of :class:`BusMessage`; awaitable (returns itself once live).

    ``ready`` is what makes it live (a coroutine registering it with a server) or None if
    it already is; ``on_close`` detaches it from its bus.
    """

    def __init__(
        self,
        pattern: str,
        ready: Awaitable[object] | None = None,
        on_close: Callable[[Subscription], Awaitable[None]] | None = None,
    ):
        self.pattern = pattern
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self._ready = None if ready is None else asyncio.ensure_future(ready)
        self._on_close = on_close
        self._closed = False
        self.delivered = 0

    def _deliver(self, msg: BusMessage) -> None:
        if not self._closed:
            self._queue.put_nowait(msg)

    def _end(self) -> None:
        """No more messages: the iterator stops after those already queued."""
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(None)

    async def wait_ready(self) -> Subscription:
        if self._ready is not None:
            await self._ready
        return self

    def __await__(self) -> Generator[object, None, Subscription]:
        return self.wait_ready().__await__()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> BusMessage:
        await self.wait_ready()
        msg = await self._queue.get()
        if msg is None:
            self._queue.put_nowait(None)  # stay ended for any later reader
            raise StopAsyncIteration
        self.delivered += 1
        return msg

    async def next(self, timeout_s: float | None = None) -> BusMessage:
        """The next message, or TimeoutError after ``timeout_s``; StopAsyncIteration if ended."""
        return await asyncio.wait_for(self.__anext__(), timeout_s)

    def pending(self) -> int:
        """Messages received and not yet read."""
        return self._queue.qsize() - (1 if self._closed else 0)

    async def unsubscribe(self) -> None:
        """Stop receiving; messages already queued can still be read."""
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            await self.wait_ready()
            await on_close(self)
        self._end()

    async def __aenter__(self) -> Subscription:
        return await self.wait_ready()

    async def __aexit__(self, *exc: object) -> None:
        await self.unsubscribe()


@runtime_checkable
class Bus(Protocol):
    """What nodes publish and subscribe through."""

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None: ...

    def subscribe(self, pattern: str) -> Subscription: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


class InMemoryBus:
    """Subjects and wildcards in one process, on asyncio queues; no network.

    Delivery is synchronous with :meth:`publish` (the message is queued on every matching
    subscription before publish returns), in subscription order, so runs are repeatable.
    Queues are unbounded: a simulation never loses a message to a slow consumer.
    """

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._closed = False
        self.published = 0

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        if self._closed:
            raise BusError(subject, "publish on a closed bus")
        check_subject(subject)
        msg = BusMessage(subject, bytes(payload), dict(headers or {}))
        self.published += 1
        for sub in self._subs:
            if matches(sub.pattern, subject):
                sub._deliver(msg)

    def subscribe(self, pattern: str) -> Subscription:
        if self._closed:
            raise BusError(pattern, "subscribe on a closed bus")
        sub = Subscription(check_pattern(pattern), on_close=self._remove)
        self._subs.append(sub)
        return sub

    async def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    async def flush(self) -> None:
        """Nothing is buffered: a no-op, present so code can treat both buses alike."""

    async def close(self) -> None:
        """End every subscription (their iterators stop) and refuse further use."""
        self._closed = True
        for sub in self._subs:
            sub._end()
        self._subs.clear()
