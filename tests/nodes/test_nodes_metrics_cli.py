"""``trilink hub --metrics-port`` and ``trilink node --metrics-port`` while they run.

A hub server and one leaf per nation (real nats-server processes, mutual TLS, JetStream:
``start_local_coalition``); the hub is the installed ``trilink hub`` command and
Korea's node the installed ``trilink node``, each a process of its own with its metrics
endpoint on a free port (``--metrics-port 0``, the address read from its start line); the
U.S. and Japanese nodes run in this process. Paced at 4 scenario seconds per second from
55 s before the launch of one SRBM. Once Korea holds the system track, both endpoints are
scraped over HTTP: the text parses (prometheus_client's parser) with the figures a
running coalition must show, and both /healthz answer 200. Then the hub is stopped: it
exits cleanly, and within the hub-silence limit Korea's /healthz answers 503.

(The hub runs without ``--state``; the durable hub's checkpoint metrics are checked in
test_nodes_metrics.py, and its stop while reports flow in tests/link/test_link_durable_close.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from node_scenarios import one_srbm
from prometheus_client.parser import text_string_to_metric_families

from trilink.nodes.clock import WallClock
from trilink.nodes.coalition import Identity, make_national
from trilink.nodes.live import ServiceStats, run_national
from trilink.nodes.schedule import node_schedule
from trilink.nodes.up import LocalCoalition, start_local_coalition
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

NATIONS = ("USA", "KOR", "JPN")
SPEED = 4.0
LEAD_S = 55.0  # scenario time already past when the processes start (launch at 60 s)
TRILINK = Path(sys.executable).parent / "trilink"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def coalition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCoalition]:
    running = asyncio.run(start_local_coalition(tmp_path_factory.mktemp("m"), NATIONS, "USA"))
    yield running
    running.stop()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(base: str) -> Samples:
    code, text = get(base + "/metrics")
    assert code == 200, text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


def one(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def endpoint(log: Path, proc: subprocess.Popen[bytes]) -> str:
    """The metrics address a process printed at start."""
    t0 = time.monotonic()
    while not (m := re.search(r"metrics on (http://\S+)/metrics", log.read_text())):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() - t0 < 30, log.read_text()
        await asyncio.sleep(0.1)
    return m.group(1)


def test_hub_and_node_metrics_over_http_while_they_run(
    coalition: LocalCoalition, tmp_path: Path
) -> None:
    scenario = one_srbm(tmp_path / "one-srbm.toml", 120.0)
    sc = load_scenario(scenario)
    sim = simulate(sc)
    start_at = time.time() + 3.0 - LEAD_S / SPEED
    co = coalition
    pacing = ["--speed", str(SPEED), "--start-at", repr(start_at), "--metrics-port", "0"]
    hub_pair, kor_pair = co.topo.hub_client_pair(), co.topo.node_pair("KOR")
    hub_argv = [
        str(TRILINK), "hub", str(scenario), "--nats", co.topo.hub_client_url,
        "--tls-ca", str(co.ca), "--tls-cert", str(hub_pair.cert), "--tls-key", str(hub_pair.key),
        "--audit", str(tmp_path / "audit.jsonl"), "--run-for-s", "120", *pacing,
    ]  # fmt: skip
    kor_argv = [
        str(TRILINK), "node", str(scenario), "--nation", "KOR",
        "--nats", co.topo.leaf_client_url("KOR"),
        "--tls-ca", str(co.ca), "--tls-cert", str(kor_pair.cert), "--tls-key", str(kor_pair.key),
        *pacing,
    ]  # fmt: skip
    logs = {name: tmp_path / f"{name}.log" for name in ("hub", "kor")}
    files = {name: path.open("wb") for name, path in logs.items()}
    procs = {
        "hub": subprocess.Popen(hub_argv, stdout=files["hub"], stderr=subprocess.STDOUT),
        "kor": subprocess.Popen(kor_argv, stdout=files["kor"], stderr=subprocess.STDOUT),
    }
    identity = Identity.simulated(sc, sim.seed)

    async def go() -> dict:  # type: ignore[type-arg]
        buses = {n: await co.bus_for(n) for n in ("USA", "JPN")}
        done = asyncio.Event()
        tasks = []
        for n in ("USA", "JPN"):
            clock = WallClock(sim.t_start_ns, SPEED, int(start_at * 1e9))
            node = make_national(sc, n, identity, clock, start_seq=time.time_ns() // 1000)
            steps = node_schedule(n, sim.detections, sim.t_start_ns, sim.t_end_ns, 0.5)
            tasks.append(
                asyncio.create_task(
                    run_national(node, buses[n], steps, clock, done=done, stats=ServiceStats())
                )
            )
        facts: dict = {}  # type: ignore[type-arg]
        try:
            hub_url = await endpoint(logs["hub"], procs["hub"])
            kor_url = await endpoint(logs["kor"], procs["kor"])
            t0 = time.monotonic()
            while True:  # until Korea holds the SRBM's system track
                kor = await asyncio.to_thread(scrape, kor_url)
                if one(kor, "trilink_node_system_tracks", node="KOR") >= 1:
                    break
                assert time.monotonic() - t0 < 40, (kor, logs["hub"].read_text())
                assert all(p.poll() is None for p in procs.values())
                await asyncio.sleep(0.2)
            facts["hub"] = await asyncio.to_thread(scrape, hub_url)
            facts["kor"] = kor
            facts["hub_health"] = await asyncio.to_thread(get, hub_url + "/healthz")
            facts["kor_health"] = await asyncio.to_thread(get, kor_url + "/healthz")
            procs["hub"].send_signal(signal.SIGTERM)  # a clean stop
            facts["hub_exit"] = await asyncio.to_thread(procs["hub"].wait, 30)
            stopped = time.monotonic()
            while (health := await asyncio.to_thread(get, kor_url + "/healthz"))[0] == 200:
                assert time.monotonic() - stopped < 10, health
                await asyncio.sleep(0.2)
            facts["kor_silent"] = (health, time.monotonic() - stopped)
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        p.wait(10)
                if p.poll() is None:
                    p.kill()
            done.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for b in buses.values():
                with contextlib.suppress(Exception):
                    await b.close()
        return facts

    facts = asyncio.run(asyncio.wait_for(go(), 120))
    for f in files.values():
        f.close()
    hub_out = logs["hub"].read_text()
    assert facts["hub_exit"] == 0, hub_out
    assert "0 dead letters" in " ".join(hub_out.split()), hub_out  # its summary at exit

    h = facts["hub"]
    assert one(h, "trilink_hub_cycles_total", node="HUB") > 10
    assert one(h, "trilink_hub_reports_received_total", node="HUB") > 0
    assert one(h, "trilink_messages_received_total", node="HUB") > 0
    assert one(h, "trilink_messages_published_total", node="HUB") > 0
    assert one(h, "trilink_hub_releases_total", node="HUB", partner="KOR", topic="tracks") >= 1
    assert one(h, "trilink_hub_system_tracks", node="HUB") >= 1
    assert one(h, "trilink_hub_audit_records_total", node="HUB") >= 1
    assert one(h, "trilink_stalled", node="HUB") == 0
    for src in NATIONS:
        # Nodes report every 0.5 s, so a heard source's watermark trails by about a tick
        # plus the link (scenario seconds, 4 per wall second here).
        assert -1.0 < one(h, "trilink_hub_watermark_lag_seconds", node="HUB", source=src) < 8.0
        assert 0.0 <= one(h, "trilink_hub_source_last_heard_seconds", node="HUB", source=src) < 8.0
        assert one(h, "trilink_hub_source_silent", node="HUB", source=src) == 0
    assert sum(v for (name, _), v in h.items() if name == "trilink_deadletters_total") == 0
    assert one(h, "process_resident_memory_bytes") > 10e6

    k = facts["kor"]
    assert one(k, "trilink_messages_published_total", node="KOR") > 10
    assert one(k, "trilink_messages_received_total", node="KOR") > 10
    assert one(k, "trilink_node_reports_sent_total", node="KOR") > 0
    assert one(k, "trilink_node_tracks", node="KOR") >= 1
    assert 0.0 <= one(k, "trilink_node_hub_last_heard_seconds", node="KOR") < 8.0
    assert -1.0 < one(k, "trilink_node_hub_cycle_lag_seconds", node="KOR") < 8.0
    assert sum(v for (name, _), v in k.items() if name == "trilink_deadletters_total") == 0

    code, body = facts["hub_health"]
    doc = json.loads(body)
    assert code == 200 and doc["node"] == "HUB" and doc["state"] == "running", doc
    assert doc["last_in_s"] < 8.0 and doc["last_out_s"] < 8.0
    code, body = facts["kor_health"]
    doc = json.loads(body)
    assert code == 200 and doc["node"] == "KOR" and doc["state"] == "running", doc
    (code, body), after_s = facts["kor_silent"]
    doc = json.loads(body)
    # 10 scenario seconds without the hub: 2.5 wall seconds at speed 4.
    assert code == 503 and doc["state"] == "stalled" and "the hub unheard" in doc["reason"]
    assert 2.0 < after_s < 6.0, after_s
    lags = {
        src: round(one(h, "trilink_hub_watermark_lag_seconds", node="HUB", source=src), 2)
        for src in NATIONS
    }
    print(
        f"\nmetrics while running: hub watermark lags {lags} s, next cycle lag "
        f"{one(h, 'trilink_hub_next_cycle_lag_seconds', node='HUB'):.2f} s, "
        f"{len(h)} hub samples; KOR hub cycle lag "
        f"{one(k, 'trilink_node_hub_cycle_lag_seconds', node='KOR'):.2f} s, hub last heard "
        f"{one(k, 'trilink_node_hub_last_heard_seconds', node='KOR'):.2f} s; KOR 503 "
        f"{after_s:.1f} s after the hub stopped; /healthz {facts['hub_health'][1]} and, the "
        f"hub stopped, {facts['kor_silent'][0][1]}"
    )
