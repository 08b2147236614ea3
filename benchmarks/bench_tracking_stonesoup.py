"""Tracking throughput and accuracy: trilink's tracker against Stone Soup, same detections.

Case (a) of issue 3's "Speed" section: ``--targets`` (100) objects at constant velocity,
one radar, ``--scans`` (300) scans, Pd and clutter as given. Both trackers get the
identical measurements (:mod:`stonesoup_cv_scenario`) and are timed around their own
processing only (building inputs and reading outputs are outside the clock). Printed,
measured in this run:

* scans/s and updates/s, where an update is one detection processed (the same count for
  both trackers, so their ratio is the ratio of processing times);
* OSPA and GOSPA (c, p) per scan between the true positions and the positions of each
  tracker's confirmed tracks, averaged over the scans after ``--burn-in``; GOSPA's missed
  and false counts say whether a difference is accuracy or cardinality.

Stone Soup 1.9 side (the ``bench`` extra): its stock ``MultiTargetTracker`` with an EKF
(``ExtendedKalmanPredictor``/``Updater``), a nearly-constant-velocity model
(``ConstantVelocity`` x 3, continuous white-noise acceleration), the radar-polar
``CartesianToElevationBearingRange`` model, ``DistanceHypothesiser`` with the Mahalanobis
measure and a gate matching trilink's chi-square gate, ``GNNWith2DAssignment``,
``MultiMeasurementInitiator`` (3 updates to confirm, from ``SimpleMeasurementInitiator``
seeds) and ``UpdateTimeStepsDeleter``. Its Cartesian frame is the radar's ENU frame
shifted so that every target coordinate is positive: Stone Soup's finite-difference
Jacobian takes a step of ``1e8 * np.spacing(x)``, which is negative for negative x and
then clamped to 1e-8 m, too small for coordinates of 1e5 m (see FACTS.md). A translation
changes no OSPA value.

trilink side: :func:`run_trilink` imports ``trilink.tracking`` lazily and needs a
constant-velocity option, ``TrackerConfig(motion="cv", q_accel_cv=...)``; without it the
run stops with a message naming the missing API (``--trilink-motion default`` runs the
tracker's own ballistic/boost models instead, a model mismatch reported as such).

Run: ``.venv/bin/python benchmarks/bench_tracking_stonesoup.py [--scans 60]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stonesoup_cv_scenario import (
    CvScenario,
    make_scenario,
    stonesoup_measurement,
    trilink_detections,
)

from trilink.evaluate import gospa, ospa
from trilink.geo import ecef_to_enu

Array = NDArray[np.float64]
GATE_PROBABILITY = 0.9999  # trilink's default chi-square gate, used for both
SS_OFFSET = np.array([400e3, 400e3, 0.0])  # Stone Soup frame = ENU + offset (all positive)


@dataclass
class TrackerRun:
    """What one tracker did: processing time, per-scan confirmed positions (ENU)."""

    name: str
    wall_s: float
    n_scans: int
    n_detections: int
    positions_enu: list[Array]  # per scan (n_k, 3)

    @property
    def scans_per_s(self) -> float:
        return self.n_scans / self.wall_s

    @property
    def updates_per_s(self) -> float:
        return self.n_detections / self.wall_s


# ---- Stone Soup -------------------------------------------------------------------------


def run_stonesoup(sc: CvScenario, q_accel: float, velocity_sigma: float) -> TrackerRun:
    """Stone Soup 1.9's stock multi-target tracker on the scenario (see module docstring)."""
    try:
        from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
        from stonesoup.deleter.time import UpdateTimeStepsDeleter
        from stonesoup.hypothesiser.distance import DistanceHypothesiser
        from stonesoup.initiator.simple import MultiMeasurementInitiator
        from stonesoup.measures import Mahalanobis
        from stonesoup.models.measurement.nonlinear import CartesianToElevationBearingRange
        from stonesoup.models.transition.linear import (
            CombinedLinearGaussianTransitionModel,
            ConstantVelocity,
        )
        from stonesoup.predictor.kalman import ExtendedKalmanPredictor
        from stonesoup.tracker.simple import MultiTargetTracker
        from stonesoup.types.detection import Detection
        from stonesoup.types.state import GaussianState
        from stonesoup.updater.kalman import ExtendedKalmanUpdater
    except ImportError as e:  # the optional `bench` extra
        raise SystemExit(f"Stone Soup is not installed ({e}); pip install -e '.[bench]'") from e

    transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q_accel)] * 3)
    r = sc.R
    mm = CartesianToElevationBearingRange(
        ndim_state=6,
        mapping=(0, 2, 4),
        noise_covar=np.diag([r[2, 2], r[1, 1], r[0, 0]]),
        translation_offset=SS_OFFSET.reshape(3, 1),
    )
    predictor = ExtendedKalmanPredictor(transition)
    updater = ExtendedKalmanUpdater(mm)
    gate = float(np.sqrt(chi2.ppf(GATE_PROBABILITY, 3)))  # Mahalanobis distance, not squared
    hyp = DistanceHypothesiser(predictor, updater, measure=Mahalanobis(), missed_distance=gate)
    associator = GNNWith2DAssignment(hyp)
    prior = GaussianState(np.zeros((6, 1)), np.diag([0, velocity_sigma**2] * 3))
    init_deleter = UpdateTimeStepsDeleter(time_steps_since_update=2)
    initiator = MultiMeasurementInitiator(
        prior_state=prior,
        measurement_model=mm,
        deleter=init_deleter,
        data_associator=GNNWith2DAssignment(hyp),
        updater=updater,
        min_points=3,
    )
    deleter = UpdateTimeStepsDeleter(time_steps_since_update=5)

    epoch = datetime(2024, 1, 1)
    scans = []
    for k, z in enumerate(sc.z):  # inputs built before the clock starts
        ts = epoch + timedelta(seconds=k * sc.dt_s)
        zz = stonesoup_measurement(z)
        scans.append(
            (
                ts,
                {
                    Detection(zz[i].reshape(3, 1), timestamp=ts, measurement_model=mm)
                    for i in range(zz.shape[0])
                },
            )
        )
    tracker = MultiTargetTracker(
        initiator=initiator,
        deleter=deleter,
        detector=scans,
        data_associator=associator,
        updater=updater,
    )
    positions: list[Array] = []
    wall = 0.0
    it = iter(tracker)
    for _ in range(len(scans)):
        t0 = time.perf_counter()
        ts, tracks = next(it)
        wall += time.perf_counter() - t0
        # Reading the output is outside the clock.
        pos = np.array([np.asarray(t.state_vector, float).ravel()[[0, 2, 4]] for t in tracks])
        positions.append(pos.reshape(-1, 3) - SS_OFFSET)
    return TrackerRun("Stone Soup 1.9 (EKF, GNN)", wall, len(scans), sc.n_detections, positions)


