"""``trilink evaluate SCENARIO``: seeded Monte Carlo trials of what the link is worth."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from trilink.cli.app import app
from trilink.cli.link_options import latency_jitter_ms_option, latency_ms_option
from trilink.errors import ScenarioError, TrilinkError

if TYPE_CHECKING:
    from trilink.evaluate.montecarlo import TrialResult


@app.command("evaluate")
def evaluate(
    scenario: str = typer.Argument(
        ..., help="A scenario file, or a built-in name (see `trilink scenario list`)."
    ),
    runs: int = typer.Option(20, "--runs", min=1, help="Seeded runs per configuration."),
    configs: str = typer.Option(
        "alone,bilateral,trilateral",
        "--configs",
        help="Comma-separated configurations: alone, bilateral (each partner linked to the "
        "U.S. only), trilateral (the scenario's policy).",
    ),
    out: Path = typer.Option(
        ..., "--out", help="Directory for summary.json, report.html and the figures (PNG)."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", min=1, help="Local worker processes (default: one per CPU core)."
    ),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Run the trials on the Dask cluster at this address (tcp://HOST:PORT) "
        "instead of local processes; needs the 'dask' extra.",
    ),
    launch_jitter_s: float = typer.Option(
        0.0, "--launch-jitter-s", min=0.0, help="Shift each launch time uniformly by up to ±S s."
    ),
    site_spread_km: float = typer.Option(
        0.0, "--site-spread-km", min=0.0, help="Move each launch point uniformly within K km."
    ),
    azimuth_spread_deg: float = typer.Option(
        0.0, "--azimuth-spread-deg", min=0.0, help="Turn each launch azimuth by up to ±D deg."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="First seed (default: the scenario's); run i uses seed + i."
    ),
    launches: str | None = typer.Option(
        None, "--launches", help="Only these launch ids (comma-separated), e.g. the SRBM salvo."
    ),
    duration_s: float | None = typer.Option(
        None,
        "--duration-s",
        min=1.0,
        max=86_400.0,
        help="Stop each run this many seconds after the start.",
    ),
    warnings: bool = typer.Option(
        True, "--warnings/--no-warnings", help="Run the hub's per-partner warning rules."
    ),
    latency_ms: float = latency_ms_option(),
    latency_jitter_ms: float = latency_jitter_ms_option("each run's seed"),
) -> None:
    """Run seeded Monte Carlo trials of the scenario in each configuration (each nation
    alone, linked to the U.S. only, the full trilateral link) and write a JSON summary and
    one self-contained HTML report: per partner and missile class, time to first
    detection, link track and warning, warning seconds gained, impact- and launch-point
    error against time since launch, track continuity and latency."""
    from trilink.evaluate.configs import parse_configs
    from trilink.evaluate.montecarlo import Jitter, run_trials
    from trilink.evaluate.report import write_report
    from trilink.nodes.simrun import RunConfig
    from trilink.scenario import load_scenario

    err = Console(stderr=True)
    try:
        names = parse_configs(configs)
    except ValueError as exc:
        err.print(f"--configs: {exc}", markup=False)
        raise typer.Exit(2) from None
    if scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            err.print("--scheduler needs dask.distributed: pip install 'trilink[dask]'")
            raise typer.Exit(2) from None
    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        for line in str(exc).splitlines():
            err.print(line, markup=False, highlight=False)
        raise typer.Exit(2) from None
    if launches:
        wanted = {x.strip() for x in launches.split(",") if x.strip()}
        unknown = wanted - {launch.id for launch in sc.launches}
        if unknown:
            err.print(f"--launches: unknown launch ids {sorted(unknown)}")
            raise typer.Exit(2)
        sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id in wanted))
    if duration_s is not None:
        sc = dataclasses.replace(sc, duration_s=duration_s)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err.print(f"--out: cannot create {out}: {exc.strerror}", markup=False)
        raise typer.Exit(2) from None

    jitter = Jitter(launch_jitter_s, site_spread_km * 1e3, math.radians(azimuth_spread_deg))
    first = sc.seed if seed is None else seed
    seeds = [first + i for i in range(runs)]
    total = runs * len(names)
    where = scheduler or f"{jobs or os.cpu_count()} local processes"
    console = Console()
    console.print(
        f"[bold]{sc.name}[/bold]: {runs} runs x {', '.join(names)} = {total} trials on {where}"
    )
    t0 = time.perf_counter()
    with _progress(console) as progress:
        task = progress.add_task("trials", total=total)
        try:
            trials = run_trials(
                sc, names, seeds, jitter, jobs=jobs, scheduler=scheduler, warnings=warnings,
                run_config=RunConfig(
                    latency_s=latency_ms / 1e3, latency_jitter_s=latency_jitter_ms / 1e3
                ),
                progress=lambda done, _n: progress.update(task, completed=done),
            )  # fmt: skip
        except ScenarioError as exc:  # a perturbed flight the missile cannot fly
            progress.stop()
            for line in str(exc).splitlines():
                err.print(line, markup=False, highlight=False)
            raise typer.Exit(2) from None
        except (TrilinkError, OSError) as exc:
            progress.stop()
            err.print(f"evaluate: {exc}", markup=False)
            raise typer.Exit(2) from None
    wall = time.perf_counter() - t0
    files = write_report(
        trials, out, extra={"wall_s": round(wall, 1), "where": where, "first_seed": first}
    )
    _trials_log(trials, out / "trials.jsonl")
    _print_headline(console, json.loads(files.summary.read_text()))
    console.print(
        f"{total} trials in {wall:.1f} s wall; wrote {files.summary}, {files.html} and "
        f"{len(files.figures)} figures"
    )


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
    )  # fmt: skip


def _trials_log(trials: list[TrialResult], path: Path) -> None:
    """One line per trial: its seed, configuration and first-times (for re-analysis)."""
    from trilink.evaluate.mc_extract import TIME_FIELDS

    def num(v: float) -> float | None:
        return round(v, 3) if math.isfinite(v) else None

    with path.open("w") as f:
        for t in trials:
            row = {
                "config": t.config, "seed": t.seed, "wall_s": round(t.wall_s, 2),
                "cpu_s": round(t.extra.get("cpu_s", math.nan), 2),
                "missiles": {m: {"class": i["class"], "flight_s": round(i["flight_s"], 2)} for m, i in t.missiles.items()},
                "times": {
                    p: {m: {k: num(s[k]) for k in TIME_FIELDS} for m, s in per.items()}
                    for p, per in t.partners.items()
                },
            }  # fmt: skip
            f.write(json.dumps(row) + "\n")


def _fmt(v: object, digits: int = 1) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _print_headline(console: Console, summary: dict[str, Any]) -> None:
    mark = summary["headline"][0]["impact_error_mark_s"] if summary["headline"] else None
    table = Table(title="Headline (medians over samples; p90 of the first warning)")
    for col in ("partner", "config", "class", "first warning", "p90", "gained vs alone"):
        table.add_column(col, justify="left" if col in ("partner", "config", "class") else "right")
    table.add_column(f"impact error at +{mark or 0:g} s, km", justify="right")
    for r in summary["headline"]:
        table.add_row(
            r["partner"], r["config"], r["class"], _fmt(r["first_warning_median_s"]),
            _fmt(r["first_warning_p90_s"]), _fmt(r["warning_gained_median_s"]),
            _fmt(r["impact_error_median_km"], 2),
        )  # fmt: skip
    console.print(table)
