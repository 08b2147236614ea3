"""The hub process SIGKILLed twice and restarted from its snapshot, over real NATS.

The built-in scenario (one launch) runs as fast as the nodes go: the three national nodes
in this process on their leaves, the hub as a separate process (fault_hub.py: the real
HubNode reading its HUB_FROM_<N> streams, with trilink.nodes.persist). The first hub
kills itself just after publishing a batch of releases, before acknowledging its input
(so its successor re-sends them: copies partners must refuse); the second is killed from outside at whatever point it has reached; the
third runs to the end. Then:

- every partner holds exactly the picture of the uninterrupted simulated run: the same
  system track numbers, the same tracks, nothing missing (the comparison of
  tests/nodes/test_nodes_live.py, which is exact);
- the hub ends on the uninterrupted run's next sequence and next system track number;
- no partner admitted a message twice: its only refusals are replays of the re-sent
  outbox, and its inbox stream holds every release once;
- the audit chain continues across the kills (``trilink audit verify`` passes).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from faultnet import NATIONS, FaultTopology, fault_topology_or_fail
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from trilink.link import iter_payload_messages
from trilink.link.nats_bus import NatsBus
from trilink.link.pki import client_tls
from trilink.link.topology import hub_from_stream, inbox_stream
from trilink.nodes.coalition import Identity, make_national
from trilink.nodes.live import ManualClock, ServiceStats, run_national
from trilink.nodes.schedule import node_schedule
from trilink.nodes.simrun import RunConfig, RunResult, run_simulation
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

DURATION_S = 120.0
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def ft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultTopology]:
    topo = fault_topology_or_fail(Path(tmp_path_factory.mktemp("restart")))
    yield topo
    topo.stop()


def picture(nodes) -> dict[str, list[tuple]]:  # type: ignore[no-untyped-def]
    """What each partner received: first link tracks, and every system track it holds."""
    out = {}
    for n, node in nodes.items():
        rows: list[tuple] = [(e.ref, e.measured_ns) for e in node.events if e.kind == "link_track"]
        rows += sorted(
            (t.system_track_number, t.measured_ns, t.status, t.state_ecef, t.covariance_ecef)
            for t in node.system_tracks.values()
        )
        out[n] = rows
    return out


def read_progress(path: Path) -> dict:  # type: ignore[type-arg]
    """The hub process's progress file (written atomically by fault_hub.py), or {}."""
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return {}


class HubProcess:
    started: ClassVar[
        list[HubProcess]
    ] = []  # every one is killed when the test ends, come what may

    def __init__(self, cfg: dict, path: Path) -> None:  # type: ignore[type-arg]
        path.write_text(json.dumps(cfg))
        self.progress = Path(cfg["progress"])
        self.log = path.with_suffix(".log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fault_hub.py"), str(path)],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        HubProcess.started.append(self)

    def state(self) -> dict:  # type: ignore[type-arg]
        snap = read_progress(self.progress)
        return snap if snap.get("pid") == self.proc.pid else {}

    async def wait(self, check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
        t0 = time.monotonic()
        while not check():
            if time.monotonic() - t0 > timeout_s:
                self.proc.kill()
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)


