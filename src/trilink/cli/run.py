"""``trilink run SCENARIO``: the whole coalition in one process, and what each partner knew."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trilink.cli.app import app
from trilink.cli.link_options import latency_jitter_ms_option, latency_ms_option
from trilink.errors import ScenarioError


@app.command("run")
def run(
    scenario: str = typer.Argument(
        ..., help="A scenario file, or a built-in name (see `trilink scenario list`)."
    ),
    no_link: bool = typer.Option(
        False, "--no-link", help="Run every nation alone (no hub), for comparison."
    ),
    record: Path | None = typer.Option(
        None, "--record", help="Keep every message (messages.tlog) and the audit chain in DIR."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object on stdout instead of tables."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Override the scenario's random seed."
    ),
    launches: str | None = typer.Option(
        None, "--launches", help="Only these launch ids (comma-separated)."
    ),
    cycle_s: float = typer.Option(
        0.5, "--cycle-s", min=0.01, max=60.0, help="Hub fusion cycle, seconds of measurement time."
    ),
    latency_ms: float = latency_ms_option(
        " (simulated runs; --realtime and --web runs have the in-memory bus's own)"
    ),
    latency_jitter_ms: float = latency_jitter_ms_option(),
    warnings: bool = typer.Option(
        True,
        "--warnings/--no-warnings",
        help="Run the warning rules: the hub's for each partner; with --no-link, each "
        "nation's own on its own tracks.",
    ),
    realtime: bool = typer.Option(
        False,
        "--realtime",
        help="Pace the run by the wall clock (nodes as services on the in-memory bus).",
    ),
    speed: float = typer.Option(
        1.0,
        "--speed",
        min=0.01,
        max=1e6,
        help="With --realtime or --web: scenario seconds per wall second.",
    ),
    web: bool = typer.Option(
        False,
        "--web",
        help="Serve each partner's live picture while the run goes (implies --realtime).",
    ),
    port: int = typer.Option(
        8000, "--port", min=1, max=65535, help="With --web: the TCP port of the picture."
    ),
) -> None:
    """Simulate the scenario and run every national node and the hub on the in-memory
    link, on a simulated clock as fast as the CPU allows; print, per partner and missile,
    the first own detection, the first track over the link and the first warning."""
    from trilink.evaluate.timeline import build_timeline, timeline_to_json
    from trilink.nodes.simrun import RunConfig, run_simulation
    from trilink.scenario import load_scenario
    from trilink.scenario.simulate import simulate

    err = Console(stderr=True)
    try:
        sc = load_scenario(scenario)
        if launches:
            wanted = {x.strip() for x in launches.split(",") if x.strip()}
            unknown = wanted - {launch.id for launch in sc.launches}
            if unknown:
                err.print(f"--launches: unknown launch ids {sorted(unknown)}")
                raise typer.Exit(2)
            sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id in wanted))
        console = Console(stderr=as_json)
        with _progress(console) as progress:
            task = progress.add_task("simulating flights and sensors", total=None)
            sim = simulate(sc, seed=seed)
            progress.update(task, description="running the coalition", total=1.0, completed=0.0)
            warner_factory = None
            if warnings:
                from trilink.nodes.warnings import make_warner

                warner_factory = make_warner
            t0 = time.perf_counter()
            cfg = RunConfig(
                link=not no_link, cycle_s=cycle_s, latency_s=latency_ms / 1e3,
                latency_jitter_s=latency_jitter_ms / 1e3, record_dir=record,
            )  # fmt: skip
            if realtime or web:
                progress.update(task, description=f"running live at {speed:g}x", total=None)
                result = asyncio.run(_live(sc, sim, cfg, speed, warner_factory, web, port, console))
            else:
                result = run_simulation(
                    sc, sim, cfg, warner_factory=warner_factory,
                    progress=lambda f: progress.update(task, completed=f),
                )  # fmt: skip
            wall = time.perf_counter() - t0
    except ScenarioError as exc:
        for line in str(exc).splitlines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(2) from None

    sightings = {n: node.events for n, node in result.nodes.items()}
    tl = build_timeline(sim.trajectories, sim.detections, sightings)
    summary = timeline_to_json(tl)
    summary.update(
        {
            "scenario": sc.name,
            "link": not no_link,
            "seed": sim.seed,
            "messages": result.messages,
            "bytes": result.bytes,
            "wall_s": round(wall, 3),
            "deadletters": {
                **{n: node.link.deadletters.total for n, node in result.nodes.items()},
                **({"HUB": result.hub.link.deadletters.total} if result.hub else {}),
            },
        }
    )
    if record is not None:
        (record / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    _print_tables(Console(), summary)


async def _live(sc, sim, cfg, speed, warner_factory, web, port, console):
    """The nodes as services on one in-memory bus, paced by the wall clock; with ``web``
    the partners' pictures are served from the same bus while the run goes."""
    from trilink.link import InMemoryBus
    from trilink.nodes.clock import WallClock
    from trilink.nodes.liverun import run_live

    bus = InMemoryBus()

    async def bus_for(_node: str) -> InMemoryBus:
        return bus

    server = None
    if web:
        from trilink.nodes.coalition import Identity
        from trilink.web.run import serve_bus

        clock = WallClock(sim.t_start_ns, speed)
        partners = [n.id for n in sc.nations]
        keyring = Identity.simulated(sc, sim.seed).keyring  # the page verifies the hub's signatures
        server = asyncio.create_task(
            serve_bus(bus, partners, port=port, clock=clock.now_ns, speed=speed, keyring=keyring,
                      on_ready=lambda url: console.print(f"picture: {url}/  (Ctrl-C to stop)"))
        )  # fmt: skip
        await asyncio.sleep(0.5)
    result = await run_live(
        sc, sim, bus_for, config=cfg, speed=speed, warner_factory=warner_factory
    )
    if server is not None:
        console.print("run finished; the picture stays up until Ctrl-C")
        try:
            await server
        except asyncio.CancelledError:
            pass
    return result


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(), console=console, transient=True,
    )  # fmt: skip


