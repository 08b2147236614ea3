"""The hub's warner: cost per call on the SRBM salvo and at the issue-7 load, against the
implementation before the speed work, measured in the same run on the same inputs.

Two workloads, both replayed through ``make_warner(korea-japan)`` exactly as the hub
calls it (``warner(partner, released tracks, cycle time)``, every partner every cycle):

* **salvo**: the calls the hub made in one Monte Carlo trial of the SRBM salvo
  (srbm-1..3, trilateral, seed 1000), recorded in ``tests/alerts/data/warner_salvo
  .msgpack.gz`` (3,276 calls, 6,060 track-partner assessments);
* **load**: ``--tracks`` (1,000) objects on J2 ballistic arcs over NE Asia (as the soak,
  ``bench_soak.py``), each with an impact prediction 300-3,000 km downrange (1-sigma
  ellipse 2-30 km, jittering each cycle, one object in 50 jumping 15 km), released to
  3 partners (KOR, JPN, USA) every 0.5 s for ``--cycles`` cycles; the first cycle opens
  every thread (cold), the rest are steady state.

The reference is the warner of commit ``REFERENCE`` (before this work), exported with
``git archive`` into a temporary directory and run in a subprocess on the same input
file; its warnings are compared with today's, message by message. Without git (or with
``--no-reference``) the reference is today's ``fast=False`` path (the one-track,
one-partner rules, which share today's lazy distance and impact-shift bound).

CPU time (``time.process_time``) per call; the load is reported per cycle (3 calls).

Run: ``.venv/bin/python benchmarks/bench_warner.py [--tracks 1000] [--cycles 6]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SALVO = ROOT / "tests" / "alerts" / "data" / "warner_salvo.msgpack.gz"
REFERENCE = "3a66fe639bfde35778d45a2ce3e3d02fd69d131a"  # the warner before the speed work
PARTNERS = ("KOR", "JPN", "USA")
T0_NS = 1_772_323_000_000_000_000
NS = 1_000_000_000


# ---- inputs -------------------------------------------------------------------------------


def salvo_calls() -> list[list]:
    """``[partner, t_ns, [encoded SystemTrack, ...]]`` per recorded call."""
    rec = msgspec.msgpack.decode(gzip.decompress(SALVO.read_bytes()))
    return [[p, t, [rec["products"][i] for i in idx]] for p, t, idx, _ in rec["calls"]]


def load_calls(n: int, cycles: int, seed: int = 7) -> list[list]:
    """The synthetic load (module notes), as ``[partner, t_ns, [encoded tracks]]``."""
    from trilink import messages
    from trilink.fusion.align import propagate_state
    from trilink.fusion.synthetic import launch_state
    from trilink.geo.frames import ecef_to_geodetic
    from trilink.geo.geodesic import geodesic_direct
    from trilink.geo.wgs84 import DEG

    rng = np.random.default_rng(seed)
    az = rng.uniform(0.0, 360.0, n) * DEG
    x = launch_state(
        rng.uniform(33.0, 43.0, n) * DEG, rng.uniform(124.0, 142.0, n) * DEG,
        rng.uniform(300e3, 900e3, n), rng.uniform(5600.0, 6800.0, n),
        az, rng.uniform(0.0, 20.0, n) * DEG,
    )  # fmt: skip
    lla = ecef_to_geodetic(x[:, :3])
    ilat, ilon = geodesic_direct(lla[:, 0], lla[:, 1], az, rng.uniform(300e3, 3000e3, n))
    sigma = rng.uniform(2e3, 30e3, n)
    impact_t = T0_NS + (rng.uniform(60.0, 600.0, n) * NS).astype(np.int64)
    cov = messages.pack_covariance((np.diag([300.0**2] * 3 + [10.0**2] * 3)).tolist())
    calls = []
    for c in range(cycles):
        t = T0_NS + c * NS // 2
        xs = propagate_state(x, c * 0.5) if c else x
        jump = rng.random(n) < 0.02
        d_m = rng.normal(0.0, 300.0, n) + np.where(jump, 15e3, 0.0)
        la, lo = geodesic_direct(ilat, ilon, rng.uniform(0, 2 * math.pi, n), np.abs(d_m))
        bodies = []
        for k in range(n):
            gp = messages.GroundPoint(
                lat_deg=math.degrees(la[k]), lon_deg=math.degrees(lo[k]), t_ns=int(impact_t[k]),
                t_sigma_s=2.0,
                ellipse=messages.Ellipse(
                    sigma_major_m=float(sigma[k]), sigma_minor_m=float(sigma[k]) / 3.0,
                    major_azimuth_deg=float(np.degrees(az[k]) % 180.0),
                ),
            )  # fmt: skip
            msg = messages.SystemTrack(
                source="HUB", measured_ns=t, releasability=(), system_track_number=k + 1,
                state_ecef=tuple(map(float, xs[k])), covariance_ecef=cov, phase="ballistic",
                status="confirmed", quality=12, impact=gp,
                sources=(messages.SourceTrack(nation="KOR"), messages.SourceTrack(nation="JPN")),
            )  # fmt: skip
            bodies.append(msgspec.msgpack.encode(msg))
        calls.extend([p, t, bodies] for p in PARTNERS)
    return calls


# ---- the measured run (this process or the reference's) --------------------------------


def replay(calls: list[list], fast: bool | None) -> dict:
    """CPU seconds of every call and the encoded warnings, through a fresh warner."""
    from trilink import messages
    from trilink.nodes.warnings import make_warner
    from trilink.scenario import load_scenario

    decoded = [
        [p, t, [msgspec.msgpack.decode(b, type=messages.SystemTrack) for b in bodies]]
        for p, t, bodies in calls
    ]
    tracks = [[msgspec.structs.replace(m, releasability=(p,)) for m in ms] for p, _, ms in decoded]
    warner = make_warner(load_scenario("korea-japan"))
    if fast is not None:
        warner.fast = fast
    cpu, out = [], []
    for (p, t, _), ts in zip(decoded, tracks, strict=True):
        t0 = time.process_time()
        sent = warner(p, ts, t)
        cpu.append(time.process_time() - t0)
        out.extend(msgspec.msgpack.encode(w).hex() for w in sent)
    result: dict = {"cpu_s": cpu, "warnings": out}
    if hasattr(warner, "snapshot"):  # today's warner: what a restart checkpoint costs
        t0 = time.process_time()
        text = json.dumps(warner.snapshot(), allow_nan=False)
        t1 = time.process_time()
        fresh = make_warner(load_scenario("korea-japan"))
        fresh.restore(json.loads(text))
        t2 = time.process_time()
        threads = sum(len(s._threads) for s in warner.states.values())
        result["snapshot"] = {
            "bytes": len(text),
            "dump_s": t1 - t0,
            "restore_s": t2 - t1,
            "threads": threads,
        }
    return result


def worker(inputs: str, output: str) -> None:
    calls = msgspec.msgpack.decode(Path(inputs).read_bytes())
    fast = None if os.environ.get("BENCH_WARNER_FAST") is None else False
    Path(output).write_text(
        json.dumps({"salvo": replay(calls["salvo"], fast), "load": replay(calls["load"], fast)})
    )


def reference(calls: dict, tmp: Path, use_git: bool) -> tuple[dict, str]:
    """The reference's measurements on the same inputs, in a subprocess."""
    inputs, output = tmp / "inputs.msgpack", tmp / "ref.json"
    inputs.write_bytes(msgspec.msgpack.encode(calls))
    env = dict(os.environ)
    what = f"commit {REFERENCE[:7]} (before the speed work)"
    if use_git:
        tree = tmp / "ref"
        tree.mkdir()
        arch = subprocess.run(
            ["git", "archive", REFERENCE, "src"], cwd=ROOT, capture_output=True, check=False
        )
        if arch.returncode == 0:
            subprocess.run(["tar", "-x", "-C", str(tree)], input=arch.stdout, check=True)
            from trilink.alerts.territory import data_dir

            env["PYTHONPATH"] = str(tree / "src")
            env["TRILINK_GEODATA_DIR"] = str(data_dir())
        else:
            use_git = False
    if not use_git:
        env["BENCH_WARNER_FAST"] = "0"
        what = "today's fast=False path (one track, one partner at a time)"
    cmd = [sys.executable, __file__, "--worker", str(inputs), str(output)]
    subprocess.run(cmd, env=env, check=True, cwd=tmp)
    return json.loads(output.read_text()), what


