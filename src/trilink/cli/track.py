"""``trilink track SCENARIO --out FILE``: every nation's tracker on a simulated run.

Simulates the scenario, runs each nation's tracker (:func:`trilink.tracking.track_all`)
on that nation's detections, writes every track update with its predictions as JSON
Lines (columns in docs/evaluation.md, "trilink track output"), and prints how well each
nation saw each missile (:mod:`trilink.evaluate.report_track`).

Bad input (a scenario that does not load, an unknown nation, a missing output
directory) prints one line per problem on stderr and exits with code 2.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trilink.cli.app import app
from trilink.errors import ScenarioError
from trilink.evaluate.report_track import TrackReport, report_to_json, track_report
from trilink.geo import ecef_to_geodetic
from trilink.scenario import load_scenario, simulate
from trilink.scenario.records import iso_utc
from trilink.tracking import TrackHistory, track_all
from trilink.tracking.prediction import PointPrediction

TRACK_COLUMNS = (
    "nation", "track_id", "t_ns", "t_utc", "sensor_id", "status", "phase", "p_boost",
    "lat_deg", "lon_deg", "alt_m", "x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps",
    "speed_mps", "position_sigma_m", "velocity_sigma_mps", "nis",
    "impact_lat_deg", "impact_lon_deg", "impact_semi_major_m", "impact_semi_minor_m",
    "impact_orientation_deg", "impact_t_ns", "impact_utc", "impact_t_sigma_s",
    "launch_lat_deg", "launch_lon_deg", "launch_semi_major_m", "launch_semi_minor_m",
    "launch_orientation_deg", "launch_t_ns", "launch_utc", "launch_t_sigma_s",
    "apogee_m", "apogee_sigma_m",
)  # fmt: skip
"""The columns of one line of ``--out``, in order (docs/evaluation.md)."""
TABLE_WIDTH = 132  # columns when stdout is not a terminal


def _num(values: np.ndarray, digits: int) -> list[float | None]:
    """Rounded floats, NaN as None (JSON has no NaN)."""
    return [round(v, digits) if math.isfinite(v) else None for v in values.tolist()]


def _point_columns(prefix: str, p: PointPrediction) -> dict[str, list[Any]]:
    ok = p.valid.tolist()
    t = p.t_ns.tolist()
    return {
        f"{prefix}_lat_deg": _num(np.degrees(p.lat_rad), 7),
        f"{prefix}_lon_deg": _num(np.degrees(p.lon_rad), 7),
        f"{prefix}_semi_major_m": _num(p.semi_major_m, 1),
        f"{prefix}_semi_minor_m": _num(p.semi_minor_m, 1),
        f"{prefix}_orientation_deg": _num(np.degrees(p.orientation_rad), 2),
        f"{prefix}_t_ns": [int(v) if k else None for v, k in zip(t, ok, strict=True)],
        f"{prefix}_utc": [iso_utc(v) if k else None for v, k in zip(t, ok, strict=True)],
        f"{prefix}_t_sigma_s": _num(p.t_sigma_s, 3),
    }


def track_rows(history: TrackHistory) -> Iterator[dict[str, Any]]:
    """One JSON-ready dict per track update (the ``--out`` lines), in the history's order.

    Degrees at this edge; ECEF metres and m/s; ``position_sigma_m`` is
    ``sqrt(trace P_rr)`` (the RMS position error the covariance claims), likewise for
    velocity; predictions are null on tentative rows.
    """
    k = len(history)
    if k == 0:
        return
    lla = ecef_to_geodetic(history.x[:, :3])
    var = np.diagonal(history.P, axis1=-2, axis2=-1)
    pred = history.predictions
    cols: dict[str, list[Any]] = {
        "nation": [history.nation] * k,
        "track_id": history.track_id.tolist(),
        "t_ns": history.t_ns.tolist(),
        "t_utc": [iso_utc(t) for t in history.t_ns.tolist()],
        "sensor_id": history.sensor_id.tolist(),
        "status": history.status.tolist(),
        "phase": history.phase.tolist(),
        "p_boost": _num(history.p_boost, 4),
        "lat_deg": _num(np.degrees(lla[:, 0]), 7),
        "lon_deg": _num(np.degrees(lla[:, 1]), 7),
        "alt_m": _num(lla[:, 2], 1),
        **{
            name: _num(history.x[:, i], 2)
            for i, name in enumerate(("x_m", "y_m", "z_m", "vx_mps", "vy_mps", "vz_mps"))
        },
        "speed_mps": _num(np.linalg.norm(history.x[:, 3:], axis=-1), 2),
        "position_sigma_m": _num(np.sqrt(var[:, :3].sum(axis=-1)), 2),
        "velocity_sigma_mps": _num(np.sqrt(var[:, 3:].sum(axis=-1)), 3),
        "nis": _num(history.nis, 3),
        **_point_columns("impact", pred.impact),
        **_point_columns("launch", pred.launch),
        "apogee_m": _num(pred.apogee_m, 0),
        "apogee_sigma_m": _num(pred.apogee_sigma_m, 0),
    }
    lists = [cols[c] for c in TRACK_COLUMNS]
    for values in zip(*lists, strict=True):
        yield dict(zip(TRACK_COLUMNS, values, strict=True))


def write_tracks(histories: dict[str, TrackHistory], path: Path) -> int:
    """Write every nation's rows as JSON Lines; return the number of lines."""
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for history in histories.values():
            for row in track_rows(history):
                f.write(json.dumps(row, separators=(",", ":")) + "\n")
                n += 1
    return n


