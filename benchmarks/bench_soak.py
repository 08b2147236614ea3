"""Soak: 1,000 simultaneous tracks per nation at 1 Hz for 10 minutes through real NATS.

Issue 7, "load". The deployed topology on loopback (``start_local_coalition``: a hub
server and one leaf per nation, mutual TLS, accounts, JetStream store-and-forward), and
the deployed processes:

- the hub is ``trilink hub korea-japan --nats ... --keys DIR --audit FILE --start-at T0
  --cycle 1`` (the real HubNode as the CLI runs it: signatures verified, replay and clock
  checks, fusion every ``--cycle`` s, by default the publishers' 1 s reporting period,
  policy, audit chain, warnings, every release signed);
- one publisher process per nation (USA, KOR, JPN) with that nation's key from
  ``trilink keys init``: every second, a TrackReport for each of ``--tracks`` objects
  (all nations see the same objects, each with its own radar-shaped errors, state times
  spread over the last second), sent as signed bundles as a node sends a scan, and then
  its heartbeat, whose watermark lets the hub fuse;
- one receiver process holding each partner's connection to its own leaf, reading the
  releases on ``trilink.hub.out.<P>.>``.

Objects fly J2 ballistic arcs high and fast enough to last the run; one that comes down
below 60 km is replaced by a new object (a new national track id) at once, so exactly
``--tracks`` are in flight at any time.

Latency of a release: the partner's receive time minus the wall time of the scan that
completed its fusion cycle (the first whole second at or after the cycle time: a cycle
can run only when every nation's heartbeat for it has arrived). One host, one clock.
Reported per minute: releases received, p50, p99, max; RSS and CPU of the hub process
and of each nats-server. "Lost": reports sent minus reports the hub admitted (its own
count), and releases the hub stored for each partner (``HUB_TO_<P>``) minus releases the
partner received. Everything is measured; nothing is asserted.

Run: ``.venv/bin/python benchmarks/bench_soak.py [--minutes 10] [--tracks 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

NATIONS = ("USA", "KOR", "JPN")
S = 1_000_000_000


# ---- publisher (one process per nation) -------------------------------------------------


def objects(n: int, rng: np.random.Generator) -> np.ndarray:
    """n states high and fast enough to fly for many minutes (J2 arcs over NE Asia)."""
    from trilink.fusion.synthetic import launch_state
    from trilink.geo.wgs84 import DEG

    return launch_state(
        rng.uniform(33.0, 43.0, n) * DEG, rng.uniform(124.0, 142.0, n) * DEG,
        rng.uniform(300e3, 900e3, n), rng.uniform(5600.0, 6800.0, n),
        rng.uniform(0.0, 360.0, n) * DEG, rng.uniform(0.0, 20.0, n) * DEG,
    )  # fmt: skip


async def publisher(cfg: dict[str, Any], nation: str) -> None:
    import nats

    from trilink.fusion.align import propagate_state
    from trilink.fusion.synthetic import JPN, KOR, NationModel, radar_covariance
    from trilink.geo.frames import ecef_to_geodetic
    from trilink.geo.wgs84 import DEG
    from trilink.link import encode
    from trilink.link.pki import CertPair, client_tls
    from trilink.messages import Heartbeat, TrackReport
    from trilink.nodes.clock import WallClock
    from trilink.nodes.coalition import Identity
    from trilink.nodes.convert import covariance_to_wire, quality_of, state_to_wire

    models = {"KOR": KOR, "JPN": JPN, "USA": NationModel("USA", (40.9 * DEG, 140.3 * DEG, 50.0))}
    key = Identity.load(Path(cfg["keys"]), nation).keys[nation]
    from trilink.link import Stamper

    stamper = Stamper(nation, key)
    clock = WallClock(cfg["start_t_ns"], 1.0, cfg["wall0_ns"])
    tls = client_tls(Path(cfg["ca"]), CertPair(Path(cfg["cert"]), Path(cfg["key"]), ""))
    nc = await nats.connect(cfg["url"], tls=tls, connect_timeout=5, pending_size=64 << 20)
    n = cfg["tracks"]
    truth_rng = np.random.default_rng(cfg["seed"])  # the same objects for every nation
    x = objects(n, truth_rng)
    gen = np.zeros(n, int)
    rng = np.random.default_rng(cfg["seed"] + NATIONS.index(nation) + 1)
    rel = tuple(sorted({nation, "USA"}))
    sent = late_max = 0.0
    for k in range(1, cfg["seconds"] + 1):
        t_k = cfg["start_t_ns"] + k * S
        await clock.sleep_until(t_k)
        late_max = max(late_max, (clock.now_ns() - t_k) / 1e9)
        lag = rng.uniform(0.0, 1.0, n)
        truth = propagate_state(x, -lag)
        P = radar_covariance(truth[:, :3], models[nation])
        est = truth + np.einsum("nij,nj->ni", np.linalg.cholesky(P), rng.standard_normal((n, 6)))
        # One scan's reports leave together, as signed bundles (what `trilink node` does).
        now = clock.now_ns()
        stamped = [
            stamper.stamp(TrackReport(
                source=nation, measured_ns=t_k - int(lag[j] * S), releasability=rel,
                track_id=f"{nation}-{j}-{gen[j]}", nation=nation, state_ecef=state_to_wire(est[j]),
                covariance_ecef=covariance_to_wire(P[j]), phase="ballistic", status="confirmed",
                quality=quality_of(P[j]), n_updates=k,
            ), now, sign=False)
            for j in range(n)
        ]  # fmt: skip
        for payload in stamper.bundle(stamped, now):
            await nc.publish(f"trilink.{nation}.tracks", payload)
        sent += n
        hb = Heartbeat(source=nation, measured_ns=t_k, releasability=rel, state="running",
                       uptime_s=float(k))  # fmt: skip
        await nc.publish(f"trilink.{nation}.status", encode(stamper.stamp(hb, clock.now_ns())))
        # Objects that came down are replaced (the truth RNG is shared: same on every nation).
        x = propagate_state(x, 1.0)
        low = ecef_to_geodetic(x[:, :3])[:, 2] < 60e3
        if low.any():
            x[low] = objects(int(low.sum()), np.random.default_rng(cfg["seed"] * 7919 + k))
            gen[low] += 1
    await nc.flush()
    await nc.close()
    print(json.dumps({"nation": nation, "reports": sent, "late_max_s": late_max}), flush=True)


# ---- receiver (every partner, one process) ------------------------------------------------


async def receiver(cfg: dict[str, Any]) -> None:
    import nats
    import nats.errors

    from trilink.link import iter_payload_messages
    from trilink.link.pki import CertPair, client_tls
    from trilink.messages import SystemTrack

    errors: list[str] = []

    async def err_cb(e: Exception) -> None:
        errors.append(f"{type(e).__name__}: {e}")

    lat: dict[int, list[float]] = {}
    counts: dict[str, int] = {p: 0 for p in NATIONS}  # messages (bundle items counted)
    payloads: dict[str, int] = {p: 0 for p in NATIONS}  # deliveries (a bundle is one)
    seqs: dict[str, set[int]] = {p: set() for p in NATIONS}
    dups = 0
    conns = []
    for p in NATIONS:
        c = cfg["partners"][p]
        tls = client_tls(Path(cfg["ca"]), CertPair(Path(c["cert"]), Path(c["key"]), ""))
        nc = await nats.connect(c["url"], tls=tls, error_cb=err_cb, connect_timeout=5)

        async def on(m: Any, p: str = p) -> None:
            nonlocal dups
            now = time.time_ns()
            payloads[p] += 1
            for msg in iter_payload_messages(m.data):
                counts[p] += 1
                if msg.seq in seqs[p]:
                    dups += 1
                seqs[p].add(msg.seq)
                if isinstance(msg, SystemTrack):
                    scan_ns = -(-(msg.measured_ns - cfg["start_t_ns"]) // S) * S  # ceil: scan
                    wall = cfg["wall0_ns"] + scan_ns
                    minute = int((now - cfg["wall0_ns"]) // (60 * S))
                    lat.setdefault(minute, []).append((now - wall) / 1e9)

        await nc.subscribe(
            f"trilink.hub.out.{p}.>", cb=on, pending_msgs_limit=-1, pending_bytes_limit=-1
        )
        conns.append(nc)
    await asyncio.sleep(max(0.0, (cfg["until_ns"] - time.time_ns()) / S))
    for nc in conns:
        await nc.close()
    out = {
        "counts": counts, "payloads": payloads, "duplicates": dups, "errors": errors[:5], "n_errors": len(errors),
        "minutes": {
            str(m): [len(v), float(np.percentile(v, 50)), float(np.percentile(v, 99)), float(max(v))]
            for m, v in sorted(lat.items())
        },
    }  # fmt: skip
    print(json.dumps(out), flush=True)


# ---- orchestrator -----------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the load (default 10)")
    ap.add_argument("--tracks", type=int, default=1000, help="simultaneous tracks per nation")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--warmup-s", type=float, default=30.0, help="seconds for the processes to start"
    )
    ap.add_argument(
        "--nice", type=int, default=0,
        help="autogroup nice of the soak's processes and servers (negative: ahead of other jobs)",
    )  # fmt: skip
    ap.add_argument(
        "--cycle", type=float, default=1.0,
        help="the hub's fusion cycle, s (default 1: the publishers' reporting period)",
    )  # fmt: skip
    ap.add_argument(
        "--durable", action="store_true",
        help="run the hub with --state: input from HUB_FROM_<N> through durable consumers, "
        "checkpoints every 2 s",
    )  # fmt: skip
    ap.add_argument("--role", default="main", help=argparse.SUPPRESS)
    ap.add_argument("--config", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role != "main":
        cfg = json.loads(Path(args.config).read_text())
        coro = receiver(cfg) if args.role == "receiver" else publisher(cfg, args.role)
        asyncio.run(coro)
        return
    asyncio.run(orchestrate(args))


async def hub_subscribed(http_port: int, wall0: int) -> float:
    """Wait until the hub process's subscription is on its server; seconds to spare before
    the scenario starts (negative: it subscribed late and missed the first scans)."""
    import urllib.request

    url = f"http://127.0.0.1:{http_port}/connz?subs=1&acc=HUB"
    while time.time_ns() < wall0 + 60 * S:
        with urllib.request.urlopen(url, timeout=2) as r:
            conns = json.loads(r.read()).get("connections") or []
        if any("trilink.*.>" in (c.get("subscriptions_list") or []) for c in conns):
            return (wall0 - time.time_ns()) / S
        await asyncio.sleep(0.2)
    raise SystemExit("the hub process never subscribed")


def weigh(pid: int, nice: int) -> None:
    """Every process here runs in its own session, hence its own scheduler autogroup, as
    a separate service would; ``nice`` sets the group's weight (Linux shares the CPU
    equally between autogroups whatever the processes' own nice values, so on a machine
    shared with other jobs this is what gives the soak the CPU dedicated hosts would)."""
    if nice:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/autogroup").write_text(str(nice))


def _cpu_rss(pid: int) -> tuple[float, int]:
    import psutil

    p = psutil.Process(pid)
    t = p.cpu_times()
    return t.user + t.system, p.memory_info().rss


async def orchestrate(args: argparse.Namespace) -> None:
    import nats

    from trilink.link.pki import client_tls
    from trilink.link.topology import HUB_SERVER, hub_from_stream, hub_to_stream
    from trilink.nodes.coalition import write_identities
    from trilink.nodes.up import start_local_coalition
    from trilink.scenario import load_scenario

    sc = load_scenario("korea-japan")
    seconds = int(args.minutes * 60)
    root = Path(tempfile.mkdtemp(prefix="trilink-soak-"))
    coalition = await start_local_coalition(root, list(NATIONS), "USA")
    procs: list[subprocess.Popen[str]] = []
    try:
        keys = root / "keys"
        write_identities(keys, [*NATIONS, "HUB"])
        topo, ca = coalition.topo, coalition.ca
        # The scenario starts when every process is up: the hub loads its scenario, policy
        # and territories and compiles or loads its kernels first (--warmup-s).
        wall0 = time.time_ns() + int(args.warmup_s * S)
        t_end = wall0 + (seconds + 45) * S
        base = {"ca": str(ca), "keys": str(keys), "start_t_ns": sc.start_t_ns, "wall0_ns": wall0,
                "seconds": seconds, "tracks": args.tracks, "seed": args.seed}  # fmt: skip
        hub_pair = topo.hub_client_pair()
        trilink = Path(sys.executable).parent / "trilink"
        hub = subprocess.Popen(
            [str(trilink), "hub", "korea-japan", "--nats", topo.hub_client_url, "--tls-ca", str(ca),
             "--tls-cert", str(hub_pair.cert), "--tls-key", str(hub_pair.key), "--keys", str(keys),
             "--audit", str(root / "audit.jsonl"), "--start-at", f"{wall0 / 1e9:.9f}",
             "--run-for-s", str(seconds + 40), "--cycle", str(args.cycle),
             *(["--state", str(root / "hub.state")] if args.durable else [])],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip
        weigh(hub.pid, args.nice)
        procs.append(hub)

        def spawn(role: str, cfg: dict[str, Any]) -> subprocess.Popen[str]:
            path = root / f"{role}.json"
            path.write_text(json.dumps(cfg))
            p = subprocess.Popen([sys.executable, __file__, "--role", role, "--config", str(path)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True)  # fmt: skip
            weigh(p.pid, args.nice)
            procs.append(p)
            return p

        partners = {
            p: {"url": topo.leaf_client_url(p), "cert": str(topo.node_pair(p).cert),
                "key": str(topo.node_pair(p).key)}
            for p in NATIONS
        }  # fmt: skip
        recv = spawn("receiver", {**base, "partners": partners, "until_ns": t_end})
        pubs = {
            n: spawn(n, {**base, "url": topo.leaf_client_url(n), "cert": partners[n]["cert"],
                         "key": partners[n]["key"]})
            for n in NATIONS
        }  # fmt: skip
        servers = {name: s.pid for name, s in coalition.servers.items()}
        for pid in servers.values():
            if pid:
                weigh(pid, args.nice)
        watched = {
            "hub process": hub.pid,
            **{f"nats {k}": v for k, v in servers.items() if v},
            **{f"publisher {n}": p.pid for n, p in pubs.items()},
            "receivers": recv.pid,
        }
        samples: dict[str, list[tuple[float, float, int]]] = {k: [] for k in watched}
        # A durable hub reads the streams, which hold everything from the first scan: no
        # live subscription to wait for.
        ready = (
            (wall0 - time.time_ns()) / S
            if args.durable
            else await hub_subscribed(topo.hub_http_port, wall0)
        )
        print(f"soak: {args.tracks} tracks x {len(NATIONS)} nations at 1 Hz for {args.minutes:g} min "
              f"({args.tracks * len(NATIONS):,} reports/s); hub subscribed {ready:.1f} s before the start; work dir {root}", flush=True)  # fmt: skip
        while time.time_ns() < t_end and recv.poll() is None:
            for k, pid in watched.items():
                try:
                    cpu, rss = _cpu_rss(pid)
                    samples[k].append(((time.time_ns() - wall0) / S, cpu, rss))
                except Exception:
                    continue
            await asyncio.sleep(5.0)
        results = {n: p.communicate(timeout=120)[0] for n, p in pubs.items()}
        try:
            hub_out = hub.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:  # still busy long after its end: say so, go on
            hub.terminate()
            try:
                hub_out = hub.communicate(timeout=20)[0]
            except subprocess.TimeoutExpired:
                hub.kill()
                hub_out = hub.communicate()[0]
            hub_out = "hub: did not stop within 120 s of its end (terminated)\n" + hub_out
        recv_out = recv.communicate(timeout=120)[0]
        nc = await nats.connect(topo.hub_client_url, tls=client_tls(ca, hub_pair))
        js = nc.jetstream(timeout=10)
        stored_in = {n: (await js.stream_info(hub_from_stream(n))).state.messages for n in NATIONS}
        await nc.close()
        stored_out = {}
        for p in NATIONS:  # HUB_TO_P lives in P's account: ask through P's leaf (domain hub)
            c = await nats.connect(topo.leaf_client_url(p), tls=client_tls(ca, topo.node_pair(p)))
            stored_out[p] = (
                await c.jetstream(domain="hub", timeout=10).stream_info(hub_to_stream(p))
            ).state.messages
            await c.close()
        report(args, results, hub_out, recv_out, samples, stored_in, stored_out, HUB_SERVER)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        coalition.stop()


def report(args, results, hub_out, recv_out, samples, stored_in, stored_out, hub_server) -> None:  # type: ignore[no-untyped-def]
    def last_json(text: str) -> dict[str, Any]:
        for line in reversed(text.strip().splitlines()):
            if line.startswith("{"):
                return dict(json.loads(line))
        raise SystemExit(f"a process printed no result:\n{text[-3000:]}")

    pubs = {n: last_json(t) for n, t in results.items()}
    recv = last_json(recv_out)
    sent = sum(int(p["reports"]) for p in pubs.values())
    hub_line = next((ln for ln in hub_out.splitlines() if ln.startswith("hub:")), hub_out[-500:])
    print(f"\npublishers: {sent:,} reports sent; worst scan start delay "
          f"{max(p['late_max_s'] for p in pubs.values()):.2f} s")  # fmt: skip
    print(f"hub process: {hub_line}")
    print(f"sourced into HUB_FROM_<N> (store-and-forward copy): {stored_in}")
    print(f"payloads stored for each partner (HUB_TO_<P>): {stored_out}; received: {recv['payloads']} "
          f"payloads carrying {recv['counts']} messages; "
          f"duplicates {recv['duplicates']}; client errors {recv['n_errors']} {recv['errors']}")  # fmt: skip
    print("\nminute  releases      p50 s     p99 s     max s")
    for m, (n, p50, p99, mx) in recv["minutes"].items():
        print(f"{int(m):>6} {n:>9,} {p50:>10.3f} {p99:>9.3f} {mx:>9.3f}")
    print("\nRSS MB and CPU share per minute (process: first, last minute; CPU s per s)")
    for k, rows in samples.items():
        if len(rows) < 2:
            continue
        per_min: dict[int, list[tuple[float, float, int]]] = {}
        for t, cpu, rss in rows:
            per_min.setdefault(int(max(t, 0) // 60), []).append((t, cpu, rss))
        line = []
        for m, rs in sorted(per_min.items()):
            cpu = (
                (rs[-1][1] - rs[0][1]) / max(1e-9, rs[-1][0] - rs[0][0])
                if len(rs) > 1
                else float("nan")
            )
            line.append(f"{m}:{rs[-1][2] / 2**20:.0f}MB/{cpu:.2f}")
        print(f"  {k:<14} " + "  ".join(line))
    lost_in = (
        sent - int(hub_line.split(" reports in")[0].split()[-1].replace(",", ""))
        if "reports in" in hub_line
        else None
    )
    lost_out = {p: stored_out[p] - recv["payloads"][p] for p in NATIONS}
    mins = recv["minutes"]
    last = mins[max(mins, key=int)] if mins else [0, float("nan"), float("nan"), float("nan")]
    print(f"\nsummary: {args.tracks}x{len(NATIONS)} tracks at 1 Hz for {args.minutes:g} min: reports not "
          f"admitted by the hub {lost_in}; releases not received {lost_out}; last minute p50 {last[1]:.3f} s, "
          f"p99 {last[2]:.3f} s")  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
