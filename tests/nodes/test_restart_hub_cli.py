"""``trilink hub --state`` SIGKILLed mid-scenario and started again with the same state.

A hub server and one leaf per nation (real nats-server processes, mutual TLS, JetStream,
``start_local_coalition``); the three national nodes run in this process on their leaves,
paced by the wall clock (4 scenario seconds per second, from 55 s before the launch);
the hub is the installed ``trilink hub`` command, a separate process, reading the
``HUB_FROM_<N>`` streams and checkpointing every 2 s. It is killed with SIGKILL a few
seconds after the first launch alerts went out, between two checkpoints, and started
again at once with the same command. Then:

- the system track numbers continue: each partner holds exactly the numbers of the
  uninterrupted simulated run (one missile, one number), and the hub ends on its next
  number;
- no partner accepted a message twice, counted by message id, by sequence number and by
  (kind, system track number, measured time); the partners' inbox streams hold each
  release once; no launch alert (a warning thread's ``Alert``) went out twice;
- the copies the restarted hub sent (its outbox, and the cycles it ran again) were
  refused as replays: nothing else was refused;
- the audit chain continues across the kill (``trilink audit verify`` passes).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from node_scenarios import one_srbm

from trilink.errors import DecodeError
from trilink.link.codec import iter_payload_messages
from trilink.link.topology import inbox_stream
from trilink.messages import Envelope, Heartbeat, LaunchEvent, SystemTrack, Warning
from trilink.nodes.clock import WallClock
from trilink.nodes.coalition import Identity, make_national
from trilink.nodes.live import ServiceStats, run_national
from trilink.nodes.national import NationalNode
from trilink.nodes.persist import load_snapshot
from trilink.nodes.schedule import node_schedule
from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.nodes.up import LocalCoalition, start_local_coalition
from trilink.nodes.warnings import make_warner
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

NATIONS = ("USA", "KOR", "JPN")
DURATION_S = 150.0  # the boost and early mid-course of one SRBM
SPEED = 4.0
LEAD_S = 55.0  # scenario time already past when the nodes start (the launch is at 60 s)
KILL_AFTER_ALERT_S = 1.3  # wall seconds after the first launch alert
TRILINK = Path(sys.executable).parent / "trilink"


T0 = [time.monotonic()]  # reset when the test starts


def mark(what: str) -> None:
    print(f"[{time.monotonic() - T0[0]:6.1f} s] {what}", flush=True)


@pytest.fixture(scope="module")
def coalition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCoalition]:
    root = tmp_path_factory.mktemp("restart-cli")
    running = asyncio.run(start_local_coalition(root, NATIONS, "USA"))
    yield running
    running.stop()


def hub_argv(co: LocalCoalition, scenario: Path, tmp: Path, start_at: float) -> list[str]:
    pair = co.topo.hub_client_pair()
    return [
        str(TRILINK), "hub", str(scenario), "--nats", co.topo.hub_client_url,
        "--tls-ca", str(co.ca), "--tls-cert", str(pair.cert), "--tls-key", str(pair.key),
        "--audit", str(tmp / "audit.jsonl"), "--state", str(tmp / "hub.state"),
        "--checkpoint-every", "2", "--speed", str(SPEED), "--start-at", repr(start_at),
        "--run-for-s", "600",
    ]  # fmt: skip


def spy(node: NationalNode, accepted: list[Envelope], wire: list[Envelope]) -> None:
    """Record every message ``node`` admits (each item of a bundle), and every message that
    reaches it (``wire``: copies its replay guard refuses included)."""
    link = node.link
    door = link.receiver

    def admit(payload, subject=None):  # type: ignore[no-untyped-def]
        with contextlib.suppress(DecodeError):
            wire.extend(iter_payload_messages(payload))
        msg = door(payload, subject)
        if msg is not None:
            accepted.append(msg)
        return msg

    def admit_all(payload, subject=None):  # type: ignore[no-untyped-def]
        with contextlib.suppress(DecodeError):
            wire.extend(iter_payload_messages(payload))
        msgs = door.receive_all(payload, subject)
        accepted.extend(msgs)
        return msgs

    if hasattr(link, "receive"):  # the bundle-aware door
        link.receive = admit_all  # type: ignore[method-assign]
    else:
        link.receiver = admit  # type: ignore[assignment]


def fused_through(msgs: list[Envelope], t_ns: int) -> bool:
    """Whether the hub's heartbeat of cycle ``t_ns`` (or a later one) is among ``msgs``."""
    return any(isinstance(m, Heartbeat) and m.measured_ns >= t_ns for m in msgs)


