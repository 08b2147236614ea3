"""A WAN of 150 ms ± 20 ms one way and 5 % loss between the hub and each leaf (netem, or
the user-space forwarder where the kernel has no netem): nothing lost, nothing duplicated.

Korea's and Japan's leaves are in their own namespaces; the hub relays each nation's
reports to the other; each partner reads its releases live and from its inbox stream.
The books must balance exactly (faultflow.check_books). Latencies and the packets the
WAN dropped are printed (run with -s); that the WAN was really in the path is checked:
no release can arrive faster than two crossings of at least 130 ms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultflow import SOURCES, Partner, Publisher, Relay, check_books, latencies_s, wait_until
from faultnet import FaultTopology, fault_topology_or_fail

from trilink.link.netns import WAN

COUNT = 100
RATE_HZ = 10.0


@pytest.fixture(scope="module")
def ft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultTopology]:
    topo = fault_topology_or_fail(Path(tmp_path_factory.mktemp("wan")))
    yield topo
    topo.stop()


def test_wan_delay_and_loss_lose_and_duplicate_nothing(ft: FaultTopology) -> None:
    ft.net.impair_all(WAN)
    before = ft.net.link_stats()

    async def go() -> tuple[dict[str, Publisher], Relay, dict[str, Partner]]:
        relay, partners = Relay(), {p: Partner(p) for p in SOURCES}
        await relay.start(ft)
        for partner in partners.values():
            await partner.start(ft)
        pubs = {s: Publisher(s) for s in SOURCES}
        await asyncio.gather(*(p.run(ft, COUNT, RATE_HZ) for p in pubs.values()))

        def complete() -> bool:
            return all(len(relay.accepted[s]) == COUNT for s in SOURCES) and all(
                len(partners[p].stream_seqs) == len(relay.published[p]) == COUNT
                and len(partners[p].accepted) == COUNT
                for p in SOURCES
            )

        took = await wait_until(complete, 90, "every report and release through the WAN")
        print(f"\nWAN: complete {took:.1f} s after the last publish")
        await asyncio.sleep(2.0)  # late copies (live after stored) must still be refused
        await relay.stop()
        for partner in partners.values():
            await partner.stop()
        return pubs, relay, partners

    pubs, relay, partners = asyncio.run(asyncio.wait_for(go(), 180))
    check_books(pubs, relay, partners)
    lat = latencies_s(pubs, relay, partners)
    after = ft.net.link_stats()
    sent = sum(a["forwarded"] - b["forwarded"] for a, b in zip(after, before, strict=True))
    lost = sum(a["dropped"] - b["dropped"] for a, b in zip(after, before, strict=True))
    copies = {p: dict(partners[p].door.deadletters.by_reason) for p in SOURCES}
    print(
        f"WAN ({ft.net.backend}): {len(lat)} releases, source -> hub -> partner latency "
        f"p50 {lat[len(lat) // 2] * 1e3:.0f} ms, p99 {lat[int(0.99 * (len(lat) - 1))] * 1e3:.0f} ms, "
        f"max {lat[-1] * 1e3:.0f} ms; WAN packets {sent} passed, {lost} dropped "
        f"({100 * lost / max(1, sent + lost):.1f} %); copies refused {copies}"
    )
    assert lat[0] >= 2 * 0.130, "a release arrived faster than the WAN allows: not in the path?"
    assert lost > 0, "the WAN dropped nothing: loss not in effect"
