"""Store-and-forward through outages, and mutual TLS that refuses strangers.

Hub down: KOR's leaf keeps acknowledging reports (its own JetStream domain); when the
hub returns, its ``HUB_FROM_KOR`` stream sources everything it missed, in order. Leaf
down: the hub keeps JPN's releases in ``HUB_TO_JPN``; when JPN returns, its inbox sources
them. Recovery times are printed (run with ``-s``); they are measured, not asserted.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

import nats
import pytest
from deploy_fixtures import Running, monitor, run, wait_for
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from trilink.link.natsproc import NatsServer, free_ports
from trilink.link.pki import client_tls, init_pki
from trilink.link.topology import (
    HUB_SERVER,
    LeafPorts,
    hub_from_stream,
    inbox_stream,
    outbox_stream,
    write_topology,
)

COUNT = 100


async def _stream_count(js: object, stream: str) -> int:
    try:
        return int((await js.stream_info(stream)).state.messages)  # type: ignore[attr-defined]
    except Exception:  # the server is still coming up: count nothing yet
        return -1


async def _read_all(js: object, stream: str, first_seq: int, n: int) -> list[bytes]:
    """Payloads ``first_seq .. first_seq+n-1`` of a stream, in stream order."""
    sub = await js.pull_subscribe(  # type: ignore[attr-defined]
        "",
        durable=None,
        stream=stream,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=first_seq,
            ack_policy=AckPolicy.NONE,
        ),
    )
    out: list[bytes] = []
    while len(out) < n:
        out += [m.data for m in await sub.fetch(n - len(out), timeout=5)]
    await sub.unsubscribe()
    return out


def test_reports_published_while_the_hub_is_down_all_arrive_in_order(
    fresh_topology: Running,
) -> None:
    topo, hub_server = fresh_topology.topo, fresh_topology.servers[HUB_SERVER]

    async def before() -> int:
        hub = await fresh_topology.hub()
        n = await _stream_count(hub.jetstream(timeout=2), hub_from_stream("KOR"))
        await hub.close()
        return n

    base = run(before())
    assert base >= 0
    hub_server.stop()

    async def publish_while_cut_off() -> None:
        kor = await fresh_topology.node("KOR")
        js = kor.jetstream(timeout=2)
        for i in range(COUNT):
            ack = await js.publish("trilink.KOR.tracks", f"report {i:03d}".encode())
            assert ack.stream == outbox_stream("KOR")  # acknowledged by KOR's own leaf
            assert ack.domain == "kor"
        await kor.close()

    run(publish_while_cut_off())
    hub_server.start()
    t0 = time.monotonic()

    async def wait_and_read() -> tuple[float, list[bytes]]:
        hub = await fresh_topology.hub()
        js = hub.jetstream(timeout=2)
        while await _stream_count(js, hub_from_stream("KOR")) < base + COUNT:
            assert time.monotonic() - t0 < 30, "the hub did not catch up within 30 s"
            await nats_sleep()
        recovered = time.monotonic() - t0
        data = await _read_all(js, hub_from_stream("KOR"), base + 1, COUNT)
        await hub.close()
        return recovered, data

    recovered, data = run(wait_and_read(), timeout_s=45)
    assert data == [f"report {i:03d}".encode() for i in range(COUNT)]
    print(f"\nhub outage: {COUNT} reports recovered {recovered:.2f} s after the hub restarted")
    assert topo.hub_leaf_port  # the hub came back on the port the leaves dial


def test_releases_published_while_a_leaf_is_down_all_arrive_in_order(
    fresh_topology: Running,
) -> None:
    jpn_server = fresh_topology.servers["jpn"]

    async def count_inbox() -> int:
        jpn = await fresh_topology.node("JPN")
        n = await _stream_count(jpn.jetstream(timeout=2), inbox_stream("JPN"))
        await jpn.close()
        return n

    base = run(count_inbox())
    jpn_server.stop()
    wait_for(lambda: fresh_topology.leaves_connected() == 2, 10, "JPN's link to drop")

    async def release_while_cut_off() -> None:
        hub = await fresh_topology.hub()
        for i in range(COUNT):
            await hub.publish("trilink.hub.out.JPN.tracks", f"release {i:03d}".encode())
        await hub.flush()
        await hub.close()

    run(release_while_cut_off())
    jpn_server.start()
    t0 = time.monotonic()

    async def wait_and_read() -> tuple[float, list[bytes]]:
        jpn = await fresh_topology.node("JPN")
        js = jpn.jetstream(timeout=2)
        while await _stream_count(js, inbox_stream("JPN")) < base + COUNT:
            assert time.monotonic() - t0 < 30, "JPN did not catch up within 30 s"
            await nats_sleep()
        recovered = time.monotonic() - t0
        data = await _read_all(js, inbox_stream("JPN"), base + 1, COUNT)
        await jpn.close()
        return recovered, data

    recovered, data = run(wait_and_read(), timeout_s=45)
    assert data == [f"release {i:03d}".encode() for i in range(COUNT)]
    print(f"\nleaf outage: {COUNT} releases recovered {recovered:.2f} s after JPN restarted")


async def nats_sleep() -> None:
    import asyncio

    await asyncio.sleep(0.05)


def test_a_leaf_with_a_certificate_from_another_ca_is_refused(
    topology: Running, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A rogue server claiming KOR's leaf subject, with a key from another CA. It trusts
    the coalition CA (so the refusal is the hub's, not its own)."""
    root = tmp_path_factory.mktemp("rogue")
    rogue_pki = init_pki(root / "pki", topology.topo.nations, topology.topo.hub_nation)
    client, http = free_ports(2)
    rogue = dataclasses.replace(
        topology.topo, root=root.resolve(), leaf_ports={"KOR": LeafPorts(client, http)}
    )
    write_topology(rogue, root, rogue_pki)
    shutil.copyfile(topology.ca, root / "kor" / "tls" / "ca.pem")  # trusts the real hub
    server = NatsServer(root / "kor" / "kor.conf", client_port=client, http_port=http)
    with server:

        def refused() -> bool:
            return "TLS" in server.log_tail() and "leafnode" in server.log_tail().lower()

        wait_for(refused, 10, "the rogue leaf's dial to fail")
        assert monitor(http, "leafz")["leafnodes"] == 0
        assert topology.leaves_connected() == len(topology.topo.nations)
        hub_log = topology.log(HUB_SERVER)
        assert "certificate signed by unknown authority" in hub_log or "bad certificate" in hub_log

    # A client with a rogue certificate cannot log into the hub either.
    async def rogue_client() -> None:
        with pytest.raises(Exception):  # noqa: B017  (TLS alert or connection closed)
            await nats.connect(
                topology.topo.hub_client_url,
                tls=client_tls(topology.ca, rogue_pki.hub_client),
                connect_timeout=2,
                max_reconnect_attempts=0,
                allow_reconnect=False,
            )

    run(rogue_client())
