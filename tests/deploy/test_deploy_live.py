"""The topology running: real nats-server hub and USA/KOR/JPN leaves on loopback, mTLS.

What crosses and what does not: a KOR report reaches the hub (headers intact) and no
other nation; a partner's releases reach that partner only; JPN can neither read KOR's
raw reports or releases nor inject reports as KOR. Each negative check runs beside a
positive control on the same connections, so "received nothing" cannot pass by accident.
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats
from deploy_fixtures import Running, monitor, run, wait_for

from trilink.link.topology import (
    HUB_SERVER,
    domain_of,
    hub_from_stream,
    inbox_stream,
    outbox_stream,
)

SETTLE_S = 0.5
"""How long a negative check listens after its positive control arrived."""


class Inbox:
    """Messages a subscription received: (subject, data, headers)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, bytes, dict[str, str]]] = []
        self.event = asyncio.Event()

    async def handler(self, m: Any) -> None:
        self.got.append((m.subject, m.data, dict(m.headers or {})))
        self.event.set()

    async def wait(self, timeout_s: float = 5.0) -> None:
        await asyncio.wait_for(self.event.wait(), timeout_s)

    def subjects(self) -> list[str]:
        return [s for s, _, _ in self.got]


async def _sub(nc: nats.NATS, pattern: str) -> Inbox:
    box = Inbox()
    await nc.subscribe(pattern, cb=box.handler)
    await nc.flush()
    return box


def test_servers_link_only_to_the_hub(topology: Running) -> None:
    leafz = monitor(topology.topo.hub_http_port, "leafz")
    accounts = sorted(leaf["account"] for leaf in leafz["leafs"])
    assert accounts == sorted(topology.topo.nations)  # one leaf per nation, each its account
    for n in topology.topo.nations:
        own = monitor(topology.topo.leaf_ports[n].http_port, "leafz")
        assert own["leafnodes"] == 1  # its link to the hub, and nothing else
        assert own["leafs"][0]["port"] == topology.topo.hub_leaf_port
        assert monitor(topology.topo.leaf_ports[n].http_port, "routez")["num_routes"] == 0


def test_a_kor_report_reaches_the_hub_and_no_other_nation(topology: Running) -> None:
    async def main() -> None:
        hub, kor, jpn, usa = (
            await topology.hub(),
            await topology.node("KOR"),
            await topology.node("JPN"),
            await topology.node("USA"),
        )
        at_hub = await _sub(hub, "trilink.KOR.>")
        at_jpn = await _sub(jpn, ">")  # misconfigured code taking everything it can
        at_usa = await _sub(usa, ">")  # the U.S. national node is a nation, not the hub
        await asyncio.sleep(0.2)  # interest crosses the leaf links
        headers = {"Nats-Msg-Id": "0190-test", "trilink-kind": "track_report"}
        await kor.publish("trilink.KOR.tracks", b"\x81\xa1k\x01", headers=headers)
        await kor.flush()
        await at_hub.wait()
        await asyncio.sleep(SETTLE_S)
        assert at_hub.got == [("trilink.KOR.tracks", b"\x81\xa1k\x01", headers)]
        assert not [s for s in at_jpn.subjects() if "KOR" in s]
        assert not [s for s in at_usa.subjects() if "KOR" in s]
        for c in (hub, kor, jpn, usa):
            await c.close()

    run(main())


def test_jpn_cannot_read_kor_reports_or_kor_releases(topology: Running) -> None:
    async def main() -> None:
        hub, kor, jpn = await topology.hub(), await topology.node("KOR"), await topology.node("JPN")
        kor_gets = await _sub(kor, "trilink.hub.out.KOR.>")  # the control
        hub_gets = await _sub(hub, "trilink.KOR.>")  # the control
        jpn_raw = await _sub(jpn, "trilink.KOR.>")
        jpn_rel = await _sub(jpn, "trilink.hub.out.KOR.>")
        jpn_any = await _sub(jpn, "trilink.*.>")
        await asyncio.sleep(0.2)
        await hub.publish("trilink.hub.out.KOR.tracks", b"release for KOR")
        await kor.publish("trilink.KOR.tracks", b"raw KOR report")
        await hub.flush()
        await kor.flush()
        await kor_gets.wait()
        await hub_gets.wait()
        await asyncio.sleep(SETTLE_S)
        assert kor_gets.subjects() == ["trilink.hub.out.KOR.tracks"]
        assert jpn_raw.got == [] and jpn_rel.got == [] and jpn_any.got == []
        for c in (hub, kor, jpn):
            await c.close()

    run(main())


