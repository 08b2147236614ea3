"""One bus test suite, run on the in-memory bus and on a real nats-server."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trilink.errors import BusError
from trilink.link.bus import Bus, BusMessage, InMemoryBus, Subscription
from trilink.link.subjects import check_pattern, check_subject, matches


async def collect(sub: Subscription, n: int, timeout_s: float = 5.0) -> list[BusMessage]:
    return [await sub.next(timeout_s) for _ in range(n)]


async def nothing_more(sub: Subscription, bus: Bus) -> bool:
    await bus.flush()
    try:
        await sub.next(0.2)
    except TimeoutError:
        return True
    return False


def test_publish_reaches_exact_and_wildcard_subscribers(bus_factory, arun):
    async def body():
        pub, rx = await bus_factory(), await bus_factory()
        assert isinstance(pub, Bus) and isinstance(rx, Bus)
        exact = await rx.subscribe("trilink.KOR.tracks")
        star = await rx.subscribe("trilink.*.tracks")
        tail = await rx.subscribe("trilink.hub.out.JPN.>")
        other = await rx.subscribe("trilink.JPN.tracks")
        await pub.publish("trilink.KOR.tracks", b"k", {"Nats-Msg-Id": "m1"})
        await pub.publish("trilink.hub.out.JPN.tracks", b"j1")
        await pub.publish("trilink.hub.out.JPN.warnings", b"j2")
        await pub.publish("trilink.hub.out.KOR.tracks", b"k2")
        await pub.flush()
        assert [m.payload for m in await collect(exact, 1)] == [b"k"]
        assert [m.payload for m in await collect(star, 1)] == [b"k"]  # not hub.out.*.tracks
        got = await collect(tail, 2)
        assert [(m.subject, m.payload) for m in got] == [
            ("trilink.hub.out.JPN.tracks", b"j1"),
            ("trilink.hub.out.JPN.warnings", b"j2"),
        ]
        for sub in (exact, star, tail, other):
            assert await nothing_more(sub, pub)
        await pub.close()
        await rx.close()

    arun(body())


def test_order_payload_bytes_and_headers_survive(bus_factory, arun):
    payloads = [bytes([i % 256]) * (i % 300) + bytes(range(256)) for i in range(500)]

    async def body():
        pub, rx = await bus_factory(), await bus_factory()
        sub = await rx.subscribe("trilink.KOR.>")
        for i, p in enumerate(payloads):
            await pub.publish("trilink.KOR.tracks", p, {"n": str(i)} if i % 2 else None)
        await pub.flush()
        got = await collect(sub, len(payloads))
        assert [m.payload for m in got] == payloads
        assert [dict(m.headers) for m in got] == [
            {"n": str(i)} if i % 2 else {} for i in range(len(payloads))
        ]
        await pub.close()
        await rx.close()

    arun(body())


def test_each_subscriber_gets_its_own_copy_and_unsubscribe_stops_delivery(bus_factory, arun):
    async def body():
        pub, rx = await bus_factory(), await bus_factory()
        a = await rx.subscribe("trilink.>")
        b = await rx.subscribe("trilink.>")
        await pub.publish("trilink.USA.status", b"1")
        await pub.flush()
        assert (await a.next(5)).payload == (await b.next(5)).payload == b"1"
        await b.unsubscribe()
        await rx.flush()
        await pub.publish("trilink.USA.status", b"2")
        await pub.flush()
        assert (await a.next(5)).payload == b"2"
        with pytest.raises(StopAsyncIteration):
            await b.next(1)
        await pub.close()
        await rx.close()

    arun(body())


def test_close_ends_iteration_and_refuses_use(bus_factory, arun):
    async def body():
        bus = await bus_factory()
        sub = await bus.subscribe("trilink.>")
        await bus.publish("trilink.KOR.tracks", b"last")
        await bus.flush()
        await asyncio.sleep(0.05)  # let the NATS client deliver it before closing
        await bus.close()
        assert [m.payload async for m in sub] == [b"last"]
        with pytest.raises(BusError):
            await bus.publish("trilink.KOR.tracks", b"after")

    arun(body())


def test_iterating_without_await_subscribes_first(bus_factory, arun):
    async def body():
        pub, rx = await bus_factory(), await bus_factory()
        sub = rx.subscribe("trilink.JPN.status")
        first = asyncio.ensure_future(sub.__anext__())
        await sub  # live now
        await pub.publish("trilink.JPN.status", b"hb")
        await pub.flush()
        # Generous: on a loaded CI machine a round trip can take seconds; what is tested
        # is that the message arrives at all (a subscription made too late never sees it).
        assert (await asyncio.wait_for(first, 30)).payload == b"hb"
        await pub.close()
        await rx.close()

    arun(body())


@pytest.mark.parametrize("subject", ["", "a..b", "a.*", "a.>", "a b", ".a", "a."])
def test_bad_subjects_are_refused(bus_factory, arun, subject):
    async def body():
        bus = await bus_factory()
        with pytest.raises(BusError):
            await bus.publish(subject, b"x")
        await bus.close()

    arun(body())


@pytest.mark.parametrize("pattern", ["", "a.>.b", "a..b", "a b", "a*", "a>"])
def test_bad_patterns_are_refused(bus_factory, arun, pattern):
    async def body():
        bus = await bus_factory()
        with pytest.raises(BusError):
            bus.subscribe(pattern)
        await bus.close()

    arun(body())


def test_in_memory_delivery_is_synchronous_and_deterministic(arun):
    async def body():
        bus = InMemoryBus()
        subs = [bus.subscribe("x.*"), bus.subscribe("x.>"), bus.subscribe("x.a")]
        for i in range(3):
            await bus.publish("x.a", bytes([i]))
        assert [s.pending() for s in subs] == [3, 3, 3]  # queued before publish returned
        assert bus.published == 3

    arun(body())


# --- wildcard matching against an independent reference ---------------------------------
tokens = st.sampled_from(["trilink", "KOR", "JPN", "hub", "out", "tracks", "a"])


def reference_match(pattern: str, subject: str) -> bool:
    """NATS wildcards as a regular expression: * one token, > one or more tokens."""
    parts = [
        r"[^.]+" if t == "*" else r"[^.]+(?:\.[^.]+)*" if t == ">" else re.escape(t)
        for t in pattern.split(".")
    ]
    return re.fullmatch(r"\.".join(parts), subject) is not None


@given(
    st.lists(tokens | st.just("*"), min_size=1, max_size=5).flatmap(
        lambda p: st.booleans().map(lambda tail: ".".join([*p, ">"] if tail else p))
    ),
    st.lists(tokens, min_size=1, max_size=6).map(".".join),
)
def test_matches_agrees_with_a_regex_reference(pattern, subject):
    check_pattern(pattern)
    check_subject(subject)
    assert matches(pattern, subject) == reference_match(pattern, subject)


def test_only_the_link_package_imports_nats():
    """ARCHITECTURE: nats-py stays behind the link (the Bus seam)."""
    import ast
    from pathlib import Path

    import trilink

    root = Path(trilink.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.is_relative_to(root / "link"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "nats" or n.startswith("nats.") for n in names):
                offenders.append(str(path.relative_to(root)))
    assert not offenders, offenders
