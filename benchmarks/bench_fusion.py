"""Hub fusion throughput and consistency, measured in one run.

Throughput (issues 4 and 7, "Speed"): ``--tracks`` (1,000) objects on ballistic arcs
spread over the Korean peninsula and the Sea of Japan, each tracked by ``--nations`` (3:
KOR, JPN, USA) whose reports arrive once a second with state times jittered over the
last second. The hub fuses every second: one :meth:`SystemTrackTable.update` per scan
with nations x tracks reports. Printed:

* before / after in one run, for the default configuration: the fusion room as it was at
  commit ``--before`` (loaded from git into a private package), the NumPy reference path
  of today's code (``trilink.fusion.compiled.numpy_reference``) and the compiled kernels
  (the default), on the same scans and on the SRBM salvo's real hub cycles (captured from
  one Monte Carlo trial, ``run_trial`` on the built-in scenario, launches srbm-1..3,
  configuration "trilateral"; ``--no-salvo`` skips it): milliseconds per cycle, reports
  per CPU-second, and the largest difference between the pictures;
* the cold start (every national track new: 3,000 tracks associated from nothing);
* steady state: updates per second, reports per second, milliseconds per update
  (median and 95th percentile over ``--scans`` scans);
* per-phase shares of an update (from a cProfile run of the same scans, scaled to the
  unprofiled median), so a profile says where the time goes;
* the picture's sanity: live system tracks, how many fuse both nations, numbers issued;
* the CI step against a peer measured in the same run: a per-track loop with
  ``scipy.optimize.minimize_scalar`` (the textbook two-input CI), as a ratio;
* Monte Carlo NEES of CI, ICI and naive (independent) fusion for national errors with a
  common part ``rho`` (trilink.fusion.synthetic), against the 95% chi-square band.

Report generation is outside the clock; only ``update`` is timed, in CPU time of this
process (``time.process_time``: the machine is shared, and wall time there includes
waiting for a core).

Run: ``.venv/bin/python benchmarks/bench_fusion.py [--tracks 1000] [--scans 30]
[--nations 3] [--no-salvo] [--before COMMIT] [--quick]``.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import importlib
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import chi2

from trilink.fusion import (
    FusionConfig,
    NationalTrackBatch,
    SystemTrackTable,
    align,
    ci_weights,
    fuse,
)
from trilink.fusion.align import propagate_state
from trilink.fusion.compiled import numpy_reference
from trilink.fusion.synthetic import (
    JPN,
    KOR,
    USA,
    correlated_errors,
    launch_state,
    national_batch,
    radar_covariance,
)
from trilink.geo.wgs84 import DEG

T0_NS = 1_750_000_000_000_000_000
NS = 1_000_000_000
NATIONS = (KOR, JPN, USA)
BEFORE = "3a66fe6"  # the fusion room before the speed work of session 2
REPO = Path(__file__).resolve().parents[1]
PHASES = (
    ("ingest", "ingest"),
    ("expire", "_expire_national"),
    ("align national", "_align"),
    ("predict system", "_predict_systems"),
    ("decorrelate", "_decorrelate"),
    ("associate", "_associate"),
    ("fuse (CI)", "_fuse"),
    ("merge check", "_merge"),
    ("picture", "_commit"),
)


def make_objects(n: int, rng: np.random.Generator) -> np.ndarray:
    """n ballistic states (n, 6) spread over 36-42 N, 125-140 E, 80-800 km up."""
    return launch_state(
        rng.uniform(36.0, 42.0, n) * DEG,
        rng.uniform(125.0, 140.0, n) * DEG,
        rng.uniform(80e3, 800e3, n),
        rng.uniform(2000.0, 6000.0, n),
        rng.uniform(0.0, 360.0, n) * DEG,
        rng.uniform(-30.0, 30.0, n) * DEG,
    )


def make_scans(
    n: int, scans: int, rho: float, seed: int, n_nations: int = 3
) -> list[tuple[int, NationalTrackBatch]]:
    """(fusion time, batch of every nation's reports) per scan."""
    rng = np.random.default_rng(seed)
    x = make_objects(n, rng)
    nations = NATIONS[:n_nations]
    out = []
    for k in range(scans):
        t_ns = T0_NS + k * NS
        lag = rng.uniform(0.0, 1.0, (len(nations), n))  # state times within the last second
        truth = [propagate_state(x, -lag[i]) for i in range(len(nations))]
        P = np.stack([radar_covariance(truth[i][:, :3], nat) for i, nat in enumerate(nations)])
        err = correlated_errors(P, rho, rng)
        batches = [
            national_batch(
                nat,
                [f"{nat.name[0].lower()}{j}" for j in range(n)],
                t_ns - (lag[i] * NS).astype(np.int64),
                truth[i] + err[i],
                P[i],
            )
            for i, nat in enumerate(nations)
        ]
        out.append((t_ns, NationalTrackBatch.concatenate(batches)))
        x = propagate_state(x, 1.0)
    return out


def load_before(commit: str) -> Any:
    """The fusion room as of ``commit``, imported from git as the private package
    ``fusion_before`` (its own ``trilink.fusion`` imports rewritten); None without git."""
    try:
        names = subprocess.run(
            ["git", "ls-tree", "--name-only", f"{commit}:src/trilink/fusion"],
            cwd=REPO, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        root = Path(tempfile.mkdtemp(prefix="bench_fusion_"))
        (root / "fusion_before").mkdir()
        for name in (n for n in names if n.endswith(".py")):
            src = subprocess.run(
                ["git", "show", f"{commit}:src/trilink/fusion/{name}"],
                cwd=REPO, capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            src = src.replace("from trilink.fusion.", "from fusion_before.")
            src = src.replace("from trilink.fusion import", "from fusion_before import")
            (root / "fusion_before" / name).write_text(src)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"(no 'before' column: cannot read commit {commit} from git: {exc})")
        return None
    sys.path.insert(0, str(root))
    return importlib.import_module("fusion_before")


def capture_salvo(seed: int) -> list[tuple[int, NationalTrackBatch, FusionConfig]]:
    """The hub's fusion calls of one SRBM-salvo trial (srbm-1..3, trilateral)."""
    from trilink.evaluate.montecarlo import run_trial
    from trilink.fusion import table as table_module
    from trilink.scenario import load_scenario

    calls: list[tuple[int, NationalTrackBatch, FusionConfig]] = []
    original = table_module.SystemTrackTable.update

    def spy(self: Any, batch: Any, t_ns: int) -> Any:
        calls.append((int(t_ns), batch, self.config))
        return original(self, batch, t_ns)

    sc = load_scenario("korea-japan")
    salvo = ("srbm-1", "srbm-2", "srbm-3")
    sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id in salvo))
    table_module.SystemTrackTable.update = spy
    try:
        run_trial(sc, "trilateral", seed, warnings=False)
    finally:
        table_module.SystemTrackTable.update = original
    return calls


