"""Scripted traffic through the namespace topology, counted at every door.

- Each nation (KOR, JPN) publishes signed TrackReports on ``trilink.<N>.tracks`` to its
  own leaf (core NATS, as the national node does; the leaf's ``N_OUTBOX`` keeps them).
- A relay hub reads them from ``HUB_FROM_<N>`` with a durable pull consumer (the
  store-and-forward path), admits each through a Receiver (decode, signature, subject,
  replay guard) and releases one SystemTrack per report to the *other* nation on
  ``trilink.hub.out.<P>.tracks`` (with ``Nats-Msg-Id``), acknowledging after publishing.
- Each partner reads its releases twice, live (a core subscription on its leaf) and from
  its ``<P>_INBOX`` stream, through one Receiver: the replay guard admits each message
  once; the second copy is a dead letter "replayed".

So "nothing lost, nothing duplicated" is exact bookkeeping: the hub admitted every report
each nation sent, in order; each partner admitted exactly the releases the hub published
to it, once each; its stream holds them in publish order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
from faultnet import FaultTopology
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from trilink.link import DeadLetterLog, Decoder, Keyring, Receiver, ReplayGuard, Stamper, decode
from trilink.link.golden import unsigned_examples
from trilink.link.subjects import HUB
from trilink.link.topology import hub_from_stream, inbox_stream
from trilink.messages import SourceTrack, SystemTrack, TrackReport
from trilink.nodes.base import simulation_keys

SOURCES = ("KOR", "JPN")
SHARE = {"KOR": "JPN", "JPN": "KOR"}
"""Whose reports the relay releases to whom: Korea's to Japan and Japan's to Korea."""
KEYS = simulation_keys(["USA", "KOR", "JPN", HUB], seed=2024)
KEYRING = Keyring.of_private(KEYS)
_GOLDEN = unsigned_examples()


def door() -> Receiver:
    return Receiver(Decoder(KEYRING.sources), KEYRING, ReplayGuard(time.time_ns), DeadLetterLog())


def report(nation: str, i: int, now_ns: int) -> TrackReport:
    body = _GOLDEN["track_report"]
    assert isinstance(body, TrackReport)
    return msgspec.structs.replace(
        body, source=nation, nation=nation, track_id=f"{nation}-T{i % 4}",
        measured_ns=now_ns, releasability=(nation, "USA"), n_updates=i, launch=None,
    )  # fmt: skip


def release(rep: TrackReport, partner: str, number: int) -> SystemTrack:
    body = _GOLDEN["system_track"]
    assert isinstance(body, SystemTrack)
    return msgspec.structs.replace(
        body, measured_ns=rep.measured_ns, releasability=(partner,), system_track_number=number,
        state_ecef=rep.state_ecef, sources=(SourceTrack(nation=rep.nation),), launch=None,
    )  # fmt: skip


async def pull_from(js: Any, stream: str, name: str) -> Any:
    """A durable pull consumer on ``stream`` starting after what it holds now."""
    last = int((await js.stream_info(stream)).state.last_seq)
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name=name, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=last + 1, ack_policy=AckPolicy.EXPLICIT, ack_wait=30,
        ),
    )  # fmt: skip
    return await js.pull_subscribe_bind(durable=name, stream=stream)


async def drain_fetch(psub: Any, handle: Any) -> None:
    """Fetch forever, handing each message to ``handle`` (a coroutine function)."""
    while True:
        try:
            msgs = await psub.fetch(64, timeout=1.0)
        except TimeoutError:
            continue
        for m in msgs:
            await handle(m)


@dataclass
class Publisher:
    """One nation's node: signed reports at ``rate_hz``; ``sent`` = (seq, wall time)."""

    nation: str
    stamper: Stamper = field(init=False)
    sent: list[tuple[int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stamper = Stamper(self.nation, KEYS[self.nation], start_seq=1)

    async def run(self, ft: FaultTopology, count: int, rate_hz: float) -> None:
        nc = await ft.node(self.nation)
        try:
            t0 = time.monotonic()
            for i in range(count):
                msg = self.stamper.stamp(report(self.nation, i, time.time_ns()), time.time_ns())
                payload = msgspec.msgpack.encode(msg)
                await nc.publish(
                    f"trilink.{self.nation}.tracks",
                    payload,
                    headers={"Nats-Msg-Id": msg.message_id},
                )
                self.sent.append((msg.seq, time.time()))
                await asyncio.sleep(max(0.0, t0 + (i + 1) / rate_hz - time.monotonic()))
            await nc.flush()
        finally:
            await nc.close()


@dataclass
class Relay:
    """The scripted hub: reads HUB_FROM_<N> (durable), releases to the other nation."""

    accepted: dict[str, list[tuple[int, float]]] = field(
        default_factory=lambda: {s: [] for s in SOURCES}
    )
    published: dict[str, list[tuple[int, str, int]]] = field(
        default_factory=lambda: {s: [] for s in SOURCES}
    )  # partner -> (hub seq, source, source seq)
    door: Receiver = field(default_factory=door)
    stamper: Stamper = field(default_factory=lambda: Stamper(HUB, KEYS[HUB], start_seq=1))
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _nc: Any = None

    async def start(self, ft: FaultTopology) -> None:
        self._nc = nc = await ft.hub()
        js = nc.jetstream(timeout=5)
        tag = uuid.uuid4().hex[:8]
        for src in SOURCES:
            psub = await pull_from(js, hub_from_stream(src), f"relay-{src}-{tag}")
            self._tasks.append(asyncio.create_task(drain_fetch(psub, self._handle)))

    async def _handle(self, m: Any) -> None:
        msg = self.door(m.data, m.subject)
        if isinstance(msg, TrackReport):
            self.accepted[msg.source].append((msg.seq, time.time()))
            partner = SHARE[msg.source]
            number = 1 + len(self.published[partner])
            out = self.stamper.stamp(release(msg, partner, number), time.time_ns())
            await self._nc.publish(
                f"trilink.hub.out.{partner}.tracks",
                msgspec.msgpack.encode(out),
                headers={"Nats-Msg-Id": out.message_id},
            )
            self.published[partner].append((out.seq, msg.source, msg.seq))
        await m.ack()  # after the release is handed to the server

    async def stop(self) -> None:
        await _stop(self._tasks, self._nc)


@dataclass
class Partner:
    """A partner node reading its releases live and from its inbox stream, one door."""

    nation: str
    door: Receiver = field(default_factory=door)
    accepted: list[tuple[int, float, str]] = field(default_factory=list)  # seq, time, path
    stream_seqs: list[int] = field(default_factory=list)  # every release, stream order
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _nc: Any = None

    async def start(self, ft: FaultTopology) -> None:
        self._nc = nc = await ft.node(self.nation)
        await nc.subscribe(f"trilink.hub.out.{self.nation}.>", cb=self._live)
        js = nc.jetstream(timeout=5)
        psub = await pull_from(js, inbox_stream(self.nation), f"partner-{uuid.uuid4().hex[:8]}")
        self._tasks.append(asyncio.create_task(drain_fetch(psub, self._stored)))
        await nc.flush()

    def _take(self, data: bytes, subject: str, path: str) -> None:
        msg = self.door(data, subject)
        if msg is not None:
            self.accepted.append((msg.seq, time.time(), path))

    async def _live(self, m: Any) -> None:
        self._take(m.data, m.subject, "live")

    async def _stored(self, m: Any) -> None:
        self.stream_seqs.append(decode(m.data).seq)
        self._take(m.data, m.subject, "stream")
        await m.ack()

    async def stop(self) -> None:
        await _stop(self._tasks, self._nc)


async def _stop(tasks: list[asyncio.Task[None]], nc: Any) -> None:
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    if nc is not None:
        with contextlib.suppress(Exception):
            await nc.close()


async def wait_until(check: Any, timeout_s: float, what: str) -> float:
    """Poll ``check()`` every 50 ms; seconds it took, or AssertionError naming ``what``."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - t0


def check_books(pubs: dict[str, Publisher], relay: Relay, partners: dict[str, Partner]) -> None:
    """Nothing lost, nothing duplicated, in order per source (see module notes)."""
    for src, pub in pubs.items():
        sent = [s for s, _ in pub.sent]
        got = [s for s, _ in relay.accepted[src]]
        assert got == sent, f"hub admitted {len(got)} of {len(sent)} {src} reports, or out of order"
    assert relay.door.deadletters.total == 0, dict(relay.door.deadletters.by_reason)
    for p, partner in partners.items():
        published = [seq for seq, _, _ in relay.published[p]]
        admitted = [seq for seq, _, _ in partner.accepted]
        assert sorted(admitted) == published, f"{p} admitted {len(admitted)} of {len(published)}"
        assert len(set(admitted)) == len(admitted), f"{p} admitted a release twice"
        assert partner.stream_seqs == published, f"{p}'s inbox stream is incomplete or unordered"
        reasons = set(partner.door.deadletters.by_reason)
        assert reasons <= {"replayed"}, f"{p} refused releases for {reasons}"


def latencies_s(
    pubs: dict[str, Publisher], relay: Relay, partners: dict[str, Partner]
) -> list[float]:
    """Per release: from the source's publish to the partner's first admission."""
    sent = {(src, s): t for src, pub in pubs.items() for s, t in pub.sent}
    out = []
    for p, partner in partners.items():
        origin = {hub_seq: (src, s) for hub_seq, src, s in relay.published[p]}
        for hub_seq, t, _ in partner.accepted:
            out.append(t - sent[origin[hub_seq]])
    return sorted(out)
