"""The roles of ``bench_link_latency``, each a coroutine on its own bus connection: the
senders (:func:`send_plan` says what they publish), the relay of path (a), the real hub of
path (b), the partner (JPN). Each returns what it timed (ns, one host clock).
"""

from __future__ import annotations

import asyncio
import math
import struct
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from bench_fusion import make_objects
from bench_hub_throughput import build_hub, coalition_keys, heartbeat_body, report_body

from trilink.fusion.align import propagate_state
from trilink.fusion.synthetic import JPN, KOR, arcs, radar_covariance
from trilink.link import DeadLetterLog, Decoder, Receiver, ReplayGuard, Stamper, subjects
from trilink.messages import SourceTrack, SystemTrack, TrackReport
from trilink.nodes.clock import WallClock
from trilink.nodes.hub import HUB_ID
from trilink.nodes.live import run_hub

if TYPE_CHECKING:
    from bench_link_latency import Run

MODELS = {"KOR": KOR, "JPN": JPN}
RAW_HEAD = struct.Struct("<qI")  # raw path: relay time (ns), n; then n scheduled times (ns)
RAW_TIME = struct.Struct("<q")


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
