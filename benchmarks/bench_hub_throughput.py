"""The whole hub, without a network: signed national reports in, fused and released out.

``bench_fusion.py`` times the fusion room alone (:meth:`SystemTrackTable.update` on
arrays). This times :class:`trilink.nodes.hub.HubNode` as it runs live, from payload bytes
to payload bytes: every report is decoded and validated, its Ed25519 signature verified,
its sequence number checked, then one fusion cycle per scan fuses the picture, predicts
launch and impact points, asks the policy about every (track, partner), writes the audit
chain, stamps and signs every release and encodes it.

Load (the same as bench_fusion's): ``--tracks`` (1,000) objects on ballistic arcs, each
tracked by KOR and JPN, whose reports come once a second with state times jittered over
the last second; each scan both nations send every track (2 x 1,000 signed TrackReports)
and a heartbeat whose watermark lets the hub run the cycle at the scan time. Partners:
KOR, JPN and USA under the built-in scenario's policy and warning rules, as ``trilink hub``
runs it (3 releases per system track per cycle, an audit file). Inputs are built and signed
outside the clock, after a warm-up run that loads the compiled (numba) kernels.

Printed: per scan (median and 95th percentile over the steady scans) the time to ingest
the reports and to run the cycle, reports per second end to end, and where the time goes
per stage (each stage timed by wrapping the hub's own collaborators; "other" is the rest
of the hub's Python: message building, unit conversion, the per-partner policy loop).

Run: ``.venv/bin/python benchmarks/bench_hub_throughput.py [--tracks 1000] [--scans 8]
[--quick]``.
"""

from __future__ import annotations

import os

# One core (benchmarks/README.md): BLAS/OpenMP/numba pools are sized when numpy loads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from bench_fusion import NS, T0_NS, make_scans  # noqa: E402
from benchcpu import pin_to_one_cpu  # noqa: E402

import trilink.link  # noqa: E402
import trilink.nodes.hub as hub_module  # noqa: E402
from trilink.link import Keyring, Stamper, subjects  # noqa: E402
from trilink.link.signing import private_key_from_seed, signing_input  # noqa: E402
from trilink.messages import Ellipse, GroundPoint, Heartbeat, TrackReport  # noqa: E402
from trilink.nodes.base import simulation_keys  # noqa: E402
from trilink.nodes.clock import Clock  # noqa: E402
from trilink.nodes.coalition import scenario_policy  # noqa: E402
from trilink.nodes.convert import covariance_to_wire, quality_of, state_to_wire  # noqa: E402
from trilink.nodes.hub import HUB_ID, HubNode  # noqa: E402
from trilink.nodes.live import ManualClock  # noqa: E402
from trilink.nodes.warnings import make_warner  # noqa: E402
from trilink.policy import AuditLog  # noqa: E402
from trilink.scenario import load_scenario  # noqa: E402

NATIONS = ("JPN", "KOR", "USA")
SOURCES = ("KOR", "JPN")
KEY_SEED = 20240101


def coalition_keys() -> tuple[dict[str, Any], Keyring]:
    keys = simulation_keys([*NATIONS, HUB_ID], KEY_SEED)
    return keys, Keyring.of_private(keys)


def ground_point(x: np.ndarray, t_ns: int, sigma_m: float) -> GroundPoint:
    """A plausible predicted ground point under an ECEF state (its sub-point), so that
    reports carry launch and impact predictions and have their real size (~850 bytes)."""
    lat = math.degrees(math.atan2(x[2], math.hypot(x[0], x[1])))
    lon = math.degrees(math.atan2(x[1], x[0]))
    return GroundPoint(
        lat_deg=lat,
        lon_deg=lon,
        t_ns=int(t_ns),
        t_sigma_s=2.0,
        ellipse=Ellipse(sigma_major_m=sigma_m, sigma_minor_m=0.4 * sigma_m, major_azimuth_deg=45.0),
    )


