"""The ``trilink track`` summary: how well each nation's tracker saw each missile.

One call, :func:`track_report`, turns truth, detections and the national trackers' output
(:class:`~trilink.tracking.TrackHistory`, one per nation) into

* one :class:`MissileSummary` per (missile, nation): first detection and first confirmed
  track (s after launch), position and velocity RMSE, impact-point error of the latest
  prediction made by +60 s and +120 s after launch (and of the last one), launch-point
  error of the last estimate, average NEES with its chi-square band, and SIAP
  track-number changes;
* one :class:`NationSummary` per nation over the whole run: mean OSPA and GOSPA (with the
  mean numbers of missed objects and false tracks), SIAP completeness, ambiguity and
  spuriousness, and confirmed tracks that never lay on any missile.

Only confirmed estimates are scored (a tentative track is not yet reported to anyone).
Every metric is one of :mod:`trilink.evaluate`'s, with the association and grid
choices made here once, in :class:`ReportConfig`; definitions are in docs/evaluation.md.

**Reading the NEES band.** For one missile the average is over the K successive
estimates of a single run, and ``nees_band(6, K)`` treats them as independent. Successive
estimates of one track are correlated, so the band is a guide to the order of magnitude
(over-confident far above it, under-confident far below), not a test at 95 %; the test of
consistency is the Monte Carlo one in the tracking tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.evaluate.accuracy import nees_band, nees_of_estimates, rmse_by_truth
from trilink.evaluate.assignment import assign_to_truth
from trilink.evaluate.estimates import TrackEstimates
from trilink.evaluate.ospa import set_errors_over_time
from trilink.evaluate.prediction import PointErrors, impact_point_errors, launch_point_errors
from trilink.evaluate.siap import siap
from trilink.evaluate.timeliness import first_confirmed_times, first_detection_times
from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections
from trilink.tracking.prediction import PointPrediction
from trilink.tracking.records import CONFIRMED, TrackHistory

NS = 1_000_000_000
Array = NDArray[np.float64]


@dataclass(frozen=True)
class ReportConfig:
    """Association and grid choices of the summary (SI units).

    ``gate_m``: an estimate belongs to a missile within this distance at its own time.
    The confirmed tracks of the built-in scenario lie within 2.6 km of their missile
    (measured, seed 1), boost-phase tracks included; 20 km keeps them all and stays far
    below the spacing of separate launches.
    ``ospa_c_m``: OSPA/GOSPA cutoff: a few times the worst confirmed localisation error, so
    that a located missile never costs as much as a missed one.
    ``grid_s``/``max_age_s``: OSPA and SIAP are read every ``grid_s`` from the first
    launch to the last impact; a track is present while its latest update is younger than
    ``max_age_s`` (radars revisit every 1-2 s, so 10 s tolerates a few missed scans).
    ``marks_s``: the impact-error columns, seconds after launch.
    """

    gate_m: float = 20_000.0
    ospa_c_m: float = 10_000.0
    ospa_p: float = 2.0
    grid_s: float = 1.0
    max_age_s: float = 10.0
    marks_s: tuple[float, ...] = (60.0, 120.0)


@dataclass(frozen=True)
class MissileSummary:
    """One nation's view of one missile; NaN where it never happened or was never scored.

    Times are seconds after the missile's launch; distances metres.
    """

    missile_id: str
    missile_class: str
    nation: str
    first_detection_s: float
    first_confirmed_s: float
    n_tracks: int  # confirmed track numbers that carried the missile
    n_estimates: int  # confirmed estimates scored against it
    position_rmse_m: float
    velocity_rmse_mps: float
    impact_error_at_m: tuple[float, ...]  # at ReportConfig.marks_s
    impact_error_last_m: float
    impact_time_error_last_s: float
    launch_error_last_m: float
    launch_time_error_last_s: float
    nees_mean: float
    nees_band: tuple[float, float]
    track_number_changes: int


@dataclass(frozen=True)
class NationSummary:
    """One nation's picture over the whole run (grid from first launch to last impact)."""

    nation: str
    n_updates: int
    n_tracks: int
    n_confirmed_tracks: int
    n_false_confirmed_tracks: int  # confirmed tracks never within the gate of a missile
    ospa_mean_m: float
    gospa_mean_m: float
    missed_mean: float  # GOSPA's missed objects, averaged over the grid
    false_mean: float  # GOSPA's false tracks, averaged over the grid
    localisation_m: float  # order-p mean distance of GOSPA's assigned pairs, whole grid
    completeness: float
    ambiguity: float
    spuriousness: float
    track_number_changes: int