# One wording changed after the reference commit (c357f62): a threat held by hysteresis
# whose ellipse has left every area was headed "possible impact in Japan's outside its
# waters"; it now reads "possible impact near Japan's 200-nm zone".
_NEW_HELD = re.compile(r"possible impact near (.{1,40}?)s 200-nm zone")
_OLD_HELD = r"possible impact in \1s outside its waters"


def _same_warnings(ours: list[str], ref: list[str]) -> tuple[bool, int]:
    """Whether today's encoded warnings equal the reference's, once a held threat's
    headline is put back in the reference's wording; and how many needed that."""
    from trilink import messages

    back, reworded = [], 0
    for h in ours:
        msg = msgspec.msgpack.decode(bytes.fromhex(h), type=messages.Warning)
        text = _NEW_HELD.sub(_OLD_HELD, msg.text)
        reworded += text != msg.text
        back.append(msgspec.msgpack.encode(msgspec.structs.replace(msg, text=text)).hex())
    return back == ref, reworded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=1000, help="objects in the load workload")
    ap.add_argument("--cycles", type=int, default=6, help="fusion cycles of the load workload")
    ap.add_argument("--no-reference", action="store_true", help="skip the pre-change reference")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    calls = {"salvo": salvo_calls(), "load": load_calls(args.tracks, args.cycles)}
    # compile or load the kernels, build the territories' indexes, outside the clock
    replay([c for c in calls["salvo"] if c[2]][:300], None)
    replay(calls["load"][:3], None)
    ours = {"salvo": replay(calls["salvo"], None), "load": replay(calls["load"], None)}
    with tempfile.TemporaryDirectory() as tmp:
        ref, what = reference(calls, Path(tmp), not args.no_reference)
    n_salvo = sum(len(c[2]) for c in calls["salvo"])
    print(f"warner, salvo replay ({len(calls['salvo'])} calls, {n_salvo} track-partner steps):")
    for name, r in (("today", ours["salvo"]), ("reference", ref["salvo"])):
        total = sum(r["cpu_s"])
        print(
            f"  {name:9s}: {total:6.3f} CPU-s per trial, {total / len(r['cpu_s']) * 1e6:7.1f} us "
            f"per call, {total / n_salvo * 1e6:7.1f} us per track-partner"
        )
    ratio = sum(ref["salvo"]["cpu_s"]) / sum(ours["salvo"]["cpu_s"])
    same, reworded = _same_warnings(ours["salvo"]["warnings"], ref["salvo"]["warnings"])
    print(
        f"  ratio {ratio:.1f}x; warnings identical: {same} ({len(ours['salvo']['warnings'])}"
        f"{f', {reworded} in the held-threat wording of c357f62' if reworded else ''})"
    )
    print(f"warner, load ({args.tracks} tracks x {len(PARTNERS)} partners, {args.cycles} cycles):")
    k = len(PARTNERS)
    for name, r in (("today", ours["load"]), ("reference", ref["load"])):
        per = [sum(r["cpu_s"][i : i + k]) for i in range(0, len(r["cpu_s"]), k)]
        steady = per[1:] or per
        print(
            f"  {name:9s}: cold cycle {per[0] * 1e3:8.1f} ms, steady cycle median "
            f"{np.median(steady) * 1e3:8.1f} ms (min {min(steady) * 1e3:.1f}, "
            f"max {max(steady) * 1e3:.1f})"
        )
    ratio = np.median(ref["load"]["cpu_s"][k:] or ref["load"]["cpu_s"]) / np.median(
        ours["load"]["cpu_s"][k:] or ours["load"]["cpu_s"]
    )
    same, reworded = _same_warnings(ours["load"]["warnings"], ref["load"]["warnings"])
    print(
        f"  ratio {ratio:.1f}x (steady); warnings identical: {same} "
        f"({len(ours['load']['warnings'])}"
        f"{f', {reworded} in the held-threat wording of c357f62' if reworded else ''})"
    )
    snap = ours["load"]["snapshot"]
    print(
        f"snapshot after the load: {snap['threads']} threads, {snap['bytes'] / 1e6:.1f} MB of JSON, "
        f"snapshot+dumps {snap['dump_s'] * 1e3:.0f} ms, loads+restore {snap['restore_s'] * 1e3:.0f} ms"
    )
    print(f"reference: {what}")


if __name__ == "__main__":
    main()
