"""What a running hub or national node tells Prometheus, and whether it is healthy.

The collectors read the counters and state the nodes already keep (no instrumentation on
the paths a message travels: the hub's per-message cost is benchmarked) when Prometheus
scrapes, on the process's own event loop (:mod:`trilink.nodes.metrics_http`), so a
scrape never sees a node half way through a message or a cycle. Every metric and the
alert rules built on them: docs/operations.md, "Metrics and health".

Times are seconds of the process's clock (scenario time; wall seconds at ``--speed 1``,
the deployed setting), except the checkpoint's, which are wall seconds.

Health (``GET /healthz``). The **hub** is stalled when it has run no fusion cycle for
``stall_s`` (default: the source timeout plus ten cycles, 15 s at the defaults) while a
source has been heard within that time: a silent source holds the cycles back for at most
the source timeout, so a longer pause with sources talking means a watermark that no
longer advances or a hub that no longer keeps up. A **national node** is stalled, while
its schedule runs, when it has not reported (ticked) for ``stall_ticks`` periods (its
loop is stuck), or when it has not heard the hub for ``hub_silence_s`` (it no longer
gets the coalition's picture or warnings).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, get_args

import numpy as np
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from trilink.link.deadletter import DeadLetterLog
from trilink.messages import RejectReason
from trilink.nodes.hub import HubNode
from trilink.nodes.live import ServiceStats
from trilink.nodes.live_durable import DurableStats
from trilink.nodes.national import NationalNode

NS = 1_000_000_000
REASONS: tuple[str, ...] = get_args(RejectReason)
"""Every dead-letter reason, each exported (0 until it happens) so that alert rules on
``increase()`` see the first refusal of a reason too."""


def _seconds_since(now_ns: int, then_ns: int | None) -> float | None:
    return None if then_ns is None else (now_ns - then_ns) / NS


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _service(node: str, stats: ServiceStats, deadletters: DeadLetterLog) -> Iterator[Metric]:
    """What every service has: messages in and out, publish errors, dead letters."""
    yield from _counters(
        node,
        ("trilink_messages_received", "Deliveries read from the bus.", stats.received),
        ("trilink_messages_published", "Messages published on the bus.", stats.published),
        ("trilink_publish_errors", "Publications the bus refused.", stats.publish_errors),
    )
    dl = CounterMetricFamily(
        "trilink_deadletters",
        "Refused input, by reason (ICD section 8).",
        labels=["node", "reason"],
    )
    for reason in sorted(set(REASONS) | set(deadletters.by_reason)):
        dl.add_metric([node, reason], deadletters.by_reason.get(reason, 0))
    yield dl
    fails = CounterMetricFamily(
        "trilink_deadletter_failures",
        "Dead letters that could not be written to the file or handed on (kept in memory).",
        labels=["node", "kind"],
    )
    for kind, n in sorted(deadletters.failures.items()):
        fails.add_metric([node, kind], n)
    yield fails


def _health_metric(node: str, stalled: bool) -> Metric:
    g = GaugeMetricFamily(
        "trilink_stalled", "1 when GET /healthz answers 503 (module notes).", labels=["node"]
    )
    g.add_metric([node], float(stalled))
    return g


class HubCollector(Collector):
    """The hub's metrics and health (module notes), read from ``hub`` and its service's
    ``stats`` (:class:`~trilink.nodes.live_durable.DurableStats` adds the checkpoint's)."""

    def __init__(self, hub: HubNode, stats: ServiceStats, *, stall_s: float | None = None):
        self.hub = hub
        self.stats = stats
        timeout_ns = hub.source_timeout_ns if hub.source_timeout_ns is not None else 10 * NS
        self.stall_ns = int(stall_s * NS) if stall_s is not None else timeout_ns + 10 * hub.cycle_ns
        self.started_ns = hub.clock.now_ns()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(stalled, the /healthz document)."""
        hub = self.hub
        now = hub.clock.now_ns()
        last_in = max(hub.heard_ns.values(), default=None)
        since_cycle = now - (hub.last_cycle_at_ns or self.started_ns)
        heard = last_in is not None and now - last_in <= self.stall_ns
        stalled = heard and since_cycle > self.stall_ns
        if stalled:
            state = "stalled"
        elif hub.last_cycle_at_ns is None and now < hub.next_cycle_ns:
            state = "waiting"
        else:
            state = "running"
        doc = {
            "node": hub.link.node_id,
            "role": "hub",
            "state": state,
            "last_in_s": _round(_seconds_since(now, last_in)),
            "last_out_s": _round(_seconds_since(now, hub.last_cycle_at_ns)),
            "last_cycle_s": _round(since_cycle / NS),
            "stall_after_s": self.stall_ns / NS,
            "cycles": hub.cycles,
        }
        if stalled:
            doc["reason"] = (
                f"no fusion cycle for {since_cycle / NS:.1f} s while sources are heard "
                f"(watermarks {self._held_back_by(now)})"
            )
        return stalled, doc

    def _held_back_by(self, now: int) -> dict[str, float | None]:
        """Each source's watermark lag, s: the largest (the oldest watermark) holds the
        cycles back."""
        return {
            s: _round(_seconds_since(now, self.hub.watermarks.get(s))) for s in self.hub.sources
        }

    def collect(self) -> Iterator[Metric]:
        hub, node = self.hub, self.hub.link.node_id
        now = hub.clock.now_ns()
        yield from _service(node, self.stats, hub.link.deadletters)
        yield from _counters(
            node,
            ("trilink_hub_cycles", "Fusion cycles run.", hub.cycles),
            ("trilink_hub_reports_received", "National track reports admitted.", hub.reports_in),
            (
                "trilink_hub_withheld",
                "Releases built but not sent: they failed the contract's checks (a bug).",
                hub.withheld,
            ),
            ("trilink_hub_fast_releases", "Releases sent by the fast path.", hub.fast_releases),
            ("trilink_hub_audit_records", "Records in the audit chain.", hub.audit.count),
        )
        rel = CounterMetricFamily(
            "trilink_hub_releases",
            "Messages released to a partner (after policy), by topic: tracks, events, warnings.",
            labels=["node", "partner", "topic"],
        )
        for subject, n in sorted(hub.released_by_subject.items()):
            partner, topic = subject.split(".")[-2:]  # trilink.hub.out.<partner>.<topic>
            rel.add_metric([node, partner, topic], n)
        yield rel
        live = 0 if hub.last_picture is None else int(np.count_nonzero(hub.last_picture.live()))
        yield from _gauges(
            node,
            ("trilink_hub_system_tracks", "Live system tracks in the last cycle's picture.", live),
            (
                "trilink_hub_pending_reports",
                "Reports admitted and waiting for the cycle of their measurement time.",
                len(hub._pending),
            ),
            (
                "trilink_hub_next_cycle_lag_seconds",
                "Clock now minus the next cycle's time: how far the fusion grid trails.",
                (now - hub.next_cycle_ns) / NS,
            ),
            (
                "trilink_hub_last_cycle_age_seconds",
                "Seconds since the last cycle ran (since start before the first).",
                (now - (hub.last_cycle_at_ns or self.started_ns)) / NS,
            ),
        )
        held = GaugeMetricFamily(
            "trilink_hub_partner_tracks",
            "System tracks a partner holds from the hub (released and not ended).",
            labels=["node", "partner"],
        )
        for p in hub.partners:
            held.add_metric([node, p], len(hub._released.get(p, ())))
        yield held
        yield from self._sources(node, now)
        if isinstance(self.stats, DurableStats):
            yield from _checkpoint(node, self.stats)
        yield _health_metric(node, self.health()[0])

    def _sources(self, node: str, now: int) -> Iterator[Metric]:
        hub = self.hub
        lag = GaugeMetricFamily(
            "trilink_hub_watermark_lag_seconds",
            "Clock now minus the source's watermark (all it has vouched for is measured "
            "before it); the largest among heard sources holds the cycles back.",
            labels=["node", "source"],
        )
        heard = GaugeMetricFamily(
            "trilink_hub_source_last_heard_seconds",
            "Seconds since the source's last admitted message.",
            labels=["node", "source"],
        )
        silent = GaugeMetricFamily(
            "trilink_hub_source_silent",
            "1 when the source is past the source timeout (cycles no longer wait for it).",
            labels=["node", "source"],
        )
        for s in hub.sources:
            mark, last = hub.watermarks.get(s), hub.heard_ns.get(s)
            if mark is not None:
                lag.add_metric([node, s], (now - mark) / NS)
            if last is not None:
                heard.add_metric([node, s], (now - last) / NS)
            timeout = hub.source_timeout_ns
            gone = timeout is not None and (last is None or now - last > timeout)
            silent.add_metric([node, s], float(gone))
        yield from (lag, heard, silent)


def _counters(node: str, *rows: tuple[str, str, float]) -> Iterator[Metric]:
    for name, doc, value in rows:
        c = CounterMetricFamily(name, doc, labels=["node"])
        c.add_metric([node], value)
        yield c


def _gauges(node: str, *rows: tuple[str, str, float]) -> Iterator[Metric]:
    for name, doc, value in rows:
        g = GaugeMetricFamily(name, doc, labels=["node"])
        g.add_metric([node], value)
        yield g


def _checkpoint(node: str, stats: DurableStats) -> Iterator[Metric]:
    """The durable hub's (``trilink hub --state``) checkpoints and restart."""
    yield from _counters(
        node,
        ("trilink_hub_checkpoints", "Checkpoints committed.", stats.commits),
        ("trilink_hub_input_batches", "Batches of stream input admitted.", stats.batches),
        (
            "trilink_hub_input_skipped",
            "Stream input on subjects the hub does not read.",
            stats.skipped,
        ),
        ("trilink_hub_resent", "Messages of the saved outbox sent again at start.", stats.resent),
        (
            "trilink_hub_restart_diverged",
            "Restarts whose cycles, run again, went another way (docs/operations.md).",
            stats.diverged,
        ),
    )
    rows = [
        (
            "trilink_hub_restored",
            "1 when this process resumed from its state file.",
            stats.restored,
        ),
        (
            "trilink_hub_checkpoint_last_duration_seconds",
            "Wall seconds the last checkpoint took.",
            stats.last_commit_s,
        ),
        (
            "trilink_hub_checkpoint_max_duration_seconds",
            "Wall seconds the longest checkpoint took.",
            stats.max_commit_s,
        ),
    ]
    if stats.last_commit_at is not None:
        rows.append(
            (
                "trilink_hub_checkpoint_age_seconds",
                "Wall seconds since the last checkpoint (what a kill now would run again).",
                time.monotonic() - stats.last_commit_at,
            )
        )
    yield from _gauges(node, *rows)


class NationalCollector(Collector):
    """A national node's metrics and health (module notes). ``start_ns``/``end_ns``: its
    schedule (its first and last tick, clock ns); ``tick_s``: its reporting period."""

    def __init__(
        self,
        node: NationalNode,
        stats: ServiceStats,
        *,
        start_ns: int,
        end_ns: int,
        tick_s: float = 0.5,
        stall_ticks: int = 10,
        hub_silence_s: float = 10.0,
    ):
        self.node = node
        self.stats = stats
        self.start_ns, self.end_ns = int(start_ns), int(end_ns)
        self.stall_tick_ns = int(stall_ticks * tick_s * NS)
        self.hub_silence_ns = int(hub_silence_s * NS)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(stalled, the /healthz document)."""
        nd = self.node
        now = nd.clock.now_ns()
        reasons = []
        if now < self.start_ns:
            state = "waiting"
        elif now > self.end_ns:
            state = "ended"  # its schedule is over; it still reads the hub
        else:
            state = "running"
            since_tick = now - (nd.last_tick_ns or self.start_ns)
            if since_tick > self.stall_tick_ns:
                reasons.append(f"no report tick for {since_tick / NS:.1f} s")
            since_hub = now - max(nd.last_hub_ns or self.start_ns, self.start_ns)
            if since_hub > self.hub_silence_ns:
                reasons.append(f"the hub unheard for {since_hub / NS:.1f} s")
        doc: dict[str, Any] = {
            "node": nd.nation,
            "role": "national",
            "state": "stalled" if reasons else state,
            "last_in_s": _round(_seconds_since(now, nd.last_hub_ns)),
            "last_out_s": _round(_seconds_since(now, nd.last_tick_ns)),
            "hub_cycle_lag_s": _round(_seconds_since(now, nd.hub_cycle_ns)),
            "system_tracks": len(nd.system_tracks),
        }
        if reasons:
            doc["reason"] = "; ".join(reasons)
        return bool(reasons), doc

    def collect(self) -> Iterator[Metric]:
        nd, node = self.node, self.node.nation
        now = nd.clock.now_ns()
        yield from _service(node, self.stats, nd.link.deadletters)
        c = CounterMetricFamily(
            "trilink_node_reports_sent", "National track reports sent to the hub.", labels=["node"]
        )
        c.add_metric([node], nd.reports_sent)
        yield c
        rows = [
            (
                "trilink_node_tracks",
                "Confirmed tracks of the node's own tracker.",
                float(np.count_nonzero(nd.tracker.confirmed)),
            ),
            (
                "trilink_node_system_tracks",
                "System tracks held from the hub.",
                len(nd.system_tracks),
            ),
            ("trilink_node_warnings", "Warning threads held from the hub.", len(nd.warnings)),
            ("trilink_node_launch_events", "Launch events held.", len(nd.launch_events)),
        ]
        for name, doc, then in (
            ("trilink_node_hub_last_heard_seconds", "Seconds since the hub was last heard.", nd.last_hub_ns),
            (
                "trilink_node_hub_cycle_lag_seconds",
                "Clock now minus the newest cycle the hub has vouched for (its heartbeats).",
                nd.hub_cycle_ns,
            ),
            ("trilink_node_last_tick_age_seconds", "Seconds since the node last reported.", nd.last_tick_ns),
        ):  # fmt: skip
            if then is not None:
                rows.append((name, doc, (now - then) / NS))
        yield from _gauges(node, *rows)
        yield _health_metric(node, self.health()[0])