def replay(table_cls: Any, config: Any, cycles: list[tuple[int, NationalTrackBatch]], reps: int):
    """CPU seconds of the fastest of ``reps`` replays of ``cycles``, and its pictures."""
    best, pictures = np.inf, []
    for _ in range(reps):
        table, out = table_cls(config), []
        t0 = time.process_time()
        for t_ns, batch in cycles:
            out.append(table.update(batch, t_ns))
        best = min(best, time.process_time() - t0)
        pictures = out
    return best, pictures


def picture_difference(a: list[Any], b: list[Any]) -> tuple[float, bool]:
    """Largest relative difference of fused x and P (per row, scaled by the row's largest
    entry) and whether numbers, statuses, contributors and events all agree."""
    worst, same = 0.0, len(a) == len(b)
    for pa, pb in zip(a, b, strict=False):
        same &= bool(np.array_equal(pa.number, pb.number)) and pa.contributors == pb.contributors
        same &= bool(np.array_equal(pa.status, pb.status))
        same &= [dataclasses.astuple(e) for e in pa.events] == [
            dataclasses.astuple(e) for e in pb.events
        ]
        if not same or len(pa) == 0:
            continue
        for u, v in ((pa.x, pb.x), (pa.P, pb.P)):
            scale = np.abs(u).reshape(len(u), -1).max(axis=1)
            diff = np.abs(u - v).reshape(len(u), -1).max(axis=1) / np.maximum(scale, 1e-300)
            worst = max(worst, float(np.nanmax(diff)))
    return worst, same


