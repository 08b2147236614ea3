"""The metrics and health of a hub and its national nodes (trilink.nodes.metrics), read
from a simulated run of one SRBM and checked against what the run's nodes independently
hold and received; the endpoint served in an event loop; bad ``--metrics-port``."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from node_scenarios import one_srbm
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401  (registers the command modules)
from trilink.cli.app import app
from trilink.errors import DeployError
from trilink.messages import LaunchEvent, SystemTrack, Warning
from trilink.nodes.clock import SimClock
from trilink.nodes.live import ServiceStats
from trilink.nodes.live_durable import DurableStats
from trilink.nodes.metrics import REASONS, HubCollector, NationalCollector
from trilink.nodes.metrics_http import MetricsServer, bind, registry_of
from trilink.nodes.national import NationalNode
from trilink.nodes.simrun import RunConfig, RunResult, run_simulation
from trilink.nodes.warnings import make_warner
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

NS = 1_000_000_000
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(collector: Collector) -> Samples:
    """The exposition text of ``collector``, parsed back: (sample name, labels) -> value."""
    from prometheus_client import generate_latest

    text = generate_latest(registry_of(collector)).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, dict[str, Counter[str]]]:
    sc = load_scenario(one_srbm(tmp_path_factory.mktemp("metrics") / "one.toml", 150.0))
    got: dict[str, Counter[str]] = {}

    def count_admitted(node: NationalNode) -> None:
        """Count what the node admits from the hub, by topic (independent of the hub)."""
        seen = got.setdefault(node.nation, Counter())
        door = node.link.receive

        def receive(payload, subject):  # type: ignore[no-untyped-def]
            msgs = door(payload, subject)
            for m in msgs:
                topic = {SystemTrack: "tracks", LaunchEvent: "events", Warning: "warnings"}
                seen[topic.get(type(m), "other")] += 1
            return msgs

        node.link.receive = receive  # type: ignore[method-assign]

    sim = simulate(sc)
    cfg = RunConfig(keep_pictures=True)
    result = run_simulation(sc, sim, cfg, warner_factory=make_warner, on_node=count_admitted)
    return result, got


def test_hub_metrics_are_the_runs_counts(run: tuple[RunResult, dict[str, Counter[str]]]) -> None:
    result, admitted = run
    hub, sim = result.hub, result.simulation
    assert hub is not None
    s = scrape(HubCollector(hub, ServiceStats(received=7, published=9, publish_errors=1)))
    # One cycle per 0.5 s grid point of the 150 s scenario.
    assert value(s, "trilink_hub_cycles_total", node="HUB") == 300
    assert (sim.t_end_ns - sim.t_start_ns) // hub.cycle_ns == 300
    # Reports in: what the nodes say they sent, per source, all of which the hub fused.
    sent = {n: nd.reports_sent for n, nd in result.nodes.items()}
    assert value(s, "trilink_hub_reports_received_total", node="HUB") == sum(sent.values())
    assert Counter(r.source for r in hub.reports) == sent
    # Releases per partner and topic: what each partner admitted of each kind.
    for partner, seen in admitted.items():
        for topic in ("tracks", "events", "warnings"):
            got = s.get(("trilink_hub_releases_total", frozenset(
                {"node": "HUB", "partner": partner, "topic": topic}.items()
            )), 0.0)  # fmt: skip
            assert got == seen[topic], (partner, topic)
        assert seen["tracks"] > 100 and seen["events"] == 1 and seen["warnings"] >= 1
    # One missile: one live system track, which every partner holds.
    assert value(s, "trilink_hub_system_tracks", node="HUB") == 1
    for p in ("USA", "KOR", "JPN"):
        assert value(s, "trilink_hub_partner_tracks", node="HUB", partner=p) == 1
    assert value(s, "trilink_hub_withheld_total", node="HUB") == 0
    assert value(s, "trilink_hub_fast_releases_total", node="HUB") == 0
    assert value(s, "trilink_hub_audit_records_total", node="HUB") == hub.audit.count > 0
    # The service's own counters, as given; no dead letter of any reason.
    assert value(s, "trilink_messages_received_total", node="HUB") == 7
    assert value(s, "trilink_messages_published_total", node="HUB") == 9
    assert value(s, "trilink_publish_errors_total", node="HUB") == 1
    for reason in REASONS:
        assert value(s, "trilink_deadletters_total", node="HUB", reason=reason) == 0
    # Times: the run ended 240 ms after the last watermark (the last deliveries' latency).
    now = hub.clock.now_ns()
    assert now == sim.t_end_ns + 240_000_000
    for src in hub.sources:
        assert hub.watermarks[src] == sim.t_end_ns
        assert value(s, "trilink_hub_watermark_lag_seconds", node="HUB", source=src) == 0.24
        assert value(s, "trilink_hub_source_silent", node="HUB", source=src) == 0
        heard = (now - hub.heard_ns[src]) / NS
        assert value(s, "trilink_hub_source_last_heard_seconds", node="HUB", source=src) == heard
    assert value(s, "trilink_hub_next_cycle_lag_seconds", node="HUB") == pytest.approx(-0.26)
    assert value(s, "trilink_stalled", node="HUB") == 0
    assert ("trilink_hub_checkpoints_total", frozenset({"node": "HUB"}.items())) not in s


def test_node_metrics_are_the_nodes_counts(
    run: tuple[RunResult, dict[str, Counter[str]]],
) -> None:
    result, admitted = run
    sim = result.simulation
    for n, nd in result.nodes.items():
        w = NationalCollector(nd, ServiceStats(), start_ns=sim.t_start_ns, end_ns=sim.t_end_ns)
        s = scrape(w)
        assert value(s, "trilink_node_reports_sent_total", node=n) == nd.reports_sent > 0
        assert value(s, "trilink_node_system_tracks", node=n) == len(nd.system_tracks) == 1
        assert value(s, "trilink_node_warnings", node=n) == len(nd.warnings) >= 1
        assert value(s, "trilink_node_launch_events", node=n) == admitted[n]["events"] == 1
        assert value(s, "trilink_node_tracks", node=n) == int(nd.tracker.confirmed.sum())
        now = nd.clock.now_ns()
        assert value(s, "trilink_node_hub_cycle_lag_seconds", node=n) == (now - sim.t_end_ns) / NS
        assert nd.last_hub_ns is not None
        heard = (now - nd.last_hub_ns) / NS
        assert value(s, "trilink_node_hub_last_heard_seconds", node=n) == heard
        assert value(s, "trilink_node_last_tick_age_seconds", node=n) == 0.24
        assert sum(value(s, "trilink_deadletters_total", node=n, reason=r) for r in REASONS) == 0
        stalled, doc = w.health()
        assert not stalled and doc["state"] == "ended" and doc["system_tracks"] == 1


def test_the_durable_hubs_checkpoint_figures() -> None:
    hub, _ = lone_hub()
    stats = DurableStats(commits=4, batches=12, resent=3, max_commit_s=0.02, last_commit_s=0.01)
    s = scrape(HubCollector(hub, stats))
    assert value(s, "trilink_hub_checkpoints_total", node="HUB") == 4
    assert value(s, "trilink_hub_resent_total", node="HUB") == 3
    assert value(s, "trilink_hub_checkpoint_max_duration_seconds", node="HUB") == 0.02
    assert ("trilink_hub_checkpoint_age_seconds", frozenset({"node": "HUB"}.items())) not in s
    stats.last_commit_at = time.monotonic() - 3.0
    age = value(scrape(HubCollector(hub, stats)), "trilink_hub_checkpoint_age_seconds", node="HUB")
    assert 3.0 <= age < 4.0


def lone_hub() -> tuple:  # type: ignore[type-arg]
    """A hub of the one-SRBM scenario that has heard nobody, on a clock of its own."""
    from trilink.nodes.coalition import Identity, make_hub

    sc = load_scenario("korea-japan")
    clock = SimClock(1_772_323_200 * NS)
    hub = make_hub(sc, Identity.simulated(sc, 1), clock, clock.now_ns(), source_timeout_s=10.0)
    return hub, clock


def test_a_hub_that_hears_sources_but_runs_no_cycle_is_stalled() -> None:
    hub, clock = lone_hub()
    w = HubCollector(hub, ServiceStats())
    assert w.stall_ns == 15 * NS  # source timeout 10 s + ten 0.5 s cycles
    stalled, doc = w.health()
    assert (stalled, doc["state"], doc["last_in_s"]) == (False, "waiting", None)
    hub.run_due()
    clock.advance_to(clock.now_ns() + 20 * NS)
    assert hub.run_due() != []  # nobody heard: the cycles follow the clock
    assert w.health()[0] is False and w.health()[1]["state"] == "running"
    # Sources that talk while their watermarks stand still hold every cycle back: the
    # hub has heard KOR now (as on_message records it) but KOR vouches for nothing new.
    t = clock.now_ns()
    clock.advance_to(t + 16 * NS)
    hub.heard_ns.update({s: clock.now_ns() for s in hub.sources})
    hub.watermarks.update({s: t for s in hub.sources})
    assert hub.run_due() == []
    stalled, doc = w.health()
    assert stalled and doc["state"] == "stalled" and "no fusion cycle for" in doc["reason"]
    assert value(scrape(w), "trilink_stalled", node="HUB") == 1


def test_a_node_that_stops_ticking_or_hearing_the_hub_is_stalled(
    run: tuple[RunResult, dict[str, Counter[str]]],
) -> None:
    result, _ = run
    nd = result.nodes["KOR"]
    shared = nd.clock
    t = shared.now_ns()
    nd.clock = clock = SimClock(t)  # the run's clock stays where it ended
    try:
        later = NationalCollector(nd, ServiceStats(), start_ns=t + NS, end_ns=t + 100 * NS)
        assert later.health()[1]["state"] == "waiting" and not later.health()[0]
        w = NationalCollector(nd, ServiceStats(), start_ns=t - 100 * NS, end_ns=t + 100 * NS)
        assert w.health()[0] is False and w.health()[1]["state"] == "running"
        clock.advance_to(t + 6 * NS)  # ten 0.5 s ticks missed
        stalled, doc = w.health()
        assert stalled and doc["reason"] == "no report tick for 6.2 s"
        clock.advance_to(t + 11 * NS)
        stalled, doc = w.health()
        assert doc["reason"] == "no report tick for 11.2 s; the hub unheard for 11.0 s"
        assert value(scrape(w), "trilink_stalled", node="KOR") == 1
    finally:
        nd.clock = shared


def test_the_endpoint_serves_metrics_and_health_in_the_loop() -> None:
    hub, clock = lone_hub()
    w = HubCollector(hub, ServiceStats(received=5))

    def get(url: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.headers["content-type"], r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers["content-type"], e.read().decode()

    async def go() -> list[tuple[int, str, str]]:
        server = MetricsServer(bind("127.0.0.1", 0), registry_of(w), w.health)
        server.start()
        try:
            first = await asyncio.to_thread(get, server.url + "/metrics")
            ok = await asyncio.to_thread(get, server.url + "/healthz")
            clock.advance_to(clock.now_ns() + 20 * NS)
            hub.heard_ns["KOR"] = clock.now_ns()  # heard now, and no cycle for 20 s
            bad = await asyncio.to_thread(get, server.url + "/healthz")
            return [first, ok, bad]
        finally:
            await server.stop()

    (code, ctype, text), ok, bad = asyncio.run(go())
    assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"trilink_messages_received", "trilink_hub_cycles", "process_cpu_seconds"} <= names
    assert 'trilink_messages_received_total{node="HUB"} 5.0' in text
    assert ok[0] == 200 and json.loads(ok[2])["state"] == "waiting"
    assert bad[0] == 503 and json.loads(bad[2])["state"] == "stalled"


def test_bind_refuses_a_port_in_use_or_out_of_range() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DeployError, match=r"cannot listen on 127\.0\.0\.1:.*in use"):
            bind("127.0.0.1", port)
    with pytest.raises(DeployError, match="70000 is not a TCP port"):
        bind("127.0.0.1", 70000)
    with pytest.raises(DeployError, match="--metrics-host"):
        bind("no-such-host.invalid", 0)


@pytest.mark.parametrize(
    "command", [["hub", "korea-japan"], ["node", "korea-japan", "--nation", "KOR"]]
)
def test_the_commands_refuse_a_bad_metrics_port_in_one_line(command: list[str]) -> None:
    runner = CliRunner()
    nowhere = ["--nats", "nats://127.0.0.1:9"]
    bad = runner.invoke(app, [*command, *nowhere, "--metrics-port", "70000"])
    assert bad.exit_code == 2
    assert (
        bad.output.strip().splitlines()[-1]
        == "--metrics-port: 70000 is not a TCP port (0 to 65535)"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = runner.invoke(app, [*command, *nowhere, "--metrics-port", str(port)])
    assert busy.exit_code == 2
    assert busy.output.strip().splitlines()[-1] == (
        f"--metrics-port: cannot listen on 127.0.0.1:{port}: Address already in use"
    )
