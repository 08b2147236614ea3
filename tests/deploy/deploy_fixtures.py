"""Helpers for the deploy tests: a real hub + leaf topology on loopback.

Every server is Debian's nats-server started from the configs ``write_topology`` writes,
with mutual TLS from a fresh ``init_pki``. If the binary is missing the tests FAIL with
the reason (``DeployError`` from ``nats_server_binary``), never skip.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest

from trilink.link.natsproc import NatsServer, local_topology, topology_servers
from trilink.link.pki import PkiLayout, client_tls, init_pki
from trilink.link.topology import HUB_SERVER, Topology, provision, write_topology

NATIONS = ("USA", "KOR", "JPN")
HUB_NATION = "USA"


def monitor(port: int, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as r:
        return dict(json.loads(r.read()))


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``check`` until true; the seconds it took. Fails the test on timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if check():
            return time.monotonic() - t0
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout_s} s waiting for {what}")


@dataclass
class Running:
    topo: Topology
    pki: PkiLayout
    servers: dict[str, NatsServer]

    @property
    def ca(self) -> Path:
        return self.topo.tls_paths(HUB_SERVER)["ca.pem"]

    async def hub(self, **kw: Any) -> nats.NATS:
        """A connection to the hub as the hub process (account HUB)."""
        return await nats.connect(
            self.topo.hub_client_url,
            tls=client_tls(self.ca, self.topo.hub_client_pair()),
            connect_timeout=2,
            **kw,
        )

    async def node(self, nation: str, **kw: Any) -> nats.NATS:
        """A connection to ``nation``'s leaf as its national node."""
        return await nats.connect(
            self.topo.leaf_client_url(nation),
            tls=client_tls(self.ca, self.topo.node_pair(nation)),
            connect_timeout=2,
            **kw,
        )

    def leaves_connected(self) -> int:
        return int(monitor(self.topo.hub_http_port, "leafz")["leafnodes"])

    def wait_linked(self, timeout_s: float = 15.0) -> float:
        n = len(self.topo.nations)
        return wait_for(lambda: self.leaves_connected() == n, timeout_s, f"{n} leaves on hub")

    def log(self, server: str) -> str:
        return self.servers[server].log_tail(20000)

    def stop(self) -> None:
        for s in reversed(list(self.servers.values())):
            s.stop()


def run(coro: Awaitable[Any], timeout_s: float = 30.0) -> Any:
    """Run a coroutine with a deadline (a test never hangs)."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout_s)

    return asyncio.run(bounded())


def start_topology(root: Path) -> Running:
    topo = local_topology(NATIONS, HUB_NATION, root)
    pki = init_pki(root / "pki", NATIONS, HUB_NATION)
    write_topology(topo, root, pki)
    running = Running(topo, pki, topology_servers(topo))
    try:
        for server in running.servers.values():
            server.start()
        running.wait_linked()

        async def prov() -> None:
            hub = await running.hub()
            leaves = {n: await running.node(n) for n in NATIONS}
            try:
                await provision(topo, hub, leaves)
            finally:
                for c in [hub, *leaves.values()]:
                    await c.close()

        run(prov())
    except BaseException:
        running.stop()
        raise
    return running