def _fail(message: str) -> None:
    print(message, file=sys.stderr)
    raise typer.Exit(code=2)


def _pick_nations(available: list[str], wanted: list[str] | None) -> list[str]:
    if not wanted:
        return available
    names = [w.strip().upper() for item in wanted for w in item.split(",") if w.strip()]
    unknown = [n for n in names if n not in available]
    if unknown:
        _fail(
            f"--nation: unknown nation(s) {', '.join(unknown)}; the scenario has {', '.join(available)}"
        )
    return list(dict.fromkeys(names))  # in the order given, once each


@app.command("track")
def track_command(
    scenario: str = typer.Argument(
        ..., help="Scenario TOML file, or a built-in name such as korea-japan."
    ),
    out_file: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Where to write every track update with its predictions (JSON Lines).",
    ),
    nation: list[str] | None = typer.Option(
        None,
        "--nation",
        "-n",
        help="Track only this nation (repeat, or comma-separate, for several); default: all.",
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="Random seed for the sensors; default: the scenario's."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the summary as one JSON object on stdout instead of tables."
    ),
) -> None:
    """Simulate a scenario, run each nation's tracker on its own sensors, write the tracks.

    Prints, per missile and nation: first detection and first confirmed track (s after launch), position and velocity RMSE, impact-point error at +60 s and +120 s after launch, launch-point error, average NEES with its band, track-number changes; and per nation over the whole run: mean OSPA and GOSPA. Output columns: docs/evaluation.md.
    """  # fmt: skip
    if seed is not None and seed < 0:
        _fail(f"--seed: must be >= 0, got {seed}")
    if not out_file.parent.is_dir():
        _fail(f"{out_file}: no such directory: {out_file.parent}")
    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))  # the loader's file:field.path: reason lines
        return
    nations = _pick_nations([n.id for n in sc.nations], nation)
    err = Console(stderr=True)
    steps_sim = len(sc.launches) + 1
    timings: dict[str, float] = {}
    with Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
        console=err, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("simulating", total=steps_sim + len(nations) + 1)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(task, description=f"simulating: {what}", completed=done)

        t0 = time.perf_counter()
        try:
            sim = simulate(sc, seed=seed, progress=progress)
        except ScenarioError as exc:
            bar.stop()
            _fail(str(exc))
            return
        timings["simulate_s"] = time.perf_counter() - t0
        histories: dict[str, TrackHistory] = {}
        for i, n in enumerate(nations):
            bar.update(task, description=f"tracking: {n}", completed=steps_sim + i)
            t0 = time.perf_counter()
            # Detections is a frozen dataclass; DetectionBatch declares plain (writable)
            # attributes, which mypy will not match to read-only fields.
            histories[n] = track_all(sim.detections, n)  # type: ignore[arg-type]
            timings[f"track_{n}_s"] = time.perf_counter() - t0
        bar.update(task, description="scoring against truth", completed=steps_sim + len(nations))
        t0 = time.perf_counter()
        report = track_report(sim.trajectories, sim.detections, histories)
        timings["evaluate_s"] = time.perf_counter() - t0
    try:
        lines = write_tracks(histories, out_file)
    except OSError as exc:
        _fail(f"{out_file}: cannot write: {exc.strerror or exc}")
    summary: dict[str, Any] = {
        "scenario": sc.name,
        "seed": sim.seed,
        "out": str(out_file),
        "lines": lines,
        **report_to_json(report),
        "wall_s": {k: round(v, 3) for k, v in timings.items()},
    }
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    console = Console()
    if not console.is_terminal:  # a pipe or a file: do not squeeze the tables into 80
        console = Console(width=TABLE_WIDTH)
    console.print(missile_table(report))
    console.print(nation_table(report))
    track_s = sum(v for k, v in timings.items() if k.startswith("track_"))
    console.print(
        f"{sc.name}, seed {sim.seed}: wrote {lines} track updates to {out_file}; "
        f"simulation {timings['simulate_s']:.1f} s, tracking {track_s:.1f} s"
    )


