"""The live NATS topology: one hub server, one leaf server per nation, and their streams.

::

      KOR host                      U.S. hub host                        JPN host
  ┌──────────────┐  TLS leaf  ┌──────────────────────────┐  TLS leaf  ┌──────────────┐
  │ leaf "kor"   │───────────►│ hub "hub" (domain hub)   │◄───────────│ leaf "jpn"   │
  │ domain kor   │  7422      │ accounts HUB KOR JPN USA │      7422  │ domain jpn   │
  │ acct KOR     │            │ leaf "usa" (domain usa)──┘            │ acct JPN     │
  └──────────────┘            └──────────────────────────┘            └──────────────┘

Every nation, the hub nation included, runs a leaf server; each leaf has exactly one
remote, the hub's leaf listener, and logs in with its certificate, which the hub maps
(``verify_and_map``) to that nation's account. Leaves never listen for leaf connections,
so Korea's and Japan's servers cannot reach each other.

Accounts on the hub: ``HUB`` (the hub process) and one per nation. Nation ``N`` exports
``trilink.N.>`` and ``trilink.deadletter.N`` to ``HUB`` only; ``HUB`` exports
``trilink.hub.out.N.>`` to ``N`` only. Nothing else crosses, so a subscriber in account
JPN (on the hub or on JPN's leaf) can never see KOR's subjects, even with ``>``, and a
publish on ``trilink.KOR.tracks`` from JPN stays inside JPN's account. Node users may
also *publish* only their own subjects (subject permissions), so a spoof is refused at
the first server.

JetStream (each server its own domain) carries store-and-forward:

=====================  ===========  ========  =====================================
stream                 server       account   holds
=====================  ===========  ========  =====================================
``N_OUTBOX``           leaf N       N         ``trilink.N.>``, acked locally
``HUB_FROM_N``         hub          HUB       sourced from ``N_OUTBOX`` (domain n)
``HUB_TO_N``           hub          N         ``trilink.hub.out.N.>`` (imported)
``N_INBOX``            leaf N       N         sourced from ``HUB_TO_N`` (domain hub)
=====================  ===========  ========  =====================================

``HUB_FROM_N`` sources across the account boundary, so the hub config carries the
plumbing for it: ``HUB`` imports N's ``$JS.n.API.CONSUMER.CREATE.N_OUTBOX`` service and the
delivery subjects ``$SF.N.>``; ``N`` imports the flow-control replies
``$JS.FC.N_OUTBOX.>`` from ``HUB``. ``HUB_TO_N`` lives in N's own account, so no
hub-side API is ever exposed to a partner (a consumer a partner created in ``HUB`` could
deliver to any ``HUB`` subject, another partner's releases included).

Streams are created at run time by :func:`provision` (they are JetStream API objects,
not configuration). Config files are written by :func:`write_topology`.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trilink.errors import DeployError
from trilink.link.pki import CertPair, PkiLayout, subject_dn

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


# ---- the configs ---------------------------------------------------------------------


def _tls_block(cert: Path, key: Path, ca: Path, *, verify_and_map: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"cert_file": str(cert), "key_file": str(key), "ca_file": str(ca)}
    if verify_and_map:
        block["verify_and_map"] = True
    block["timeout"] = 2
    return block


def hub_config(topo: Topology) -> dict[str, Any]:
    """The hub server's configuration as a dict (render with :func:`render_conf`)."""
    tls = topo.tls_paths(HUB_SERVER)
    hub_tls = _tls_block(tls["server.pem"], tls["server.key"], tls["ca.pem"], verify_and_map=True)
    hub_exports: list[dict[str, Any]] = []
    hub_imports: list[dict[str, Any]] = []
    accounts: dict[str, Any] = {}
    for n in topo.nations:
        d = domain_of(n)
        api = f"$JS.{d}.API.CONSUMER"
        create, delete = f"{api}.CREATE.{outbox_stream(n)}", f"{api}.DELETE.{outbox_stream(n)}.*"
        hub_exports += [
            {"stream": f"trilink.hub.out.{n}.>", "accounts": [n]},
            {"stream": f"$JS.FC.{outbox_stream(n)}.>", "accounts": [n]},
        ]
        hub_imports += [
            {"stream": {"account": n, "subject": s}}
            for s in [*node_subjects(n), f"{SF_PREFIX}.{n}.>"]
        ] + [{"service": {"account": n, "subject": s}} for s in (create, f"{create}.>", delete)]
        accounts[n] = {
            # The partner's share of the hub's disk: its release stream, nothing more.
            "jetstream": {"max_mem": 0, "max_file": topo.stream_max_bytes, "max_streams": 2},
            "exports": [{"stream": s, "accounts": [HUB_ACCOUNT]} for s in node_subjects(n)]
            + [{"stream": f"{SF_PREFIX}.{n}.>", "accounts": [HUB_ACCOUNT]}]
            + [{"service": s, "accounts": [HUB_ACCOUNT]} for s in (create, f"{create}.>", delete)],
            "imports": [
                {"stream": {"account": HUB_ACCOUNT, "subject": f"trilink.hub.out.{n}.>"}},
                {"stream": {"account": HUB_ACCOUNT, "subject": f"$JS.FC.{outbox_stream(n)}.>"}},
            ],
        }
    hub_user = {
        "user": subject_dn("hub-node", topo.hub_nation),
        "permissions": {
            "publish": {
                "allow": [
                    "trilink.hub.>",
                    "trilink.HUB.>",
                    "trilink.deadletter.HUB",
                    "$JS.API.>",
                    "$JS.ACK.>",
                    "$JS.FC.>",
                    "_INBOX.>",
                ]
            },
            "subscribe": {"allow": [">"]},
        },
    }
    accounts = {
        HUB_ACCOUNT: {
            "jetstream": "enabled",
            "users": [hub_user],
            "exports": hub_exports,
            "imports": hub_imports,
        },
        **accounts,
    }
    return {
        "server_name": HUB_SERVER,
        "listen": f"{topo.hub_host}:{topo.hub_client_port}",
        "http": f"127.0.0.1:{topo.hub_http_port}",
        "tls": hub_tls,
        "jetstream": {"domain": HUB_DOMAIN, "store_dir": str(topo.server_dir(HUB_SERVER) / "data")},
        "leafnodes": {
            "listen": f"{topo.hub_host}:{topo.hub_leaf_port}",
            "tls": dict(hub_tls),
            "authorization": {
                "users": [{"user": subject_dn("leaf", n), "account": n} for n in topo.nations]
            },
        },
        "accounts": accounts,
    }


