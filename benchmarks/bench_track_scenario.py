"""Tracking speed and accuracy on the built-in ballistic scenario (issue 3, "Speed", case b).

Simulates ``--scenario`` (``korea-japan``; not timed), then runs each nation's tracker,
:func:`trilink.tracking.track_all`, on that nation's detections (all its radars, and the
USA's infrared satellite), as ``trilink track`` does: every update recorded, the impact
and launch predictions of every confirmed update computed. trilink alone: no peer tracker
handles boost, J2 ballistic flight and re-entry, so there is no ratio to print here (case
a, against Stone Soup, is ``bench_tracking_stonesoup.py``).

One process, pinned to one CPU, one BLAS/OpenMP thread, after a warm-up run (imports,
caches, any JIT compilation; the cold run is printed too). Printed, measured in this run:

* per nation: detections in, track updates out, tracks (confirmed), best wall and CPU
  time over ``--repeats`` runs, detections per CPU second; the CPU time without
  predictions (filtering, association and track management alone) unless ``--quick``;
* the total over nations (goal: under 5 s). On a shared machine the wall time includes
  waiting for the CPU; the goal is judged on the CPU time of this one-thread process,
  which is the wall time on an idle core;
* accuracy, from :func:`trilink.evaluate.report_track.track_report`: per nation the mean
  OSPA and GOSPA (c = 10 km, p = 2, every second from the first launch to the last
  impact) with GOSPA's localisation (RMS distance of the located missiles) and mean
  missed and false counts, and the position RMSE per missile.

Run: ``.venv/bin/python benchmarks/bench_track_scenario.py [--repeats 3] [--quick]``.
"""

from __future__ import annotations

import os

# One core: BLAS/OpenMP pools are sized when numpy loads, so this must come first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402

from benchcpu import pin_to_one_cpu  # noqa: E402

from trilink.evaluate.report_track import ReportConfig, track_report  # noqa: E402
from trilink.scenario import load_scenario, simulate  # noqa: E402
from trilink.tracking import TrackHistory, track_all  # noqa: E402

GOAL_S = 5.0


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time of ``repeats`` calls, and the last result.

    On a shared machine the wall time includes waiting for the CPU; the CPU time of this
    one-thread process is what the wall time would be on an idle core.
    """
    wall = cpu = float("inf")
    out = None
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default="korea-japan", help="scenario file or built-in name")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per nation")
    ap.add_argument("--seed", type=int, default=None, help="sensor seed (default: scenario's)")
    ap.add_argument("--quick", action="store_true", help="1 timed run, no split")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = ap.parse_args()
    repeats = 1 if args.quick else max(1, args.repeats)

    pinned = "not pinned (--no-pin)" if args.no_pin else pin_to_one_cpu()
    sc = load_scenario(args.scenario)
    sim = simulate(sc, seed=args.seed)
    nations = [n.id for n in sc.nations]
    dets: list = list(sim.detections)  # (DetectionBatch is a Protocol Detections meets)
    t0 = time.perf_counter()
    for n in nations:  # warm-up: every code path once (JIT, caches)
        track_all(dets, n)
    cold = time.perf_counter() - t0
    print(f"scenario {sc.name}, seed {sim.seed}: {len(sc.launches)} launches, "
          f"{sum(len(d) for d in dets)} detections; one process, {pinned}")  # fmt: skip
    print(f"warm-up (first run of every nation): {cold:.2f} s wall")

    cols = f"{'nation':6} {'detections':>10} {'updates':>8} {'tracks':>10}"
    cols += f" {'wall s':>8} {'CPU s':>8} {'det/s':>8}"
    print(cols + ("" if args.quick else f" {'no-pred CPU s':>14}"))
    histories: dict[str, TrackHistory] = {}
    wall_all = cpu_all = bare_all = 0.0
    for n in nations:
        n_det = sum(len(d) for d in dets if d.nation == n)
        wall, cpu, hist = best_time(partial(track_all, dets, n), repeats)
        assert isinstance(hist, TrackHistory)
        histories[n] = hist
        wall_all += wall
        cpu_all += cpu
        tracks = f"{hist.track_ids().size} ({hist.confirmed_ids().size})"
        line = f"{n:6} {n_det:>10} {len(hist):>8} {tracks:>10}"
        line += f" {wall:>8.3f} {cpu:>8.3f} {n_det / cpu:>8.0f}"
        if not args.quick:
            _, bare, _ = best_time(partial(track_all, dets, n, predictions=False), repeats)
            bare_all += bare
            line += f" {bare:>14.3f}"
        print(line)
    n_all = sum(len(d) for d in dets if d.nation in nations)
    n_upd = sum(len(h) for h in histories.values())
    line = f"{'total':6} {n_all:>10} {n_upd:>8} {'':>10}"
    line += f" {wall_all:>8.3f} {cpu_all:>8.3f} {n_all / cpu_all:>8.0f}"
    print(line + ("" if args.quick else f" {bare_all:>14.3f}"))

    cfg = ReportConfig()
    rep = track_report(sim.trajectories, dets, histories, cfg)
    print(f"\naccuracy (OSPA/GOSPA c = {cfg.ospa_c_m / 1e3:g} km, p = {cfg.ospa_p:g}, every "
          f"{cfg.grid_s:g} s from the first launch to the last impact):")  # fmt: skip
    cols = f"{'nation':6} {'OSPA m':>8} {'GOSPA m':>8} {'loc m':>6} {'missed':>7} {'false':>6}"
    print(cols + f" {'C':>6}  position RMSE m per missile")
    for s in rep.nations:
        rmse = ", ".join(
            f"{m.missile_id} {m.position_rmse_m:.0f}" for m in rep.missiles if m.nation == s.nation
        )
        line = f"{s.nation:6} {s.ospa_mean_m:>8.0f} {s.gospa_mean_m:>8.0f} {s.localisation_m:>6.0f}"
        print(line + f" {s.missed_mean:>7.2f} {s.false_mean:>6.2f} {s.completeness:>6.3f}  {rmse}")
    ospa = sum(s.ospa_mean_m for s in rep.nations) / len(rep.nations)
    verdict = "meets" if cpu_all < GOAL_S else "MISSES"
    print(f"summary: track {sc.name} all nations {cpu_all:.2f} s CPU ({wall_all:.2f} s wall) "
          f"on one core, {n_all / cpu_all:.0f} detections/s ({verdict} the < {GOAL_S:g} s goal); "
          f"mean OSPA {ospa:.0f} m")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
