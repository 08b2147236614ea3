"""The names, ports and paths of one live NATS deployment: :class:`Topology` and its saving.

A :class:`Topology` is the single input of the config writers
(:mod:`trilink.link.topology`) and of the stream plan (:mod:`trilink.link.topology_streams`);
this module also names the servers, accounts, JetStream domains and streams they share
(the shape itself is described in :mod:`trilink.link.topology`). ``load_topology`` reads
back the ``topology.json`` that :func:`~trilink.link.topology.write_topology` saves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trilink.errors import DeployError
from trilink.link.pki import CertPair, subject_dn

HUB_SERVER = "hub"
HUB_ACCOUNT = "HUB"
HUB_DOMAIN = "hub"
SF_PREFIX = "$SF"
"""Delivery-subject prefix of the hub's source consumers on the leaves (``$SF.<N>``)."""
_NATION = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
_RESERVED = {"HUB", "SYS", "$G", "GLOBAL"}
GIB = 1 << 30
DAY_S = 86_400


def outbox_stream(n: str) -> str:
    return f"{n}_OUTBOX"


def inbox_stream(n: str) -> str:
    return f"{n}_INBOX"


def hub_from_stream(n: str) -> str:
    return f"HUB_FROM_{n}"


def hub_to_stream(n: str) -> str:
    return f"HUB_TO_{n}"


def domain_of(n: str) -> str:
    """A nation's JetStream domain (and server name): its id in lower case."""
    return n.lower()


def node_subjects(n: str) -> list[str]:
    """What nation ``n``'s node publishes (and what ``N_OUTBOX`` keeps)."""
    return [f"trilink.{n}.>", f"trilink.deadletter.{n}"]


@dataclass(frozen=True)
class LeafPorts:
    client_port: int
    http_port: int


@dataclass(frozen=True)
class Topology:
    """Every name, address and path of one deployment; the single input of the writers.

    ``nations`` are all nations with a leaf server (the hub nation too); ``*_host`` are
    bind addresses, ``hub_url_host`` what leaves dial (it must be in the hub server
    certificate's SAN). ``root`` is where the per-host folders live *on the hosts*.
    """

    nations: tuple[str, ...]
    hub_nation: str
    root: Path
    hub_host: str = "127.0.0.1"
    hub_url_host: str = "127.0.0.1"
    hub_client_port: int = 4222
    hub_leaf_port: int = 7422
    hub_http_port: int = 8222
    leaf_host: str = "127.0.0.1"
    leaf_ports: Mapping[str, LeafPorts] = field(default_factory=dict)
    stream_max_bytes: int = GIB
    stream_max_age_s: float = 7 * DAY_S

    def __post_init__(self) -> None:
        problems = [n for n in self.nations if not _NATION.match(n) or n in _RESERVED]
        if problems:
            raise DeployError(problems[0], "a nation id is 2-16 of A-Z 0-9 _ and not HUB/SYS")
        if self.hub_nation not in self.nations:
            raise DeployError(self.hub_nation, f"hub nation not among {list(self.nations)}")
        ports = dict(self.leaf_ports)
        for i, n in enumerate(self.nations):  # defaults: 4223.., 8223.. in nation order
            ports.setdefault(n, LeafPorts(self.hub_client_port + 1 + i, self.hub_http_port + 1 + i))
        object.__setattr__(self, "leaf_ports", ports)
        object.__setattr__(self, "root", Path(self.root))

    # ---- where things are -------------------------------------------------------
    def server_dir(self, server: str) -> Path:
        """The folder of one server on its host (``hub``, ``kor``, ...)."""
        return self.root / server

    def servers(self) -> list[str]:
        return [HUB_SERVER, *(domain_of(n) for n in self.nations)]

    @property
    def hub_leaf_url(self) -> str:
        return f"tls://{self.hub_url_host}:{self.hub_leaf_port}"

    @property
    def hub_client_url(self) -> str:
        return f"tls://{self.hub_url_host}:{self.hub_client_port}"

    def leaf_client_url(self, n: str, host: str = "127.0.0.1") -> str:
        return f"tls://{host}:{self.leaf_ports[n].client_port}"

    def tls_paths(self, server: str) -> dict[str, Path]:
        """Certificate files as the config names them, on the server's host."""
        d = self.server_dir(server) / "tls"
        if server == HUB_SERVER:
            names = ["ca.pem", "server.pem", "server.key", "client.pem", "client.key"]
        else:
            names = ["ca.pem", "leaf.pem", "leaf.key", "node.pem", "node.key"]
        return {name: d / name for name in names}

    def hub_client_pair(self) -> CertPair:
        p = self.tls_paths(HUB_SERVER)
        return CertPair(p["client.pem"], p["client.key"], subject_dn("hub-node", self.hub_nation))

    def node_pair(self, n: str) -> CertPair:
        p = self.tls_paths(domain_of(n))
        return CertPair(p["node.pem"], p["node.key"], subject_dn("node", n))

    # ---- persistence ------------------------------------------------------------
    def to_json(self) -> str:
        d = asdict(self)
        d["root"] = str(self.root)
        d["leaf_ports"] = {n: asdict(p) for n, p in self.leaf_ports.items()}
        return json.dumps(d, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Topology:
        d = json.loads(text)
        d["nations"] = tuple(d["nations"])
        d["root"] = Path(d["root"])
        d["leaf_ports"] = {n: LeafPorts(**p) for n, p in d["leaf_ports"].items()}
        return cls(**d)


def load_topology(out: Path) -> Topology:
    """The :class:`Topology` saved by :func:`~trilink.link.topology.write_topology` in
    ``out/topology.json``."""
    path = Path(out) / "topology.json"
    try:
        return Topology.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DeployError(
            str(path), f"not a topology written by trilink nats-config: {e}"
        ) from None