def leaf_config(topo: Topology, n: str) -> dict[str, Any]:
    """Nation ``n``'s leaf server configuration as a dict."""
    d = domain_of(n)
    tls = topo.tls_paths(d)
    node_user = {
        "user": subject_dn("node", n),
        "permissions": {
            # Publish only its own subjects (no spoofing) and the JetStream API of its own
            # account, here (domain-less) and on the hub (domain hub: its release stream).
            "publish": {
                "allow": [
                    *node_subjects(n),
                    "$JS.API.>",
                    f"$JS.{HUB_DOMAIN}.API.>",
                    "$JS.ACK.>",
                    "$JS.FC.>",
                    "_INBOX.>",
                ]
            },
            # Subscriptions are not narrowed: the account holds nothing of another nation.
            "subscribe": {"allow": [">"]},
        },
    }
    ports = topo.leaf_ports[n]
    return {
        "server_name": d,
        "listen": f"{topo.leaf_host}:{ports.client_port}",
        "http": f"127.0.0.1:{ports.http_port}",
        "tls": _tls_block(tls["leaf.pem"], tls["leaf.key"], tls["ca.pem"], verify_and_map=True),
        "jetstream": {"domain": d, "store_dir": str(topo.server_dir(d) / "data")},
        "accounts": {n: {"jetstream": "enabled", "users": [node_user]}},
        "leafnodes": {
            "remotes": [
                {
                    "urls": [topo.hub_leaf_url],
                    "account": n,
                    "tls": _tls_block(
                        tls["leaf.pem"], tls["leaf.key"], tls["ca.pem"], verify_and_map=False
                    ),
                }
            ]
        },
    }


