"""The durable hub service (``run_durable_hub``) crashed at arbitrary points and restarted
from its checkpoint, in process and exact.

The national messages of a recorded simulated run (one SRBM, the real warning rules) are
the hub's input streams, read through an in-memory double of
:class:`trilink.link.nats_bus.DurableStreams` that interleaves the streams at random; the
hub's output goes to each partner's receiving door (decode, signature, replay guard) and
to a store that, like JetStream, keeps one message per ``Nats-Msg-Id``. The service
"dies" (an exception out of a publish, as abrupt as SIGKILL for the protocol: nothing
after it runs) at several points, with commits after every batch and with commits
rarer than the crashes, and is rebuilt from its checkpoint each time. Partners must end
up with exactly what an uninterrupted service gave them, each message once, the stored
streams too; only replays may be refused. (Over real NATS with the installed command:
test_restart_hub_cli.py.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from trilink.errors import DeployError
from trilink.link import DeadLetterLog, Decoder, Receiver, ReplayGuard
from trilink.link.codec import iter_payload_messages
from trilink.link.recordlog import read_log
from trilink.link.subjects import matches
from trilink.messages import Envelope, Heartbeat, SystemTrack, Warning
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.hub import HubNode
from trilink.nodes.live import ManualClock
from trilink.nodes.live_durable import DurableStats, run_durable_hub
from trilink.nodes.persist import SNAPSHOT_VERSION, HubCheckpoint, load_snapshot, save_snapshot
from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.nodes.warnings import make_warner
from trilink.policy.audit import verify_audit
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

DURATION_S = 100.0
PROGRESS = {"peers", "uptime_s", "deadletters"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """(scenario, simulation, {stream: [(subject, payload)]}): each nation's messages, in
    the order its node published them, as its HUB_FROM_<N> stream holds them."""
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1], duration_s=DURATION_S)
    sim = simulate(sc)
    rec = tmp_path_factory.mktemp("recorded")
    run_simulation(sc, sim, RunConfig(record_dir=rec), warner_factory=make_warner)
    log = list(read_log(rec / "messages.tlog"))
    streams = {
        f"HUB_FROM_{n.id}": [(r.subject, r.payload) for r in log if matches(f"trilink.{n.id}.*", r.subject)]
        for n in sc.nations
    }  # fmt: skip
    return sc, sim, streams


@dataclass(frozen=True)
class Delivery:
    stream: str
    seq: int
    subject: str
    payload: bytes


class MemoryStreams:
    """The input double: every stream read on from the position given, the streams
    interleaved at random (seeded); ``drained`` is set when nothing is left."""

    def __init__(self, streams: Mapping[str, list[tuple[str, bytes]]], seed: int):
        self.streams = streams
        self.rng = random.Random(seed)
        self.pos: dict[str, int] = {}
        self.acked: dict[str, int] = {}
        self.drained = asyncio.Event()
        self.crash_when: Callable[[], bool] | None = None

    async def start(self, after: Mapping[str, int], *, since_ns: int | None = None) -> None:
        self.pos = {s: int(after.get(s, 0)) for s in self.streams}

    async def get(self, max_n: int, timeout_s: float) -> list[Delivery]:
        if self.crash_when is not None and self.crash_when():
            raise Crash  # between two batches: everything decided so far was published
        await asyncio.sleep(0)
        out: list[Delivery] = []
        for _ in range(self.rng.randint(1, max_n)):
            left = [s for s, msgs in self.streams.items() if self.pos[s] < len(msgs)]
            if not left:
                break
            s = self.rng.choice(left)
            self.pos[s] += 1
            subject, payload = self.streams[s][self.pos[s] - 1]
            out.append(Delivery(s, self.pos[s], subject, payload))
        if not out:
            self.drained.set()
        return out

    async def ack(self, upto: Mapping[str, int]) -> None:
        self.acked.update(upto)

    async def close(self) -> None:
        pass


class Crash(BaseException):
    """The process dies (BaseException: the service's error handling does not catch it)."""


class Partners:
    """Every partner's door and its stored stream (one message per Nats-Msg-Id), and a
    bus that delivers to them; it raises :class:`Crash` at its ``crash_at``-th publish."""

    def __init__(self, sc, sim) -> None:  # type: ignore[no-untyped-def]
        ring = Identity.simulated(sc, sim.seed).keyring
        self.doors = {
            n.id: Receiver(
                Decoder(ring.sources), ring,
                ReplayGuard(lambda: sim.t_start_ns, max_future_s=1e12, max_age_s=None),
                DeadLetterLog(),
            )
            for n in sc.nations
        }  # fmt: skip
        self.accepted: dict[str, list[Envelope]] = {p: [] for p in self.doors}
        self.stored: dict[str, dict[str, bytes]] = {p: {} for p in self.doors}
        self.published = 0
        self.crash_at: int | None = None

    async def publish(self, subject: str, payload: bytes, headers: Any = None) -> None:
        if self.crash_at is not None and self.published >= self.crash_at:
            self.crash_at = None
            raise Crash
        self.published += 1
        if not subject.startswith("trilink.hub.out."):
            return
        partner = subject.split(".")[3]
        self.stored[partner].setdefault(headers["Nats-Msg-Id"], payload)
        self.accepted[partner].extend(self.doors[partner].receive_all(payload, subject))

    async def flush(self) -> None:
        pass

    def view(self, msgs: Mapping[str, list[Envelope]] | None = None) -> dict[str, list[Any]]:
        """What each partner holds, without the per-send fields (id, sent time, signature)
        and the hub heartbeat's receive progress (how far it had read each stream when
        the cycle ran: it depends on how the streams interleave, in any run)."""
        out: dict[str, list[Any]] = {}
        for p, got in (msgs or self.accepted).items():
            rows = []
            for m in got:
                row = msgspec.to_builtins(
                    msgspec.structs.replace(m, message_id="", sent_ns=0, signature=b"")
                )
                if row["kind"] == "heartbeat":
                    row = {k: v for k, v in row.items() if k not in PROGRESS}
                rows.append(row)
            out[p] = rows
        return out

    def stored_messages(self) -> dict[str, list[Envelope]]:
        return {
            p: sorted(
                (m for payload in s.values() for m in iter_payload_messages(payload)),
                key=lambda m: m.seq,
            )
            for p, s in self.stored.items()
        }


def new_hub(sc, sim, audit: Path | None) -> HubNode:  # type: ignore[no-untyped-def]
    return make_hub(
        sc, Identity.simulated(sc, sim.seed), ManualClock(sim.t_start_ns), sim.t_start_ns,
        audit_path=audit, warner_factory=make_warner, check_clock=False,
    )  # fmt: skip


def serve(
    recorded, tmp: Path, partners: Partners, *, every_s: float, crashes: list[int], seed: int
):  # type: ignore[no-untyped-def]
    """Run the service to the end of the input, crashing at each publish count in
    ``crashes`` and restarting from the checkpoint; the last hub, the number of restarts
    and of restarts that found a checkpoint."""
    sc, sim, streams = recorded
    restarts, restored = 0, 0
    pending = sorted(crashes)
    while True:
        hub = new_hub(sc, sim, tmp / "audit.jsonl")
        cp = HubCheckpoint(tmp / "hub.state")
        committed = cp.path.exists()  # a crash before the first commit: a first start again
        resume = cp.resume(hub)
        assert resume.restored == committed
        restored += resume.restored
        inputs = MemoryStreams(streams, seed + restarts)
        partners.crash_at = pending.pop(0) if pending else None
        try:
            asyncio.run(
                run_durable_hub(
                    hub, partners, inputs, cp, resume,  # type: ignore[arg-type]
                    stop=inputs.drained, every_s=every_s, batch=40,
                )
            )  # fmt: skip
        except Crash:
            hub.audit.close()
            restarts += 1
            continue
        hub.audit.close()
        return hub, restarts, restored


@pytest.fixture(scope="module")
def reference(recorded, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    sc, sim, _ = recorded
    partners = Partners(sc, sim)
    hub, _, _ = serve(
        recorded, tmp_path_factory.mktemp("ref"), partners, every_s=0, crashes=[], seed=1
    )
    assert any(isinstance(m, SystemTrack) for m in partners.accepted["KOR"])
    assert any(isinstance(m, Warning) for m in partners.accepted["KOR"])
    return partners, hub


@pytest.mark.parametrize(
    ("every_s", "crash_fractions"),
    [
        (0.0, (0.25, 0.5, 0.75)),  # a commit after every batch: strict write-ahead
        (0.05, (0.3, 0.6, 0.9)),  # commits rarer than batches: crashes fall between them
        (1e9, (0.4, 0.8)),  # no commit but the first: every crash redoes everything
    ],
)
def test_crashed_service_gives_partners_exactly_the_uninterrupted_picture(
    recorded, reference, tmp_path: Path, every_s: float, crash_fractions: tuple[float, ...]
) -> None:
    sc, sim, _ = recorded
    ref_partners, ref_hub = reference
    total = ref_partners.published
    partners = Partners(sc, sim)
    crashes = [int(f * total) for f in crash_fractions]
    hub, restarts, restored = serve(
        recorded, tmp_path, partners, every_s=every_s, crashes=crashes, seed=7
    )
    assert restarts == len(crashes)
    if every_s == 0:
        assert restored == restarts
    print(f"\nevery_s={every_s}: {restarts} crashes, {restored} restored from a checkpoint")

    assert partners.view() == ref_partners.view()
    for p, door in partners.doors.items():
        refusals = dict(door.deadletters.by_reason)
        assert set(refusals) <= {"replayed"}, (p, refusals)
    assert sum(d.deadletters.total for d in partners.doors.values()) > 0  # copies were sent
    # The stored streams hold each message once: copies carried the same Nats-Msg-Id.
    assert partners.view(partners.stored_messages()) == ref_partners.view(
        ref_partners.stored_messages()
    )
    assert hub.table.next_number == ref_hub.table.next_number
    assert hub.link.stamper.next_seq == ref_hub.link.stamper.next_seq
    verify_audit(tmp_path / "audit.jsonl")
    snap = load_snapshot(tmp_path / "hub.state")
    assert snap is not None and snap["warner"] is not None
    assert snap["offsets"] == {s: len(m) for s, m in recorded[2].items()}


def test_a_snapshot_of_another_version_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "hub.state"
    save_snapshot(path, {"version": SNAPSHOT_VERSION - 1, "table": {}})
    with pytest.raises(DeployError, match=f"version {SNAPSHOT_VERSION - 1}.*Move the file aside"):
        load_snapshot(path)
    path.write_text(json.dumps({"tables": []}))
    with pytest.raises(DeployError, match="not a hub snapshot"):
        load_snapshot(path)


class Silent:
    """A warner that warns of nothing: a restarted hub whose cycles, run again, send fewer
    messages than the killed one did (what a run that goes another way looks like)."""

    def __call__(self, partner: str, tracks: list[SystemTrack], t_ns: int) -> list[Envelope]:
        return []

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, d: dict[str, Any]) -> None:
        pass


def test_a_restart_that_goes_another_way_moves_past_the_numbers_used(
    recorded, reference, tmp_path: Path
) -> None:
    sc, sim, streams = recorded
    ref_partners, _ = reference
    partners = Partners(sc, sim)
    hub = new_hub(sc, sim, tmp_path / "audit.jsonl")
    cp = HubCheckpoint(tmp_path / "hub.state")
    inputs = MemoryStreams(streams, 3)
    # Killed a few cycles after the launch alerts went out, with no commit but the one at
    # start (every_s: never); run again, the silent warner leaves those alerts out: fewer
    # numbers used.
    kor = partners.accepted["KOR"]
    inputs.crash_when = lambda: (
        any(isinstance(m, Warning) for m in kor)
        and sum(isinstance(m, SystemTrack) for m in kor) >= 5
    )
    with pytest.raises(Crash):
        asyncio.run(
            run_durable_hub(
                hub, partners, inputs, cp, cp.resume(hub),  # type: ignore[arg-type]
                stop=inputs.drained, every_s=1e9, batch=40,
            )
        )  # fmt: skip
    hub.audit.close()
    t_crash = max(m.measured_ns for msgs in partners.accepted.values() for m in msgs)

    again = new_hub(sc, sim, tmp_path / "audit.jsonl")
    again.warner = Silent()  # type: ignore[assignment]
    cp = HubCheckpoint(tmp_path / "hub.state")
    resume = cp.resume(again)
    assert resume.restored and resume.fence is not None  # the checkpoint taken at start
    inputs = MemoryStreams(streams, 4)
    stats = DurableStats()
    asyncio.run(
        run_durable_hub(
            again, partners, inputs, cp, resume,  # type: ignore[arg-type]
            stop=inputs.drained, every_s=1e9, batch=40, stats=stats,
        )
    )  # fmt: skip
    assert stats.diverged == 1

    def tracks_after(ps: Partners, t_ns: int) -> dict[str, list[tuple[int, int, str]]]:
        return {
            p: sorted(
                (m.system_track_number, m.measured_ns, m.status)
                for m in msgs
                if isinstance(m, SystemTrack) and m.measured_ns > t_ns
            )
            for p, msgs in ps.accepted.items()
        }

    # Past the point the killed process had reached, every release reaches its partner:
    # none is refused for a number the killed process had used.
    later = t_crash
    assert tracks_after(partners, later) == tracks_after(ref_partners, later)
    assert any(tracks_after(partners, later).values())
    for p, msgs in partners.accepted.items():
        beats = {m.measured_ns for m in msgs if isinstance(m, Heartbeat) and m.measured_ns > later}
        want = {m.measured_ns for m in ref_partners.accepted[p] if isinstance(m, Heartbeat)}
        assert beats == {t for t in want if t > later}, p


def test_a_fence_older_than_the_checkpoint_is_ignored(recorded, tmp_path: Path) -> None:
    """Killed between writing a checkpoint and emptying the fence: the old fence's
    numbers are below the checkpoint's, and must not be taken for a run gone astray."""
    sc, sim, streams = recorded
    hub = new_hub(sc, sim, tmp_path / "audit.jsonl")
    cp = HubCheckpoint(tmp_path / "hub.state")
    cp.commit(hub, [], {})
    hub.audit.close()
    assert hub.link.stamper.next_seq == 0
    hub = new_hub(sc, sim, tmp_path / "audit.jsonl")
    hub.link.stamper._next_seq = 500  # as if the checkpoint had been taken later
    cp = HubCheckpoint(tmp_path / "hub.state")
    cp.commit(hub, [], {"HUB_FROM_KOR": 3})
    hub.audit.close()
    cp.fence_path.write_text('{"offsets":{"HUB_FROM_KOR":2},"seq":120}\n')  # left over

    again = new_hub(sc, sim, tmp_path / "audit.jsonl")
    cp = HubCheckpoint(tmp_path / "hub.state")
    resume = cp.resume(again)
    assert resume.fence is not None and resume.fence.seq == 120
    inputs = MemoryStreams(streams, 5)
    stats = DurableStats()
    asyncio.run(
        run_durable_hub(
            again, Partners(sc, sim), inputs, cp, resume,  # type: ignore[arg-type]
            stop=inputs.drained, every_s=1e9, batch=40, stats=stats,
        )
    )  # fmt: skip
    assert stats.diverged == 0 and again.link.stamper.next_seq > 500
    assert cp.read_fence() is None  # the last commit emptied it


# Every attribute of a HubNode is either saved by trilink.nodes.persist, rebuilt by the
# same command from the scenario, or a cache / evaluation aid a restart may lose. A new
# attribute must be put in one of these sets, after deciding whether a restart loses it.
SAVED = {
    "table", "fusion_config", "next_cycle_ns", "cycles", "reports_in", "watermarks",
    "heard_ns", "last_seq", "_pending", "_latest", "_launch_sent", "_released",
    "_track_sources", "warner", "link", "audit",
}  # fmt: skip
REBUILT = {
    "clock", "cycle_ns", "partners", "sources", "policy", "source_timeout_ns",
    "tracker_config",
    "fast_path", "defer_fast",  # the command line (trilink hub refuses --fast-path --state)
}  # fmt: skip
LOSABLE = {
    "_may", "_decisions",  # policy decisions cached per key: asked again
    "_outbox",  # one cycle's releases while it runs
    "withheld",  # this process's count of messages that failed the contract (each logged)
    # The metrics endpoint's (trilink.nodes.metrics): this process's counts and last cycle
    # time; Prometheus counters restart at 0 with the process.
    "released_by_subject", "last_cycle_at_ns",
    "_started_ns",  # the heartbeat's uptime restarts with the process
    "last_picture", "keep_pictures", "pictures", "reports",  # evaluation
    # The fast path's working state (trilink.nodes.hub_fast): a durable hub runs without
    # it (the command refuses --fast-path with --state); a fast hub relearns it from its
    # next cycle.
    "fast",
}  # fmt: skip


def test_every_hub_attribute_is_saved_rebuilt_or_losable(recorded) -> None:
    sc, sim, _ = recorded
    hub = new_hub(sc, sim, None)
    unknown = set(vars(hub)) - SAVED - REBUILT - LOSABLE
    assert not unknown, f"HubNode state that a restart would lose silently: {sorted(unknown)}"
    assert set(vars(hub.link)) <= {
        "_refused",
        "clock",
        "deadletters",
        "node_id",
        "receiver",
        "stamper",
    }