def _fmt(v: object) -> str:
    return "—" if v is None else f"{v:.1f}"


def _print_tables(console: Console, summary: dict) -> None:
    mode = "linked (trilateral)" if summary["link"] else "each nation alone (--no-link)"
    console.print(f"[bold]{summary['scenario']}[/bold]: {mode}; seed {summary['seed']}")
    flights = Table(title="Flights (truth) and who saw them first")
    for col in ("missile", "class", "flight s", "apogee km", "range km", "first seen by"):
        flights.add_column(
            col, justify="left" if col in ("missile", "class", "first seen by") else "right"
        )
    for m in summary["missiles"]:
        seen = [
            (t["first_own_detection_s"], p, t.get("first_own_sensor"))
            for p, t in m["partners"].items()
            if t["first_own_detection_s"] is not None
        ]
        first = min(seen, key=lambda x: x[0]) if seen else None
        who = "—" if first is None else f"{first[1]} {first[2]} at {first[0]:.1f} s"
        flights.add_row(
            m["id"], m["class"], f"{m['flight_time_s']:.0f}",
            _fmt(m["apogee_km"]), _fmt(m["range_km"]), who,
        )  # fmt: skip
    console.print(flights)
    table = Table(title="What each partner knew: seconds after that missile's launch")
    for col in ("missile", "partner", "own det", "own trk", "link trk", "warned", "threat"):
        table.add_column(col, justify="left" if col in ("missile", "partner") else "right")
    for m in summary["missiles"]:
        for i, (p, t) in enumerate(sorted(m["partners"].items())):
            table.add_row(
                m["id"] if i == 0 else "", p, _fmt(t["first_own_detection_s"]),
                _fmt(t["first_own_track_s"]), _fmt(t["first_link_track_s"]),
                _fmt(t["first_warning_s"]), _fmt(t["first_threat_alert_s"]),
            )  # fmt: skip
        table.add_section()
    console.print(table)
    console.print(
        "own det: first detection by its own sensors; own trk: first confirmed track of its "
        "own; link trk: first track received over the link; warned: first launch warning "
        "held (own or link); threat: first warning that the missile threatens it."
    )
    pt = Table(
        title="Per partner: seconds after the launch of the first missile it was warned about"
    )
    for col in ("partner", "missile", "own det", "link trk", "warned", "threat"):
        pt.add_column(col, justify="left" if col in ("partner", "missile") else "right")
    for p, t in sorted(summary["partners"].items()):
        pt.add_row(
            p, str(t["reference_missile"]), _fmt(t["first_own_detection_s"]),
            _fmt(t["first_link_track_s"]), _fmt(t["first_warning_s"]), _fmt(t["first_threat_alert_s"]),
        )  # fmt: skip
    console.print(pt)
    console.print(
        f"{summary['messages']} messages ({summary['bytes'] / 1e6:.1f} MB) on the link; "
        f"dead letters {summary['deadletters']}; {summary['wall_s']:.1f} s wall"
    )
