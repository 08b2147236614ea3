"""Helpers for the deploy tests: a real hub + leaf topology on loopback.

The topology is the one ``trilink up`` starts (:func:`trilink.nodes.up.start_local_coalition`):
every server is Debian's nats-server started from the configs ``write_topology`` writes,
with mutual TLS from a fresh ``init_pki``, the leaves linked to the hub and every stream
provisioned. If the binary is missing the tests FAIL with the reason (``DeployError``
from ``nats_server_binary``), never skip.
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

from trilink.link.pki import client_tls
from trilink.nodes.up import LocalCoalition, start_local_coalition

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
class Running(LocalCoalition):
    """The running topology (topology, PKI, servers, CA: :class:`LocalCoalition`) and the
    tests' own ways in: raw nats-py connections as the hub or a node, the servers' logs."""

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

    def log(self, server: str) -> str:
        return self.servers[server].log_tail(20000)


def run(coro: Awaitable[Any], timeout_s: float = 30.0) -> Any:
    """Run a coroutine with a deadline (a test never hangs)."""

    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout_s)

    return asyncio.run(bounded())


def start_topology(root: Path) -> Running:
    """PKI, configs, servers, leaf links and streams under ``root``, as ``trilink up``
    builds them (it stops what it started if anything fails)."""
    coalition = start_local_coalition(root, NATIONS, HUB_NATION, link_timeout_s=15.0)
    started = run(coalition, timeout_s=60.0)  # four server starts, the links, the streams
    return Running(started.topo, started.pki, started.servers)