@dataclass(frozen=True)
class TrackReport:
    """Rows per (missile, nation), in truth order then nation order, and per nation."""

    missiles: tuple[MissileSummary, ...]
    nations: tuple[NationSummary, ...]
    config: ReportConfig
    grid_start_ns: int
    grid_end_ns: int


def estimates_of(history: TrackHistory) -> TrackEstimates:
    """A tracker's history as the evaluation's plain table (confirmed flag from status)."""
    return TrackEstimates.from_arrays(
        history.t_ns, history.track_id, history.x, history.P, history.status == CONFIRMED
    )


def report_grid(truths: Sequence[Trajectory], grid_s: float) -> NDArray[np.int64]:
    """Grid times [ns] from the first launch to the last impact, every ``grid_s``."""
    if not truths:
        return np.empty(0, dtype=np.int64)
    t0 = min(t.launch_t_ns for t in truths)
    t1 = max(t.impact_t_ns for t in truths)
    return np.arange(t0, t1 + 1, round(grid_s * NS), dtype=np.int64)


def _point_errors(
    pred: PointPrediction, rows: NDArray[np.intp], t_ns: NDArray[np.int64], truth: Trajectory, *,
    impact: bool,
) -> PointErrors | None:  # fmt: skip
    """Errors of the valid predictions among ``rows``, in time order (None if none)."""
    ok = rows[pred.valid[rows]]
    if ok.size == 0:
        return None
    ok = ok[np.argsort(t_ns[ok], kind="stable")]
    fn = impact_point_errors if impact else launch_point_errors
    return fn(t_ns[ok], pred.lat_rad[ok], pred.lon_rad[ok], truth, pred.t_ns[ok])


def _last(err: PointErrors | None) -> tuple[float, float]:
    """Distance and time error of the last prediction (NaN if none)."""
    if err is None:
        return math.nan, math.nan
    return float(err.distance_m[-1]), float(err.time_error_s[-1])


def _nation_rows(
    history: TrackHistory,
    truths: Sequence[Trajectory],
    first_seen: Mapping[tuple[str, str], int],
    grid: NDArray[np.int64],
    cfg: ReportConfig,
) -> tuple[list[MissileSummary], NationSummary]:
    nation = history.nation
    est = estimates_of(history)
    conf_rows = np.flatnonzero(est.is_confirmed)
    conf = est.take(conf_rows)
    asg = assign_to_truth(conf, truths, cfg.gate_m)
    pos_rmse, vel_rmse = rmse_by_truth(conf, asg)
    eps = nees_of_estimates(conf, asg)
    first_conf = first_confirmed_times(est, truths, cfg.gate_m)
    max_age = round(cfg.max_age_s * NS)
    sp = siap(est, truths, grid, gate_m=cfg.gate_m, max_age_ns=max_age)
    se = set_errors_over_time(est, truths, grid, c=cfg.ospa_c_m, p=cfg.ospa_p, max_age_ns=max_age)
    pred = history.predictions
    rows_out = []
    for j, truth in enumerate(truths):  # a handful of missiles; each step is vectorised
        mine = asg.truth_index == j
        rows = conf_rows[mine]
        t_launch = truth.launch_t_ns
        seen = first_seen.get((nation, truth.missile_id))
        confirmed = first_conf.get(truth.missile_id)
        imp = _point_errors(pred.impact, rows, history.t_ns, truth, impact=True)
        lau = _point_errors(pred.launch, rows, history.t_ns, truth, impact=False)
        at = imp.at(cfg.marks_s) if imp is not None else np.full(len(cfg.marks_s), np.nan)
        imp_last, imp_dt = _last(imp)
        lau_last, lau_dt = _last(lau)
        e = eps[mine]
        e = e[np.isfinite(e)]
        rows_out.append(
            MissileSummary(
                missile_id=truth.missile_id,
                missile_class=truth.missile_class,
                nation=nation,
                first_detection_s=math.nan if seen is None else (seen - t_launch) / NS,
                first_confirmed_s=math.nan if confirmed is None else (confirmed - t_launch) / NS,
                n_tracks=int(np.unique(history.track_id[rows]).size),
                n_estimates=int(rows.size),
                position_rmse_m=float(pos_rmse[j]) if rows.size else math.nan,
                velocity_rmse_mps=float(vel_rmse[j]) if rows.size else math.nan,
                impact_error_at_m=tuple(float(v) for v in at),
                impact_error_last_m=imp_last,
                impact_time_error_last_s=imp_dt,
                launch_error_last_m=lau_last,
                launch_time_error_last_s=lau_dt,
                nees_mean=float(e.mean()) if e.size else math.nan,
                nees_band=nees_band(6, int(e.size)) if e.size else (math.nan, math.nan),
                track_number_changes=int(sp.track_number_changes[j]),
            )
        )
    near = assign_to_truth(conf, truths, cfg.gate_m, one_to_one=False)
    on_truth = np.unique(conf.track_id[near.assigned])
    confirmed_ids = history.confirmed_ids()
    half = cfg.ospa_c_m**cfg.ospa_p / 2.0  # GOSPA charges c^p/2 per missed or false object
    summary = NationSummary(
        nation=nation,
        n_updates=len(history),
        n_tracks=int(history.track_ids().size),
        n_confirmed_tracks=int(confirmed_ids.size),
        n_false_confirmed_tracks=int(np.setdiff1d(confirmed_ids, on_truth).size),
        ospa_mean_m=_mean(se.ospa_m),
        gospa_mean_m=_mean(se.gospa_m),
        missed_mean=_mean(se.missed / half),
        false_mean=_mean(se.false / half),
        localisation_m=_localisation(se.localisation, se.n_truth - se.missed / half, cfg.ospa_p),
        completeness=sp.completeness_overall,
        ambiguity=sp.ambiguity_overall,
        spuriousness=sp.spuriousness_overall,
        track_number_changes=int(sp.track_number_changes.sum()),
    )
    return rows_out, summary