def test_jpn_cannot_spoof_kor_reports(topology: Running) -> None:
    async def main() -> None:
        errors: list[Exception] = []

        async def on_error(e: Exception) -> None:
            errors.append(e)

        hub, kor = await topology.hub(), await topology.node("KOR")
        jpn = await topology.node("JPN", error_cb=on_error)
        at_hub = await _sub(hub, "trilink.KOR.>")
        await asyncio.sleep(0.2)
        await jpn.publish("trilink.KOR.tracks", b"spoofed by JPN")
        await jpn.flush()
        await asyncio.sleep(SETTLE_S)
        await kor.publish("trilink.KOR.tracks", b"genuine")  # the control
        await kor.flush()
        await at_hub.wait()
        await asyncio.sleep(SETTLE_S)
        assert [d for _, d, _ in at_hub.got] == [b"genuine"]
        assert any("permissions violation" in str(e).lower() for e in errors), errors
        for c in (hub, kor, jpn):
            await c.close()

    run(main())


def test_a_release_for_jpn_reaches_jpn_only(topology: Running) -> None:
    async def main() -> None:
        hub, kor, jpn = await topology.hub(), await topology.node("KOR"), await topology.node("JPN")
        at_jpn = await _sub(jpn, "trilink.hub.out.JPN.>")
        at_kor = await _sub(kor, ">")
        await asyncio.sleep(0.2)
        js = jpn.jetstream(timeout=2)
        before = (await js.stream_info(inbox_stream("JPN"))).state.messages
        headers = {"Nats-Msg-Id": "0190-rel", "trilink-kind": "system_track"}
        await hub.publish("trilink.hub.out.JPN.tracks", b"fused", headers=headers)
        await hub.flush()
        await at_jpn.wait()
        await asyncio.sleep(SETTLE_S)
        assert at_jpn.got == [("trilink.hub.out.JPN.tracks", b"fused", headers)]
        assert not [s for s in at_kor.subjects() if "JPN" in s]

        # And it is kept: JPN's leaf inbox sources it from the hub's release stream.
        async def inbox() -> int:
            return int((await js.stream_info(inbox_stream("JPN"))).state.messages)

        for _ in range(100):
            if await inbox() > before:
                break
            await asyncio.sleep(0.1)
        assert await inbox() == before + 1
        for c in (hub, kor, jpn):
            await c.close()

    run(main())


async def _ignore(e: Exception) -> None:
    pass


def test_server_logs_show_the_spoof_attempt_and_no_other_error(topology: Running) -> None:
    async def attempt() -> None:
        jpn = await topology.node("JPN", error_cb=_ignore)
        await jpn.publish("trilink.KOR.tracks", b"spoofed by JPN")
        await jpn.flush()
        await jpn.close()

    run(attempt())
    spoof = 'Publish Violation - User "CN=node,OU=JPN,O=trilink", Subject "trilink.KOR.tracks"'
    # JPN's own server refused it and logged who tried what.
    wait_for(lambda: spoof in topology.log("jpn"), 5, "the violation in JPN's log")
    for server in [HUB_SERVER, *(domain_of(n) for n in topology.topo.nations)]:
        errs = [line for line in topology.log(server).splitlines() if "[ERR]" in line]
        # Allowed: a leaf's refused dial if it came up before the hub accepted leaves.
        errs = [e for e in errs if spoof not in e and "connect: connection refused" not in e]
        assert errs == [], server


def test_the_hub_sources_a_burst_beyond_one_flow_control_window(topology: Running) -> None:
    """5,000 reports of 1,000 bytes: without the flow-control import ($JS.FC.KOR_OUTBOX.>
    from HUB to KOR) the cross-account source stalls after about 2,000."""
    burst = 5000

    async def main() -> None:
        hub, kor = await topology.hub(), await topology.node("KOR")
        hub_js, kor_js = hub.jetstream(timeout=2), kor.jetstream(timeout=2)
        target = (await kor_js.stream_info(outbox_stream("KOR"))).state.messages + burst
        for i in range(burst):
            await kor.publish("trilink.KOR.status", i.to_bytes(4, "big") + bytes(996))
        await kor.flush()
        for _ in range(200):
            outbox = (await kor_js.stream_info(outbox_stream("KOR"))).state.messages
            sourced = (await hub_js.stream_info(hub_from_stream("KOR"))).state.messages
            if outbox == sourced == target:
                break
            await asyncio.sleep(0.05)
        assert (outbox, sourced) == (target, target)
        await hub.close()
        await kor.close()

    run(main())
