"""End-to-end latency over real NATS: a national report published on its own leaf, a
partner receiving the corresponding hub track on its leaf (leaf -> hub -> leaf).

The topology is the deployed one, on loopback: ``trilink.nodes.up.start_local_coalition``
starts the hub server and one leaf per nation (KOR, JPN, USA) with mutual TLS, accounts,
imports/exports and the JetStream store-and-forward streams (every national publish is
also stored on its leaf and sourced by the hub; every release stored on the hub and
sourced by the partner's leaf). Each node connects with its own client certificate.

Two paths, each at offered loads of 1,000 and 10,000 reports per second (paced on a
schedule; latency counts from the *scheduled* publish time, so a sender that falls
behind is charged for it rather than hidden — no coordinated omission):

(a) ``link``: KOR publishes signed TrackReports; a relay on the hub server receives
    them through :class:`~trilink.link.Receiver` (decode, validate, verify, replay guard),
    stamps and signs a SystemTrack with the same state and publishes it on
    ``trilink.hub.out.JPN.tracks``; JPN receives and verifies. Layouts: ``procs`` (sender,
    relay and receiver in three processes) and ``tasks`` (three asyncio tasks, one
    process, each on its own connection). ``raw``: the same processes and subjects with
    no message handling at all (the payload, of a report's size, carries the scheduled
    time; the relay forwards it): what NATS and nats-py cost on this path.
(b) ``hub``: the real :class:`~trilink.nodes.hub.HubNode` as ``trilink hub`` builds it
    (scenario policy, warner, audit file), served by :func:`trilink.nodes.live.run_hub`,
    fusing on a ``--cycle`` grid gated by the sources' watermarks; KOR and JPN each publish
    half the load over ``--tracks`` objects on ballistic arcs plus a heartbeat (watermark)
    every cycle; JPN receives. A report's latency ends when JPN holds the release of the
    first cycle that includes it for the report's own object. ``hub-nowarn``: the same
    hub without its warner (the warning rules run inside the cycle, before any release
    is published). ``hub-fast``: the same hub with its fast path (``trilink hub
    --fast-path``): a report of a track the grid has numbered is fused and released as
    it arrives; a report's latency ends when JPN holds the first release of its object
    that the hub made after the report arrived and that is valid at or after its time.

Ticks (``--batch-ms B``): with B > 0 a sender publishes on a fixed tick of B ms, as a
radar node sends one scan's reports: every report scheduled in [k B, (k + 1) B) leaves at
(k + 1) B in one signed bundle (raw: one message of the bundle's size carrying every
report's scheduled time). Latency still counts from each report's own scheduled time,
so the wait for the tick is charged. The relay forwards what came in one delivery as one
bundle, and the hub path's senders tick the same way. B = 0: everything due leaves at
once (one bundle per subject), as before.

Latency is the partner's wall clock after verification minus the scheduled publish time
(one host, one clock). Reports not delivered before the drain cut-off count as late (and
as infinitely late in the percentiles). Printed per run: the sender's achieved rate and
messages per second, the delivered rate, p50/p99/max, late reports, a breakdown per hop
(path a: tick wait, sender, KOR leaf -> hub -> relay, relay verify, relay build + sign +
publish, hub -> JPN leaf -> partner, partner verify; every time read on the one host
clock), the CPU per message of each role, the CPU each process and each nats-server
used, the whole machine's busy cores (to see other users' load), how long each process
sat runnable waiting for a CPU (``/proc/<pid>/task/*/schedstat``), the relay's and the
partner's queue depth, and (``--sample-ms``) the unread bytes in every loopback socket
between the processes (which reader is behind).

Transport knobs, benchmark options only (the defaults are the product's): ``--streams
off`` (core NATS only, no store-and-forward), ``--leaf-tls off`` (leaf links in clear,
password logins), ``--gomaxprocs N`` (nats-server's Go scheduler), ``--write-deadline``
(the hub server's), ``--slice-us`` (the kernel's scheduler slice for every process),
``--uvloop`` (the Python processes' event loop). nats-server 2.9 has no leafnode
compression (2.10+), and nats-py already writes every publish on the next loop
iteration (its flusher), so neither has a knob here.

Scheduling on a shared machine: with autogroups (Linux's default for sessions) the CPU is
split equally between sessions, whatever the processes' nice values. Every nats-server
runs in its own session; so does every benchmark process here, as a separate service
would. ``--nice N`` sets those sessions' weight (negative: ahead of other users' jobs).

What the hops showed on the shared 2-core VM (2026-11-30, 10,000 reports/s, path a, 5-s
runs, --nice -10, other users 0.2-1.0 core): with no tick the relay is the queue (1.2-1.8 MB
unread in its socket, p50 0.45-0.95 s: it needs ~68 CPU-us per report, gets ~0.5 core).
With a 1-2 ms tick no process keeps a backlog (queues p99 2-19 deliveries); the tail is
in the two transport hops, where every process and server waits for a CPU (run queue
100-800 ms per second each): the path alone needs ~1.3-1.5 cores (Python ~100 CPU-us per
report over sender, relay and partner; nats-servers ~50, ~25 without the streams, TLS on
leaf links and with GOMAXPROCS=1), and each message costs ~0.9 CPU-ms of wake-ups along
the six processes. p99 at tick 2 ms: link 15-101 ms with the product's settings (median
of 15 runs 49), 9.4-12.3 ms in three of four runs with the streams and leaf TLS off and
GOMAXPROCS=1 (33 in the fourth); raw 7.9-30 ms (median 21), 6.0-7.0 ms with those knobs,
3.6-5.4 ms with them at tick 1 ms.

Code: this file holds a run's parameters (``Run``), the processes and the command line;
``latency_roles.py`` the sender, relay, hub and partner; ``latency_report.py`` the
latency per report and per hop and the printed tables; ``latency_knobs.py`` the
transport and scheduling knobs; ``latency_probes.py`` what is read from /proc.

Run: ``.venv/bin/python benchmarks/bench_link_latency.py [--quick] [--duration 10]
[--paths link,hub,hub-nowarn] [--nice -5] [--batch-ms 0,1,2,5] [--sample-ms 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import multiprocessing as mp
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_hub_throughput import NATIONS, warm_up
from latency_knobs import Knobs, own_session, set_slice, start_coalition, stream_names
from latency_probes import SocketSampler, machine_cpu, run_delay, server_cpu
from latency_report import _fmt, print_details, print_summary, summarise
from latency_roles import full_hub, partner, relay, send_plan, sender

from trilink.nodes.hub import HUB_ID
from trilink.nodes.up import LocalCoalition


@dataclass(frozen=True)
class Run:
    path: str  # "raw" | "link" | "hub" | "hub-nowarn" | "hub-fast" (module docstring)
    layout: str  # "procs" | "tasks"
    rate: int  # offered reports per second, all sources together
    duration_s: float
    drain_s: float
    tracks: int
    cycle_s: float
    seed: int
    workdir: str
    nice: int = 0
    batch_ms: float = 0.0  # sender tick (0: everything due leaves at once, no tick)
    sample_ms: float = 0.0  # socket receive-queue sampling period (0: off)
    save_dir: str = ""  # where to save per-report latencies and segments ("": nowhere)
    uvloop: bool = False  # the benchmark processes' event loop: uvloop instead of asyncio's

    @property
    def sources(self) -> tuple[str, ...]:
        return ("KOR", "JPN") if self.path.startswith("hub") else ("KOR",)


# ---- processes ------------------------------------------------------------------------


def child(roles: list[str], run: Run, coal: LocalCoalition, q: Any, go: Any, t0v: Any, stop: Any) -> None:  # fmt: skip
    # asyncio warns on every TLS connection closed by the peer at the end; not ours to fix
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    own_session(run.nice)
    if run.uvloop:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.run(_child(roles, run, coal, q, go, t0v, stop))
    else:
        asyncio.run(_child(roles, run, coal, q, go, t0v, stop))


async def _child(roles: list[str], run: Run, coal: LocalCoalition, q: Any, go: Any, t0v: Any, stop: Any) -> None:  # fmt: skip
    node_of = {"relay": HUB_ID, "hub": HUB_ID, "recv": "JPN"}
    buses = {r: await coal.bus_for(node_of.get(r, r.removeprefix("send:"))) for r in roles}
    plans = {r: send_plan(run, r[5:]) for r in roles if r.startswith("send:")}
    if "hub" in roles:
        warm_up()
    expect = sum(int(run.rate / len(run.sources) * run.duration_s) for _ in run.sources)
    q.put(("ready", roles))
    while not go.is_set():
        await asyncio.sleep(0.01)
    t0 = int(t0v.value)
    cpu0 = time.process_time()

    async def one(role: str) -> None:
        bus = buses[role]
        if role.startswith("send:"):
            res = await sender(bus, run, role[5:], plans[role], t0)
        elif role == "relay":
            res = await relay(bus, run, stop)
        elif role == "hub":
            res = await full_hub(bus, run, stop, t0)
        else:
            res = await partner(bus, run, t0, expect)
        res["bus_errors"] = [type(e).__name__ for e in getattr(bus, "errors", ())]
        q.put((role, res))  # at once: the parent stops the hub when the partner is done

    await asyncio.gather(*(one(r) for r in roles))
    q.put(("cpu", {"roles": "+".join(roles), "cpu_s": time.process_time() - cpu0}))
    for bus in buses.values():
        with contextlib.suppress(Exception):  # a client the server dropped cannot drain
            await bus.close()


def run_once(run: Run, coal: LocalCoalition) -> dict[str, Any]:
    if not run.path.startswith("hub"):
        layout = [["send:KOR"], ["relay"], ["recv"]]
        if run.layout == "tasks":
            layout = [["send:KOR", "relay", "recv"]]
    else:
        layout = [["send:KOR"], ["hub"], ["send:JPN", "recv"]]
    ctx = mp.get_context("spawn")
    q, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    t0v = ctx.Value("q", 0)
    bare = LocalCoalition(coal.topo, coal.pki, {})  # picklable: no server handles
    procs = [ctx.Process(target=child, args=(r, run, bare, q, go, t0v, stop)) for r in layout]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            tag, _roles = q.get(timeout=120)
            assert tag == "ready"
        sampler = None
        pids = {p.pid: "+".join(r) for p, r in zip(procs, layout, strict=True) if p.pid}
        pids |= {srv.pid: f"{k} server" for k, srv in coal.servers.items() if srv.pid}
        if run.sample_ms > 0:
            sampler = SocketSampler(pids, run.sample_ms / 1e3)
        cpu0, w0, m0, rd0 = server_cpu(coal), time.time(), machine_cpu(), run_delay(pids)
        t0v.value = time.time_ns() + 500_000_000  # everyone subscribed; start in 0.5 s
        if sampler is not None:
            sampler.start()
        go.set()
        results: dict[str, Any] = {"cpu": {}}
        expected = sum(len(r) for r in layout) + len(layout)
        timeout = run.duration_s + run.drain_s + 60
        for _ in range(expected):
            role, res = q.get(timeout=timeout)
            if role == "cpu":
                results["cpu"][res["roles"]] = res["cpu_s"]
            else:
                results[role] = res
            if role == "recv":
                stop.set()
        wall = time.time() - w0
        cpu1, m1, rd1 = server_cpu(coal), machine_cpu(), run_delay(pids)
        results["sockets"] = sampler.stop() if sampler is not None else {}
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    results["servers"] = {k: (cpu1[k] - cpu0[k]) / wall for k in cpu0}
    busy = (os.cpu_count() or 1) - (m1[0] - m0[0]) / wall
    results["machine"] = (busy, (m1[1] - m0[1]) / wall)
    results["run_delay"] = {k: (rd1[k] - rd0[k]) / wall for k in rd0 if k in rd1}
    results["wall_s"] = wall
    results["load"] = os.getloadavg()[0]
    results["t0"] = int(t0v.value)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="2 s per run, processes only, paths link and hub"
    )
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of offered load per run")
    ap.add_argument("--drain", type=float, default=20.0, help="seconds allowed after the load")
    ap.add_argument("--rates", default="1000,10000", help="offered reports/s, comma-separated")
    ap.add_argument(
        "--paths", default=None,
        help="raw (a) without signatures; link (a); hub (b), as deployed; hub-nowarn (b) "
        "without the warner; hub-fast (b) with the hub's fast path (default: all; link,hub "
        "with --quick)",
    )  # fmt: skip
    ap.add_argument("--layouts", default="procs,tasks", help="for the link path: procs, tasks")
    ap.add_argument("--link-tracks", type=int, default=100, help="track ids on the link path")
    ap.add_argument("--tracks", type=int, default=20, help="objects on the hub path")
    ap.add_argument("--cycle", type=float, default=0.05, help="hub fusion cycle, s")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument(
        "--nice", type=int, default=0,
        help="autogroup niceness of every benchmark process and server (negative: ahead "
        "of other jobs on a shared machine)",
    )  # fmt: skip
    ap.add_argument(
        "--batch-ms", default="0",
        help="senders' tick in ms, comma-separated for several runs: every report scheduled "
        "in a tick leaves at its end in one signed bundle (raw: one message), latency still "
        "counted from each report's own scheduled time; 0 (default): everything due leaves "
        "at once",
    )  # fmt: skip
    ap.add_argument(
        "--sample-ms", type=float, default=0.0,
        help="sample every loopback socket's unread bytes (/proc/net/tcp) every N ms, to "
        "see which process is behind (0: off)",
    )  # fmt: skip
    ap.add_argument(
        "--leaf-tls", choices=("on", "off"), default="on",
        help="TLS on the leaf -> hub links (on in the product; off only to attribute its cost: "
        "leaves then log in with a password)",
    )  # fmt: skip
    ap.add_argument(
        "--streams", choices=("on", "off"), default="on",
        help="the JetStream store-and-forward streams (on in the product; off deletes them "
        "after provisioning: core NATS only, to attribute their cost)",
    )  # fmt: skip
    ap.add_argument(
        "--gomaxprocs", type=int, default=0,
        help="GOMAXPROCS for every nats-server (0: Go's default, one per core)",
    )  # fmt: skip
    ap.add_argument(
        "--write-deadline", default="",
        help="the hub server's write_deadline, e.g. 2s (default: nats-server's own)",
    )  # fmt: skip
    ap.add_argument(
        "--slice-us", type=int, default=0,
        help="scheduler time slice requested for every server and benchmark process, us "
        "(Linux >= 6.12 EEVDF custom slice, 100-100,000; 0: the kernel's default): a "
        "shorter slice lets a woken process preempt sooner on a busy machine",
    )  # fmt: skip
    ap.add_argument(
        "--uvloop", action="store_true",
        help="run the benchmark's processes (sender, relay, partner, hub) on uvloop's event "
        "loop instead of asyncio's (needs `pip install uvloop`)",
    )  # fmt: skip
    ap.add_argument(
        "--save-dir", default="",
        help="save each run's per-report latency and segments there (npz) for a closer look",
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.save_dir:
        Path(args.save_dir).mkdir(parents=True, exist_ok=True)
    knobs = Knobs(
        leaf_tls=args.leaf_tls == "on", streams=args.streams == "on",
        gomaxprocs=args.gomaxprocs, write_deadline=args.write_deadline,
        slice_us=args.slice_us, uvloop=args.uvloop,
    )  # fmt: skip
    if knobs.slice_us:
        set_slice(knobs.slice_us)
    batches = [float(b) for b in args.batch_ms.split(",")]
    if args.quick:
        args.duration, args.drain, args.layouts = 2.0, 4.0, "procs"
    args.paths = args.paths or ("link,hub" if args.quick else "raw,link,hub,hub-nowarn,hub-fast")
    rates = [int(r) for r in args.rates.split(",")]
    print(
        f"link latency over real NATS (hub + KOR/JPN/USA leaves, mutual TLS, JetStream "
        f"streams), loopback; {args.duration:g} s per run; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; every process in its own "
        f"session (autogroup), group niceness {args.nice}; {knobs.label()}"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
        coal = asyncio.run(start_coalition(Path(tmp) / "nats", knobs))
        for srv in coal.servers.values():
            if srv.pid is not None:
                own_session(args.nice, srv.pid)
        streams = stream_names(coal)
        print("JetStream streams: " + "; ".join(f"{k}: {', '.join(v) or '-'}" for k, v in streams.items()))  # fmt: skip
        try:
            for path in args.paths.split(","):
                layouts = ["procs"] if path.startswith("hub") else args.layouts.split(",")
                for layout, rate, batch in itertools.product(layouts, rates, batches):
                    run = Run(
                        path, layout, rate, args.duration, args.drain,
                        args.tracks if path.startswith("hub") else args.link_tracks,
                        args.cycle, args.seed, tmp, args.nice, batch, args.sample_ms,
                        args.save_dir, args.uvloop,
                    )  # fmt: skip
                    res = run_once(run, coal)
                    res["knobs"] = knobs.label()
                    s = summarise(run, res)
                    s["servers"] = _named(s["servers"])
                    rows.append(s)
                    print_details(s)
        finally:
            coal.stop()
    print_summary(rows)
    print(
        f"(hub path: {args.tracks} objects, cycle {args.cycle * 1e3:g} ms, partners "
        f"{', '.join(NATIONS)}; link path: one relay, no fusion)"
    )
    for s in rows:
        run = s["run"]
        print(
            f"summary: {run.path}/{run.layout} {run.rate:,}/s offered, tick {run.batch_ms:g} ms "
            f"({knobs.label()}): p50 {_fmt(s['p50'])} ms, "
            f"p99 {_fmt(s['p99'])} ms, {s['delivered_rate']:,.0f}/s delivered, "
            f"{s['lost']:,} of {s['sent']:,} late (load {s['load']:.1f}; goal p99 <= 5 ms "
            f"at 10,000/s)"
        )
    return 0


def _named(cpu: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in cpu.items() if math.isfinite(v)}


if __name__ == "__main__":
    raise SystemExit(main())
