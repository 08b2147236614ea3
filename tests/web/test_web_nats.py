"""BusFeed on a real nats-server: the same pictures as on the in-memory bus, and a partner's
feed never holds another partner's releases."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from web_scene import KEYRING, NS, T0_NS, HubOut, scene

from trilink.link import InMemoryBus
from trilink.link.nats_bus import NatsBus
from trilink.web import BusFeed

pytestmark = pytest.mark.nats
NATS_SERVER = "/usr/bin/nats-server"


@pytest.fixture(scope="module")
def nats_url():
    binary = NATS_SERVER if Path(NATS_SERVER).exists() else shutil.which("nats-server")
    if binary is None:
        pytest.fail("nats-server not found: install Debian's nats-server (make system-deps)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "-p", str(port), "-a", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"nats-server did not start: {proc.communicate()[1][-2000:]!r}")
            time.sleep(0.02)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=5)


def clock() -> int:
    return T0_NS + 3600 * NS


async def _pictures(sub_bus, pub_bus, partners):
    feed = BusFeed(sub_bus, partners, KEYRING, clock=clock)
    await feed.start()
    await sub_bus.flush()
    msgs = scene(HubOut(), until_s=150.0)
    for subject, payload in msgs:
        await pub_bus.publish(subject, payload)
    await pub_bus.flush()
    deadline = time.monotonic() + 10
    want = sum(1 for s, _ in msgs if s.split(".")[3] in partners)
    while feed.accepted + sum(sum(p.rejected.values()) for p in feed.pictures.values()) < want:
        assert time.monotonic() < deadline, "not every release arrived"
        await asyncio.sleep(0.02)
    snaps = {p: feed.snapshot(p) for p in partners}
    await feed.stop()
    return snaps


def _strip(snap):
    """What must agree between buses (receive times and clock are the same fixed clock)."""
    return {k: v for k, v in snap.items() if k != "now_ms"}


def test_nats_feed_builds_the_same_pictures_as_in_memory(nats_url):
    async def go():
        sub, pub = await NatsBus.connect(nats_url), await NatsBus.connect(nats_url)
        try:
            over_nats = await _pictures(sub, pub, ["JPN", "KOR"])
        finally:
            await sub.close()
            await pub.close()
        mem = InMemoryBus()
        in_memory = await _pictures(mem, mem, ["JPN", "KOR"])
        return over_nats, in_memory

    over_nats, in_memory = asyncio.run(asyncio.wait_for(go(), 30))
    for p in ("JPN", "KOR"):
        assert _strip(over_nats[p]) == _strip(in_memory[p])
    assert [t["number"] for t in over_nats["KOR"]["tracks"]] == [101]
    assert len(over_nats["JPN"]["warnings"]) == 1 and over_nats["KOR"]["warnings"] == []


def test_nats_feed_for_one_partner_subscribes_to_that_partner_only(nats_url):
    async def go():
        sub, pub = await NatsBus.connect(nats_url), await NatsBus.connect(nats_url)
        try:
            return await _pictures(sub, pub, ["KOR"])
        finally:
            await sub.close()
            await pub.close()

    snaps = asyncio.run(asyncio.wait_for(go(), 30))
    assert list(snaps) == ["KOR"]
    assert [t["number"] for t in snaps["KOR"]["tracks"]] == [101]
    assert snaps["KOR"]["rejected"] == {}
