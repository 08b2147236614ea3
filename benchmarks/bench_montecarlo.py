"""Monte Carlo speed (issue 6, "Speed"): trials of the SRBM salvo on 2 processes, and where
each trial's CPU time goes.

Runs ``--trials`` (8; 2 with ``--quick``) seeded trials of the built-in scenario's SRBM
salvo (``srbm-1``, ``srbm-2``, ``srbm-3``: three launches 20 s apart, each run to the last
impact plus 60 s) in the trilateral and the alone configuration, through
:func:`trilink.evaluate.montecarlo.run_trials` on ``--jobs`` (2) worker processes: the
path ``trilink evaluate`` takes, including starting the workers. Each worker is limited
to one BLAS/OpenMP thread.

Printed, per configuration: the wall time of the batch; per trial its wall and CPU time
(median, max); for trilateral, the extrapolation to 1,000 trials two ways — from the
batch's wall time (workers already started), and from the median CPU time per trial
divided over the workers (what an otherwise idle 2-core machine would do); and the goal:
1,000 trials in under 10 minutes on a 2-core machine like the CI's (1.2 CPU-s per trial).
On a shared machine the wall time includes waiting for the CPU; the CPU-based figure is
the one to judge the goal by, and both are printed.

Then the breakdown: ``--breakdown`` (2) more trials per configuration in this process
(after one warm-up trial each), with the CPU time (``time.process_time``) of each part
summed by wrapping the functions that do it:

* ``simulate``: flights and sensor detections (:func:`trilink.scenario.simulate`);
* ``trackers``: the national trackers (``NationalTracker.process`` and ``.tracks``, the
  impact/launch predictions of every report included);
* ``hub``: everything inside the hub node (``HubNode.on_message`` and ``.run_due``: its
  receiving, fusion, warnings, releases and signing);
* ``nodes+link``: the rest of the run (national nodes building, signing and receiving
  messages, the simulated link, the event loop);
* ``metrics``: the rest of the trial (perturbation, configuration, timeline, errors,
  SIAP, latency histograms).

Last, the floor (``--floor``, 2 trials): the CPU time a trilateral trial spends inside
compiled code that no rewrite of the Python around it would remove: the numba kernels
(filters, track table, impact/launch prediction, fusion), libsodium's signing and
verification, and msgspec's encoding and decoding; the rest is Python (the nodes, the
hub's releases, policy, audit, warnings, the simulated link, the metrics). Set against
the budget per trial it says how much Python time a trial may have.

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
from collections import defaultdict  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any  # noqa: E402

from trilink.evaluate import montecarlo  # noqa: E402
from trilink.evaluate.montecarlo import run_trial, run_trials  # noqa: E402
from trilink.nodes.hub import HubNode  # noqa: E402
from trilink.scenario import load_scenario  # noqa: E402
from trilink.scenario.model import Scenario  # noqa: E402
from trilink.tracking.tracker import NationalTracker  # noqa: E402

GOAL_TRIALS = 1000
GOAL_S = 600.0
SALVO = ("srbm-1", "srbm-2", "srbm-3")
CONFIGS = ("trilateral", "alone")
PARTS = ("simulate", "trackers", "hub", "nodes+link", "metrics")


def _cpu_timed(fn: Callable[..., Any], cpu: defaultdict[str, float], part: str) -> Any:
    """``fn``, adding the CPU time of each of its calls to ``cpu[part]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu[part] += time.process_time() - t0

    return wrapper


@contextmanager
def _timed(cpu: defaultdict[str, float], owner: Any, name: str, part: str) -> Iterator[None]:
    """Add the CPU time of every call of ``owner.name`` to ``cpu[part]`` while inside."""
    fn: Callable[..., Any] = getattr(owner, name)
    setattr(owner, name, _cpu_timed(fn, cpu, part))
    try:
        yield
    finally:
        setattr(owner, name, fn)


def breakdown(sc: Scenario, config: str, seeds: range) -> dict[str, float]:
    """Mean CPU seconds per trial of each part (see the module docstring)."""
    run_trial(sc, config, seeds.start - 1)  # warm-up: kernels loaded, flights designed
    cpu: defaultdict[str, float] = defaultdict(float)
    wraps = [
        (montecarlo, "simulate", "simulate"),
        (montecarlo, "run_simulation", "run"),
        (NationalTracker, "process", "trackers"),
        (NationalTracker, "tracks", "trackers"),
        (HubNode, "on_message", "hub"),
        (HubNode, "run_due", "hub"),
    ]
    total = 0.0
    for seed in seeds:
        with ExitStack() as stack:
            for owner, name, part in wraps:
                stack.enter_context(_timed(cpu, owner, name, part))
            t0 = time.process_time()
            run_trial(sc, config, seed)
            total += time.process_time() - t0
    n = len(seeds)
    out = {
        "simulate": cpu["simulate"] / n,
        "trackers": cpu["trackers"] / n,
        "hub": cpu["hub"] / n,
        "nodes+link": (cpu["run"] - cpu["trackers"] - cpu["hub"]) / n,
        "metrics": (total - cpu["run"] - cpu["simulate"]) / n,
    }
    return out | {"total": total / n}