def report_body(nation: str, track_id: str, t_ns: int, x: np.ndarray, P: np.ndarray) -> TrackReport:
    """A national TrackReport as a node builds it (unstamped, unsigned)."""
    return TrackReport(
        source=nation,
        measured_ns=int(t_ns),
        releasability=tuple(sorted({nation, "USA"})),
        track_id=track_id,
        nation=nation,
        state_ecef=state_to_wire(x),
        covariance_ecef=covariance_to_wire(P),
        phase="ballistic",
        status="confirmed",
        quality=quality_of(P),
        n_updates=20,
        launch=ground_point(x, int(t_ns) - 200 * NS, 4000.0),
        impact=ground_point(x, int(t_ns) + 300 * NS, 1500.0),
        apogee_height_m=float(np.linalg.norm(x[:3]) - 6.371e6),
    )


def heartbeat_body(nation: str, watermark_ns: int) -> Heartbeat:
    return Heartbeat(
        source=nation,
        measured_ns=int(watermark_ns),
        releasability=tuple(sorted({nation, "USA"})),
        state="running",
        uptime_s=1.0,
    )


Payloads = list[tuple[str, bytes]]


def signed_scans(n: int, scans: int, seed: int) -> list[tuple[int, Payloads]]:
    """Per scan: (fusion time, [(subject, signed payload)]) — reports then heartbeats."""
    keys, _ = coalition_keys()
    stampers = {s: Stamper(s, keys[s]) for s in SOURCES}
    out = []
    for t_ns, batch in make_scans(n, scans, 0.5, seed, n_nations=len(SOURCES)):
        payloads: Payloads = []
        scan: dict[str, list[Any]] = {s: [] for s in SOURCES}
        for i in range(len(batch)):
            src = str(batch.source[i])
            body = report_body(src, f"{src}-{batch.local_id[i]}", int(batch.t_ns[i]), batch.x[i], batch.P[i])  # fmt: skip
            scan[src].append(stampers[src].stamp(body, t_ns, sign=False))
        # A node sends one scan's reports as signed bundles, then its heartbeat.
        for src, msgs in scan.items():
            payloads.extend((subjects.tracks(src), p) for p in stampers[src].bundle(msgs, t_ns))
        for s in SOURCES:
            payloads.append((subjects.status(s), stampers[s].seal(heartbeat_body(s, t_ns), t_ns)))
        out.append((t_ns, payloads))
    return out


def build_hub(
    clock: Clock,
    start_ns: int,
    cycle_s: float,
    audit_path: Path | None,
    *,
    warner: bool = True,
    fast_path: bool = False,
) -> HubNode:
    """The hub as ``trilink hub`` runs it for the built-in scenario: its policy, the
    per-partner warner (unless ``warner`` is False), an audit file; partners JPN, KOR,
    USA; sources KOR and JPN."""
    scenario = load_scenario("korea-japan")
    keys, ring = coalition_keys()
    return HubNode(
        keys[HUB_ID], ring, clock, partners=[n.id for n in scenario.nations], sources=SOURCES,
        policy=scenario_policy(scenario), start_ns=start_ns, cycle_s=cycle_s,
        audit=AuditLog(audit_path), warner=make_warner(scenario) if warner else None,
        fast_path=fast_path,
    )  # fmt: skip


def warm_up() -> None:
    """One small run through every code path, so that compiled kernels are loaded (or
    compiled, after a change) before any clock starts."""
    clock = ManualClock(T0_NS - NS)
    hub = build_hub(clock, T0_NS - NS, 1.0, None)
    for t_ns, payloads in signed_scans(4, 2, seed=99):
        clock.t = t_ns
        for subject, payload in payloads:
            hub.on_message(subject, payload)
        hub.run_due()