# ---- trilink -----------------------------------------------------------------------------


def run_trilink(
    sc: CvScenario, q_accel: float, velocity_sigma: float, motion: str = "cv"
) -> TrackerRun:
    """trilink's NationalTracker on the same detections.

    Needs (checked here, loudly): ``trilink.tracking.NationalTracker(nation, config)`` with
    ``.process(detections)`` and ``.tracks(predictions=False)`` returning objects with
    ``status`` ("confirmed"/"tentative") and ``x`` (6,) ECEF; and ``TrackerConfig`` with
    ``motion="cv"`` (a 6-state nearly-constant-velocity model, no gravity, in ECEF),
    ``q_accel_cv`` (the same white-acceleration PSD as Stone Soup's ConstantVelocity) and
    ``velocity_prior_sigma``.
    """
    try:
        from trilink.tracking.config import TrackerConfig
        from trilink.tracking.tracker import NationalTracker
    except ImportError as e:
        raise SystemExit(f"trilink.tracking is not importable: {e}") from e
    names = {f.name for f in dataclasses.fields(TrackerConfig)}
    kwargs: dict[str, object] = {"velocity_prior_sigma": velocity_sigma}
    if motion == "cv":
        missing = {"motion", "q_accel_cv"} - names
        if missing:
            raise SystemExit(
                "trilink's tracker has no constant-velocity option: TrackerConfig lacks "
                f"{sorted(missing)}. Needed: TrackerConfig(motion='cv', q_accel_cv=PSD) "
                "selecting a 6-state nearly-constant-velocity model in ECEF (no gravity). "
                "Run with --trilink-motion default to time the ballistic/boost tracker anyway."
            )
        kwargs |= {"motion": "cv", "q_accel_cv": q_accel}
    cfg = TrackerConfig(**kwargs)  # type: ignore[arg-type]
    tracker = NationalTracker("BENCH", cfg)
    for attr in ("process", "tracks"):
        if not hasattr(tracker, attr):
            raise SystemExit(f"trilink.tracking.NationalTracker has no .{attr}()")
    batches = trilink_detections(sc)
    positions: list[Array] = []
    wall = 0.0
    for det in batches:
        t0 = time.perf_counter()
        tracker.process(det)
        wall += time.perf_counter() - t0
        snap = tracker.tracks(predictions=False)  # outside the clock
        conf = [t for t in snap if t.status == "confirmed"]
        x = np.array([t.x[:3] for t in conf]).reshape(-1, 3)
        positions.append(ecef_to_enu(x, sc.site_lla).reshape(-1, 3))
    label = "trilink (CV)" if motion == "cv" else "trilink (ballistic/boost IMM: model mismatch)"
    return TrackerRun(label, wall, len(batches), sc.n_detections, positions)