def _f(v: float, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if not math.isfinite(v) else f"{v / scale:.{digits}f}"


def missile_table(report: TrackReport) -> Table:
    """Rows per missile and nation (the human form of ``report.missiles``)."""
    marks = report.config.marks_s
    table = Table(
        title="Per missile and nation",
        caption="seen / conf: first detection / first confirmed track, s after launch; "
        "IPE +N s: impact-point error of the latest prediction by N s after launch; "
        "LPE: launch-point error of the last estimate; NEES: average over the track's "
        + escape("confirmed estimates [95% band if they were independent]")
        + "; trk/chg: track numbers "
        "carrying the missile / SIAP track-number changes",
    )
    heads = ["missile", "nation", "seen s", "conf s", "RMSE m", "RMSE m/s"]
    heads += [f"IPE +{m:g} s km" for m in marks]
    heads += ["LPE km", escape("NEES [band]"), "trk/chg"]
    for h in heads:
        table.add_column(h, justify="left" if h in ("missile", "nation") else "right")
    last = None
    for row in report.missiles:
        if last is not None and row.missile_id != last:
            table.add_section()
        label = f"{row.missile_id} {row.missile_class}" if row.missile_id != last else ""
        last = row.missile_id
        lo, hi = row.nees_band
        nees = (
            "-" if not math.isfinite(row.nees_mean) else f"{row.nees_mean:.1f} [{lo:.1f}-{hi:.1f}]"
        )
        table.add_row(
            label, row.nation, _f(row.first_detection_s), _f(row.first_confirmed_s),
            _f(row.position_rmse_m, digits=0), _f(row.velocity_rmse_mps),
            *(_f(e, 1e3, 2) for e in row.impact_error_at_m),
            _f(row.launch_error_last_m, 1e3), nees, f"{row.n_tracks}/{row.track_number_changes}",
        )  # fmt: skip
    return table


def nation_table(report: TrackReport) -> Table:
    """One row per nation over the whole run (OSPA/GOSPA means, SIAP ratios)."""
    c = report.config
    table = Table(
        title="Per nation, whole run",
        caption=f"every {c.grid_s:g} s from the first launch to the last impact; OSPA and "
        f"GOSPA with c = {c.ospa_c_m / 1e3:g} km, p = {c.ospa_p:g} (means); loc: GOSPA's "
        "localisation per located missile (RMS); missed / false: GOSPA's average counts; "
        "C, A, S: SIAP completeness, ambiguity, spuriousness; false conf: confirmed tracks "
        "never near a missile",
    )
    heads = ("nation", "updates", "tracks", "confirmed", "false conf", "OSPA km", "GOSPA km",
             "loc m", "missed", "false", "C", "A", "S", "changes")  # fmt: skip
    for h in heads:
        table.add_column(h, justify="left" if h == "nation" else "right")
    for s in report.nations:
        table.add_row(
            s.nation, str(s.n_updates), str(s.n_tracks), str(s.n_confirmed_tracks),
            str(s.n_false_confirmed_tracks), _f(s.ospa_mean_m, 1e3, 2), _f(s.gospa_mean_m, 1e3, 2),
            _f(s.localisation_m, digits=0), _f(s.missed_mean, digits=2),
            _f(s.false_mean, digits=2), _f(s.completeness, digits=3), _f(s.ambiguity, digits=3),
            _f(s.spuriousness, digits=3), str(s.track_number_changes),
        )  # fmt: skip
    return table