def release_key(m: Envelope) -> tuple | None:  # type: ignore[type-arg]
    """What a partner must never get twice: one release per track, kind and cycle."""
    if isinstance(m, SystemTrack | LaunchEvent):
        return (type(m).__name__, m.system_track_number, m.measured_ns)
    if isinstance(m, Warning):
        return ("Warning", m.warning_id, m.msg_type, m.measured_ns)
    return None


def test_trilink_hub_killed_resumes_from_its_state(
    coalition: LocalCoalition, tmp_path: Path
) -> None:
    T0[0] = time.monotonic()
    scenario = one_srbm(tmp_path / "one-srbm.toml", DURATION_S)
    sc = load_scenario(scenario)
    sim = simulate(sc)
    reference = run_simulation(sc, sim, RunConfig(), warner_factory=make_warner)
    mark("reference run")
    assert reference.hub is not None
    identity = Identity.simulated(sc, sim.seed)
    start_at = time.time() + 2.0 - LEAD_S / SPEED
    wall0_ns = int(start_at * 1e9)
    argv = hub_argv(coalition, scenario, tmp_path, start_at)
    logs = [(tmp_path / f"hub{i}.log").open("wb") for i in (1, 2)]
    procs: list[subprocess.Popen[bytes]] = []

    async def go() -> dict:  # type: ignore[type-arg]
        procs.append(subprocess.Popen(argv, stdout=logs[0], stderr=subprocess.STDOUT))
        accepted: dict[str, list[Envelope]] = {n: [] for n in NATIONS}
        wire: dict[str, list[Envelope]] = {n: [] for n in NATIONS}
        nodes = {}
        for n in NATIONS:
            clock = WallClock(sim.t_start_ns, SPEED, wall0_ns)
            node = make_national(sc, n, identity, clock, start_seq=time.time_ns() // 1000)
            spy(node, accepted[n], wire[n])
            nodes[n] = (node, clock)
        buses = {n: await coalition.bus_for(n) for n in NATIONS}
        done = asyncio.Event()
        stats = {n: ServiceStats() for n in NATIONS}
        tasks = [
            asyncio.create_task(
                run_national(
                    node, buses[n],
                    node_schedule(n, sim.detections, sim.t_start_ns, sim.t_end_ns, 0.5),
                    clock, done=done, stats=stats[n],
                )
            )
            for n, (node, clock) in nodes.items()
        ]  # fmt: skip
        facts: dict = {}  # type: ignore[type-arg]

        def alerts() -> int:
            return sum(isinstance(m, Warning) and m.msg_type == "Alert" for m in accepted["KOR"])

        try:
            t0 = time.monotonic()
            while alerts() == 0:
                assert time.monotonic() - t0 < 60, (
                    "no launch alert from the first hub",
                    {
                        n: (len(accepted[n]), dict(nd.link.deadletters.by_reason))
                        for n, (nd, _) in nodes.items()
                    },
                    Counter(type(m).__name__ for m in accepted["KOR"]),
                )
                assert procs[0].poll() is None, "the first hub died"
                await asyncio.sleep(0.05)
            await asyncio.sleep(KILL_AFTER_ALERT_S)
            mark("first launch alert accepted; killing the hub")
            procs[0].send_signal(signal.SIGKILL)
            facts["first"] = procs[0].wait(10)
            killed = time.monotonic()
            facts["accepted_at_kill"] = {n: len(a) for n, a in accepted.items()}
            facts["state_at_kill"] = load_snapshot(tmp_path / "hub.state")
            procs.append(subprocess.Popen(argv, stdout=logs[1], stderr=subprocess.STDOUT))
            # Restart time: from the kill to the first release partners accept again.
            while all(len(a) == facts["accepted_at_kill"][n] for n, a in accepted.items()):
                assert time.monotonic() - killed < 40, "nothing from the restarted hub"
                assert procs[1].poll() is None, "the restarted hub died"
                await asyncio.sleep(0.02)
            facts["restart_s"] = time.monotonic() - killed
            mark("a release from the restarted hub accepted")
            # Everything is in when every partner holds the hub's heartbeat of the last
            # cycle (the hub has fused through the end), plus what was still in flight.
            while not all(fused_through(accepted[n], sim.t_end_ns) for n in NATIONS):
                assert time.monotonic() - killed < 90, "the restarted hub never reached the end"
                assert procs[1].poll() is None, "the restarted hub died"
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            mark("partners hold the last cycle; stopping the hub")
            procs[1].send_signal(signal.SIGTERM)  # a clean stop commits once more
            facts["second"] = procs[1].wait(30)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
            done.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for b in buses.values():
                with contextlib.suppress(Exception):
                    await b.close()
        mark("hub stopped")
        facts["inbox"] = {n: await inbox(coalition, n) for n in NATIONS}
        mark("inbox streams read")
        facts["accepted"], facts["nodes"] = accepted, {n: nd for n, (nd, _) in nodes.items()}
        facts["wire"] = wire
        return facts

    facts = asyncio.run(asyncio.wait_for(go(), 150))
    for f in logs:
        f.close()
    out2 = (tmp_path / "hub2.log").read_text()
    assert facts["first"] == -signal.SIGKILL
    assert facts["second"] == 0, out2
    assert "resumed from" in out2, out2
    assert "went another way" not in out2, out2  # the cycles run again were the same

    accepted: dict[str, list[Envelope]] = facts["accepted"]
    ref_numbers = {
        n: {m.system_track_number for m in nd.system_tracks.values()}
        | {int(e.ref) for e in nd.events if e.kind == "link_track"}
        for n, nd in reference.nodes.items()
    }
    for n in NATIONS:
        msgs = accepted[n]
        ids = Counter(m.message_id for m in msgs)
        assert max(ids.values()) == 1, (n, "message id twice")
        seqs = Counter((m.source, m.seq) for m in msgs)
        assert max(seqs.values()) == 1, (n, "sequence number twice")
        keys = Counter(k for m in msgs if (k := release_key(m)) is not None)
        assert not [k for k, c in keys.items() if c > 1], (n, "a release twice")
        numbers = {m.system_track_number for m in msgs if isinstance(m, SystemTrack)}
        assert numbers == ref_numbers[n], (n, numbers, ref_numbers[n])
        # A launch alert is one decision (track, decision time): copies of it (the outbox
        # sent again, a cycle run again) reach the partner and are refused; a second
        # decision, as a warner restarted empty would take, must never be sent at all.
        decisions = {
            (m.system_track_number, m.measured_ns)
            for m in facts["wire"][n]
            if isinstance(m, Warning) and m.msg_type == "Alert"
        }
        launch_alerts = Counter(number for number, _ in decisions)
        assert launch_alerts and max(launch_alerts.values()) == 1, (n, "launch alert twice")
        assert sum(isinstance(m, Warning) and m.msg_type == "Alert" for m in msgs) == len(
            launch_alerts
        ), (n, "a launch alert was not accepted")
        refusals = dict(facts["nodes"][n].link.deadletters.by_reason)
        assert set(refusals) <= {"replayed"}, (n, refusals)
        stored = facts["inbox"][n]
        assert len({m.seq for m in stored}) == len(stored), (n, "a release stored twice")
        skeys = Counter(k for m in stored if (k := release_key(m)) is not None)
        assert not [k for k, c in skeys.items() if c > 1], (n, "a release stored twice")
    copies = sum(nd.link.deadletters.total for nd in facts["nodes"].values())
    assert copies > 0, "nothing was sent again: the kill missed the stretch between checkpoints"

    final = load_snapshot(tmp_path / "hub.state")
    assert final is not None and facts["state_at_kill"] is not None
    assert final["table"]["next_number"] == reference.hub.table.next_number
    assert final["next_seq"] > facts["state_at_kill"]["next_seq"]
    verify = subprocess.run(
        [str(TRILINK), "audit", "verify", str(tmp_path / "audit.jsonl")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert final["audit"]["count"] > facts["state_at_kill"]["audit"]["count"]
    print(
        f"\ntrilink hub restart: first release accepted {facts['restart_s']:.1f} s after the "
        f"SIGKILL; copies refused {copies}; {out2.strip().splitlines()[-1]}; warnings: "
        f"{ {n: Counter(m.msg_type for m in a if isinstance(m, Warning)) for n, a in accepted.items()} }"
    )


async def inbox(co: LocalCoalition, n: str) -> list[Envelope]:
    """Every message in nation ``n``'s inbox stream on its leaf (each item of a bundle)."""
    bus = await co.bus_for(n)
    js = bus.client.jetstream(timeout=5)  # type: ignore[attr-defined]
    last = int((await js.stream_info(inbox_stream(n))).state.last_seq)
    psub = await js.pull_subscribe(
        "", stream=inbox_stream(n),
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE),
    )  # fmt: skip
    out: list[Envelope] = []
    seen = 0
    while seen < last:
        msgs = await psub.fetch(min(500, last - seen), timeout=5)
        seen = int(msgs[-1].metadata.sequence.stream)
        for m in msgs:
            out += iter_payload_messages(m.data)
    await bus.close()
    return out
