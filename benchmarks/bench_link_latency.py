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
import struct
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from bench_fusion import make_objects
from bench_hub_throughput import (
    NATIONS,
    build_hub,
    coalition_keys,
    heartbeat_body,
    report_body,
    warm_up,
)

from trilink.fusion.align import propagate_state
from trilink.fusion.synthetic import JPN, KOR, arcs, radar_covariance
from trilink.link import DeadLetterLog, Decoder, Receiver, ReplayGuard, Stamper, subjects
from trilink.messages import SourceTrack, SystemTrack, TrackReport
from trilink.nodes.clock import WallClock
from trilink.nodes.hub import HUB_ID
from trilink.nodes.live import run_hub
from trilink.nodes.up import LocalCoalition, start_local_coalition

MODELS = {"KOR": KOR, "JPN": JPN}
RAW_HEAD = struct.Struct("<qI")  # raw path: relay time (ns), n; then n scheduled times (ns)
RAW_TIME = struct.Struct("<q")


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


# ---- what the senders publish ---------------------------------------------------------


def send_plan(run: Run, nation: str) -> tuple[np.ndarray, list[str], list[Any], np.ndarray]:
    """(offsets from t0 [ns], subjects, unsigned bodies, object of each report or -1).

    Reports round-robin over ``run.tracks`` objects at ``rate / len(sources)`` per second
    (JPN half a period after KOR); truth on ballistic arcs, noise drawn from each nation's
    radar-shaped covariance. On the hub path a heartbeat (watermark) follows every grid time.
    """
    rate = run.rate / len(run.sources)
    m = int(rate * run.duration_s)
    n = min(run.tracks, m)
    shift = 0.5 / rate if nation == "JPN" else 0.0
    t_s = np.arange(m) / rate + shift
    x0 = make_objects(n, np.random.default_rng(run.seed))
    k = math.ceil(m / n)
    truth = arcs(propagate_state(x0, t_s[:n]), np.arange(k) * n / rate).reshape(k * n, 6)[:m]
    P = radar_covariance(truth[:, :3], MODELS[nation])
    rng = np.random.default_rng(run.seed + (1 if nation == "KOR" else 2))
    x = truth + np.einsum("nij,nj->ni", np.linalg.cholesky(P), rng.standard_normal((m, 6)))
    ref = time.time_ns()
    offsets = np.round(t_s * 1e9).astype(np.int64)
    rows = [
        (int(offsets[i]), 0, subjects.tracks(nation), i % n,
         report_body(nation, f"{nation}-{i % n}", ref + int(offsets[i]), x[i], P[i]))
        for i in range(m)
    ]  # fmt: skip
    if run.path.startswith("hub"):
        cyc = round(run.cycle_s * 1e9)
        for j in range(1, math.ceil(run.duration_s / run.cycle_s) + 1):
            rows.append((j * cyc, 1, subjects.status(nation), -1, heartbeat_body(nation, ref)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return (
        np.array([r[0] for r in rows], dtype=np.int64),
        [r[2] for r in rows],
        [r[4] for r in rows],
        np.array([r[3] for r in rows], dtype=np.int64),
    )


# ---- the roles --------------------------------------------------------------------------


def release_offsets(offsets: np.ndarray, batch_ms: float) -> np.ndarray:
    """When each scheduled report leaves (offsets from t0, ns): at once with no tick, else
    at the end of its tick [k B, (k + 1) B) — a report waits up to B for its tick."""
    if batch_ms <= 0:
        return offsets.copy()
    b = round(batch_ms * 1e6)
    return (offsets // b + 1) * b


def raw_sizes(run: Run, nation: str, plan: Any, rel: np.ndarray) -> dict[int, int]:
    """Raw path: bytes of the signed bundle of n reports, for every tick size n in the
    plan (a throwaway stamper), so a raw message is as long as the link path's."""
    bodies = plan[2]
    stamper = Stamper(nation, coalition_keys()[0][nation])
    counts = {1} if run.batch_ms <= 0 else set(np.unique(rel, return_counts=True)[1].tolist())
    out = {}
    for k in sorted(counts):
        msgs = [stamper.stamp(bodies[j % len(bodies)], 0, sign=False) for j in range(k)]
        out[k] = sum(len(p) for p in stamper.bundle(msgs, 0))
    return out


async def sender(bus: Any, run: Run, nation: str, plan: Any, t0: int) -> dict[str, Any]:
    """Publish the plan on schedule. With no tick (``batch_ms`` 0) everything due is sent
    at once, one signed bundle per subject, then the loop yields; with a tick of B ms every
    report scheduled in a tick leaves at its end, one signed bundle per tick and subject
    (as a radar node sends one scan's reports). Raw path: one message per report (no
    tick) or per tick, carrying the scheduled time of each report it stands for."""
    offsets, subs, bodies, obj = plan
    rel = release_offsets(offsets, run.batch_ms)
    stamper = Stamper(nation, coalition_keys()[0][nation])
    stamped = np.zeros(len(bodies), dtype=np.int64)
    published = np.zeros(len(bodies), dtype=np.int64)
    raw, ticked = run.path == "raw", run.batch_ms > 0
    sizes = raw_sizes(run, nation, plan, rel) if raw else {}
    i, n, cpu, messages = 0, len(bodies), 0.0, 0
    # A ticked sender alone in its process may block between ticks (nothing else to run).
    alone = ticked and run.layout == "procs"
    while i < n:
        now = time.time_ns()
        due = t0 + int(rel[i])
        if due > now:
            # asyncio's timer wakes up to 1 ms late (epoll's millisecond timeout, rounded
            # up), which a tick would be charged for: a ticked sender sleeps in the loop to
            # ~1.2 ms before its tick, then the rest in a nanosleep. (No tick: as before.)
            if alone and due - now > 1_500_000:
                await asyncio.sleep((due - now - 1_200_000) / 1e9)
            elif alone:
                time.sleep((due - now) / 1e9)
            else:
                await asyncio.sleep((due - now) / 1e9 if due - now > 500_000 else 0)
            continue
        c0 = time.thread_time()
        groups: dict[Any, list[int]] = {}
        while i < n and t0 + int(rel[i]) <= now:
            key = (subs[i], int(rel[i])) if ticked else (subs[i], i) if raw else (subs[i], 0)
            groups.setdefault(key, []).append(i)
            i += 1
        for (subject, _), idx in groups.items():
            t_ns = time.time_ns()
            stamped[idx] = t_ns
            if raw:  # room for the relay's time, the scheduled times, padding to size
                sched = (t0 + offsets[idx]).astype("<i8").tobytes()
                head = RAW_HEAD.pack(0, len(idx)) + sched
                payloads = [head + bytes(max(0, sizes[len(idx)] - len(head)))]
            else:
                msgs = [
                    stamper.stamp(
                        msgspec.structs.replace(bodies[j], measured_ns=t0 + int(offsets[j])),
                        t_ns,
                        sign=False,
                    )
                    for j in idx
                ]
                payloads = stamper.bundle(msgs, t_ns)
            for payload in payloads:
                await bus.publish(subject, payload)
            published[idx] = time.time_ns()
            messages += len(payloads)
        cpu += time.thread_time() - c0
        await asyncio.sleep(0)
    await bus.flush()
    rep = obj >= 0
    return {
        "sched": t0 + offsets[rep],
        "release": t0 + rel[rep],
        "stamped": stamped[rep],
        "published": published[rep],
        "obj": obj[rep],
        "end": time.time_ns(),
        "nation": nation,
        "messages": messages,
        "cpu_us": {f"{nation} {'' if raw else 'sign + '}publish": cpu / n * 1e6},
    }


def handover_times(sub: Any) -> deque[int]:
    """When the client library hands each delivery to ``sub`` (its callback), in the order
    the iterator yields them: what lies between is the process's own queue."""
    times: deque[int] = deque()
    deliver = getattr(sub, "_deliver", None)
    if deliver is not None:

        def timed(msg: Any) -> None:
            times.append(time.time_ns())
            deliver(msg)

        sub._deliver = timed
    return times


def _receiver() -> Receiver:
    ring = coalition_keys()[1]
    return Receiver(Decoder(ring.sources), ring, ReplayGuard(time.time_ns), DeadLetterLog())


async def relay(bus: Any, run: Run, stop: Any) -> dict[str, Any]:
    """Path (a): verify each KOR report, re-stamp its state as a SystemTrack for JPN; what
    came in one delivery leaves in one bundle (so a sender's tick stays one message).
    Per report: when the relay took its delivery off its queue, had verified it, had
    published its release; per delivery, how many more were waiting in its queue."""
    sub = bus.subscribe(subjects.tracks("KOR"))
    await sub.wait_ready()
    receiver, stamper = _receiver(), Stamper(HUB_ID, coalition_keys()[0][HUB_ID])
    out_subject = subjects.hub_out("JPN", "tracks")
    cpu = {"receive": 0.0, "build + sign": 0.0, "publish": 0.0}
    watcher = asyncio.create_task(_end_when(stop, sub))
    count = 0
    hops: list[tuple[np.ndarray, int, int, int, int]] = []  # scheduled, handed, in, ok, out
    backlog: list[int] = []
    queue = getattr(sub, "_queue", None)  # the bus's subscription queue (for its depth)
    handed = handover_times(sub)
    async for m in sub:
        t_in = time.time_ns()
        t_cb = handed.popleft() if handed else t_in
        backlog.append(queue.qsize() if queue is not None else -1)
        if run.path == "raw":  # transport only: stamp the relay's time, forward the bytes
            c0 = time.thread_time()
            payload = RAW_TIME.pack(time.time_ns()) + m.payload[8:]
            await bus.publish(out_subject, payload)
            cpu["publish"] += time.thread_time() - c0
            k = RAW_HEAD.unpack_from(m.payload)[1]
            sched = np.frombuffer(m.payload, dtype="<i8", count=k, offset=RAW_HEAD.size)
            hops.append((sched, t_cb, t_in, t_in, time.time_ns()))
            count += k
            continue
        c0 = time.thread_time()
        msgs = [r for r in receiver.receive_all(m.payload, m.subject) if isinstance(r, TrackReport)]
        c1 = time.thread_time()
        if not msgs:
            continue
        now = time.time_ns()
        bodies = [
            stamper.stamp(SystemTrack(
                source=HUB_ID, measured_ns=msg.measured_ns, releasability=("JPN",),
                system_track_number=int(msg.track_id.rsplit("-", 1)[1]) + 1,
                state_ecef=msg.state_ecef, covariance_ecef=msg.covariance_ecef, phase=msg.phase,
                status="confirmed", quality=msg.quality, launch=msg.launch, impact=msg.impact,
                apogee_height_m=msg.apogee_height_m, sources=(SourceTrack(nation="KOR"),),
            ), now, sign=False)
            for msg in msgs
        ]  # fmt: skip
        payloads = stamper.bundle(bodies, now)  # what came in one delivery leaves in one
        c2 = time.thread_time()
        for payload in payloads:
            await bus.publish(out_subject, payload)
        c3 = time.thread_time()
        hops.append((np.array([x.measured_ns for x in msgs], dtype=np.int64), t_cb, t_in, now, time.time_ns()))  # fmt: skip
        cpu["receive"] += c1 - c0
        cpu["build + sign"] += c2 - c1
        cpu["publish"] += c3 - c2
        count += len(msgs)
    await watcher
    per = {f"relay {k}": v / max(count, 1) * 1e6 for k, v in cpu.items()}
    sizes = [h[0].size for h in hops]
    return {
        "relayed": count,
        "deliveries": len(hops),
        "rejected": receiver.rejected,
        "cpu": cpu,
        "cpu_us": per,
        "backlog": np.array(backlog, dtype=np.int64),
        "hops": np.column_stack([
            np.concatenate([h[0] for h in hops]) if hops else np.zeros(0, np.int64),
            *(np.repeat([h[j] for h in hops], sizes).astype(np.int64) for j in (1, 2, 3, 4)),
        ]).reshape(-1, 5),
    }  # fmt: skip


async def full_hub(bus: Any, run: Run, stop: Any, t0: int) -> dict[str, Any]:
    """Path (b): the real HubNode under run_hub; each fusion cycle timed."""
    audit = Path(run.workdir) / f"audit-{run.path}-{run.rate}.jsonl"
    fast = run.path == "hub-fast"
    hub = build_hub(
        WallClock(), t0, run.cycle_s, audit, warner=run.path != "hub-nowarn", fast_path=fast
    )
    cycles: list[tuple[int, int, int, int, int]] = []
    inner = hub.cycle

    def timed_cycle(t_ns: int) -> Any:
        w0, c0 = time.time_ns(), time.thread_time_ns()
        out = inner(t_ns)
        cycles.append((t_ns, w0, time.time_ns(), time.thread_time_ns() - c0, len(out)))
        return out

    hub.cycle = timed_cycle
    ingest = [0.0, 0]
    on_message = hub.on_message

    source_index = {n: i for i, n in enumerate(run.sources)}
    arrivals: list[tuple[int, int, int, int]] = []  # source, object, measured_ns, arrival

    def timed_on_message(subject: str, payload: bytes) -> Any:
        w0, c0, n0 = time.time_ns(), time.thread_time(), len(hub._pending)
        try:
            return on_message(subject, payload)
        finally:
            ingest[0] += time.thread_time() - c0
            ingest[1] += 1
            for m in hub._pending[n0:]:  # the reports this delivery admitted
                obj = int(m.track_id.rsplit("-", 1)[1])
                arrivals.append((source_index[m.source], obj, m.measured_ns, w0))

    hub.on_message = timed_on_message
    done = asyncio.Event()
    watcher = asyncio.create_task(_set_when(stop, done))
    stats = await run_hub(hub, bus, stop=done, tick_s=0.1)
    await watcher
    hub.audit.close()
    return {
        "cycles": np.array(cycles, dtype=np.int64).reshape(-1, 5),
        "arrivals": np.array(arrivals, dtype=np.int64).reshape(-1, 4),
        "fast_releases": hub.fast_releases,
        "received": stats.received,
        "published": stats.published,
        "rejected": hub.link.deadletters.total,
        "live": int(hub.last_picture.live().sum()) if hub.last_picture is not None else 0,
        "cpu_us": {
            "hub ingest (on_message)": ingest[0] / max(ingest[1], 1) * 1e6,
            "hub cycle per release": sum(c[3] for c in cycles)
            / 1e3
            / max(1, sum(c[4] for c in cycles)),
        },
    }


async def partner(bus: Any, run: Run, t0: int, expect: int) -> dict[str, Any]:
    """JPN: receive and verify every release; stop when all are in, or idle/deadline."""
    sub = bus.subscribe(subjects.node_inbox_pattern("JPN"))
    await sub.wait_ready()
    receiver = _receiver()
    rows: list[tuple[int, int, int, int, int, float, float, float]] = []
    last = [time.time_ns()]
    end_ns = t0 + int(run.duration_s * 1e9)
    deadline = end_ns + int(run.drain_s * 1e9)

    last_k_ns = t0 + math.ceil(run.duration_s / run.cycle_s) * round(run.cycle_s * 1e9)
    final = [False]  # hub path: the release of the last cycle has arrived

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.05)
            now = time.time_ns()
            quiet = now - last[0] > (500_000_000 if final[0] else 3_000_000_000)
            if now > deadline or (now > end_ns and quiet):
                await sub.unsubscribe()
                return

    watcher = asyncio.create_task(watch())
    cpu = 0.0
    backlog: list[int] = []
    queue = getattr(sub, "_queue", None)
    handed, cbs = handover_times(sub), []
    async for m in sub:
        t_cb = handed.popleft() if handed else time.time_ns()
        if run.path == "raw":
            t_arr = time.time_ns()
            backlog.append(queue.qsize() if queue is not None else -1)
            hub_ns, k = RAW_HEAD.unpack_from(m.payload)
            for sched in np.frombuffer(m.payload, dtype="<i8", count=k, offset=RAW_HEAD.size):
                rows.append((int(sched), hub_ns, t_arr, t_arr, 1, 0.0, 0.0, 0.0))
                cbs.append(t_cb)
            last[0] = t_arr
            if len(rows) >= expect:
                break
            continue
        t_arr, c0 = time.time_ns(), time.thread_time()
        backlog.append(queue.qsize() if queue is not None else -1)
        got = receiver.receive_all(m.payload, m.subject)
        t_ok = time.time_ns()
        cpu += time.thread_time() - c0
        last[0] = t_ok
        for msg in got:
            if isinstance(msg, SystemTrack) and msg.status != "lost":
                x = msg.state_ecef
                rows.append((msg.measured_ns, msg.sent_ns, t_arr, t_ok, msg.system_track_number, x[0], x[1], x[2]))  # fmt: skip
                cbs.append(t_cb)
                final[0] = final[0] or msg.measured_ns >= last_k_ns
        if not run.path.startswith("hub") and len(rows) >= expect:
            break
    watcher.cancel()
    a = np.array(rows, dtype=object).reshape(-1, 8)
    return {
        "ints": np.array(a[:, :5], dtype=np.int64),
        "pos": np.array(a[:, 5:], dtype=float),
        "handed": np.array(cbs, dtype=np.int64),
        "rejected": receiver.rejected,
        "backlog": np.array(backlog, dtype=np.int64),
        "cpu_us": {"JPN receive + verify": cpu / max(receiver.accepted, 1) * 1e6},
    }


async def _end_when(stop: Any, sub: Any) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.05)
    await sub.unsubscribe()


async def _set_when(stop: Any, event: asyncio.Event) -> None:
    while not stop.is_set():
        await asyncio.sleep(0.05)
    event.set()


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


def own_session(nice: int, pid: int | None = None) -> None:
    """Put this process in its own session, hence its own scheduler autogroup, as a
    separate service would be (each nats-server already is); ``nice`` then sets that
    group's weight. With autogroups (kernel.sched_autogroup_enabled) the CPU is shared
    equally between sessions, and a per-process nice value only counts inside one."""
    if pid is None:
        with contextlib.suppress(OSError):
            os.setsid()
    if nice:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid or 'self'}/autogroup").write_text(str(nice))


