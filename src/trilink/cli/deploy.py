"""``trilink nats-config`` and ``trilink pki init``: the live NATS topology and its PKI.

Both take a scenario (file or built-in name) for its nations and hub nation. Bad input
prints one line on stderr and exits 2. See docs/deploy.md for the layout they write.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from trilink.cli.app import app
from trilink.errors import DeployError, ScenarioError

pki_app = typer.Typer(name="pki", help="The coalition PKI for mutual-TLS NATS links.")
app.add_typer(pki_app)

out = Console(soft_wrap=True)


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(code=2)


def _nations(scenario: str) -> tuple[list[str], str]:
    """(every nation id, hub nation id) of a scenario; exit 2 if it does not load."""
    from trilink.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
        raise  # unreachable
    try:
        hub = sc.hub.id
    except StopIteration:
        _fail(f"{scenario}: no nation has role 'hub'")
        raise
    return [n.id for n in sc.nations], hub


def _leaf_hosts(items: list[str], nations: list[str]) -> dict[str, list[str]]:
    hosts: dict[str, list[str]] = {}
    for item in items:
        nation, sep, host = item.partition("=")
        if not sep or nation not in nations or not host:
            _fail(f"--leaf-host {item!r}: expected NATION=HOST with NATION in {nations}")
        hosts.setdefault(nation, []).append(host)
    return hosts


@pki_app.command("init")
def pki_init(
    scenario: str = typer.Argument(..., help="Scenario TOML file or built-in name."),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write the CA and certificates to."),
    hub_host: list[str] = typer.Option(
        [], "--hub-host", help="Extra DNS name or IP of the hub (repeatable; localhost is in)."
    ),
    leaf_host: list[str] = typer.Option(
        [], "--leaf-host", help="Extra NATION=HOST for a leaf's server certificate (repeatable)."
    ),
    days: int = typer.Option(825, help="Validity of server and client certificates, days."),
) -> None:
    """Create a coalition CA (ECDSA P-256) and a certificate + key per server and node."""
    from trilink.link.pki import init_pki

    nations, hub = _nations(scenario)
    if days < 1:
        _fail(f"--days {days}: must be at least 1")
    try:
        layout = init_pki(
            out_dir,
            nations,
            hub,
            hub_hosts=hub_host,
            leaf_hosts=_leaf_hosts(leaf_host, nations),
            days=days,
        )
    except DeployError as exc:
        _fail(str(exc))
        raise
    table = Table("file", "subject (NATS user)")
    table.add_row(str(layout.ca_cert), "CA (its key ca.key: keep it offline)")
    for pair in layout.pairs():
        table.add_row(str(pair.cert), pair.subject)
    out.print(table)


@app.command("nats-config")
def nats_config(
    scenario: str = typer.Argument(..., help="Scenario TOML file or built-in name."),
    out_dir: Path = typer.Option(
        ..., "--out", help="Folder to write one sub-folder per server to."
    ),
    pki_dir: Path | None = typer.Option(
        None, "--pki", help="PKI from `trilink pki init` (default: create one in OUT/pki)."
    ),
    root: Path | None = typer.Option(
        None, "--root", help="Where the server folders will live on the hosts (default: OUT)."
    ),
    hub_host: str = typer.Option(
        "127.0.0.1", "--hub-host", help="Name or IP the leaves dial (in the hub certificate)."
    ),
    hub_bind: str = typer.Option("127.0.0.1", "--hub-bind", help="Address the hub listens on."),
    leaf_bind: str = typer.Option(
        "127.0.0.1", "--leaf-bind", help="Address the leaves listen on for their national nodes."
    ),
    client_port: int = typer.Option(4222, help="Hub client port (leaves use the next ones)."),
    leaf_port: int = typer.Option(7422, help="Hub leaf-node port (the only one leaves dial)."),
    http_port: int = typer.Option(8222, help="Hub monitoring port, on 127.0.0.1."),
    check: bool = typer.Option(True, help="Check every config with `nats-server -t`."),
) -> None:
    """Write the hub and leaf nats-server configs, certificates and topology.json."""
    from trilink.link.natsproc import check_config
    from trilink.link.pki import PkiLayout, certificate_hosts, init_pki
    from trilink.link.topology import Topology, write_topology

    nations, hub = _nations(scenario)
    if root is not None and not root.is_absolute():
        _fail(f"--root {root}: must be an absolute path (nats-server resolves from its cwd)")
    for name, port in (("client", client_port), ("leaf", leaf_port), ("http", http_port)):
        if not 1 <= port <= 65535 - len(nations):
            _fail(f"--{name}-port {port}: not a usable TCP port")
    try:
        topo = Topology(
            nations=tuple(nations),
            hub_nation=hub,
            root=root if root is not None else out_dir.resolve(),
            hub_host=hub_bind,
            hub_url_host=hub_host,
            hub_client_port=client_port,
            hub_leaf_port=leaf_port,
            hub_http_port=http_port,
            leaf_host=leaf_bind,
        )
        if pki_dir is None:
            hosts = [] if hub_host in ("127.0.0.1", "localhost") else [hub_host]
            layout = init_pki(out_dir / "pki", nations, hub, hub_hosts=hosts)
        else:
            layout = PkiLayout(pki_dir, hub, tuple(nations)).check()
            if hub_host not in certificate_hosts(layout.hub_server.cert):
                _fail(f"--hub-host {hub_host}: not in the hub certificate of {pki_dir}")
        written = write_topology(topo, out_dir, layout)
        if check:
            for path in written.values():
                check_config(path)
    except DeployError as exc:
        _fail(str(exc))
        raise
    table = Table("server", "config", "listens")
    table.add_row("hub", str(written["hub"]), f"client {client_port}, leaf {leaf_port}")
    for n in nations:
        p = topo.leaf_ports[n]
        table.add_row(
            n, str(written[n.lower()]), f"client {p.client_port} (dials {topo.hub_leaf_url})"
        )
    out.print(table)
    if check:
        out.print(f"{len(written)} configs pass nats-server -t")
