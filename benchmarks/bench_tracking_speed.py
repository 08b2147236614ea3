"""Speed of the national tracker: compiled kernels against the NumPy reference, same run.

Prints, measured in this run (process CPU time, the best of several repeats, so that
other jobs on a shared machine inflate the figures less than wall time would):

* ``predict_points`` per call for K = 1, 5, 20 confirmed estimates drawn from a tracking
  run of the built-in scenario (kernel vs ``predict_points_reference``);
* the per-scan filter path for N = 1 and 4 tracks: ``imm_predict`` over 2 s, ``imm_update``
  and ``distances`` against 2 detections (kernel vs ``*_reference``);
* ``track_all`` on the built-in scenario ``korea-japan`` for USA, KOR, JPN, with and
  without predictions, in a subprocess with ``TRILINK_NUMBA=0`` (the NumPy path) and one
  with the kernels;
* the first-call compile time of the kernels (a subprocess with an empty numba cache
  directory) and the time to load them from the cache afterwards.

Run: ``.venv/bin/python benchmarks/bench_tracking_speed.py [--skip-compile]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

NATIONS = ("USA", "KOR", "JPN")


def best_cpu_s(f: Callable[[], object], repeats: int = 5, min_s: float = 0.2) -> float:
    """Best over ``repeats`` of the mean CPU time of ``f`` over >= ``min_s`` seconds."""
    f()
    out = []
    for _ in range(repeats):
        t0, n = time.process_time(), 0
        while True:
            f()
            n += 1
            if time.process_time() - t0 >= min_s:
                break
        out.append((time.process_time() - t0) / n)
    return min(out)


def _detections():  # type: ignore[no-untyped-def]
    from trilink.scenario.loader import load_scenario
    from trilink.scenario.simulate import simulate

    return simulate(load_scenario("korea-japan")).detections


def child_track_all() -> None:
    """(In a subprocess.) track_all per nation: CPU seconds as JSON on stdout."""
    from trilink.tracking import track_all

    dets = _detections()
    track_all(dets, "JPN", predictions=True)  # compile or load the kernels first
    out = {}
    for nation in NATIONS:
        t0 = time.process_time()
        track_all(dets, nation, predictions=False)
        t1 = time.process_time()
        track_all(dets, nation, predictions=True)
        out[nation] = (t1 - t0, time.process_time() - t1)
    print(json.dumps(out))


def child_compile() -> None:
    """(In a subprocess.) CPU seconds of the first tracking calls, kernels compiled or
    loaded from the cache, minus the same calls once they are ready."""
    from trilink.tracking import track_all

    dets = _detections()
    t0 = time.process_time()
    track_all(dets, "JPN")
    track_all(dets, "USA")
    t1 = time.process_time()
    track_all(dets, "JPN")
    track_all(dets, "USA")
    t2 = time.process_time()
    print(json.dumps({"first_call_overhead_s": (t1 - t0) - (t2 - t1)}))


def _run_child(what: str, env: dict[str, str]) -> dict[str, object]:
    res = subprocess.run(
        [sys.executable, __file__, "--child", what],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_predict_points() -> None:
    from trilink.tracking import TrackerConfig, track_all
    from trilink.tracking.prediction import predict_points, predict_points_reference

    hist = track_all(_detections(), "KOR", predictions=False)
    conf = np.flatnonzero(hist.status == "confirmed")
    cfg = TrackerConfig()
    print("predict_points per call (CPU ms; K estimates drawn from KOR's confirmed rows)")
    for k in (1, 5, 20):
        for seed in (0, 1):
            sel = np.random.default_rng(seed).choice(conf, k, replace=False)
            args = (hist.x[sel], hist.P[sel], hist.t_ns[sel], hist.phase[sel] == "boost")
            bo = np.full(k, np.nan)
            dk = best_cpu_s(lambda a=args, b=bo: predict_points(*a, b, cfg))
            dr = best_cpu_s(lambda a=args, b=bo: predict_points_reference(*a, b, cfg), 2)
            print(
                f"  K={k:2d} draw {seed}: kernel {dk * 1e3:7.3f}  NumPy {dr * 1e3:8.2f}  x{dr / dk:5.0f}"
            )


def _scan_cases(x, P, mu, z, R, meas, cfg):  # type: ignore[no-untyped-def]
    """(kernel, reference) callables of the per-scan filter steps for one table."""
    from trilink.tracking import association as assoc
    from trilink.tracking import imm

    xr, Pr = x.reshape(-1, 8), P.reshape(-1, 8, 8)
    return {
        "imm_predict 2 s": (
            lambda: imm.imm_predict(x, P, mu, 2.0, cfg),
            lambda: imm.imm_predict_reference(x, P, mu, 2.0, cfg),
        ),
        "imm_update": (
            lambda: imm.imm_update(x, P, mu, z, R, meas),
            lambda: imm.imm_update_reference(x, P, mu, z, R, meas),
        ),
        "distances (x 2 det)": (
            lambda: assoc.distances(xr, Pr, z[:2], R[:2], meas),
            lambda: assoc.distances_reference(xr, Pr, z[:2], R[:2], meas),
        ),
    }


def bench_scan() -> None:
    from trilink.geo import range_az_el
    from trilink.tracking import TrackerConfig, track_all
    from trilink.tracking.filters import Measurement

    dets = _detections()
    hist = track_all(dets, "KOR", predictions=False)
    radar = next(d for d in dets if d.nation == "KOR" and d.kind == "radar")
    meas = Measurement("radar", radar.sensor_ecef_m, radar.rot)
    cfg = TrackerConfig()
    rng = np.random.default_rng(2)
    print("per-scan filter path (CPU us)")
    for n in (1, 4):
        sel = rng.choice(np.flatnonzero(hist.status == "confirmed"), n, replace=False)
        x = np.zeros((n, 2, 8))
        x[:, :, :6] = hist.x[sel][:, None]
        x[:, :, 7] = cfg.kappa_prior
        P = np.zeros((n, 2, 8, 8))
        P[:, :, :6, :6] = hist.P[sel][:, None]
        P[:, :, 6, 6], P[:, :, 7, 7] = 100.0, cfg.kappa_sigma**2
        mu = np.tile([0.9, 0.1], (n, 1))
        z = range_az_el(x[:, 0, :3], meas.sensor_ecef, meas.rot)
        R = np.broadcast_to(radar.R[0], (n, 3, 3)).copy()
        for name, (fk, fr) in _scan_cases(x, P, mu, z, R, meas, cfg).items():
            dk, dr = best_cpu_s(fk), best_cpu_s(fr, 3)
            print(
                f"  N={n} {name:20s}: kernel {dk * 1e6:7.1f}  NumPy {dr * 1e6:8.1f}  x{dr / dk:5.0f}"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip-compile", action="store_true", help="skip the compile-time runs")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "track_all":
        child_track_all()
        return 0
    if a.child == "compile":
        child_compile()
        return 0
    bench_predict_points()
    bench_scan()
    print("track_all on korea-japan (CPU s: tracking only / with predictions)")
    ref = _run_child("track_all", {"TRILINK_NUMBA": "0"})
    ker = _run_child("track_all", {})
    for label, r in (("NumPy", ref), ("kernels", ker)):
        parts = "  ".join(f"{n} {r[n][0]:.2f}/{r[n][1]:.2f}" for n in NATIONS)  # type: ignore[index]
        total = sum(r[n][1] for n in NATIONS)  # type: ignore[index]
        print(f"  {label:8s} {parts}  total with predictions {total:.2f}")
    if not a.skip_compile:
        with tempfile.TemporaryDirectory() as cache:
            first = _run_child("compile", {"NUMBA_CACHE_DIR": cache})
            cached = _run_child("compile", {"NUMBA_CACHE_DIR": cache})
        print(
            f"kernels: first-call compile {first['first_call_overhead_s']:.1f} s CPU; "
            f"from the disk cache {cached['first_call_overhead_s']:.2f} s CPU"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
