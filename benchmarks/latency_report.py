"""Analysis and printing for ``bench_link_latency``: each report's latency (ns, inf if
not delivered by the cut-off) and its segments hop by hop, per path, from what the roles
timed; the summary row of a run, its details and the final table.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from bench_fusion import make_objects

from trilink.fusion.align import propagate_state

if TYPE_CHECKING:
    from bench_link_latency import Run

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