class Stages:
    """Accumulated seconds and calls per stage, by wrapping callables."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        self.seconds.setdefault(name, 0.0)
        self.calls.setdefault(name, 0)

        def timed(*a: Any, **kw: Any) -> Any:
            t0 = time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds[name] += time.thread_time() - t0
                self.calls[name] += 1

        return timed

    def reset(self) -> None:
        for k in self.seconds:
            self.seconds[k], self.calls[k] = 0.0, 0


@contextlib.contextmanager
def instrumented(hub: HubNode) -> Iterator[Stages]:
    """Time the hub's collaborators in place (instance attributes, and the two module
    globals the hub calls by name); restored on exit."""
    st = Stages()
    rx = hub.link.receiver
    rx.decoder.decode = st.wrap("decode + validate", rx.decoder.decode)
    rx.keyring.verify = st.wrap("verify (Ed25519)", rx.keyring.verify)
    rx.guard.admit = st.wrap("replay guard", rx.guard.admit)
    hub.table.update = st.wrap("fusion (table.update)", hub.table.update)
    hub._fuse_subset = st.wrap("subset fusion", hub._fuse_subset)
    hub.audit.record = st.wrap("audit chain", hub.audit.record)
    hub.link.stamper.stamp = st.wrap("stamp + sign (Ed25519)", hub.link.stamper.stamp)
    if hub.warner is not None:
        hub.warner = st.wrap("warnings (rules)", hub.warner)
    # The hub calls these by module-global name; ``encode`` may be bound in the hub's
    # module or looked up in trilink.link at call time: wrap it in both places.
    globals_ = [
        (hub_module, "predict_points", "launch/impact prediction"),
        (hub_module, "release", "policy + redaction"),
        (hub_module, "encode", "encode (msgpack)"),
        (trilink.link, "encode", "encode (msgpack)"),
    ]
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in globals_ if hasattr(mod, name)]
    for mod, name, label in globals_:
        if hasattr(mod, name):
            setattr(mod, name, st.wrap(label, getattr(mod, name)))
    try:
        yield st
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)


INGEST = ("decode + validate", "verify (Ed25519)", "replay guard")


def run(
    scans: list[tuple[int, Payloads]],
    audit_dir: Path,
    *,
    instrument: bool,
    warner: bool,
    fast: bool = False,
) -> dict[str, Any]:
    clock = ManualClock(T0_NS - NS)
    audit = audit_dir / f"audit-{instrument}-{warner}-{fast}.jsonl"
    hub = build_hub(clock, T0_NS - NS, 1.0, audit, warner=warner, fast_path=fast)
    ingest_s, cycle_s, cpu_s, released = [], [], [], []
    with instrumented(hub) if instrument else contextlib.nullcontext() as st:
        for k, (t_ns, payloads) in enumerate(scans):
            if k == 1 and st is not None:
                st.reset()  # the cold start (every track new) is reported apart
            clock.t = t_ns
            t0, c0 = time.perf_counter(), time.thread_time()
            for subject, payload in payloads:
                hub.on_message(subject, payload)
            t1, c1 = time.perf_counter(), time.thread_time()
            out = hub.run_due()
            t2, c2 = time.perf_counter(), time.thread_time()
            ingest_s.append(t1 - t0)
            cycle_s.append(t2 - t1)
            cpu_s.append((c1 - c0, c2 - c1))
            released.append(len(out))
    hub.audit.close()
    return {
        "ingest_s": np.array(ingest_s),
        "cycle_s": np.array(cycle_s),
        "cpu_s": np.array(cpu_s),
        "released": np.array(released),
        "stages": st,
        "rejected": hub.link.deadletters.total,
        "live": int(hub.last_picture.live().sum()) if hub.last_picture is not None else 0,
        "cycles": hub.cycles,
        "fast_releases": hub.fast_releases,
    }


def print_table(res: dict[str, Any], reports: int) -> None:
    """Wall time (what this shared machine gave) beside CPU time (what the hub cost)."""
    ing, cyc = res["ingest_s"][1:], res["cycle_s"][1:]
    cing, ccyc = res["cpu_s"][1:, 0], res["cpu_s"][1:, 1]
    rel = float(np.median(res["released"][1:]))
    print(f"{'per scan, ms':<30}{'wall p50':>10}{'wall p95':>10}{'CPU p50':>10}{'CPU p95':>10}")
    rows = (
        ("ingest 2N reports", ing, cing),
        ("fusion cycle + release", cyc, ccyc),
        ("total", ing + cyc, cing + ccyc),
    )
    for label, w, c in rows:
        print(
            f"{label:<30}{np.median(w) * 1e3:>10.1f}{np.quantile(w, 0.95) * 1e3:>10.1f}"
            f"{np.median(c) * 1e3:>10.1f}{np.quantile(c, 0.95) * 1e3:>10.1f}"
        )
    wall, cpu = float(np.median(ing + cyc)), float(np.median(cing + ccyc))
    print(
        f"\nreports/s ingested, fused and released: {reports / wall:,.0f} (wall) / "
        f"{reports / cpu:,.0f} (per CPU-second: one dedicated core)\n"
        f"ingest alone: {reports / float(np.median(cing)):,.0f} reports per CPU-second; "
        f"{rel:,.0f} messages released per cycle, "
        f"{float(np.median(ccyc)) / rel * 1e6:.0f} CPU-us per release (fusion included)"
    )
    print(
        f"cold start (every track new): ingest {res['cpu_s'][0, 0] * 1e3:.0f} CPU-ms, "
        f"cycle {res['cpu_s'][0, 1] * 1e3:.0f} CPU-ms, {res['released'][0]} released"
    )


def print_stages(res: dict[str, Any], reports: int, steady: int) -> None:
    """CPU time per stage over the steady scans (thread CPU clock)."""
    st: Stages = res["stages"]
    ing_total = float(res["cpu_s"][1:, 0].sum())
    cyc_total = float(res["cpu_s"][1:, 1].sum())
    whole = ing_total + cyc_total
    rel = int(res["released"][1:].sum())
    print(f"\n{'stage (CPU time)':<34}{'calls/scan':>11}{'us/call':>10}{'ms/scan':>9}{'share':>8}")

    def row(name: str, seconds: float, calls: int) -> None:
        per_call = seconds / calls * 1e6 if calls else float("nan")
        print(
            f"{name:<34}{calls / steady:>11,.0f}{per_call:>10.1f}{seconds / steady * 1e3:>9.1f}"
            f"{seconds / whole * 100:>7.1f}%"
        )

    print("ingest (HubNode.on_message)")
    for name in INGEST:
        row(f"  {name}", st.seconds[name], st.calls[name])
    row("  other", ing_total - sum(st.seconds[n] for n in INGEST), (reports + 2) * steady)
    print("cycle (HubNode.run_due)")
    cyc_names = [n for n in st.seconds if n not in INGEST and st.calls[n]]
    for name in cyc_names:
        row(f"  {name}", st.seconds[name], st.calls[name])
    rest = cyc_total - sum(st.seconds[n] for n in cyc_names)
    row("  other (building, policy loop)", rest, rel)


def crypto_peer(payload: bytes, n: int = 2000) -> str:
    """Ed25519 per call, CPU us: cryptography (what trilink uses) against PyNaCl
    (libsodium) when installed, on the bytes a report signature covers; and whether both
    give the same signature (Ed25519 is deterministic: a drop-in swap must)."""
    seed = bytes(range(32))
    key = private_key_from_seed(seed)
    pub, sig = key.public_key(), key.sign(payload)

    def per_call(fn: Callable[[], Any]) -> float:
        c0 = time.thread_time()
        for _ in range(n):
            fn()
        return (time.thread_time() - c0) / n * 1e6

    line = (
        f"Ed25519 CPU per call: cryptography verify {per_call(lambda: pub.verify(sig, payload)):.0f} us, "
        f"sign {per_call(lambda: key.sign(payload)):.0f} us"
    )
    try:
        import nacl.signing  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return line + "; PyNaCl (libsodium) not installed, no peer"
    sk = nacl.signing.SigningKey(seed)
    vk, signed = sk.verify_key, sk.sign(payload)
    return line + (
        f"; PyNaCl/libsodium {nacl.__version__} verify {per_call(lambda: vk.verify(signed)):.0f} us, "
        f"sign {per_call(lambda: sk.sign(payload)):.0f} us; same signature: {signed.signature == sig}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tracks", type=int, default=1000, help="objects, each seen by both nations")
    ap.add_argument("--scans", type=int, default=6, help="steady scans after the cold start")
    ap.add_argument(
        "--warner-tracks", type=int, default=None,
        help="objects for the run with the warner (default: --tracks; 100 with --quick)",
    )  # fmt: skip
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="3 steady scans, warner on 100 tracks")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    ap.add_argument(
        "--fast-path", action="store_true",
        help="also run the hub with its fast path (every report of a known track released "
        "as it arrives, besides the cycle)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    pinned = "not pinned (--no-pin)" if args.no_pin else pin_to_one_cpu()
    steady = 3 if args.quick else args.scans
    warner_tracks = args.warner_tracks or (100 if args.quick else args.tracks)

    t0 = time.perf_counter()
    warm_up()
    print(
        f"hub throughput: objects x 2 nations (KOR, JPN), each object reported once per "
        f"second by each nation, one fusion cycle per second; partners {', '.join(NATIONS)}; "
        f"{steady} steady scans after a cold start (load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores, {pinned}; warm-up {time.perf_counter() - t0:.1f} s)"
    )
    summaries: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as tmp:
        runs = [(args.tracks, False, False), (warner_tracks, True, False)]
        if args.fast_path:
            runs.append((warner_tracks, True, True))
        for n, warner, fast in runs:
            t0 = time.perf_counter()
            scans = signed_scans(n, steady + 1, args.seed)
            size = np.mean([len(p) for _, p in scans[0][1][:-2]])
            print(
                f"\n=== {n} objects, {2 * n} signed reports per scan (mean {size:.0f} bytes), "
                f"{'with' if warner else 'without'} the warner{' and the fast path' if fast else ''} "
                f"(inputs built and signed in {time.perf_counter() - t0:.1f} s, off the clock)\n"
            )
            timed = run(scans, Path(tmp), instrument=True, warner=warner, fast=fast)
            plain = (
                timed
                if args.quick
                else run(scans, Path(tmp), instrument=False, warner=warner, fast=fast)
            )
            print_table(plain, 2 * n)
            print(
                f"picture: {plain['live']} live system tracks; {plain['rejected']} inputs "
                f"rejected; {plain['cycles']} cycles; {plain['fast_releases']:,} fast releases"
            )
            print_stages(timed, 2 * n, steady)
            cpu = float(np.median(plain["cpu_s"][1:].sum(axis=1)))
            summaries.append(
                f"summary: {n:,} objects x 2 nations, {'with' if warner else 'no'} warner"
                f"{', fast path' if fast else ''}: "
                f"{2 * n / cpu:,.0f} reports per CPU-second ingested, fused and released "
                f"({cpu * 1e3:,.0f} CPU-ms per 1-s scan)"
            )
            if plain is not timed:
                overhead = timed["cpu_s"][1:].sum() / plain["cpu_s"][1:].sum()
                print(f"(stage-timing run: {overhead:.2f}x the plain run's CPU time)")
    x = np.array([-3.1e6, 4.0e6, 3.8e6, 1e3, 2e3, 3e3])  # a state over the Sea of Japan
    body = Stamper("KOR", coalition_keys()[0]["KOR"]).stamp(
        report_body("KOR", "KOR-1", T0_NS, x, np.eye(6) * 100.0), T0_NS
    )
    print("\n" + crypto_peer(signing_input(body)))
    print()
    print("\n".join(summaries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
