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
not configuration; :mod:`trilink.link.topology_streams`). Config files are written by
:func:`write_topology`; the names, ports and paths they use are a :class:`Topology`
(:mod:`trilink.link.topology_layout`). Every public name of those two modules is also
importable from here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trilink.errors import DeployError
from trilink.link.pki import PkiLayout, subject_dn
from trilink.link.topology_layout import (
    DAY_S,
    GIB,
    HUB_ACCOUNT,
    HUB_DOMAIN,
    HUB_SERVER,
    SF_PREFIX,
    LeafPorts,
    Topology,
    domain_of,
    hub_from_stream,
    hub_to_stream,
    inbox_stream,
    load_topology,
    node_subjects,
    outbox_stream,
)
from trilink.link.topology_streams import provision, provision_hub, provision_leaf, stream_configs

__all__ = [
    "DAY_S",
    "GIB",
    "HUB_ACCOUNT",
    "HUB_DOMAIN",
    "HUB_SERVER",
    "SF_PREFIX",
    "LeafPorts",
    "Topology",
    "domain_of",
    "hub_config",
    "hub_from_stream",
    "hub_to_stream",
    "inbox_stream",
    "leaf_config",
    "leaf_remotes",
    "load_topology",
    "node_subjects",
    "outbox_stream",
    "provision",
    "provision_hub",
    "provision_leaf",
    "render_conf",
    "stream_configs",
    "write_topology",
]


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


def leaf_remotes(config: Mapping[str, Any]) -> list[str]:
    """Every URL a server config dials as a leaf, route or gateway (for isolation checks)."""
    urls: list[str] = []
    for remote in config.get("leafnodes", {}).get("remotes", []):
        urls += list(remote.get("urls", [])) + ([remote["url"]] if "url" in remote else [])
    urls += list(config.get("cluster", {}).get("routes", []))
    for gw in config.get("gateway", {}).get("gateways", []):
        urls += list(gw.get("urls", []))
    return urls