def machine_cpu() -> tuple[float, float]:
    """(idle, stolen) CPU seconds of the whole machine so far (/proc/stat). Idle, not
    busy: a tickless kernel measures idle time exactly, while user and system time are
    sampled at each tick and miss processes that wake and sleep between ticks."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    return (f[3] + f[4]) / tick, f[7] / tick


def run_delay(pids: dict[int, str]) -> dict[str, float]:
    """Seconds each process's threads have spent runnable but waiting for a CPU so far
    (``/proc/<pid>/task/*/schedstat``, second field): the scheduler's queueing."""
    out = {}
    for pid, name in pids.items():
        total = 0
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    total += int((task / "schedstat").read_text().split()[1])
        out[name] = total / 1e9
    return out


def set_slice(slice_us: int) -> None:
    """Ask the scheduler for a ``slice_us`` time slice for this thread (EEVDF custom
    slice, Linux >= 6.12: ``sched_attr.sched_runtime`` of a SCHED_OTHER task). A shorter
    slice means an earlier virtual deadline, so a task that wakes up preempts the running
    one sooner instead of waiting out its slice (1.4 ms here by default). Inherited by
    the threads and processes started afterwards: every server and benchmark process."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    # struct sched_attr: size, policy (SCHED_OTHER), flags, nice, priority, runtime, ...
    attr = struct.pack("<IIqiIQQQII", 56, 0, 0, nice, 0, slice_us * 1000, 0, 0, 0, 1024)
    if libc.syscall(314, 0, ctypes.create_string_buffer(attr), 0) != 0:  # sched_setattr
        err = ctypes.get_errno()
        raise OSError(err, f"sched_setattr: {os.strerror(err)}")


def server_cpu(coal: LocalCoalition) -> dict[str, float]:
    """CPU seconds (user + system) each nats-server has used so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, srv in coal.servers.items():
        try:
            fields = Path(f"/proc/{srv.pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[name] = float("nan")
    return out


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


# ---- transport knobs (benchmark options; the product's defaults are the baseline) ----


@dataclass(frozen=True)
class Knobs:
    leaf_tls: bool = True  # TLS on the leaf -> hub links (on in the product)
    streams: bool = True  # the JetStream store-and-forward streams (on in the product)
    gomaxprocs: int = 0  # GOMAXPROCS of every nats-server (0: Go's default, one per core)
    write_deadline: str = ""  # the hub server's write_deadline ("": nats-server's default)
    slice_us: int = 0  # scheduler slice of every process (0: the kernel's default)
    uvloop: bool = False  # benchmark processes on uvloop (pip install uvloop)

    def label(self) -> str:
        parts = [
            *(["leaf TLS off"] if not self.leaf_tls else []),
            *(["no JetStream streams"] if not self.streams else []),
            *([f"GOMAXPROCS={self.gomaxprocs}"] if self.gomaxprocs else []),
            *([f"hub write_deadline {self.write_deadline}"] if self.write_deadline else []),
            *([f"scheduler slice {self.slice_us} us"] if self.slice_us else []),
            *(["uvloop"] if self.uvloop else []),
        ]
        return ", ".join(parts) or "product defaults"


async def start_coalition(root: Path, knobs: Knobs) -> LocalCoalition:
    """The deployed topology (``start_local_coalition``), then the knobs that differ from
    the product: configs rewritten and the servers restarted (their JetStream state
    persists), or the streams deleted (core NATS only on every hop)."""
    from trilink.link.natsproc import topology_servers
    from trilink.link.topology import hub_config, leaf_config, render_conf

    if knobs.gomaxprocs:  # nats-server processes inherit the environment
        os.environ["GOMAXPROCS"] = str(knobs.gomaxprocs)
    coal = await start_local_coalition(root, NATIONS, "USA")
    if not knobs.leaf_tls or knobs.write_deadline:
        coal.stop()
        topo = coal.topo
        hub = hub_config(topo)
        if knobs.write_deadline:
            hub["write_deadline"] = knobs.write_deadline
        leaves = {n: leaf_config(topo, n) for n in NATIONS}
        if not knobs.leaf_tls:  # leaf logins by password instead of certificate
            hub["leafnodes"] = {
                "listen": hub["leafnodes"]["listen"],
                "authorization": {
                    "users": [
                        {"user": f"leaf-{n.lower()}", "password": "bench", "account": n}
                        for n in NATIONS
                    ]
                },
            }
            for n, conf in leaves.items():
                url = f"nats-leaf://leaf-{n.lower()}:bench@127.0.0.1:{topo.hub_leaf_port}"
                conf["leafnodes"] = {"remotes": [{"urls": [url], "account": n}]}
        (root / "hub" / "hub.conf").write_text(render_conf(hub))
        for n, conf in leaves.items():
            (root / n.lower() / f"{n.lower()}.conf").write_text(render_conf(conf))
        coal = LocalCoalition(topo, coal.pki, topology_servers(topo))
        for server in coal.servers.values():
            server.start()
        _wait_leaves(topo.hub_http_port, len(NATIONS))
    if not knobs.streams:  # sourcing streams first, then their origins
        from trilink.link.topology import (
            hub_from_stream,
            hub_to_stream,
            inbox_stream,
            outbox_stream,
        )

        hub_bus = await coal.bus_for(HUB_ID)
        node_bus = {n: await coal.bus_for(n) for n in NATIONS}
        try:
            for n in NATIONS:
                await hub_bus.client.jetstream().delete_stream(hub_from_stream(n))
                client = node_bus[n].client
                await client.jetstream().delete_stream(inbox_stream(n))
                await client.jetstream(domain="hub").delete_stream(hub_to_stream(n))
                await client.jetstream().delete_stream(outbox_stream(n))
        finally:
            for bus in [hub_bus, *node_bus.values()]:
                await bus.close()
    return coal


def _wait_leaves(http_port: int, n: int, timeout_s: float = 20.0) -> None:
    import json
    import urllib.request

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/leafz", timeout=2) as r:
                if int(json.loads(r.read())["leafnodes"]) >= n:
                    return
        time.sleep(0.05)
    raise RuntimeError(f"leaf nodes did not link to the hub in {timeout_s} s")


def stream_names(coal: LocalCoalition) -> dict[str, list[str]]:
    """The JetStream streams each server holds (from its monitoring port), for the header."""
    import json
    import urllib.request

    out = {}
    for name, srv in coal.servers.items():
        try:
            url = f"http://127.0.0.1:{srv.http_port}/jsz?streams=true&accounts=true"
            with urllib.request.urlopen(url, timeout=2) as r:
                d = json.loads(r.read())
            out[name] = sorted(
                st["name"]
                for acc in d.get("account_details") or []
                for st in acc.get("stream_detail") or []
            )
        except (OSError, ValueError, KeyError):
            out[name] = []
    return out


class SocketSampler:
    """Bytes waiting in each loopback TCP socket's receive queue (``/proc/net/tcp``),
    sampled every ``period_s`` in a thread: data the kernel holds because the process
    owning the socket has not read it yet — that process is behind, whatever its CPU
    says. Sockets are named after their owner and peer (psutil, once, after connect)."""

    def __init__(self, pids: dict[int, str], period_s: float):
        import threading

        import psutil

        self.period_s = period_s
        owner: dict[tuple[int, int], str] = {}
        for pid, name in pids.items():
            with contextlib.suppress(psutil.Error):
                for c in psutil.Process(pid).net_connections(kind="tcp4"):
                    if c.raddr:
                        owner[(c.laddr.port, c.raddr.port)] = name
        self.labels = {
            key: f"{who} <- {owner.get((key[1], key[0]), '?')}" for key, who in owner.items()
        }
        self.samples: dict[str, list[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            with contextlib.suppress(OSError):
                lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
            acc: dict[str, int] = {}
            for line in lines:
                f = line.split()
                key = (int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16))
                label = self.labels.get(key)
                if label is not None:
                    acc[label] = acc.get(label, 0) + int(f[4].split(":")[1], 16)
            for label, rx in acc.items():
                self.samples.setdefault(label, []).append(rx)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, tuple[float, float, float]]:
        """{owner <- peer: (p50, p99, max) bytes waiting}, busiest first."""
        self._stop.set()
        self._thread.join()
        out = {
            k: (float(np.median(v)), float(np.quantile(v, 0.99)), float(max(v)))
            for k, v in self.samples.items()
            if max(v) > 0
        }
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))


# ---- analysis ---------------------------------------------------------------------------

MS = 1e6  # ns per ms


def _q(v: np.ndarray, q: float) -> float:
    """A quantile that is an observed value (infinite for undelivered reports)."""
    return float(np.quantile(v, q, method="inverted_cdf")) if v.size else float("nan")


def _match(keys: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index into sorted unique ``keys`` of each wanted value, whether it is there)."""
    idx = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
    ok = (keys.size > 0) & (keys[idx] == wanted) if keys.size else np.zeros(wanted.size, bool)
    return idx, ok


def link_latency(res: dict[str, Any], run: Run) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Path (a): latency per scheduled report [ns] (inf if lost) and its segments, hop by
    hop (the sender's, the relay's and the partner's clocks are the one host clock)."""
    s, r = res["send:KOR"], res["recv"]["ints"]
    lat = np.full(s["sched"].size, np.inf)
    idx, ok = _match(s["sched"], r[:, 0])
    idx, r, cb = idx[ok], r[ok], res["recv"]["handed"][ok]
    lat[idx] = r[:, 3] - r[:, 0]
    hops = res["relay"]["hops"]
    order = np.argsort(hops[:, 0], kind="stable")
    hops = hops[order]
    j, ok = _match(hops[:, 0], r[:, 0])
    h = np.where(ok[:, None], hops[j], -1)  # a report the relay did not time: no hop split
    has = ok
    seg = {}
    if run.batch_ms > 0:
        seg["tick wait (schedule -> tick end)"] = s["release"][idx] - r[:, 0]
    seg["sender late (-> bundle built)"] = s["stamped"][idx] - s["release"][idx]
    seg["sender sign + publish (-> client)"] = s["published"][idx] - s["stamped"][idx]
    seg["KOR client -> KOR leaf -> hub -> relay client"] = (h[:, 1] - s["published"][idx])[has]
    seg["relay's queue (busy with earlier ones)"] = (h[:, 2] - h[:, 1])[has]
    if run.path != "raw":
        seg["relay verify"] = (h[:, 3] - h[:, 2])[has]
    seg["relay build + sign + publish"] = (h[:, 4] - h[:, 3])[has]
    seg["relay client -> hub -> JPN leaf -> JPN client"] = (cb - h[:, 4])[has]
    seg["JPN's queue (busy with earlier ones)"] = r[:, 2] - cb
    if run.path != "raw":
        seg["JPN verify"] = r[:, 3] - r[:, 2]
    return lat, seg


def hub_latency(res: dict[str, Any], run: Run) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Path (b): latency of every report to JPN's receipt of the first release of its
    object that includes it, and the segments (grid wait, cycle start, cycle, delivery)."""
    t0, cyc = res["t0"], round(run.cycle_s * 1e9)
    sends = [res[f"send:{n}"] for n in run.sources]
    sched = np.concatenate([s["sched"] for s in sends])
    obj = np.concatenate([s["obj"] for s in sends])
    r = res["recv"]["ints"]
    n_obj = int(obj.max()) + 1
    obj_of = _objects_of(res, run, n_obj)
    k_max = math.ceil(run.duration_s / run.cycle_s) + 2
    best = np.full((n_obj, k_max + 1), np.inf)
    rk = (r[:, 0] - t0) // cyc
    mapped = np.array([obj_of.get(int(v), -1) for v in r[:, 4]], dtype=np.int64)
    use = (mapped >= 0) & (rk >= 0) & (rk <= k_max)
    np.minimum.at(best, (mapped[use], rk[use]), r[use, 3].astype(float))
    k = np.maximum(1, -((t0 - sched) // cyc))  # first grid time at or after the report
    got = best[obj, k]
    lat = got - sched
    cycles = res["hub"]["cycles"]
    by_k = {int((c[0] - t0) // cyc): c for c in cycles}
    ok = np.isfinite(lat)
    ck = np.array([by_k.get(int(v), np.full(5, -1)) for v in k[ok]]).reshape(-1, 5)
    seg = {
        "wait for the grid time t_k": (t0 + k[ok] * cyc - sched[ok]).astype(float),
        "t_k -> cycle starts (watermarks)": (ck[:, 1] - (t0 + k[ok] * cyc)).astype(float),
        "fusion cycle (fuse, predict, sign all)": (ck[:, 2] - ck[:, 1]).astype(float),
        "publish -> JPN verified": got[ok] - ck[:, 2],
    }
    return lat, seg


def _objects_of(res: dict[str, Any], run: Run, n_obj: int) -> dict[int, int]:
    """Which object each system number is: the nearest truth at its first receipt."""
    t0 = res["t0"]
    r, pos = res["recv"]["ints"], res["recv"]["pos"]
    x0 = make_objects(n_obj, np.random.default_rng(run.seed))
    obj_of: dict[int, int] = {}
    order = np.argsort(r[:, 3], kind="stable")
    numbers, first = np.unique(r[order, 4], return_index=True)
    for number, i in zip(numbers, order[first], strict=True):
        truth = propagate_state(x0, np.full(n_obj, (r[i, 0] - t0) / 1e9))
        d = np.linalg.norm(truth[:, :3] - pos[i], axis=1)
        if d.min() < 20e3:
            obj_of[int(number)] = int(d.argmin())
    return obj_of


def fast_latency(res: dict[str, Any], run: Run) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Path ``hub-fast``: latency of every report to JPN's receipt of the first release of
    its object that the hub made after the report arrived (a fast release, or a cycle's)
    and that is valid at or after the report's time; segments: to the hub, hub to JPN."""
    sends = [res[f"send:{n}"] for n in run.sources]
    sched = np.concatenate([s["sched"] for s in sends])
    obj = np.concatenate([s["obj"] for s in sends])
    src = np.concatenate([np.full(s["sched"].size, i) for i, s in enumerate(sends)])
    arrived = {(int(a), int(b), int(c)): int(d) for a, b, c, d in res["hub"]["arrivals"]}
    at_hub = np.array(
        [
            arrived.get((int(a), int(b), int(c)), -1)
            for a, b, c in zip(src, obj, sched, strict=True)
        ],
        dtype=np.int64,
    )
    r = res["recv"]["ints"]  # measured, sent (hub stamp), arrival, verified, number
    obj_of = _objects_of(res, run, int(obj.max()) + 1)
    mapped = np.array([obj_of.get(int(v), -1) for v in r[:, 4]], dtype=np.int64)
    per_obj = {}
    for o in np.unique(mapped[mapped >= 0]):
        rows = r[mapped == o]
        rows = rows[np.argsort(rows[:, 1], kind="stable")]  # in the hub's sending order
        per_obj[int(o)] = rows
    got = np.full(sched.size, np.inf)
    for i in range(sched.size):
        rows = per_obj.get(int(obj[i]))
        if rows is None or at_hub[i] < 0:
            continue
        j = int(np.searchsorted(rows[:, 1], at_hub[i], side="left"))
        while j < len(rows) and rows[j, 0] < sched[i]:
            j += 1
        if j < len(rows):
            got[i] = rows[j, 3]
    lat = got - sched
    ok = np.isfinite(lat)
    seg = {
        "national -> hub (verified on arrival)": (at_hub[ok] - sched[ok]).astype(float),
        "hub fuses, releases -> JPN verified": got[ok] - at_hub[ok],
    }
    return lat, seg


def summarise(run: Run, res: dict[str, Any]) -> dict[str, Any]:
    hub = run.path.startswith("hub")
    if run.path == "hub-fast":
        lat, seg = fast_latency(res, run)
    elif hub:
        lat, seg = hub_latency(res, run)
    else:
        lat, seg = link_latency(res, run)
    t0 = res["t0"]
    sends = [res[f"send:{n}"] for n in run.sources]
    sent = sum(s["sched"].size for s in sends)
    last_sent = max(int(s["stamped"].max()) for s in sends)
    if run.save_dir:  # per report, for a closer look (time series, joint tails)
        name = f"{run.path}-{run.layout}-{run.rate}-tick{run.batch_ms:g}.npz"
        sched = np.concatenate([s["sched"] for s in sends])
        arrays: dict[str, Any] = {k: np.asarray(v) for k, v in seg.items()}
        np.savez(Path(run.save_dir) / name, lat=lat, sched=sched, t0=t0, **arrays)
    ok = np.isfinite(lat)
    t_ok = res["recv"]["ints"][:, 3]
    span = max(run.duration_s, (int(t_ok.max()) - t0) / 1e9) if t_ok.size else run.duration_s
    backlog = {
        role: (_q(res[role]["backlog"], 0.5), _q(res[role]["backlog"], 0.99),
               float(res[role]["backlog"].max()))
        for role in ("relay", "recv")
        if role in res and res[role].get("backlog") is not None and res[role]["backlog"].size
    }  # fmt: skip
    return {
        "run": run,
        "messages_rate": sum(s["messages"] for s in sends) / run.duration_s,
        "backlog": backlog,
        "sockets": res.get("sockets", {}),
        "knobs": res.get("knobs", ""),
        "sent_rate": sent / max(run.duration_s, (last_sent - t0) / 1e9),
        "delivered_rate": int(ok.sum()) / span,
        "p50": _q(lat, 0.5) / MS,
        "p99": _q(lat, 0.99) / MS,
        "max": float(lat.max()) / MS if lat.size else float("nan"),
        "sent": sent,
        "lost": int((~ok).sum()),
        "seg": {k: (_q(v, 0.5) / MS, _q(v, 0.99) / MS) for k, v in seg.items()},
        "cpu": {k: v / res["wall_s"] for k, v in res["cpu"].items()},
        "cpu_us": {
            k: v
            for r in res.values()
            if isinstance(r, dict)
            for k, v in r.get("cpu_us", {}).items()
            if v > 0
        },
        "process_us": {k: v / sent * 1e6 for k, v in res["cpu"].items()},
        "servers": res["servers"],
        "machine": res["machine"],
        "run_delay": res["run_delay"],
        "servers_us": {k: v * res["wall_s"] / sent * 1e6 for k, v in res["servers"].items()},
        "relay_cpu": res.get("relay", {}).get("cpu"),
        "relayed": res.get("relay", {}).get("relayed"),
        "hub": res.get("hub"),
        "load": res["load"],
        "rejected": sum(v.get("rejected", 0) for v in res.values() if isinstance(v, dict)),
        "bus_errors": [
            e for v in res.values() if isinstance(v, dict) for e in v.get("bus_errors", [])
        ],
    }


def print_summary(rows: list[dict[str, Any]]) -> None:
    print(
        f"\n{'path':<11}{'layout':<7}{'offered/s':>10}{'tick ms':>8}{'msgs/s':>8}"
        f"{'sent/s':>9}{'delivered/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'late':>7}"
        f"{'load':>6}"
    )
    for s in rows:
        run = s["run"]
        print(
            f"{run.path:<11}{run.layout:<7}{run.rate:>10,}{run.batch_ms:>8g}"
            f"{s['messages_rate']:>8,.0f}{s['sent_rate']:>9,.0f}"
            f"{s['delivered_rate']:>12,.0f}{_fmt(s['p50']):>9}{_fmt(s['p99']):>9}"
            f"{_fmt(s['max']):>9}{s['lost']:>7,}{s['load']:>6.1f}"
        )


def print_details(s: dict[str, Any]) -> None:
    run = s["run"]
    print(
        f"\n{run.path} / {run.layout} / {run.rate:,} reports/s / tick {run.batch_ms:g} ms "
        f"(load average {s['load']:.1f}; {s['knobs']}): "
        f"{s['sent']:,} sent in {s['messages_rate'] * run.duration_s:,.0f} messages, "
        f"{s['lost']:,} not delivered by the cut-off, {s['rejected']} rejected, "
        f"client errors: {', '.join(s['bus_errors']) or 'none'}"
    )
    print(f"  {'segment (delivered reports)':<42}{'p50 ms':>9}{'p99 ms':>9}")
    for name, (p50, p99) in s["seg"].items():
        print(f"  {name:<42}{_fmt(p50):>9}{_fmt(p99):>9}")
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in s["cpu"].items())
    srv = ", ".join(f"{k} {v:.2f}" for k, v in s["servers"].items())
    print(f"  CPU cores used (mean over the run), processes: {cpu}; nats-servers: {srv}")
    ours = sum(s["cpu"].values()) + sum(v for v in s["servers"].values() if math.isfinite(v))
    busy, stolen = s["machine"]
    print(
        f"  whole machine: {busy:.2f} of {os.cpu_count()} cores busy, {ours:.2f} of them this "
        f"benchmark's, {max(0.0, busy - ours):.2f} everything else; {stolen:.2f} stolen"
    )
    waits = ", ".join(f"{k} {v * 1e3:.0f}" for k, v in s["run_delay"].items() if v > 0.0005)
    print(f"  runnable but waiting for a CPU (run queue), ms per s: {waits}")
    srv = ", ".join(
        f"{k} {v:.0f}" for k, v in s["servers_us"].items() if math.isfinite(v) and v > 0
    )
    print(f"  nats-server CPU per report sent (us): {srv}")
    per = ", ".join(f"{k} {v:.0f}" for k, v in s["cpu_us"].items())
    print(f"  CPU per message, timed in the loop (us): {per}")
    per = ", ".join(f"{k} {v:.0f}" for k, v in s["process_us"].items())
    print(f"  process CPU per report sent, client library included (us): {per}")
    for role, (p50, p99, mx) in s["backlog"].items():
        print(f"  {role}: deliveries waiting in its queue when it takes one: p50 {p50:.0f}, "
              f"p99 {p99:.0f}, max {mx:.0f}")  # fmt: skip
    if s["sockets"]:
        print("  unread bytes in socket receive queues (reader <- writer): p50 / p99 / max KB")
        for label, (p50, p99, mx) in list(s["sockets"].items())[:8]:
            print(f"    {label:<40}{p50 / 1e3:>8.1f}{p99 / 1e3:>8.1f}{mx / 1e3:>8.1f}")
    if s["relay_cpu"] and s["relayed"]:
        total = sum(s["relay_cpu"].values()) / s["relayed"]
        print(f"  one core relays at most {1 / total:,.0f} reports/s (relay CPU alone)")
    if s["hub"] is not None and len(s["hub"]["cycles"]):
        c = s["hub"]["cycles"]
        print(
            f"  hub: {len(c)} cycles, {np.median(c[:, 3]) / MS:.1f} CPU-ms p50 "
            f"({np.quantile(c[:, 3], 0.99) / MS:.1f} p99) and {np.median(c[:, 4]):.0f} "
            f"releases per cycle; {s['hub']['live']} live system tracks at the end; "
            f"{s['hub']['fast_releases']:,} fast releases"
        )


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "late"
    return f"{v:.2f}" if v < 100 else f"{v:,.0f}"


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
