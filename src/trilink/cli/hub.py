"""``trilink hub``: the coalition's hub as a service on NATS (fuse the national reports,
release to each partner after policy), optionally durable (``--state``: it reads the
national streams and survives being killed, docs/operations.md "Hub restart")."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import typer
from rich.console import Console

from trilink.cli.app import app
from trilink.cli.live_common import (
    bind_metrics,
    err,
    fail,
    fresh_start_seq,
    identity,
    load,
    metrics_host_option,
    metrics_port_option,
    start_metrics,
    start_wall_ns,
)
from trilink.cli.tls_options import nats_tls, tls_ca_option, tls_cert_option, tls_key_option
from trilink.errors import BusError, DeployError


@app.command("hub")
def hub(
    scenario: str = typer.Argument(..., help="Scenario file or built-in name (nations, policy)."),
    nats_url: str = typer.Option(..., "--nats", help="NATS URL of the hub server (account HUB)."),
    keys: Path | None = typer.Option(None, "--keys", help="Directory from `trilink keys init`."),
    tls_ca: Path | None = tls_ca_option(),
    tls_cert: Path | None = tls_cert_option("The hub process's"),
    tls_key: Path | None = tls_key_option("The hub process's"),
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
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="Scenario seconds per wall second."),
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
    metrics_port: int | None = metrics_port_option(),
    metrics_host: str = metrics_host_option(),
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

    tls = nats_tls(tls_ca, tls_cert, tls_key)
    sc = load(scenario)
    seed_ = sc.seed if seed is None else seed
    if not 0.01 <= cycle <= 60.0:
        raise fail("--cycle: must be between 0.01 and 60 seconds")
    if fast_path and state is not None:
        # A restarted durable hub reads its input again from the checkpoint and must send
        # the same messages under the same sequence numbers; fast releases depend on
        # arrival timing, so they cannot be part of that record (yet).
        raise fail("--fast-path: not with --state (fast releases are not checkpointed)")
    metrics_sock = bind_metrics(metrics_host, metrics_port)
    checkpoint, snap = None, None
    wall0 = start_wall_ns(start_at)
    if state is not None:
        if audit is None:
            raise fail("--state needs --audit: the state continues the audit chain")
        if checkpoint_every < 0:
            raise fail("--checkpoint-every: must be >= 0 seconds")
        checkpoint = HubCheckpoint(state)
        try:
            snap = checkpoint.load()
        except DeployError as exc:
            raise fail(f"--state {exc}") from None
        if snap is not None:
            meta = snap.get("meta", {})
            wall0 = _resumed_start(meta, sc.name, start_at, speed, seed_, state)
            if float(meta.get("cycle_s", cycle)) != cycle:  # the grid under the saved cycles
                raise fail(f"--cycle: the state {state} fuses every {meta['cycle_s']} s")
        checkpoint.meta = {
            "scenario": sc.name, "start_at_ns": wall0, "speed": speed, "seed": seed_,
            "cycle_s": cycle,
        }  # fmt: skip
    hub_identity = identity(keys, sc, seed_, HUB_ID)
    clock = WallClock(sc.start_t_ns, speed, wall0)
    try:
        hb = make_hub(
            sc, hub_identity, clock, sc.start_t_ns, cycle_s=cycle, audit_path=audit,
            warner_factory=make_warner,
            source_timeout_s=10.0,
            start_seq=fresh_start_seq(),  # above anything a previous run of this hub sent
            fast_path=fast_path,
        )  # fmt: skip
        resume = checkpoint.resume(hb, snap) if checkpoint is not None else None
    except (AuditError, DeployError) as exc:
        raise fail(f"cannot start the hub: {exc}") from None
    if resume is not None and resume.restored:
        err.print(
            f"hub: resumed from {state}: next system track number {hb.table.next_number}, "
            f"next sequence {hb.link.stamper.next_seq}, audit {hb.audit.count} records, "
            f"{len(resume.outbox)} messages to send again, input after {resume.offsets}",
            markup=False, highlight=False,
        )  # fmt: skip

    async def go() -> None:
        from trilink.link.nats_bus import DurableStreams, NatsBus
        from trilink.link.topology import Topology, hub_from_stream, provision_hub
        from trilink.nodes.live import ServiceStats, run_hub
        from trilink.nodes.live_durable import DurableStats, run_durable_hub
        from trilink.nodes.metrics import HubCollector

        bus = await NatsBus.connect(nats_url, tls=tls)
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
        durable = DurableStats()
        stats = durable if checkpoint is not None else ServiceStats()
        metrics = start_metrics(metrics_sock, HubCollector(hb, stats))
        try:
            if checkpoint is not None and resume is not None:
                nations = [n.id for n in sc.nations]
                await provision_hub(Topology(tuple(nations), sc.hub.id, Path(".")), bus.client)
                inputs = DurableStreams(bus.client, [hub_from_stream(n) for n in nations])
                await run_durable_hub(
                    hb, bus, inputs, checkpoint, resume, stop=stop,
                    since_ns=wall0 - int(5e9), every_s=checkpoint_every, stats=durable,
                )  # fmt: skip
                extra = (
                    f", {durable.commits} checkpoints (longest "
                    f"{1e3 * durable.max_commit_s:.0f} ms), {durable.resent} re-sent at start"
                    + (", the cycles run again went another way" if durable.diverged else "")
                )
            else:
                await run_hub(hb, bus, stop=stop, stats=stats)
                extra = ""
        finally:
            task.cancel()
            if metrics is not None:
                await metrics.stop()
            await bus.close()
            hb.audit.close()
        Console().print(
            f"hub: {hb.reports_in} reports in, {hb.cycles} cycles, {stats.published} published, "
            f"{hb.link.deadletters.total} dead letters, audit head {hb.audit.head[:16]}…{extra}"
        )

    try:
        asyncio.run(go())
    except (BusError, DeployError) as exc:
        raise fail(str(exc)) from None


def _resumed_start(
    meta: dict, scenario: str, start_at: float | None, speed: float, seed: int, state: Path
) -> int:
    """The scenario's wall start saved in the state, after checking that this run is the
    one that state belongs to (a different start, speed or seed would shift the clock or
    the picture under the saved numbers)."""
    if meta.get("scenario") != scenario:
        raise fail(f"--state {state}: it belongs to scenario {meta.get('scenario')!r}")
    saved = int(meta["start_at_ns"])
    if start_at is not None and abs(int(start_at * 1e9) - saved) > 1000:
        raise fail(f"--start-at: the state {state} was started at {saved / 1e9:.3f}")
    if float(meta.get("speed", speed)) != speed or int(meta.get("seed", seed)) != seed:
        raise fail(
            f"--speed/--seed: the state {state} runs at speed {meta.get('speed')}, "
            f"seed {meta.get('seed')}"
        )
    return saved
