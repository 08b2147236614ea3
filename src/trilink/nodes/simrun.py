"""The coalition in one process on a simulated clock, as fast as the CPU allows.

A discrete-event loop: sensor scans, node ticks and message deliveries are events on a
heap ordered by simulated time. Publishing puts the bytes on the link: every subscriber
whose pattern matches gets them after the link's latency (the partner <-> hub legs of the
scenario's links; the U.S. node sits beside the hub), plus, if asked, a random extra
delay per message on the partner legs (``RunConfig.latency_jitter_s``). Nothing is shortcut: every message
is stamped, signed, encoded, decoded, verified and replay-checked exactly as on NATS.

Event order at equal times: scans, then deliveries, then ticks — so a tick's watermark
covers every detection measured up to it.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import math
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trilink.fusion import FusionConfig
from trilink.link.recordlog import LogWriter
from trilink.link.subjects import matches, node_inbox_pattern
from trilink.nodes.base import Outbound
from trilink.nodes.clock import SimClock
from trilink.nodes.coalition import Identity, make_hub, make_national, write_keyring
from trilink.nodes.hub import HUB_ID, HubNode, Warner
from trilink.nodes.national import NationalNode
from trilink.nodes.replay import write_run_meta
from trilink.nodes.schedule import SCAN, node_schedule
from trilink.scenario.model import Scenario
from trilink.scenario.simulate import SimulationResult
from trilink.sensors.detection import Detections

NS = 1_000_000_000
_SCAN, _DELIVER, _TICK = 0, 1, 2


@dataclass(frozen=True)
class RunConfig:
    """How to run: linked or each nation alone, cadences, link latency, recording."""

    link: bool = True
    cycle_s: float = 0.5  # hub fusion cycle
    tick_s: float = 0.5  # national report / watermark cadence
    latency_s: float = 0.12  # one way, partner <-> hub (trans-Pacific fibre plus processing)
    local_latency_s: float = 0.002  # the hub nation's own node <-> the hub
    # Mean extra delay per message on each partner <-> hub leg (queueing, retransmission):
    # exponential, drawn from the run's seed; a leg still delivers in order, as one NATS
    # connection does. 0: every message takes exactly latency_s.
    latency_jitter_s: float = 0.0
    record_dir: Path | None = None
    keep_pictures: bool = False  # keep the hub's picture of every cycle (evaluation)
    fusion: FusionConfig | None = None  # the hub's fusion settings (default: FusionConfig())
    fast_path: bool = False  # the hub also releases known tracks as reports arrive

    def __post_init__(self) -> None:
        for name in ("cycle_s", "tick_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"RunConfig.{name} must be finite and > 0, got {value!r}")
        for name in ("latency_s", "local_latency_s", "latency_jitter_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"RunConfig.{name} must be finite and >= 0, got {value!r}")


@dataclass
class RunResult:
    scenario: Scenario
    simulation: SimulationResult
    config: RunConfig
    nodes: dict[str, NationalNode]
    hub: HubNode | None
    messages: int = 0
    bytes: int = 0
    deliveries: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class SimulatedLink:
    """Subject-routed delivery on simulated time with per-leg latency; records every
    publish when asked to."""

    def __init__(self, schedule: Callable[[int, int, Callable[[], None]], None], clock: SimClock):
        self._schedule = schedule
        self.clock = clock
        self.subscribers: list[tuple[str, str, Callable[[str, bytes], None]]] = []
        self.latency_ns: dict[tuple[str, str], int] = {}
        # Legs with a random extra delay: its mean [ns], and the random stream it is drawn
        # from; the last delivery time on each such leg keeps the leg in order.
        self.jitter_ns: dict[tuple[str, str], float] = {}
        self.rng = np.random.default_rng(0)
        self._last_ns: dict[tuple[str, str], int] = {}
        self.recorder: LogWriter | None = None
        self.messages = 0
        self.bytes = 0
        self.deliveries = 0

    def subscribe(self, node: str, pattern: str, handler: Callable[[str, bytes], None]) -> None:
        self.subscribers.append((node, pattern, handler))

    def publish(self, sender: str, ob: Outbound) -> None:
        now = self.clock.now_ns()
        self.messages += 1
        self.bytes += len(ob.payload)
        if self.recorder is not None:
            self.recorder.append(now, ob.subject, ob.payload, ob.headers)
        for node, pattern, handler in self.subscribers:
            if node != sender and matches(pattern, ob.subject):
                leg = (sender, node)
                at = now + self.latency_ns.get(leg, 0)
                mean = self.jitter_ns.get(leg)
                if mean:
                    at = max(at + int(self.rng.exponential(mean)), self._last_ns.get(leg, at))
                    self._last_ns[leg] = at
                self.deliveries += 1
                self._schedule(at, _DELIVER, _bind(handler, ob.subject, ob.payload))


def _bind(
    handler: Callable[[str, bytes], None], subject: str, payload: bytes
) -> Callable[[], None]:
    return lambda: handler(subject, payload)


def run_simulation(
    scenario: Scenario,
    sim: SimulationResult,
    config: RunConfig | None = None,
    *,
    warner_factory: Callable[[Scenario], Warner] | None = None,
    progress: Callable[[float], None] | None = None,
    on_node: Callable[[NationalNode], object] | None = None,
) -> RunResult:
    """Run every node over the simulated detections; returns the nodes for the summary.

    ``warner_factory`` makes the warning rules: linked, the hub's warner; without the
    link, one warner per national node over its own tracks (``NationalNode.own_warner``;
    its warnings are logged as the node's ``warning`` events and kept in
    ``own_warnings``, not sent).

    ``on_node`` is called with each national node once it is built, before the run
    starts (the Monte Carlo evaluation instruments the nodes there)."""
    cfg = config or RunConfig()
    clock = SimClock(sim.t_start_ns)
    heap: list[tuple[int, int, int, Callable[[], None]]] = []
    counter = itertools.count()

    def schedule(t_ns: int, prio: int, fn: Callable[[], None]) -> None:
        heapq.heappush(heap, (int(t_ns), prio, next(counter), fn))

    nations = [n.id for n in scenario.nations]
    hub_nation = scenario.hub.id
    identity = Identity.simulated(scenario, sim.seed)
    link = SimulatedLink(schedule, clock)
    # The link's own random stream: the same seed gives the same delays, and the
    # detections' draws are not disturbed by how many messages were sent.
    link.rng = np.random.default_rng([sim.seed, zlib.crc32(b"simulated link")])
    recorder = None
    if cfg.record_dir is not None:
        cfg.record_dir.mkdir(parents=True, exist_ok=True)
        recorder = LogWriter(cfg.record_dir / "messages.tlog")
        link.recorder = recorder
        write_keyring(cfg.record_dir, identity)
        write_run_meta(cfg.record_dir, scenario, sim.t_start_ns, cfg.cycle_s, sim.seed)

    nodes = {n: make_national(scenario, n, identity, clock) for n in nations}
    if not cfg.link and warner_factory is not None:
        # Alone, each nation warns from its own picture: the same rules, its own tracks,
        # one warner each (nothing shared between nations that share nothing).
        for node in nodes.values():
            node.own_warner = warner_factory(scenario)
    if on_node is not None:
        for node in nodes.values():
            on_node(node)
    hub = None
    if cfg.link:
        hub = make_hub(
            scenario, identity, clock, sim.t_start_ns, cycle_s=cfg.cycle_s,
            audit_path=cfg.record_dir / "audit.jsonl" if cfg.record_dir else None,
            warner_factory=warner_factory, fusion_config=cfg.fusion, fast_path=cfg.fast_path,
        )  # fmt: skip
        hub.keep_pictures = cfg.keep_pictures
        for n in nations:
            lat = cfg.local_latency_s if n == hub_nation else cfg.latency_s
            link.latency_ns[(n, HUB_ID)] = link.latency_ns[(HUB_ID, n)] = int(lat * NS)
            if n != hub_nation and cfg.latency_jitter_s > 0:
                link.jitter_ns[(n, HUB_ID)] = link.jitter_ns[(HUB_ID, n)] = (
                    cfg.latency_jitter_s * NS
                )
            node = nodes[n]
            link.subscribe(n, node_inbox_pattern(n), _node_handler(node, link))
        link.subscribe(HUB_ID, "trilink.*.tracks", _hub_handler(hub, link))
        link.subscribe(HUB_ID, "trilink.*.status", _hub_handler(hub, link))

    for n in nations:
        for step in node_schedule(n, sim.detections, sim.t_start_ns, sim.t_end_ns, cfg.tick_s):
            if step.kind == SCAN:
                assert step.scan is not None
                schedule(step.t_ns, _SCAN, _bind_scan(nodes[n], step.scan))
            else:
                schedule(step.t_ns, _TICK, _bind_tick(nodes[n], link, step.t_ns, publish=cfg.link))

    span = max(1, sim.t_end_ns - sim.t_start_ns)
    last_report = 0.0
    with _collector_at_ease():
        while heap:
            t, _, _, fn = heapq.heappop(heap)
            clock.advance_to(t)
            fn()
            if progress is not None:
                frac = (t - sim.t_start_ns) / span
                if frac - last_report >= 0.01:
                    progress(min(1.0, frac))
                    last_report = frac
    if recorder is not None:
        recorder.close()
    if hub is not None:
        hub.audit.close()
    return RunResult(scenario, sim, cfg, nodes, hub, link.messages, link.bytes, link.deliveries)


@contextmanager
def _collector_at_ease() -> Iterator[None]:
    """The cyclic garbage collector out of the run's way, restored afterwards.

    A run allocates millions of short-lived objects (messages, small arrays) that
    reference counting frees; the collector's default pace (a young collection every 700
    allocations, the older generations rescanning the scenario, the detections and the
    compiled kernels each time) cost ~0.15 CPU-s of a 4 s Monte Carlo trial. Objects that
    exist before the run are frozen (never rescanned) and young collections run every
    20,000 allocations: ~0.02 s (measured on the SRBM-salvo trial; cycles are still
    collected, later)."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold[0], 20_000), threshold[1], threshold[2])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _bind_scan(node: NationalNode, scan: Detections) -> Callable[[], None]:
    return lambda: node.on_detections(scan)


def _bind_tick(
    node: NationalNode, link: SimulatedLink, t: int, publish: bool
) -> Callable[[], None]:
    def fn() -> None:
        out = node.tick(t)
        if publish:
            for ob in out:
                link.publish(node.nation, ob)

    return fn


def _node_handler(node: NationalNode, link: SimulatedLink) -> Callable[[str, bytes], None]:
    def fn(subject: str, payload: bytes) -> None:
        for ob in node.on_message(subject, payload):
            link.publish(node.nation, ob)

    return fn


def _hub_handler(hub: HubNode, link: SimulatedLink) -> Callable[[str, bytes], None]:
    def fn(subject: str, payload: bytes) -> None:
        for ob in hub.on_message(subject, payload):
            link.publish(HUB_ID, ob)
        for ob in hub.run_due():
            link.publish(HUB_ID, ob)

    return fn