def _compiled_wraps(cpu: defaultdict[str, float]) -> list[tuple[Any, str, Any]]:
    """(owner, name, wrapper) for every compiled entry point a trial calls: each numba
    dispatcher wherever a trilink module holds it, libsodium's sign and verify, and the
    link codec's msgspec encoder and decoder."""
    import sys

    import nacl.bindings
    from numba.core.dispatcher import Dispatcher

    from trilink.link import codec

    wrapped: dict[int, Callable[..., Any]] = {}
    out: list[tuple[Any, str, Any]] = []
    for name, module in list(sys.modules.items()):
        if not name.startswith("trilink.") or module is None:
            continue
        for attr, value in list(vars(module).items()):
            if isinstance(value, Dispatcher):
                if id(value) not in wrapped:
                    wrapped[id(value)] = _cpu_timed(value, cpu, "numba")
                out.append((module, attr, wrapped[id(value)]))
    for attr in ("crypto_sign", "crypto_sign_open"):
        timed = _cpu_timed(getattr(nacl.bindings, attr), cpu, "libsodium")
        out.append((nacl.bindings, attr, timed))
    for attr, method in (("_msgpack_encoder", "encode"), ("_msgpack_decoder", "decode")):
        timed = _cpu_timed(getattr(getattr(codec, attr), method), cpu, "msgspec")
        out.append((codec, attr, SimpleNamespace(**{method: timed})))
    return out


def floor(sc: Scenario, seeds: range) -> dict[str, float]:
    """Mean CPU seconds per trilateral trial inside compiled code, by library, and the
    total (see the module docstring)."""
    run_trial(sc, "trilateral", seeds.start - 1)  # warm-up: every kernel compiled/loaded
    cpu: defaultdict[str, float] = defaultdict(float)
    wraps = _compiled_wraps(cpu)
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in wraps]
    total = 0.0
    try:
        for owner, name, wrapper in wraps:
            setattr(owner, name, wrapper)
        for seed in seeds:
            t0 = time.process_time()
            run_trial(sc, "trilateral", seed)
            total += time.process_time() - t0
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    n = len(seeds)
    return {k: v / n for k, v in cpu.items()} | {"total": total / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=8, help="trials to time per configuration")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument("--seed", type=int, default=1000, help="first seed")
    ap.add_argument("--breakdown", type=int, default=2, help="trials per breakdown (0: none)")
    ap.add_argument("--floor", type=int, default=2, help="trials for the compiled floor (0: none)")
    ap.add_argument("--quick", action="store_true", help="2 trials, 1 per breakdown (CI smoke)")
    args = ap.parse_args()
    k = 2 if args.quick else args.trials
    nb = min(args.breakdown, 1) if args.quick else args.breakdown
    nf = min(args.floor, 1) if args.quick else args.floor

    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id in SALVO))
    print(f"scenario {sc.name}, launches {', '.join(SALVO)}; {k} trials per configuration on "
          f"{args.jobs} processes ({os.cpu_count()} CPUs here)")  # fmt: skip

    med: dict[str, float] = {}
    for config in CONFIGS:
        t0 = time.perf_counter()
        trials = run_trials(sc, [config], range(args.seed, args.seed + k), jobs=args.jobs)
        wall = time.perf_counter() - t0
        walls = [t.wall_s for t in trials]
        cpus = [t.extra["cpu_s"] for t in trials]
        med[config] = statistics.median(cpus)
        workers = min(args.jobs, k)
        print(f"{config}: batch wall {wall:.1f} s for {k} trials (worker start-up included); "
              f"per trial wall median {statistics.median(walls):.2f} s (max {max(walls):.2f}), "
              f"CPU median {med[config]:.2f} s (max {max(cpus):.2f}); parallel efficiency "
              f"{sum(cpus) / (workers * wall):.2f}")  # fmt: skip
        if config == "trilateral":
            by_wall = wall / k * GOAL_TRIALS
            by_cpu = med[config] * GOAL_TRIALS / args.jobs
            verdict = "meets" if by_cpu < GOAL_S else "misses"
            print(f"summary: 1,000 trilateral trials ~ {by_cpu / 60:.1f} min from CPU/trial over "
                  f"{args.jobs} cores ({by_wall / 60:.1f} min from this batch's wall time); goal "
                  f"< {GOAL_S / 60:.0f} min: {verdict} it ({by_cpu / GOAL_S:.2f} x the budget)")  # fmt: skip
    budget = GOAL_S * args.jobs / GOAL_TRIALS
    print(f"summary: per trial CPU trilateral {med['trilateral']:.2f} s, alone "
          f"{med['alone']:.2f} s; budget per trial on {args.jobs} cores {budget:.2f} s")  # fmt: skip

    if nb > 0:
        print(f"breakdown: CPU s per trial, mean of {nb} in this process after a warm-up")
        print(f"  {'config':11s}" + "".join(f"{p:>11s}" for p in (*PARTS, "total")))
        for config in CONFIGS:
            b = breakdown(sc, config, range(args.seed + 100, args.seed + 100 + nb))
            print(f"  {config:11s}" + "".join(f"{b[p]:11.2f}" for p in (*PARTS, "total")))
    if nf > 0:
        f = floor(sc, range(args.seed + 200, args.seed + 200 + nf))
        compiled = sum(v for k, v in f.items() if k != "total")
        python = f["total"] - compiled
        print(f"floor: trilateral, CPU s per trial, mean of {nf}: compiled {compiled:.2f} "
              f"(numba kernels {f.get('numba', 0.0):.2f}, libsodium {f.get('libsodium', 0.0):.2f}, "
              f"msgspec {f.get('msgspec', 0.0):.2f}), Python and the rest {python:.2f}, "
              f"total {f['total']:.2f}")  # fmt: skip
        left = budget - compiled
        print(f"floor: the budget of {budget:.2f} s leaves {left:.2f} s of Python per trial; "
              f"this code spends {python:.2f} s ({python / max(left, 1e-9):.1f} x)")  # fmt: skip


if __name__ == "__main__":
    main()