def before_after(
    label: str, before: Any, cycles: list[tuple[int, NationalTrackBatch]], config: Any,
    reports: int, reps: int, short: str, commit: str = BEFORE,
) -> None:  # fmt: skip
    """Print ms per cycle and reports per CPU-second: before, NumPy reference, compiled;
    and one ``summary:`` line (benchmarks/run_all.py collects those)."""
    SystemTrackTable(config).update(*cycles[0][::-1])  # compile or load the kernels first
    rows = []
    if before is not None:
        old_cfg = before.FusionConfig.from_dict(config.to_dict())
        rows.append((f"before ({commit})", *replay(before.SystemTrackTable, old_cfg, cycles, reps)))
    with numpy_reference():
        rows.append(("NumPy reference path", *replay(SystemTrackTable, config, cycles, reps)))
    rows.append(("compiled (default)", *replay(SystemTrackTable, config, cycles, reps)))
    base = rows[0]
    print(f"\n{label}: {len(cycles)} hub cycles, {reports:,} reports")
    print(
        f"{'':<26}{'ms/cycle':>10}{'reports/CPU-s':>15}{'speed-up':>10}{'max rel diff':>14}  same"
    )
    for name, cpu, pics in rows:
        diff, same = picture_difference(base[2], pics)
        print(
            f"{name:<26}{cpu / len(cycles) * 1e3:>10.3f}{reports / cpu:>15,.0f}"
            f"{base[1] / cpu:>9.1f}x{diff:>14.1e}  {'yes' if same else 'NO'}"
        )
    name, cpu, pics = rows[-1]
    diff, same = picture_difference(base[2], pics)
    print(
        f"summary: {short}: {cpu / len(cycles) * 1e3:.3f} ms per hub cycle compiled vs "
        f"{base[1] / len(cycles) * 1e3:.3f} ms {base[0]} ({base[1] / cpu:.1f}x), "
        f"{reports / cpu:,.0f} reports/CPU-s; pictures {'same' if same else 'DIFFER'} "
        f"(x, P within {diff:.1e})"
    )


def run_table(config: FusionConfig, scans: list[tuple[int, NationalTrackBatch]]):
    table = SystemTrackTable(config)
    t0 = time.process_time()
    table.update(scans[0][1], scans[0][0])
    cold = time.process_time() - t0
    times = []
    picture = None
    for t_ns, batch in scans[1:]:
        t0 = time.process_time()
        picture = table.update(batch, t_ns)
        times.append(time.process_time() - t0)
    return cold, np.array(times), picture, table


def profile_phases(config: FusionConfig, scans: list[tuple[int, NationalTrackBatch]]):
    table = SystemTrackTable(config)
    for t_ns, batch in scans[:4]:  # warm up and settle the pairings outside the profile
        table.update(batch, t_ns)
    prof = cProfile.Profile()
    prof.enable()
    for t_ns, batch in scans[4:]:
        table.update(batch, t_ns)
    prof.disable()
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    total = sum(v[3] for k, v in stats.items() if k[2] == "update" and "table.py" in k[0])
    share = {}
    for label, name in PHASES:
        cum = sum(v[3] for k, v in stats.items() if k[2] == name and "fusion" in k[0])
        share[label] = cum / total
    return share


def peer_ci(scans: list[tuple[int, NationalTrackBatch]], n_loop: int):
    """Batched CI weights vs a per-track minimize_scalar loop on the same aligned pairs."""
    t_ns, batch = scans[-1]
    xa, Pa = align(batch.x, batch.P, batch.t_ns, batch.phase, t_ns)
    n = len(batch) // 2
    P = np.stack([Pa[:n], Pa[n : 2 * n]], axis=1)  # the first two nations
    x = np.stack([xa[:n], xa[n : 2 * n]], axis=1)
    t0 = time.process_time()
    fuse(x, P)
    batched = (time.process_time() - t0) / n
    t0 = time.process_time()
    worst = 0.0
    w_batch = ci_weights(P[:n_loop])
    for i in range(n_loop):
        ia, ib = np.linalg.inv(P[i, 0]), np.linalg.inv(P[i, 1])

        def f(o, ia=ia, ib=ib):
            return np.trace(np.linalg.inv(o * ia + (1 - o) * ib))

        res = minimize_scalar(f, bounds=(0.0, 1.0), method="bounded")
        np.linalg.inv(res.x * ia + (1 - res.x) * ib)
        worst = max(worst, (f(w_batch[i, 0]) - res.fun) / res.fun)
    loop = (time.process_time() - t0) / n_loop
    return batched, loop, worst


