"""Live commands: ``trilink hub``, ``trilink node``, ``trilink up``, ``trilink keys init``,
``trilink replay``. The same nodes as ``trilink run``, as services on NATS."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys
import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console

from trilink.cli.app import app
from trilink.errors import BusError, DeployError, ScenarioError

keys_app = typer.Typer(
    help="Message-signing keys (Ed25519) of the coalition's nodes.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")

_err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    _err.print(message, markup=False, highlight=False)
    return typer.Exit(2)


def _load(scenario: str, seed: int | None):
    from trilink.scenario import load_scenario
    from trilink.scenario.simulate import simulate

    try:
        sc = load_scenario(scenario)
        return sc, simulate(sc, seed=seed)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None


def _tls(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    if ca is None and cert is None and key is None:
        return None
    if ca is None or cert is None or key is None:
        raise _fail("--tls-ca, --tls-cert and --tls-key go together")
    from trilink.link.pki import CertPair, client_tls

    return client_tls(ca, CertPair(cert, key, ""))


def _identity(keys: Path | None, scenario, seed: int, node: str):
    from trilink.nodes.coalition import Identity

    if keys is None:
        _err.print(
            f"{node}: signing with simulation keys derived from the scenario seed (demo only; use --keys DIR)"
        )
        return Identity.simulated(scenario, seed)
    try:
        return Identity.load(keys, node)
    except DeployError as exc:
        raise _fail(f"{exc.what}: {exc.reason}") from None


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
    from trilink.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    ring = write_identities(out, [n.id for n in sc.nations] + [HUB_ID])
    Console().print(f"wrote {len(sc.nations) + 1} keys and {ring}")


@app.command("node")
def node(
    scenario: str = typer.Argument(..., help="Scenario file or built-in name."),
    nation: str = typer.Option(..., "--nation", help="Which nation's node to run (e.g. KOR)."),
    nats_url: str = typer.Option(..., "--nats", help="NATS URL of this nation's leaf server."),
    keys: Path | None = typer.Option(None, "--keys", help="Directory from `trilink keys init`."),
    tls_ca: Path | None = typer.Option(None, "--tls-ca", help="Coalition CA certificate (PEM)."),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="This node's client certificate."
    ),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="This node's client key."),
    speed: float = typer.Option(1.0, "--speed", help="Scenario seconds per wall second."),
    start_at: float | None = typer.Option(
        None,
        "--start-at",
        help="Wall time (Unix s) at which the scenario starts; give every process the same.",
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Override the scenario's seed (all processes alike)."
    ),
) -> None:
    """Run one national node: simulate its own sensors, track, report to the hub, and
    receive what the hub releases to it. Ends after the scenario (plus 10 s)."""
    from trilink.link.nats_bus import NatsBus
    from trilink.nodes.clock import WallClock
    from trilink.nodes.coalition import make_national
    from trilink.nodes.live import run_national
    from trilink.nodes.schedule import node_schedule

    sc, sim = _load(scenario, seed)
    if nation not in {n.id for n in sc.nations}:
        raise _fail(f"--nation: {nation} is not a nation of {sc.name}")
    identity = _identity(keys, sc, sim.seed, nation)
    wall0 = int((start_at if start_at is not None else time.time() + 2.0) * 1e9)
    clock = WallClock(sim.t_start_ns, speed, wall0)
    # A restarted node must resume above every sequence number it ever sent, or the hub's
    # replay guard refuses it: the wall clock in microseconds always has moved on.
    nd = make_national(sc, nation, identity, clock, start_seq=time.time_ns() // 1000)

    async def go() -> None:
        bus = await NatsBus.connect(nats_url, tls=_tls(tls_ca, tls_cert, tls_key))
        done = asyncio.Event()
        sched = node_schedule(nation, sim.detections, sim.t_start_ns, sim.t_end_ns, 0.5)

        async def end_later() -> None:
            await clock.sleep_until(sim.t_end_ns + int(10e9 * speed))
            done.set()

        ender = asyncio.create_task(end_later())
        try:
            stats = await run_national(nd, bus, sched, clock, done=done)
        finally:
            ender.cancel()
            await bus.close()
        Console().print(
            f"{nation}: {stats.published} published, {stats.received} received, "
            f"{len(nd.system_tracks)} system tracks held, {nd.link.deadletters.total} dead letters"
        )

    try:
        asyncio.run(go())
    except BusError as exc:
        raise _fail(str(exc)) from None


@app.command("hub")
def hub(
    scenario: str = typer.Argument(..., help="Scenario file or built-in name (nations, policy)."),
    nats_url: str = typer.Option(..., "--nats", help="NATS URL of the hub server (account HUB)."),
    keys: Path | None = typer.Option(None, "--keys", help="Directory from `trilink keys init`."),
    tls_ca: Path | None = typer.Option(None, "--tls-ca", help="Coalition CA certificate (PEM)."),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="The hub process's client certificate."
    ),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="The hub process's client key."),
    audit: Path | None = typer.Option(
        None, "--audit", help="Append the release decisions to this hash-chained log."
    ),
    state: Path | None = typer.Option(
        None,
        "--state",
        help="Hub state file (needs --audit): read the national streams HUB_FROM_<N> through "
        "durable consumers and checkpoint here; restarted with the same file, the hub goes on "
        "with the same system track numbers, sequence numbers, audit chain and input position.",
    ),
    checkpoint_every: float = typer.Option(
        2.0,
        "--checkpoint-every",
        help="With --state: seconds between checkpoints (0: after every batch of input); "
        "stretched so that checkpointing takes at most 10 % of the hub's time.",
    ),
    speed: float = typer.Option(1.0, "--speed", help="Scenario seconds per wall second."),
    cycle: float = typer.Option(
        0.5,
        "--cycle",
        help="Fusion cycle, scenario seconds: the hub fuses and releases on this grid. Match "
        "it to the nations' reporting period (their nodes report every 0.5 s).",
    ),
    fast_path: bool = typer.Option(
        False,
        "--fast-path",
        help="Also release a known track the moment a national report of it arrives (fused "
        "with its other nations' newest reports, the predictions of its last cycle), not "
        "only on the cycle grid: milliseconds instead of up to one cycle. Not with --state.",
    ),
    start_at: float | None = typer.Option(
        None,
        "--start-at",
        help="Wall time (Unix s) at which the scenario starts (with --state: taken from the "
        "state file when it exists).",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Override the scenario's seed."),
    run_for_s: float | None = typer.Option(
        None,
        "--run-for-s",
        help="Stop after this many wall seconds (default: scenario end + 15 s).",
    ),
) -> None:
    """Run the hub: fuse national reports, release to each partner after policy.

    Without --state it reads what the nodes publish live (core NATS). With --state it reads
    their streams and survives being killed: see docs/operations.md, "Hub restart"."""
    from trilink.errors import AuditError
    from trilink.nodes.clock import WallClock
    from trilink.nodes.coalition import make_hub
    from trilink.nodes.hub import HUB_ID
    from trilink.nodes.persist import HubCheckpoint
    from trilink.nodes.warnings import make_warner
    from trilink.scenario import load_scenario

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise _fail(str(exc)) from None
    seed_ = sc.seed if seed is None else seed
    if not 0.01 <= cycle <= 60.0:
        raise _fail("--cycle: must be between 0.01 and 60 seconds")
    if fast_path and state is not None:
        # A restarted durable hub reads its input again from the checkpoint and must send
        # the same messages under the same sequence numbers; fast releases depend on
        # arrival timing, so they cannot be part of that record (yet).
        raise _fail("--fast-path: not with --state (fast releases are not checkpointed)")
    checkpoint, snap = None, None
    wall0 = int((start_at if start_at is not None else time.time() + 2.0) * 1e9)
    if state is not None:
        if audit is None:
            raise _fail("--state needs --audit: the state continues the audit chain")
        if checkpoint_every < 0:
            raise _fail("--checkpoint-every: must be >= 0 seconds")
        checkpoint = HubCheckpoint(state)
        try:
            snap = checkpoint.load()
        except DeployError as exc:
            raise _fail(f"--state {exc}") from None
        if snap is not None:
            meta = snap.get("meta", {})
            wall0 = _resumed_start(meta, sc.name, start_at, speed, seed_, state)
            if float(meta.get("cycle_s", cycle)) != cycle:  # the grid under the saved cycles
                raise _fail(f"--cycle: the state {state} fuses every {meta['cycle_s']} s")
        checkpoint.meta = {
            "scenario": sc.name, "start_at_ns": wall0, "speed": speed, "seed": seed_,
            "cycle_s": cycle,
        }  # fmt: skip
    identity = _identity(keys, sc, seed_, HUB_ID)
    clock = WallClock(sc.start_t_ns, speed, wall0)
    try:
        hb = make_hub(
            sc, identity, clock, sc.start_t_ns, cycle_s=cycle, audit_path=audit,
            warner_factory=make_warner,
            source_timeout_s=10.0,
            start_seq=time.time_ns() // 1000,  # above anything a previous run of this hub sent
            fast_path=fast_path,
        )  # fmt: skip
        resume = checkpoint.resume(hb, snap) if checkpoint is not None else None
    except (AuditError, DeployError) as exc:
        raise _fail(f"cannot start the hub: {exc}") from None
    if resume is not None and resume.restored:
        _err.print(
            f"hub: resumed from {state}: next system track number {hb.table.next_number}, "
            f"next sequence {hb.link.stamper.next_seq}, audit {hb.audit.count} records, "
            f"{len(resume.outbox)} messages to send again, input after {resume.offsets}",
            markup=False, highlight=False,
        )  # fmt: skip

    async def go() -> None:
        from trilink.link.nats_bus import DurableStreams, NatsBus
        from trilink.link.topology import Topology, hub_from_stream, provision_hub
        from trilink.nodes.live import ServiceStats, run_durable_hub, run_hub

        bus = await NatsBus.connect(nats_url, tls=_tls(tls_ca, tls_cert, tls_key))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # a clean stop commits once more
            loop.add_signal_handler(sig, stop.set)

        async def stopper() -> None:
            if run_for_s is not None:
                await asyncio.sleep(run_for_s)
            else:
                from trilink.scenario.simulate import simulate

                sim = simulate(sc, seed=seed_)
                await clock.sleep_until(sim.t_end_ns + int(15e9 * speed))
            stop.set()

        task = asyncio.create_task(stopper())
        try:
            if checkpoint is not None and resume is not None:
                nations = [n.id for n in sc.nations]
                await provision_hub(Topology(tuple(nations), sc.hub.id, Path(".")), bus.client)
                inputs = DurableStreams(bus.client, [hub_from_stream(n) for n in nations])
                durable = await run_durable_hub(
                    hb, bus, inputs, checkpoint, resume, stop=stop,
                    since_ns=wall0 - int(5e9), every_s=checkpoint_every,
                )  # fmt: skip
                stats: ServiceStats = durable
                extra = (
                    f", {durable.commits} checkpoints (longest "
                    f"{1e3 * durable.max_commit_s:.0f} ms), {durable.resent} re-sent at start"
                    + (", the cycles run again went another way" if durable.diverged else "")
                )
            else:
                stats = await run_hub(hb, bus, stop=stop)
                extra = ""
        finally:
            task.cancel()
            await bus.close()
            hb.audit.close()
        Console().print(
            f"hub: {hb.reports_in} reports in, {hb.cycles} cycles, {stats.published} published, "
            f"{hb.link.deadletters.total} dead letters, audit head {hb.audit.head[:16]}…{extra}"
        )

    try:
        asyncio.run(go())
    except (BusError, DeployError) as exc:
        raise _fail(str(exc)) from None


def _resumed_start(
    meta: dict, scenario: str, start_at: float | None, speed: float, seed: int, state: Path
) -> int:
    """The scenario's wall start saved in the state, after checking that this run is the
    one that state belongs to (a different start, speed or seed would shift the clock or
    the picture under the saved numbers)."""
    if meta.get("scenario") != scenario:
        raise _fail(f"--state {state}: it belongs to scenario {meta.get('scenario')!r}")
    saved = int(meta["start_at_ns"])
    if start_at is not None and abs(int(start_at * 1e9) - saved) > 1000:
        raise _fail(f"--start-at: the state {state} was started at {saved / 1e9:.3f}")
    if float(meta.get("speed", speed)) != speed or int(meta.get("seed", seed)) != seed:
        raise _fail(
            f"--speed/--seed: the state {state} runs at speed {meta.get('speed')}, "
            f"seed {meta.get('seed')}"
        )
    return saved


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
        help="Scenario seconds per wall second (default: as fast as the nodes can go).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as one JSON object."),
    seed: int | None = typer.Option(None, "--seed", help="Override the scenario's seed."),
) -> None:
    """Start a hub NATS server and one leaf server per nation on this machine (mutual TLS,
    JetStream store-and-forward; Korea's and Japan's servers never connect to each other),
    run every node on it, and print the same summary as `trilink run`."""
    from trilink.cli.run import _print_tables
    from trilink.evaluate.timeline import build_timeline, timeline_to_json
    from trilink.nodes.liverun import run_live
    from trilink.nodes.up import start_local_coalition
    from trilink.nodes.warnings import make_warner

    sc, sim = _load(scenario, seed)
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
        raise _fail(str(exc)) from None
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
    from trilink.scenario import load_scenario

    for name in ("messages.tlog", "keyring.json", "run.json"):
        if not (directory / name).is_file():
            raise _fail(
                f"{directory / name}: missing (record a run with `trilink run SCENARIO --record DIR`)"
            )
    policy = None
    if scenario is not None:
        try:
            policy = scenario_policy(load_scenario(scenario))
        except ScenarioError as exc:
            raise _fail(str(exc)) from None
    try:
        result = replay(directory, policy=policy)
    except (DecodeError, AuditError, ValueError, KeyError) as exc:
        raise _fail(f"{directory}: cannot replay: {exc}") from None
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
