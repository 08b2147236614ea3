"""The :class:`~trilink.link.bus.Bus` over NATS (nats-py). The only module importing nats.

Connection options (``tls=ssl_context``, ``nkeys_seed=...``, ``user_credentials=...``,
``name=...``, reconnect settings) are passed through to :func:`nats.connect` untouched,
so the security set-up (issue 7, ``trilink pki``) needs nothing new here.

:class:`DurableStreams` reads JetStream streams through durable pull consumers at a
position the caller keeps (the hub's input, ``trilink hub --state``).

A subscription is live once awaited: registering it is followed by a PING/PONG round
trip (``flush``), after which the server has the interest and routes every later
publish, from any connection, to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError

from trilink.errors import BusError
from trilink.link.bus import BusMessage, Subscription
from trilink.link.subjects import check_pattern, check_subject

DEFAULT_URL = "nats://127.0.0.1:4222"


class NatsBus:
    """A bus on one NATS connection. Create with ``await NatsBus.connect(url, **options)``."""

    def __init__(
        self,
        client: Client,
        *,
        flush_timeout_s: int = 5,
        errors: deque[BaseException] | None = None,
    ):
        self._nc = client
        self.errors: deque[BaseException] = errors if errors is not None else deque(maxlen=100)
        """Asynchronous errors the client reported (slow consumer, lost connection)."""
        self._subs: list[Subscription] = []
        self._flush_timeout_s = flush_timeout_s
        self.published = 0

    @classmethod
    async def connect(cls, url: str | list[str] = DEFAULT_URL, **options: Any) -> NatsBus:
        """Connect (``options`` go to :func:`nats.connect`); BusError if it cannot.

        Unless ``error_cb`` is given, the client's asynchronous errors are kept in
        :attr:`errors` rather than logged with a traceback each.
        """
        errors: deque[BaseException] = deque(maxlen=100)

        async def keep(e: BaseException) -> None:
            errors.append(e)

        options.setdefault("connect_timeout", 2)
        options.setdefault("error_cb", keep)
        try:
            nc = await nats.connect(url, **options)
        except (TimeoutError, NatsError, OSError) as e:
            raise BusError(str(url), f"cannot connect to NATS: {type(e).__name__}: {e}") from None
        return cls(nc, errors=errors)

    @property
    def client(self) -> Client:
        """The nats-py client, for JetStream and anything beyond the Bus protocol."""
        return self._nc

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        check_subject(subject)
        if self._nc.is_closed:
            raise BusError(subject, "publish on a closed bus")
        try:
            await self._nc.publish(
                subject, bytes(payload), headers=dict(headers) if headers else None
            )
        except NatsError as e:
            raise BusError(subject, f"publish failed: {type(e).__name__}: {e}") from None
        self.published += 1

    def subscribe(self, pattern: str) -> Subscription:
        check_pattern(pattern)
        if self._nc.is_closed:
            raise BusError(pattern, "subscribe on a closed bus")
        holder: dict[str, Any] = {}

        async def deliver(m: Msg) -> None:
            holder["sub"]._deliver(BusMessage(m.subject, m.data, dict(m.headers or {})))

        async def register() -> None:
            holder["nats"] = await self._nc.subscribe(pattern, cb=deliver)
            await self._nc.flush(timeout=self._flush_timeout_s)

        async def unregister(_: Subscription) -> None:
            if "nats" in holder and not self._nc.is_closed:
                await holder["nats"].unsubscribe()
            if sub in self._subs:
                self._subs.remove(sub)

        sub = Subscription(pattern, ready=register(), on_close=unregister)
        holder["sub"] = sub
        self._subs.append(sub)
        return sub

    async def flush(self) -> None:
        """Wait until the server has everything published so far (PING/PONG)."""
        try:
            await self._nc.flush(timeout=self._flush_timeout_s)
        except NatsError as e:
            raise BusError("", f"flush failed: {type(e).__name__}: {e}") from None

    async def close(self) -> None:
        """Drain (deliver what is in flight, send what is buffered), close, end iterators."""
        if not self._nc.is_closed:
            try:
                await self._nc.drain()
            except NatsError:
                await self._nc.close()
        for sub in self._subs:
            sub._end()
        self._subs.clear()


# ---- JetStream input read through durable consumers -----------------------------------


@dataclass(frozen=True)
class StreamMessage:
    """One message read from a JetStream stream, with where it sits (stream, sequence)."""

    stream: str
    seq: int
    subject: str
    payload: bytes


class DurableStreams:
    """Several streams, each read through its own durable pull consumer, in stream order.

    Made for a service that keeps its own position with its state (the hub's snapshot,
    :mod:`trilink.nodes.persist`): :meth:`start` (re)creates each consumer to begin right
    after the position given, so a restarted service reads on exactly from its last commit
    and in order (a consumer left as it was would hand over its unacknowledged messages
    again after ``ack_wait``, behind later ones). :meth:`ack` acknowledges up to a
    position: ``AckPolicy.ALL``, so one acknowledgement per stream covers a whole commit.

    One fetcher task per stream fills one bounded queue: a reader that falls behind holds
    the fetchers back (the messages stay in the stream) instead of piling them up in
    memory, and is never cut off as a slow consumer. A message redelivered by the server
    (``ack_wait`` passed) is dropped here: its sequence is not above the last one handed
    out. Durable names are ``<prefix>-<stream>``.
    """

    def __init__(
        self,
        client: Client,
        streams: Sequence[str],
        *,
        prefix: str = "hub",
        fetch: int = 256,
        queue: int = 2048,
        ack_wait_s: float = 600.0,
        max_ack_pending: int = 200_000,
        timeout_s: float = 10.0,
    ):
        self._nc = client
        self._js = client.jetstream(timeout=timeout_s)
        self.streams = tuple(streams)
        self.prefix = prefix
        self._fetch = int(fetch)
        self._ack_wait_s = float(ack_wait_s)
        self._max_ack_pending = int(max_ack_pending)
        self._queue: asyncio.Queue[tuple[StreamMessage, Msg]] = asyncio.Queue(maxsize=queue)
        self._handed: dict[str, deque[tuple[int, Msg]]] = {s: deque() for s in self.streams}
        self._last: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._subs: list[Any] = []
        self._closing = False
        self.redelivered = 0
        """Messages the server delivered again (dropped: already handed out)."""
        self.errors: deque[BaseException] = deque(maxlen=100)

    def durable(self, stream: str) -> str:
        return f"{self.prefix}-{stream}"

    async def start(self, after: Mapping[str, int], *, since_ns: int | None = None) -> None:
        """(Re)create the consumers and start fetching: stream ``s`` from sequence
        ``after[s] + 1``; a stream missing from ``after`` from the first message stored at
        or after ``since_ns`` (Unix ns), or from its first message if None.
        BusError if a stream is missing or JetStream does not answer."""
        from nats.errors import Error as NatsError
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        self._closing = False
        for stream in self.streams:
            name = self.durable(stream)
            config = ConsumerConfig(
                durable_name=name, ack_policy=AckPolicy.ALL, ack_wait=self._ack_wait_s,
                max_ack_pending=self._max_ack_pending, deliver_policy=DeliverPolicy.ALL,
            )  # fmt: skip
            if stream in after:
                self._last[stream] = int(after[stream])
                config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
                config.opt_start_seq = int(after[stream]) + 1
            elif since_ns is not None:
                config.deliver_policy = DeliverPolicy.BY_START_TIME
                config.opt_start_time = dt.datetime.fromtimestamp(since_ns / 1e9, dt.UTC)
            try:
                with contextlib.suppress(NotFoundError):
                    await self._js.delete_consumer(stream, name)
                await self._js.add_consumer(stream, config)
                psub = await self._js.pull_subscribe_bind(durable=name, stream=stream)
            except NotFoundError:
                raise BusError(stream, "no such stream (provision the hub's streams)") from None
            except (TimeoutError, NatsError) as e:
                raise BusError(stream, f"cannot create consumer {name}: {e}") from None
            self._subs.append(psub)
            self._tasks.append(asyncio.create_task(self._fetcher(stream, psub)))

    async def _fetcher(self, stream: str, psub: Any) -> None:
        from nats.errors import Error as NatsError

        while not self._closing:
            try:
                msgs = await psub.fetch(self._fetch, timeout=1.0)
            except TimeoutError:
                continue  # nothing new (or a cancellation the fetch turned into a timeout)
            except NatsError as e:  # reconnecting: the consumer keeps our place
                self.errors.append(e)
                await asyncio.sleep(0.5)
                continue
            for m in msgs:
                seq = int(m.metadata.sequence.stream)
                if seq <= self._last.get(stream, 0):
                    self.redelivered += 1
                    continue
                self._last[stream] = seq
                await self._queue.put((StreamMessage(stream, seq, m.subject, m.data), m))

    async def get(self, max_n: int, timeout_s: float) -> list[StreamMessage]:
        """Up to ``max_n`` messages in arrival order (each stream's in its own order);
        waits up to ``timeout_s`` for the first, then takes what is already there."""
        try:
            first = await asyncio.wait_for(self._queue.get(), timeout_s)
        except TimeoutError:
            return []
        batch = [first]
        while len(batch) < max_n and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        for sm, m in batch:
            self._handed[sm.stream].append((sm.seq, m))
        return [sm for sm, _ in batch]

    async def ack(self, upto: Mapping[str, int]) -> None:
        """Acknowledge, per stream, every message handed out up to sequence ``upto[s]``."""
        for stream, seq in upto.items():
            handed = self._handed.get(stream)
            last = None
            while handed and handed[0][0] <= seq:
                last = handed.popleft()[1]
            if last is not None:
                try:
                    await last.ack()
                except Exception as e:  # an unacknowledged message costs a redelivery only
                    self.errors.append(e)

    async def close(self) -> None:
        """Stop fetching (the consumers stay on the server, at the acknowledged position).

        A fetcher's cancellation can be lost inside the client's fetch (a timeout racing
        the cancel in ``asyncio.wait_for`` on Python 3.11: the fetch then ends as a plain
        timeout and the loop would fetch again, so ``trilink hub --state`` hung on SIGTERM
        in 2 of 6 runs). So the fetchers also stop at a flag, and each is cancelled again
        until it has ended."""
        self._closing = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            while not t.done():
                await asyncio.wait({t}, timeout=1.0)
                t.cancel()
            if not t.cancelled() and t.exception() is not None:
                # A fetcher that had died: kept with the other errors, not raised here
                # (close() runs in the service's finally, where it would hide the cause).
                self.errors.append(t.exception())  # type: ignore[arg-type]
        self._tasks.clear()
        # Unsubscribed here, or the connection's drain would wait out its timeout on them.
        for psub in self._subs:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
        self._subs.clear()