def _value(v: Any, indent: int) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # quoted: '$' and ':' stay literal in NATS config strings
    if isinstance(v, Mapping):
        body = "".join(f"{inner}{k}: {_value(x, indent + 1)}\n" for k, x in v.items())
        return "{\n" + body + pad + "}"
    if isinstance(v, Sequence):
        body = "".join(f"{inner}{_value(x, indent + 1)}\n" for x in v)
        return "[\n" + body + pad + "]"
    raise DeployError(repr(v), "cannot render this value in a NATS config")


def render_conf(config: Mapping[str, Any], header: str = "") -> str:
    """NATS server config text for a dict (the format ``nats-server -c`` reads)."""
    lines = [f"# {h}" for h in header.splitlines()]
    lines += [f"{k}: {_value(v, 0)}" for k, v in config.items()]
    return "\n".join(lines) + "\n"


def _copy(src: Path, dst: Path, *, secret: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    dst.chmod(0o600 if secret else 0o644)


def write_topology(topo: Topology, out: Path, pki: PkiLayout) -> dict[str, Path]:
    """Write one folder per server under ``out``: its config, its certificates, its data dir.

    ``out`` is where the folders are written here; the configs name paths under
    ``topo.root`` (where they will be on the hosts; the same unless deploying elsewhere).
    Returns {server name: config path}. Keys are copied 0600; the CA key never is.
    """
    pki.check()
    out = Path(out)
    written: dict[str, Path] = {}
    header = "trilink NATS topology, generated by `trilink nats-config`; see docs/deploy.md"
    for server in topo.servers():
        here = out / server
        (here / "data").mkdir(parents=True, exist_ok=True)
        tls = here / "tls"
        _copy(pki.ca_cert, tls / "ca.pem", secret=False)
        if server == HUB_SERVER:
            pairs = {"server": pki.hub_server, "client": pki.hub_client}
            conf = hub_config(topo)
        else:
            n = next(x for x in topo.nations if domain_of(x) == server)
            pairs = {"leaf": pki.leaf(n), "node": pki.node(n)}
            conf = leaf_config(topo, n)
        for name, pair in pairs.items():
            _copy(pair.cert, tls / f"{name}.pem", secret=False)
            _copy(pair.key, tls / f"{name}.key", secret=True)
        path = here / f"{server}.conf"
        path.write_text(render_conf(conf, header))
        written[server] = path
    (out / "topology.json").write_text(topo.to_json() + "\n")
    return written


def load_topology(out: Path) -> Topology:
    """The :class:`Topology` saved by :func:`write_topology` in ``out/topology.json``."""
    path = Path(out) / "topology.json"
    try:
        return Topology.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DeployError(
            str(path), f"not a topology written by trilink nats-config: {e}"
        ) from None


def leaf_remotes(config: Mapping[str, Any]) -> list[str]:
    """Every URL a server config dials as a leaf, route or gateway (for isolation checks)."""
    urls: list[str] = []
    for remote in config.get("leafnodes", {}).get("remotes", []):
        urls += list(remote.get("urls", [])) + ([remote["url"]] if "url" in remote else [])
    urls += list(config.get("cluster", {}).get("routes", []))
    for gw in config.get("gateway", {}).get("gateways", []):
        urls += list(gw.get("urls", []))
    return urls


# ---- streams (JetStream API objects, created at run time) ---------------------------


def stream_configs(topo: Topology, n: str) -> dict[str, Any]:
    """The four stream configurations of nation ``n`` (nats-py ``StreamConfig``), by name."""
    from nats.js.api import DiscardPolicy, ExternalStream, StorageType, StreamConfig, StreamSource

    def cfg(name: str, **kw: Any) -> StreamConfig:
        return StreamConfig(
            name=name,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_bytes=topo.stream_max_bytes,
            max_age=topo.stream_max_age_s,
            **kw,
        )

    d = domain_of(n)
    return {
        outbox_stream(n): cfg(outbox_stream(n), subjects=node_subjects(n)),
        inbox_stream(n): cfg(
            inbox_stream(n),
            sources=[
                StreamSource(
                    name=hub_to_stream(n),
                    external=ExternalStream(api=f"$JS.{HUB_DOMAIN}.API"),
                )
            ],
        ),
        hub_to_stream(n): cfg(hub_to_stream(n), subjects=[f"trilink.hub.out.{n}.>"]),
        hub_from_stream(n): cfg(
            hub_from_stream(n),
            sources=[
                StreamSource(
                    name=outbox_stream(n),
                    external=ExternalStream(api=f"$JS.{d}.API", deliver=f"{SF_PREFIX}.{n}"),
                )
            ],
        ),
    }


async def _ensure(js: Any, config: Any, where: str) -> None:
    """Create a stream, or bring an existing one to ``config``; DeployError if neither."""
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import BadRequestError, NotFoundError

    try:
        await js.add_stream(config)
    except BadRequestError as e:
        # 10058: "stream name already in use with a different configuration".
        if getattr(e, "err_code", None) != 10058:
            raise DeployError(f"{where}/{config.name}", f"cannot create: {e}") from None
        try:
            await js.update_stream(config)
        except (BadRequestError, NotFoundError) as e2:
            raise DeployError(f"{where}/{config.name}", f"cannot update: {e2}") from None
    except (NatsTimeout, TimeoutError):
        raise DeployError(
            f"{where}/{config.name}", "JetStream did not answer (server or link down?)"
        ) from None


async def provision_leaf(topo: Topology, n: str, leaf: Any, *, timeout_s: float = 5.0) -> None:
    """Create nation ``n``'s streams from a connection to its leaf (node certificate).

    ``N_OUTBOX`` and ``N_INBOX`` on the leaf first, so reports are kept even while the hub
    is unreachable; then ``HUB_TO_N`` in n's account on the hub (through the leaf, JetStream
    domain ``hub``), which raises DeployError if the hub cannot be reached (retry later:
    every step is idempotent).
    """
    cfgs = stream_configs(topo, n)
    local = leaf.jetstream(timeout=timeout_s)
    await _ensure(local, cfgs[outbox_stream(n)], domain_of(n))
    remote = leaf.jetstream(domain=HUB_DOMAIN, timeout=timeout_s)
    failure: DeployError | None = None
    try:
        # The origin before the stream that sources it: a source whose origin is missing
        # is retried only every few seconds by the server.
        await _ensure(remote, cfgs[hub_to_stream(n)], f"{HUB_DOMAIN}/{n}")
    except DeployError as e:
        failure = e
    await _ensure(local, cfgs[inbox_stream(n)], domain_of(n))
    if failure is not None:
        raise failure


async def provision_hub(topo: Topology, hub: Any, *, timeout_s: float = 5.0) -> None:
    """Create the ``HUB_FROM_N`` streams from the hub process's connection (account HUB).

    A source whose leaf is down is created anyway; the hub retries it on its own.
    """
    js = hub.jetstream(timeout=timeout_s)
    for n in topo.nations:
        await _ensure(js, stream_configs(topo, n)[hub_from_stream(n)], HUB_DOMAIN)


async def provision(
    topo: Topology, hub: Any, leaves: Mapping[str, Any], *, timeout_s: float = 5.0
) -> None:
    """Create every stream of the topology: ``hub`` is a nats-py connection to the hub as
    the hub process, ``leaves[N]`` one to N's leaf as N's node. Idempotent."""
    missing = [n for n in topo.nations if n not in leaves]
    if missing:
        raise DeployError(missing[0], "no leaf connection given for this nation")
    for n in topo.nations:
        await provision_leaf(topo, n, leaves[n], timeout_s=timeout_s)
    await provision_hub(topo, hub, timeout_s=timeout_s)