def nees_table(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = make_objects(n, rng)
    P = np.stack([radar_covariance(x[:, :3], nat) for nat in (KOR, JPN)])
    rows = []
    for rho in (0.0, 0.3, 0.6, 0.9):
        err = correlated_errors(P, rho, np.random.default_rng(seed + 1))
        xs, Ps = np.swapaxes(err, 0, 1), np.swapaxes(P, 0, 1)
        row = [rho]
        for k in range(2):  # each nation alone
            row.append(float(np.sqrt(np.mean(np.sum(err[k, :, :3] ** 2, -1)))))
        for method in ("ci", "ici", "naive"):
            xf, Pf = fuse(xs, Ps, method=method)
            row.append(float(np.mean(np.einsum("ni,nij,nj->n", xf, np.linalg.inv(Pf), xf))))
            row.append(float(np.sqrt(np.mean(np.sum(xf[:, :3] ** 2, -1)))))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=1000, help="objects, each seen by every nation")
    ap.add_argument("--nations", type=int, default=3, choices=(2, 3), help="KOR, JPN (, USA)")
    ap.add_argument("--scans", type=int, default=30, help="hub updates, one per second")
    ap.add_argument("--rho", type=float, default=0.5, help="common share of national errors")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nees-samples", type=int, default=20000)
    ap.add_argument("--no-salvo", action="store_true", help="skip the SRBM-salvo replay")
    ap.add_argument("--before", default=BEFORE, help="git commit of the 'before' column")
    ap.add_argument("--reps", type=int, default=3, help="replays per column (fastest kept)")
    ap.add_argument("--quick", action="store_true", help="small run for CI: 200 objects, 8 scans")
    args = ap.parse_args(argv)
    if args.quick:
        args.tracks, args.scans, args.nees_samples, args.reps = 200, 8, 2000, 1

    scans = make_scans(args.tracks, args.scans + 1, args.rho, args.seed, args.nations)
    reports = args.nations * args.tracks
    print(
        f"hub fusion: {args.tracks} objects x {args.nations} nations = {reports} reports per "
        f"scan, {args.scans} scans (1 s apart)"
    )
    before = load_before(args.before)
    if not args.no_salvo:
        t0 = time.process_time()
        calls = capture_salvo(seed=1000)
        print(f"(salvo trial captured in {time.process_time() - t0:.1f} CPU-s)")
        cycles = [(t, b) for t, b, _ in calls]
        before_after(
            "SRBM salvo (srbm-1..3, trilateral, seed 1000)", before, cycles, calls[0][2],
            sum(len(b) for _, b in cycles), args.reps, "SRBM salvo", args.before,
        )  # fmt: skip
    before_after(
        f"{args.tracks} objects x {args.nations} nations", before, scans[1:], FusionConfig(),
        reports * (len(scans) - 1), 1, f"{args.tracks} x {args.nations}", args.before,
    )  # fmt: skip
    print(f"\n{'variant (compiled), CPU':<28}{'cold ms':>9}{'p50 ms':>9}{'p95 ms':>9}"
          f"{'updates/s':>11}{'reports/s':>12}")  # fmt: skip
    variants = {
        "CI, optimal omega (default)": FusionConfig(),
        "CI, fast omega": FusionConfig(omega="fast"),
        "ICI": FusionConfig(method="ici"),
        "naive (reference only)": FusionConfig(method="naive"),
    }
    picture = None
    for name, cfg in variants.items():
        cold, times, pic, _ = run_table(cfg, scans)
        if picture is None:
            picture = pic
        p50, p95 = np.median(times), np.quantile(times, 0.95)
        print(
            f"{name:<28}{cold * 1e3:>9.1f}{p50 * 1e3:>9.1f}{p95 * 1e3:>9.1f}"
            f"{1 / p50:>11.1f}{reports / p50:>12,.0f}"
        )

    assert picture is not None
    live = picture.live()
    full = sum(1 for est in picture if est.status == "active" and len(est.sources) == args.nations)
    print(
        f"\npicture after {args.scans} scans: {int(live.sum())} live system tracks "
        f"({full} fusing all {args.nations} nations), highest number issued "
        f"{int(picture.number.max())}"
    )

    share = profile_phases(FusionConfig(), scans)
    _, times, _, _ = run_table(FusionConfig(), scans)
    p50 = float(np.median(times))
    print("\nper phase (share of a steady update from cProfile, times scaled to the p50):")
    for label, frac in share.items():
        print(f"  {label:<16}{frac * 100:>6.1f} %  {frac * p50 * 1e3:>7.2f} ms")

    batched, loop, worst = peer_ci(scans, n_loop=200)
    print(
        f"\nCI step per track: batched {batched * 1e6:.1f} us vs per-track minimize_scalar loop "
        f"{loop * 1e6:.1f} us -> {loop / batched:.0f}x "
        f"(batched trace never worse: max relative excess {worst:.1e})"
    )

    n = args.nees_samples
    lo, hi = chi2.ppf([0.025, 0.975], 6 * n) / n
    print(
        f"\nMonte Carlo NEES, {n} objects, 2 nations, 6 dof (95% band of the mean: "
        f"{lo:.2f}-{hi:.2f}); position RMSE in m"
    )
    print(
        f"{'rho':>5}{'KOR RMSE':>10}{'JPN RMSE':>10}{'CI NEES':>10}{'CI RMSE':>9}"
        f"{'ICI NEES':>10}{'ICI RMSE':>10}{'naive NEES':>12}{'naive RMSE':>12}"
    )
    for rho, kor, jpn, ci_n, ci_r, ici_n, ici_r, nv_n, nv_r in nees_table(n, args.seed + 7):
        print(
            f"{rho:>5.1f}{kor:>10.1f}{jpn:>10.1f}{ci_n:>10.2f}{ci_r:>9.1f}"
            f"{ici_n:>10.2f}{ici_r:>10.1f}{nv_n:>12.2f}{nv_r:>12.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
