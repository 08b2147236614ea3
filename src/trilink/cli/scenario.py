"""``trilink scenario list|validate`` and ``trilink simulate``.

Bad input (a scenario that does not validate, a flight that cannot be flown) prints
``file:field.path: reason`` lines on stderr and exits with code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trilink.cli.app import app
from trilink.errors import ScenarioError
from trilink.geo import ecef_to_geodetic
from trilink.scenario import builtin_names, load_scenario, simulate
from trilink.scenario.model import Scenario
from trilink.scenario.records import write_jsonl
from trilink.scenario.simulate import SimulationResult, first_detections

scenario_app = typer.Typer(
    name="scenario",
    help="List the built-in scenarios and validate scenario files.",
    no_args_is_help=True,
)
app.add_typer(scenario_app)

out = Console(soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(exc: ScenarioError) -> None:
    """Print each problem as one plain line on stderr and exit 2."""
    # Plain print, not rich: the lines must read exactly file:field.path: reason.
    print(str(exc), file=sys.stderr)
    raise typer.Exit(code=2)


def load_or_fail(path_or_name: str) -> Scenario:
    try:
        return load_scenario(path_or_name)
    except ScenarioError as exc:
        fail(exc)
        raise  # unreachable: fail() exits


def _describe(sc: Scenario) -> str:
    kinds = [s.kind for s in sc.sensors]
    return (
        f"{len(sc.nations)} nations, {kinds.count('radar')} radars, {kinds.count('ir')} IR "
        f"satellite(s), {len(sc.launches)} launches, {len(sc.links)} links"
    )


@scenario_app.command("list")
def list_scenarios() -> None:
    """List the built-in scenarios (use a name wherever a scenario file is expected)."""
    table = Table("name", "description", "contents")
    for name in builtin_names():
        sc = load_or_fail(name)
        table.add_row(name, sc.description, _describe(sc))
    out.print(table)


@scenario_app.command("validate")
def validate(
    file: str = typer.Argument(
        ..., help="Scenario TOML file, or a built-in name such as korea-japan."
    ),
) -> None:
    """Check a scenario file; every problem is reported as file:field.path: reason (exit 2)."""
    sc = load_or_fail(file)
    out.print(f"{file}: ok - {sc.name}: {_describe(sc)}")


def _summary(result: SimulationResult) -> Table:
    """Each flight, and when (s after its launch) and by which sensor each nation first saw it."""
    firsts = first_detections(result)
    nations = [n.id for n in result.scenario.nations]
    table = Table(title="Flights and first detections (s after launch, sensor)")
    for column in ("missile", "launch s", "flight s", "apogee km", *nations):
        table.add_column(
            column, justify="left" if column in ("missile", *nations) else "right", overflow="fold"
        )
    for traj in result.trajectories:
        launch_s = (traj.launch_t_ns - result.t_start_ns) / 1e9
        flight_s = (traj.impact_t_ns - traj.launch_t_ns) / 1e9
        apogee_km = float(ecef_to_geodetic(traj.r_ecef_m)[:, 2].max()) / 1e3
        cells = []
        for n in nations:
            seen = firsts[traj.missile_id].get(n)
            if seen is None:
                cells.append("-")
                continue
            sensor = seen[1].removeprefix(f"{n}-")  # the column already names the nation
            cells.append(f"{(seen[0] - traj.launch_t_ns) / 1e9:.1f} {sensor}")
        table.add_row(
            f"{traj.missile_id} ({traj.missile_class})",
            f"{launch_s:.0f}",
            f"{flight_s:.0f}",
            f"{apogee_km:.0f}",
            *cells,
        )
    return table


@app.command("simulate")
def simulate_command(
    scenario: str = typer.Argument(
        ..., help="Scenario TOML file, or a built-in name such as korea-japan."
    ),
    out_file: Path = typer.Option(
        ..., "--out", "-o", help="Where to write truth and detections (JSON Lines)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed for the sensors; default: the scenario's."
    ),
) -> None:
    """Fly every launch of a scenario, observe it with every sensor, write JSON Lines.

    One JSON object per line, "type" scenario, sensor, truth or detection; times in integer ns and ISO UTC, angles in degrees (columns: docs/scenario.md).
    """
    if seed is not None and seed < 0:
        print(f"--seed: must be >= 0, got {seed}", file=sys.stderr)
        raise typer.Exit(code=2)
    if not out_file.parent.is_dir():
        print(f"{out_file}: no such directory: {out_file.parent}", file=sys.stderr)
        raise typer.Exit(code=2)
    sc = load_or_fail(scenario)
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("simulating", total=len(sc.launches) + 1)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=f"simulating: {what}", completed=done, total=total)

        try:
            result = simulate(sc, seed=seed, progress=progress)
        except ScenarioError as exc:
            bar.stop()
            fail(exc)
            return
    try:
        lines = write_jsonl(result, out_file)
    except OSError as exc:
        print(f"{out_file}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(code=2) from None
    out.print(_summary(result))
    n_det = sum(len(d) for d in result.detections)
    out.print(
        f"wrote {lines} lines ({len(result.trajectories)} flights, {n_det} detections) to {out_file}"
    )