def test_hub_killed_twice_resumes_numbers_audit_and_sends_no_duplicates(
    ft: FaultTopology, tmp_path: Path
) -> None:
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1], duration_s=DURATION_S)
    sim = simulate(sc)
    reference: RunResult = run_simulation(sc, sim, RunConfig())
    identity = Identity.simulated(sc, sim.seed)
    audit = tmp_path / "audit.jsonl"
    hub_pair = ft.topo.hub_client_pair()

    async def go() -> tuple[dict, dict, list[int], dict]:  # type: ignore[type-arg]
        hub_nc = await ft.hub()
        js = hub_nc.jetstream(timeout=5)
        first = {
            hub_from_stream(n): int((await js.stream_info(hub_from_stream(n))).state.last_seq) + 1
            for n in NATIONS
        }
        await hub_nc.close()
        jpn_nc = await ft.node("JPN")
        jpn_js = jpn_nc.jetstream(timeout=5)
        inbox_first = int((await jpn_js.stream_info(inbox_stream("JPN"))).state.last_seq) + 1
        cfg = {
            "hub_url": ft.hub_url(), "ca": str(ft.ca), "cert": str(hub_pair.cert),
            "key": str(hub_pair.key), "snapshot": str(tmp_path / "hub.snapshot"),
            "audit": str(audit), "progress": str(tmp_path / "progress.json"),
            "duration_s": DURATION_S, "seed": sim.seed, "first_seq": first,
            "die_at_release_commit": 3, "die_before_publish": False, "batch": 20,
        }  # fmt: skip
        hub1 = HubProcess(cfg, tmp_path / "hub1.json")

        clocks = {n: ManualClock(sim.t_start_ns) for n in NATIONS}
        nodes = {n: make_national(sc, n, identity, clocks[n], check_clock=False) for n in NATIONS}
        buses = {
            n: await NatsBus.connect(ft.leaf_url(n), tls=client_tls(ft.ca, ft.topo.node_pair(n)))
            for n in NATIONS
        }
        done = asyncio.Event()
        stats = {n: ServiceStats() for n in NATIONS}
        tasks = [
            asyncio.create_task(
                run_national(
                    nodes[n], buses[n],
                    node_schedule(n, sim.detections, sim.t_start_ns, sim.t_end_ns, 0.5),
                    clocks[n], done=done, stats=stats[n],
                )
            )
            for n in NATIONS
        ]  # fmt: skip
        kills = {}
        try:
            await hub1.wait(lambda: hub1.proc.poll() is not None, 120, "the first hub to die")
            kills["first"] = hub1.proc.returncode
            kills["audit_at_first"] = read_progress(tmp_path / "progress.json")["audit_count"]
            hub2 = HubProcess({**cfg, "die_at_release_commit": None}, tmp_path / "hub2.json")
            await hub2.wait(
                lambda: hub2.state().get("audit_count", 0) >= kills["audit_at_first"] + 20,
                120,
                "the second hub to release more",
            )
            hub2.proc.send_signal(signal.SIGKILL)
            kills["second"] = hub2.proc.wait(10)
            kills["second_done"] = read_progress(tmp_path / "progress.json").get("done")
            hub3 = HubProcess({**cfg, "die_at_release_commit": None}, tmp_path / "hub3.json")
            await hub3.wait(lambda: hub3.state().get("done", False), 240, "the third hub to finish")
            assert hub3.proc.wait(30) == 0
            final = hub3.state()

            last = -1  # the partners have everything when nothing new arrives for a second
            while (seen := sum(s.received for s in stats.values())) != last:
                last = seen
                await asyncio.sleep(1.0)
        finally:
            for h in HubProcess.started:
                if h.proc.poll() is None:
                    h.proc.kill()
            HubProcess.started.clear()
            done.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for b in buses.values():
                with contextlib.suppress(Exception):
                    await b.close()
        psub = await jpn_js.pull_subscribe(
            "", stream=inbox_stream("JPN"),
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=inbox_first,
                ack_policy=AckPolicy.NONE,
            ),
        )  # fmt: skip
        seqs: list[int] = []
        with contextlib.suppress(TimeoutError):
            while True:
                for m in await psub.fetch(100, timeout=2):  # a message or a bundle
                    seqs += [item.seq for item in iter_payload_messages(m.data)]
        await jpn_nc.close()
        return nodes, final, seqs, kills

    nodes, final, jpn_stream_seqs, kills = asyncio.run(asyncio.wait_for(go(), 420))

    assert kills["first"] == -signal.SIGKILL and kills["second"] == -signal.SIGKILL
    assert not kills["second_done"], "the second hub finished before it could be killed"
    copies = sum(nd.link.deadletters.total for nd in nodes.values())
    assert copies > 0, "no release was re-sent: the kills missed the releasing stretch"
    assert picture(nodes) == picture(reference.nodes)
    assert reference.hub is not None
    assert final["next_number"] == reference.hub.table.next_number
    assert final["next_seq"] == reference.hub.link.stamper.next_seq
    for n, node in nodes.items():
        reasons = dict(node.link.deadletters.by_reason)
        assert set(reasons) <= {"replayed"}, (n, reasons)
    jpn = nodes["JPN"]
    assert len(set(jpn_stream_seqs)) == len(jpn_stream_seqs), "a release stored twice"
    assert len(jpn_stream_seqs) == jpn.link.receiver.accepted

    trilink = Path(sys.executable).parent / "trilink"  # the installed command, end to end
    verify = subprocess.run(
        [str(trilink), "audit", "verify", str(audit)], capture_output=True, text=True
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "chain intact" in verify.stdout
    assert final["audit_count"] >= reference.hub.audit.count
    print(
        f"\nhub restart: killed twice, {final['cycles']} cycles, system numbers up to "
        f"{final['next_number'] - 1}, next seq {final['next_seq']}, audit "
        f"{final['audit_count']} records (uninterrupted: {reference.hub.audit.count}); "
        f"copies refused: { {n: dict(nd.link.deadletters.by_reason) for n, nd in nodes.items()} }"
    )
