"""A whole coalition topology on this machine: the hub's NATS server, one leaf server per
nation (mutual TLS, JetStream store-and-forward), and a connection factory for the nodes
(``trilink up``, and the integration tests over real NATS).
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from trilink.errors import DeployError
from trilink.link import Bus
from trilink.link.natsproc import NatsServer, local_topology, topology_servers
from trilink.link.pki import PkiLayout, client_tls, init_pki
from trilink.link.topology import HUB_SERVER, Topology, provision, write_topology
from trilink.nodes.hub import HUB_ID


@dataclass
class LocalCoalition:
    topo: Topology
    pki: PkiLayout
    servers: dict[str, NatsServer]

    @property
    def ca(self) -> Path:
        return self.topo.tls_paths(HUB_SERVER)["ca.pem"]

    async def bus_for(self, node: str) -> Bus:
        """A NATS bus for ``node``: the hub process on the hub server (account HUB), a
        national node on its own nation's leaf — each with its own client certificate."""
        from trilink.link.nats_bus import NatsBus

        if node == HUB_ID:
            return await NatsBus.connect(
                self.topo.hub_client_url, tls=client_tls(self.ca, self.topo.hub_client_pair())
            )
        return await NatsBus.connect(
            self.topo.leaf_client_url(node), tls=client_tls(self.ca, self.topo.node_pair(node))
        )

    def leaves_connected(self) -> int:
        """Leaf servers linked to the hub now (the hub's monitor, ``/leafz``)."""
        url = f"http://127.0.0.1:{self.topo.hub_http_port}/leafz"
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(json.loads(r.read())["leafnodes"])

    def stop(self) -> None:
        for s in reversed(list(self.servers.values())):
            with contextlib.suppress(Exception):
                s.stop()

    def __enter__(self) -> LocalCoalition:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def start_local_coalition(
    root: Path, nations: Sequence[str], hub_nation: str, *, link_timeout_s: float = 20.0
) -> LocalCoalition:
    """Write PKI and configs under ``root``, start every server, wait for the leaf links,
    and provision the JetStream streams. Stops what it started if anything fails."""
    topo = local_topology(nations, hub_nation, root)
    pki = init_pki(root / "pki", nations, hub_nation)
    write_topology(topo, root, pki)
    running = LocalCoalition(topo, pki, topology_servers(topo))
    try:
        for server in running.servers.values():
            server.start()
        t0 = time.monotonic()
        while running.leaves_connected() < len(nations):
            if time.monotonic() - t0 > link_timeout_s:
                raise DeployError(
                    "leafz", f"leaf nodes did not link to the hub in {link_timeout_s} s"
                )
            time.sleep(0.05)
        hub = await running.bus_for(HUB_ID)
        leaves = {n: await running.bus_for(n) for n in nations}
        try:
            await provision(topo, hub.client, {n: b.client for n, b in leaves.items()})  # type: ignore[attr-defined]
        finally:
            for b in [hub, *leaves.values()]:
                await b.close()
    except BaseException:
        running.stop()
        raise
    return running
