"""Live commands: ``trilink node``, ``trilink up``, ``trilink keys init``, ``trilink replay``
(``trilink hub`` is in :mod:`trilink.cli.hub`). The same nodes as ``trilink run``, as
services on NATS."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import typer
from rich.console import Console

from trilink.cli.app import app
from trilink.cli.live_common import (
    bind_metrics,
    fail,
    fresh_start_seq,
    identity,
    load,
    load_and_simulate,
    metrics_host_option,
    metrics_port_option,
    start_metrics,
    start_wall_ns,
)
from trilink.cli.tls_options import nats_tls, tls_ca_option, tls_cert_option, tls_key_option
from trilink.errors import BusError, DeployError

keys_app = typer.Typer(
    help="Message-signing keys (Ed25519) of the coalition's nodes.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")


@keys_app.command("init")
def keys_init(
    scenario: str = typer.Argument(
        ..., help="Scenario file or built-in name (its nations get keys)."
    ),
    out: Path = typer.Option(..., "--out", help="Directory for <NODE>.key files and keyring.json."),
) -> None:
    """Generate an Ed25519 signing key per node (0600 files) and the public keyring."""
    from trilink.nodes.coalition import write_identities
    from trilink.nodes.hub import HUB_ID

    sc = load(scenario)
    ring = write_identities(out, [n.id for n in sc.nations] + [HUB_ID])
    Console().print(f"wrote {len(sc.nations) + 1} keys and {ring}")


@app.command("node")
def node(
    scenario: str = typer.Argument(..., help="Scenario file or built-in name."),
    nation: str = typer.Option(..., "--nation", help="Which nation's node to run (e.g. KOR)."),
    nats_url: str = typer.Option(..., "--nats", help="NATS URL of this nation's leaf server."),
    keys: Path | None = typer.Option(None, "--keys", help="Directory from `trilink keys init`."),
    tls_ca: Path | None = tls_ca_option(),
    tls_cert: Path | None = tls_cert_option("This node's"),
    tls_key: Path | None = tls_key_option("This node's"),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="Scenario seconds per wall second."),
    start_at: float | None = typer.Option(
        None,
        "--start-at",
        help="Wall time (Unix s) at which the scenario starts; give every process the same.",
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Override the scenario's seed (all processes alike)."
    ),
    metrics_port: int | None = metrics_port_option(),
    metrics_host: str = metrics_host_option(),
) -> None:
    """Run one national node: simulate its own sensors, track, report to the hub, and
    receive what the hub releases to it. Ends after the scenario (plus 10 s)."""
    from trilink.link.nats_bus import NatsBus
    from trilink.nodes.clock import WallClock
    from trilink.nodes.coalition import make_national
    from trilink.nodes.live import ServiceStats, run_national
    from trilink.nodes.metrics import NationalCollector
    from trilink.nodes.schedule import node_schedule

    tls = nats_tls(tls_ca, tls_cert, tls_key)  # bad options fail before the simulation
    metrics_sock = bind_metrics(metrics_host, metrics_port)
    sc, sim = load_and_simulate(scenario, seed)
    if nation not in {n.id for n in sc.nations}:
        raise fail(f"--nation: {nation} is not a nation of {sc.name}")
    node_identity = identity(keys, sc, sim.seed, nation)
    clock = WallClock(sim.t_start_ns, speed, start_wall_ns(start_at))
    # A restarted node must resume above every sequence number it ever sent, or the hub's
    # replay guard refuses it.
    nd = make_national(sc, nation, node_identity, clock, start_seq=fresh_start_seq())

    async def go() -> None:
        bus = await NatsBus.connect(nats_url, tls=tls)
        done = asyncio.Event()
        sched = node_schedule(nation, sim.detections, sim.t_start_ns, sim.t_end_ns, 0.5)

        async def end_later() -> None:
            await clock.sleep_until(sim.t_end_ns + int(10e9 * speed))
            done.set()

        ender = asyncio.create_task(end_later())
        stats = ServiceStats()
        watch = NationalCollector(nd, stats, start_ns=sim.t_start_ns, end_ns=sim.t_end_ns)
        metrics = start_metrics(metrics_sock, watch)
        try:
            await run_national(nd, bus, sched, clock, done=done, stats=stats)
        finally:
            ender.cancel()
            if metrics is not None:
                await metrics.stop()
            await bus.close()
        Console().print(
            f"{nation}: {stats.published} published, {stats.received} received, "
            f"{len(nd.system_tracks)} system tracks held, {nd.link.deadletters.total} dead letters"
        )

    try:
        asyncio.run(go())
    except BusError as exc:
        raise fail(str(exc)) from None


@app.command("up")
def up(
    scenario: str = typer.Argument(..., help="Scenario file or built-in name."),
    directory: Path | None = typer.Option(
        None,
        "--dir",
        help="Where to write PKI, configs and server data (default: a temporary directory).",
    ),
    speed: float | None = typer.Option(
        None,
        "--speed",
        min=0.01,
        help="Scenario seconds per wall second (default: as fast as the nodes can go).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as one JSON object."),
    seed: int | None = typer.Option(None, "--seed", help="Override the scenario's seed."),
) -> None:
    """Start a hub NATS server and one leaf server per nation on this machine (mutual TLS,
    JetStream store-and-forward; Korea's and Japan's servers never connect to each other),
    run every node on it, and print the same summary as `trilink run`. (A run to its end,
    not a service: no metrics endpoint; run `trilink hub` and `trilink node` for that.)"""
    from trilink.cli.run import _print_tables
    from trilink.evaluate.timeline import build_timeline, timeline_to_json
    from trilink.nodes.liverun import run_live
    from trilink.nodes.up import start_local_coalition
    from trilink.nodes.warnings import make_warner

    sc, sim = load_and_simulate(scenario, seed)
    console = Console(stderr=as_json)

    async def go():
        root = directory or Path(tempfile.mkdtemp(prefix="trilink-up-"))
        console.print(f"starting the hub and {len(sc.nations)} leaf servers under {root}")
        coalition = await start_local_coalition(root, [n.id for n in sc.nations], sc.hub.id)
        try:
            console.print("servers linked and streams provisioned; running the nodes")
            return await run_live(
                sc, sim, coalition.bus_for, speed=speed, warner_factory=make_warner
            )
        finally:
            coalition.stop()

    try:
        result = asyncio.run(go())
    except (DeployError, BusError) as exc:
        raise fail(str(exc)) from None
    tl = build_timeline(
        sim.trajectories, sim.detections, {n: nd.events for n, nd in result.nodes.items()}
    )
    summary = timeline_to_json(tl)
    summary.update(
        {
            "scenario": sc.name, "link": True, "seed": sim.seed, "messages": result.messages,
            "bytes": 0, "wall_s": 0.0, "transport": "nats",
            "deadletters": {n: nd.link.deadletters.total for n, nd in result.nodes.items()}
            | ({"HUB": result.hub.link.deadletters.total} if result.hub else {}),
        }
    )  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        _print_tables(Console(), summary)


@app.command("replay")
def replay_command(
    directory: Path = typer.Argument(
        ..., help="A recording written by `trilink run --record DIR`."
    ),
    scenario: str | None = typer.Option(
        None,
        "--policy-from",
        help="Replay under this scenario's policy instead of the recorded one.",
    ),
) -> None:
    """Play a recording's national reports back through a fresh hub; check that it
    releases exactly what was recorded (or show what another policy would have released)."""
    from trilink.errors import AuditError, DecodeError
    from trilink.nodes.coalition import scenario_policy
    from trilink.nodes.replay import replay

    for name in ("messages.tlog", "keyring.json", "run.json"):
        if not (directory / name).is_file():
            raise fail(
                f"{directory / name}: missing (record a run with `trilink run SCENARIO --record DIR`)"
            )
    policy = None
    if scenario is not None:
        policy = scenario_policy(load(scenario))
    try:
        result = replay(directory, policy=policy)
    except (DecodeError, AuditError, ValueError, KeyError) as exc:
        raise fail(f"{directory}: cannot replay: {exc}") from None
    out = Console()
    out.print(
        f"fed {result.fed} national messages to a fresh hub; {result.hub.cycles} fusion cycles"
    )
    for partner in sorted(set(result.releases) | set(result.recorded)):
        numbers = sorted({m.system_track_number for m in result.releases.get(partner, [])})
        out.print(
            f"  {partner}: {len(result.releases.get(partner, []))} system track releases "
            f"(recorded {len(result.recorded.get(partner, []))}), numbers {numbers}"
        )
    problems = result.mismatches()
    if policy is None:
        if problems:
            for p in problems:
                out.print(f"[red]differs[/red] {p}")
            raise typer.Exit(1)
        out.print("[green]the replay reproduces the recorded releases exactly[/green]")
