"""Monte Carlo speed (issue 6, "Speed"): trials of the SRBM salvo, trilateral, 2 processes.

Runs ``--trials`` (8; 2 with ``--quick``) seeded trials of the built-in scenario's SRBM
salvo (``srbm-1``, ``srbm-2``, ``srbm-3``: three launches 20 s apart, each run to the last
impact plus 60 s) in the trilateral configuration, through
:func:`trilink.evaluate.montecarlo.run_trials` on ``--jobs`` (2) worker processes: the
path ``trilink evaluate`` takes, including starting the workers. Each worker is limited
to one BLAS/OpenMP thread.

Printed: the wall time of the batch; per trial its wall and CPU time (median, max); the
extrapolation to 1,000 trials two ways — from the batch's wall time (workers already
started), and from the median CPU time per trial divided over the workers (what an
otherwise idle 2-core machine would do); and the goal: 1,000 trials in under 10 minutes
on a 2-core machine like the CI's. On a shared machine the wall time includes waiting
for the CPU; the CPU-based figure is the one to judge the goal by, and both are printed.

Run: ``.venv/bin/python benchmarks/bench_montecarlo.py [--trials 8] [--jobs 2] [--quick]``.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per process (inherited by the spawned workers).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from trilink.evaluate.montecarlo import run_trials  # noqa: E402
from trilink.scenario import load_scenario  # noqa: E402

GOAL_TRIALS = 1000
GOAL_S = 600.0
SALVO = ("srbm-1", "srbm-2", "srbm-3")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8, help="trials to time")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--seed", type=int, default=1000, help="first seed")
    ap.add_argument("--quick", action="store_true", help="2 trials (CI smoke run)")
    args = ap.parse_args()
    k = 2 if args.quick else args.trials

    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id in SALVO))
    print(f"scenario {sc.name}, launches {', '.join(SALVO)}, trilateral; {k} trials on "
          f"{args.jobs} processes ({os.cpu_count()} CPUs here)")  # fmt: skip

    t0 = time.perf_counter()
    trials = run_trials(sc, ["trilateral"], range(args.seed, args.seed + k), jobs=args.jobs)
    wall = time.perf_counter() - t0

    walls = [t.wall_s for t in trials]
    cpus = [t.extra["cpu_s"] for t in trials]
    med_cpu = statistics.median(cpus)
    workers = min(args.jobs, k)
    print(f"batch wall {wall:.1f} s for {k} trials (worker start-up included)")
    print(f"per trial: wall median {statistics.median(walls):.1f} s (max {max(walls):.1f}), "
          f"CPU median {med_cpu:.1f} s (max {max(cpus):.1f})")  # fmt: skip
    print(f"parallel efficiency: {sum(cpus) / (workers * wall):.2f} "
          f"(trial CPU seconds / ({workers} workers x batch wall))")  # fmt: skip
    by_wall = wall / k * GOAL_TRIALS
    by_cpu = med_cpu * GOAL_TRIALS / args.jobs
    verdict = "meets" if by_cpu < GOAL_S else "misses"
    print(f"summary: 1,000 trials ~ {by_cpu / 60:.1f} min from CPU/trial over {args.jobs} cores "
          f"({by_wall / 60:.1f} min from this batch's wall time); goal < {GOAL_S / 60:.0f} min: "
          f"{verdict} it ({by_cpu / GOAL_S:.2f} x the budget)")  # fmt: skip
    print(f"summary: per trial CPU {med_cpu:.2f} s; budget per trial on {args.jobs} cores "
          f"{GOAL_S * args.jobs / GOAL_TRIALS:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
