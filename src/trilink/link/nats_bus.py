"""The :class:`~trilink.link.bus.Bus` over NATS (nats-py). The only module importing nats.

Connection options (``tls=ssl_context``, ``nkeys_seed=...``, ``user_credentials=...``,
``name=...``, reconnect settings) are passed through to :func:`nats.connect` untouched,
so the security set-up (issue 7, ``trilink pki``) needs nothing new here.

A subscription is live once awaited: registering it is followed by a PING/PONG round
trip (``flush``), after which the server has the interest and routes every later
publish, from any connection, to it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
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
