"""Hub fusion throughput and consistency, measured in one run.

Throughput (issue 4, "Speed"): ``--tracks`` (1,000) objects on ballistic arcs spread over
the Korean peninsula and the Sea of Japan, each tracked by two nations (KOR and JPN)
whose reports arrive once a second with state times jittered over the last second. The
hub fuses every second: one :meth:`SystemTrackTable.update` per scan with 2 x tracks
reports. Printed:

* the cold start (every national track new: 2,000 tracks associated from nothing);
* steady state: updates per second, reports per second, milliseconds per update
  (median and 95th percentile over ``--scans`` scans);
* per-phase shares of an update (from a cProfile run of the same scans, scaled to the
  unprofiled median), so a profile says where the time goes;
* the picture's sanity: live system tracks, how many fuse both nations, numbers issued;
* the CI step against a peer measured in the same run: a per-track loop with
  ``scipy.optimize.minimize_scalar`` (the textbook two-input CI), as a ratio;
* Monte Carlo NEES of CI, ICI and naive (independent) fusion for national errors with a
  common part ``rho`` (trilink.fusion.synthetic), against the 95% chi-square band.

Report generation is outside the clock; only ``update`` is timed.

Run: ``.venv/bin/python benchmarks/bench_fusion.py [--tracks 1000] [--scans 30]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

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
from trilink.fusion.synthetic import (
    JPN,
    KOR,
    correlated_errors,
    launch_state,
    national_batch,
    radar_covariance,
)
from trilink.geo.wgs84 import DEG

T0_NS = 1_750_000_000_000_000_000
NS = 1_000_000_000
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


def make_scans(n: int, scans: int, rho: float, seed: int) -> list[tuple[int, NationalTrackBatch]]:
    """(fusion time, batch of both nations' reports) per scan."""
    rng = np.random.default_rng(seed)
    x = make_objects(n, rng)
    out = []
    for k in range(scans):
        t_ns = T0_NS + k * NS
        lag = rng.uniform(0.0, 1.0, (2, n))  # each track's state time within the last second
        truth = [propagate_state(x, -lag[i]) for i in range(2)]
        P = np.stack([radar_covariance(truth[i][:, :3], nat) for i, nat in enumerate((KOR, JPN))])
        err = correlated_errors(P, rho, rng)
        batches = [
            national_batch(
                nat,
                [f"{nat.name[0].lower()}{j}" for j in range(n)],
                t_ns - (lag[i] * NS).astype(np.int64),
                truth[i] + err[i],
                P[i],
            )
            for i, nat in enumerate((KOR, JPN))
        ]
        out.append((t_ns, NationalTrackBatch.concatenate(batches)))
        x = propagate_state(x, 1.0)
    return out


def run_table(config: FusionConfig, scans: list[tuple[int, NationalTrackBatch]]):
    table = SystemTrackTable(config)
    t0 = time.perf_counter()
    table.update(scans[0][1], scans[0][0])
    cold = time.perf_counter() - t0
    times = []
    picture = None
    for t_ns, batch in scans[1:]:
        t0 = time.perf_counter()
        picture = table.update(batch, t_ns)
        times.append(time.perf_counter() - t0)
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
    P = np.stack([Pa[:n], Pa[n:]], axis=1)
    x = np.stack([xa[:n], xa[n:]], axis=1)
    t0 = time.perf_counter()
    fuse(x, P)
    batched = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    worst = 0.0
    w_batch = ci_weights(P[:n_loop])
    for i in range(n_loop):
        ia, ib = np.linalg.inv(P[i, 0]), np.linalg.inv(P[i, 1])

        def f(o, ia=ia, ib=ib):
            return np.trace(np.linalg.inv(o * ia + (1 - o) * ib))

        res = minimize_scalar(f, bounds=(0.0, 1.0), method="bounded")
        np.linalg.inv(res.x * ia + (1 - res.x) * ib)
        worst = max(worst, (f(w_batch[i, 0]) - res.fun) / res.fun)
    loop = (time.perf_counter() - t0) / n_loop
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
    ap.add_argument("--tracks", type=int, default=1000, help="objects, each seen by both nations")
    ap.add_argument("--scans", type=int, default=30, help="hub updates, one per second")
    ap.add_argument("--rho", type=float, default=0.5, help="common share of national errors")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--nees-samples", type=int, default=20000)
    args = ap.parse_args(argv)

    scans = make_scans(args.tracks, args.scans + 1, args.rho, args.seed)
    reports = 2 * args.tracks
    print(
        f"hub fusion: {args.tracks} objects x 2 nations = {reports} reports per scan, "
        f"{args.scans} scans (1 s apart)\n"
    )
    print(
        f"{'variant':<28}{'cold ms':>9}{'p50 ms':>9}{'p95 ms':>9}{'updates/s':>11}{'reports/s':>12}"
    )
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
    both = sum(1 for est in picture if est.status == "active" and len(est.sources) == 2)
    print(
        f"\npicture after {args.scans} scans: {int(live.sum())} live system tracks "
        f"({both} fusing both nations), highest number issued {int(picture.number.max())}"
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
