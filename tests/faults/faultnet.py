"""The live topology in network namespaces: a WAN between the hub and each leaf.

Design (docs/operations.md, "Fault tests"): the hub server and the USA leaf run in the
hub namespace (the U.S. leaf sits on the hub host in a deployment too); the KOR and JPN
leaves each in their own namespace, joined to the hub by an impairable link
(:class:`trilink.link.netns.StarNet`). Every server is Debian's nats-server started with
``ip netns exec NS nats-server -c CONF`` on the configs ``write_topology`` writes, with
mutual TLS from ``init_pki`` whose certificates name the namespaces' addresses.

The test's own clients (hub process, national nodes, partners) stay in the root
namespace and reach the servers over the clean management veths: only the leaf <-> hub
links — the WAN of a deployment — are delayed, lossy or cut.

If namespaces cannot be created here, :func:`start_fault_topology` raises DeployError
saying why, and the test fails with it: these tests never skip.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats

from trilink.errors import DeployError
from trilink.link.natsproc import NatsServer, nats_server_binary
from trilink.link.netns import Namespace, StarNet
from trilink.link.pki import PkiLayout, client_tls, init_pki
from trilink.link.topology import HUB_SERVER, Topology, domain_of, provision, write_topology

NATIONS = ("USA", "KOR", "JPN")
HUB_NATION = "USA"
WAN_LEAVES = ("KOR", "JPN")


class NetnsServer(NatsServer):
    """A nats-server inside a namespace; readiness through the namespace's loopback."""

    def __init__(self, ns: Namespace, config: Path, **kw: Any):
        super().__init__(config, **kw)
        self.ns = ns

    def start(self) -> NetnsServer:
        if self.running:
            return self
        argv = self.ns.exec_argv([nats_server_binary(), "-c", str(self.config)])
        with open(self.log_path, "ab") as log:
            log.write(f"---- trilink: starting {self.name} in {self.ns.name} ----\n".encode())
            self._proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_ready()
        except DeployError:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        return bool(self.ns.call(lambda: _http_ok(f"http://127.0.0.1:{self.http_port}/healthz")))

    def monitor(self, path: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.http_port}/{path}"

        def get() -> dict[str, Any]:
            with urllib.request.urlopen(url, timeout=2) as r:
                return dict(json.loads(r.read()))

        return self.ns.call(get)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@dataclass
class FaultTopology:
    net: StarNet
    topo: Topology
    pki: PkiLayout
    servers: dict[str, NetnsServer]

    @property
    def ca(self) -> Path:
        return self.topo.tls_paths(HUB_SERVER)["ca.pem"]

    def hub_url(self) -> str:
        return f"tls://{self.net.mgmt_addr()}:{self.topo.hub_client_port}"

    def leaf_url(self, nation: str) -> str:
        where = None if nation not in WAN_LEAVES else nation
        return self.topo.leaf_client_url(nation, self.net.mgmt_addr(where))

    async def hub(self, **kw: Any) -> nats.NATS:
        """A connection to the hub server as the hub process (account HUB)."""
        kw.setdefault("connect_timeout", 2)
        tls = client_tls(self.ca, self.topo.hub_client_pair())
        return await nats.connect(self.hub_url(), tls=tls, **kw)

    async def node(self, nation: str, **kw: Any) -> nats.NATS:
        """A connection to ``nation``'s leaf as its national node."""
        kw.setdefault("connect_timeout", 2)
        tls = client_tls(self.ca, self.topo.node_pair(nation))
        return await nats.connect(self.leaf_url(nation), tls=tls, **kw)

    def leaves_linked(self) -> int:
        return int(self.servers[HUB_SERVER].monitor("leafz")["leafnodes"])

    def wait_linked(self, timeout_s: float = 30.0) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            if self.leaves_linked() == len(NATIONS):
                return time.monotonic() - t0
            time.sleep(0.1)
        raise DeployError("leafz", f"{len(NATIONS)} leaves not linked to the hub in {timeout_s} s")

    def stop(self) -> None:
        for s in reversed(list(self.servers.values())):
            s.stop()
        self.net.close()


def start_fault_topology(root: Path, *, backend: str = "auto") -> FaultTopology:
    """Namespaces, PKI, configs, servers, leaf links and streams; everything or nothing."""
    net = StarNet(WAN_LEAVES, backend=backend)
    try:
        topo = Topology(
            nations=NATIONS, hub_nation=HUB_NATION, root=Path(root).resolve(),
            hub_host="0.0.0.0", hub_url_host=net.hub_addr, leaf_host="0.0.0.0",
        )  # fmt: skip
        leaf_hosts = {n: [net.mgmt_addr(n if n in WAN_LEAVES else None)] for n in NATIONS}
        pki = init_pki(
            root / "pki", NATIONS, HUB_NATION,
            hub_hosts=[net.hub_addr, net.mgmt_addr()], leaf_hosts=leaf_hosts,
        )  # fmt: skip
        write_topology(topo, root, pki)
        servers: dict[str, NetnsServer] = {}
        for server in topo.servers():
            ns = net.leaves[server.upper()] if server.upper() in WAN_LEAVES else net.hub
            if server == HUB_SERVER:
                ports = (topo.hub_client_port, topo.hub_http_port)
            else:
                p = topo.leaf_ports[server.upper()]
                ports = (p.client_port, p.http_port)
            servers[server] = NetnsServer(
                ns, root / server / f"{server}.conf", client_port=ports[0], http_port=ports[1],
                ready_timeout_s=20,
            )  # fmt: skip
        ft = FaultTopology(net, topo, pki, servers)
    except BaseException:
        net.close()
        raise
    try:
        for s in servers.values():
            s.start()
        ft.wait_linked()
        _provision(ft)
    except BaseException:
        ft.stop()
        raise
    return ft


def fault_topology_or_fail(root: Path) -> FaultTopology:
    """:func:`start_fault_topology`, or the test fails saying why (never a skip)."""
    import pytest

    try:
        return start_fault_topology(root)
    except DeployError as e:
        pytest.fail(f"cannot build the namespace topology on this machine: {e}")


def _provision(ft: FaultTopology) -> None:
    import asyncio

    async def go() -> None:
        hub = await ft.hub()
        leaves = {n: await ft.node(n) for n in NATIONS}
        try:
            await provision(ft.topo, hub, leaves)
        finally:
            for c in [hub, *leaves.values()]:
                await c.close()

    asyncio.run(asyncio.wait_for(go(), 60))


def server_of(nation: str) -> str:
    return domain_of(nation)