# ---- accuracy and report -------------------------------------------------------------------


def set_errors(
    sc: CvScenario, run: TrackerRun, c: float, p: float, burn_in: int
) -> dict[str, float]:
    """Mean OSPA/GOSPA (and GOSPA's missed/false counts) over scans after ``burn_in``."""
    o, g, miss, false = [], [], [], []
    for k in range(burn_in, run.n_scans):
        truth = sc.truth_enu[k, :, :3]
        o.append(ospa(truth, run.positions_enu[k], c, p))
        gs = gospa(truth, run.positions_enu[k], c, p)
        g.append(gs.distance)
        miss.append(gs.n_missed)
        false.append(gs.n_false)
    return {
        "ospa": float(np.mean(o)),
        "gospa": float(np.mean(g)),
        "missed": float(np.mean(miss)),
        "false": float(np.mean(false)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=100, help="number of targets")
    ap.add_argument("--scans", type=int, default=300, help="number of radar scans")
    ap.add_argument("--dt", type=float, default=1.0, help="scan period [s]")
    ap.add_argument("--pd", type=float, default=0.95, help="detection probability")
    ap.add_argument("--clutter", type=float, default=5.0, help="mean false alarms per scan")
    ap.add_argument("--seed", type=int, default=1, help="scenario seed")
    ap.add_argument("--q", type=float, default=1.0, help="white-acceleration PSD [m^2/s^3]")
    ap.add_argument(
        "--velocity-sigma", type=float, default=300.0, help="initiation velocity sigma [m/s]"
    )
    ap.add_argument("--c", type=float, default=500.0, help="OSPA/GOSPA cutoff [m]")
    ap.add_argument("--p", type=float, default=2.0, help="OSPA/GOSPA order")
    ap.add_argument("--burn-in", type=int, default=10, help="scans left out of the OSPA mean")
    ap.add_argument("--skip-stonesoup", action="store_true", help="run trilink only")
    ap.add_argument("--skip-trilink", action="store_true", help="run Stone Soup only")
    ap.add_argument(
        "--trilink-motion",
        choices=["cv", "default"],
        default="cv",
        help="trilink's motion model: cv (needs the CV option) or its default",
    )
    a = ap.parse_args(argv)
    sc = make_scenario(a.targets, a.scans, a.dt, a.pd, a.clutter, seed=a.seed)
    print(
        f"case (a): {a.targets} CV targets, 1 radar, {a.scans} scans of {a.dt:g} s, "
        f"Pd {a.pd:g}, clutter {a.clutter:g}/scan, {sc.n_detections} detections; "
        f"OSPA/GOSPA c = {a.c:g} m, p = {a.p:g}, mean over scans {a.burn_in}..{a.scans - 1}"
    )
    runs = []
    if not a.skip_stonesoup:
        runs.append(run_stonesoup(sc, a.q, a.velocity_sigma))
    if not a.skip_trilink:
        runs.append(run_trilink(sc, a.q, a.velocity_sigma, a.trilink_motion))
    head = (
        f"{'tracker':46s} {'time s':>8s} {'scans/s':>9s} {'updates/s':>10s} "
        f"{'OSPA m':>7s} {'GOSPA m':>8s} {'missed':>7s} {'false':>6s}"
    )
    print(head)
    for run in runs:
        e = set_errors(sc, run, a.c, a.p, a.burn_in)
        print(
            f"{run.name:46s} {run.wall_s:8.2f} {run.scans_per_s:9.2f} {run.updates_per_s:10.0f} "
            f"{e['ospa']:7.1f} {e['gospa']:8.1f} {e['missed']:7.2f} {e['false']:6.2f}"
        )
    if len(runs) == 2:
        ratio = runs[1].updates_per_s / runs[0].updates_per_s
        print(f"throughput ratio trilink / Stone Soup: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
