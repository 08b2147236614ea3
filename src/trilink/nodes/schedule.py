"""The order in which a national node meets the world: sensor scans and report ticks.

Both runtimes (simulated and live) drive a node with the same schedule, so that a run
over NATS and a run on the simulated link give the node exactly the same inputs in the
same order. At equal times scans come before ticks: a tick's watermark then covers every
detection measured up to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from trilink.sensors.detection import Detections

NS = 1_000_000_000
SCAN, TICK = 0, 2


@dataclass(frozen=True)
class Step:
    t_ns: int
    kind: int  # SCAN or TICK
    scan: Detections | None = None


def split_scans(det: Detections) -> list[Detections]:
    """One batch per scan (same sensor, same time), in time order."""
    t = np.asarray(det.t_ns)
    if t.size == 0:
        return []
    order = np.argsort(t, kind="stable")
    ts = t[order]
    cut = np.flatnonzero(np.diff(ts)) + 1
    return [
        det.take(order[lo:hi]) for lo, hi in zip(np.r_[0, cut], np.r_[cut, ts.size], strict=True)
    ]


def node_schedule(
    nation: str, detections: Iterable[Detections], t_start_ns: int, t_end_ns: int, tick_s: float
) -> Iterator[Step]:
    """Every scan of ``nation``'s sensors and every tick, in the order the node meets them."""
    steps: list[tuple[int, int, int, Step]] = []
    for i, det in enumerate(d for d in detections if d.nation == nation):
        for scan in split_scans(det):
            steps.append((int(scan.t_ns[0]), SCAN, i, Step(int(scan.t_ns[0]), SCAN, scan)))
    tick_ns = round(tick_s * NS)
    for t in range(t_start_ns + tick_ns, t_end_ns + tick_ns, tick_ns):
        steps.append((t, TICK, 0, Step(t, TICK)))
    steps.sort(key=lambda s: s[:3])
    for *_, step in steps:
        yield step