def _localisation(localisation: Array, n_assigned: Array, p: float) -> float:
    """(sum of GOSPA's localisation parts [m^p] / number of assigned pairs)^(1/p) over the
    grid (the RMS distance for p = 2): how well a nation locates what it does track,
    apart from what it misses."""
    n = float(np.nansum(np.rint(n_assigned)))
    return (float(np.nansum(localisation)) / n) ** (1.0 / p) if n > 0 else math.nan


def _mean(x: Array) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else math.nan


def track_report(
    truths: Sequence[Trajectory],
    detections: Iterable[Detections],
    histories: Mapping[str, TrackHistory],
    config: ReportConfig | None = None,
) -> TrackReport:
    """Score every nation's tracks against the truth (see the module docstring).

    ``histories`` maps a nation to its tracker's output; ``detections`` are all the run's
    batches (their ``truth_id`` gives each nation's first detection of each missile).
    """
    cfg = config or ReportConfig()
    first_seen = first_detection_times(detections)
    grid = report_grid(truths, cfg.grid_s)
    per_nation = {n: _nation_rows(h, truths, first_seen, grid, cfg) for n, h in histories.items()}
    missiles = tuple(
        row for j in range(len(truths)) for n in histories for row in per_nation[n][0][j : j + 1]
    )
    return TrackReport(
        missiles=missiles,
        nations=tuple(per_nation[n][1] for n in histories),
        config=cfg,
        grid_start_ns=int(grid[0]) if grid.size else 0,
        grid_end_ns=int(grid[-1]) if grid.size else 0,
    )


def _clean(v: object, digits: int = 3) -> object:
    """JSON has no NaN: NaN and inf become None; floats are rounded for reading."""
    if isinstance(v, float):
        return round(v, digits) if math.isfinite(v) else None
    if isinstance(v, tuple | list):
        return [_clean(x, digits) for x in v]
    return v


def report_to_json(report: TrackReport) -> dict[str, object]:
    """The report as JSON-ready dicts: ``missiles`` (one per missile, its nations inside),
    ``nations`` and ``config``; NaN becomes null."""
    missiles: dict[str, dict[str, object]] = {}
    for row in report.missiles:
        entry = missiles.setdefault(
            row.missile_id, {"id": row.missile_id, "class": row.missile_class, "nations": {}}
        )
        d = {k: _clean(v) for k, v in asdict(row).items()}
        for key in ("missile_id", "missile_class", "nation"):
            d.pop(key)
        marks = d.pop("impact_error_at_m")
        assert isinstance(marks, list)
        for mark, err in zip(report.config.marks_s, marks, strict=True):
            d[f"impact_error_{mark:g}s_m"] = err
        nations = entry["nations"]
        assert isinstance(nations, dict)
        nations[row.nation] = d
    return {
        "missiles": list(missiles.values()),
        "nations": {
            s.nation: {k: _clean(v) for k, v in asdict(s).items() if k != "nation"}
            for s in report.nations
        },
        "config": {k: _clean(v) for k, v in asdict(report.config).items()},
    }
