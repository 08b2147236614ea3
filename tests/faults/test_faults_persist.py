"""A hub killed and rebuilt from its snapshot carries on as if nothing had happened.

In-process and exact: the national reports of a recorded simulated run are fed to an
uninterrupted hub, and to a hub that is "killed" (dropped) at a point of the restart
protocol and rebuilt from its snapshot. What partners accept must be the same messages,
with the same sequence numbers and system track numbers, none twice; the audit chain
must continue. (The same over real NATS with a SIGKILL: test_faults_restart.py.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from trilink.errors import AuditError, DeployError
from trilink.link import DeadLetterLog, Decoder, Receiver, ReplayGuard, iter_payload_messages
from trilink.link.recordlog import read_log
from trilink.link.subjects import matches
from trilink.messages import Envelope
from trilink.nodes.base import Outbound
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.hub import HubNode
from trilink.nodes.live import ManualClock
from trilink.nodes.persist import HubCheckpoint, load_snapshot, save_snapshot
from trilink.policy.audit import iter_records, verify_audit


@pytest.fixture(scope="module")
def recorded(recorded_run):  # type: ignore[no-untyped-def]
    """(scenario, simulation, hub inputs in order, first input after which it releases)."""
    sc, sim, rec = recorded_run
    nations = [n.id for n in sc.nations]
    inputs = [
        (r.subject, r.payload)
        for r in read_log(rec / "messages.tlog")
        if any(matches(f"trilink.{n}.*", r.subject) for n in nations)
    ]
    hub = new_hub((sc, sim), None)
    first = next(
        i
        for i, (subject, payload) in enumerate(inputs)
        if hub.on_message(subject, payload) is not None
        and any(o.subject.endswith(".tracks") for o in hub.run_due())
    )
    return sc, sim, inputs, first


def split(recorded, *fractions: float) -> list[int]:  # type: ignore[no-untyped-def]
    """Input positions at ``fractions`` of the stretch in which the hub releases tracks
    (the first reports only start tracks: a kill there would test little)."""
    n, first = len(recorded[2]), recorded[3]
    return [first + int(f * (n - first)) for f in fractions]


def new_hub(recorded, audit: Path | None) -> HubNode:  # type: ignore[no-untyped-def]
    sc, sim = recorded[:2]
    identity = Identity.simulated(sc, sim.seed)
    clock = ManualClock(sim.t_start_ns)
    return make_hub(sc, identity, clock, sim.t_start_ns, audit_path=audit, check_clock=False)


def feed(hub: HubNode, inputs: list[tuple[str, bytes]]) -> list[Outbound]:
    out: list[Outbound] = []
    for subject, payload in inputs:
        hub.on_message(subject, payload)
        out += hub.run_due()
    return out


class Partners:
    """Every partner's receiving door (decode, verify, replay guard), one per nation."""

    def __init__(self, recorded) -> None:  # type: ignore[no-untyped-def]
        sc, sim = recorded[:2]
        ring = Identity.simulated(sc, sim.seed).keyring
        self.doors = {
            n.id: Receiver(
                Decoder(ring.sources),
                ring,
                ReplayGuard(lambda: sim.t_start_ns, max_future_s=1e12, max_age_s=None),
                DeadLetterLog(),
            )
            for n in sc.nations
        }
        self.accepted: dict[str, list[Envelope]] = {n: [] for n in self.doors}

    def deliver(self, out: list[Outbound]) -> None:
        for ob in out:
            partner = (
                ob.subject.split(".")[3] if ob.subject.startswith("trilink.hub.out.") else None
            )
            if partner is None:
                continue
            door = self.doors[partner]
            if hasattr(door, "receive_all"):  # bundles: each admitted item
                self.accepted[partner].extend(door.receive_all(ob.payload, ob.subject))
            else:
                msg = door(ob.payload, ob.subject)
                if msg is not None:
                    self.accepted[partner].append(msg)

    def view(self) -> dict[str, list[tuple]]:
        """What each partner holds, without the per-send fields (id, sent time, signature)."""
        return {
            p: [
                (
                    m.seq,
                    msgspec.to_builtins(
                        msgspec.structs.replace(m, message_id="", sent_ns=0, signature=b"")
                    ),
                )
                for m in msgs
            ]
            for p, msgs in self.accepted.items()
        }


def decisions(path: Path) -> list[dict]:
    drop = {"message_id", "hash", "prev"}
    return [{k: v for k, v in r.items() if k not in drop} for _, r in iter_records(path)]


def uninterrupted(recorded, tmp: Path) -> tuple[Partners, HubNode]:  # type: ignore[no-untyped-def]
    hub = new_hub(recorded, tmp / "audit-a.jsonl")
    partners = Partners(recorded)
    partners.deliver(feed(hub, recorded[2]))
    return partners, hub


def test_killed_after_commit_republishes_its_outbox_and_partners_drop_the_copies(
    recorded, tmp_path: Path
) -> None:
    ref, ref_hub = uninterrupted(recorded, tmp_path)
    inputs = recorded[2]
    (half,) = split(recorded, 0.5)
    audit, snap = tmp_path / "audit.jsonl", tmp_path / "hub.snapshot"
    partners = Partners(recorded)

    first = new_hub(recorded, audit)
    cp = HubCheckpoint(snap)
    assert not cp.resume(first).restored  # a first start
    out = cp.commit(first, feed(first, inputs[:half]), {"in": half})
    assert any(o.subject.endswith(".tracks") for o in out)
    partners.deliver(out)  # published, then SIGKILL before the inputs are acknowledged
    first.audit.close()

    second = new_hub(recorded, audit)
    resume = HubCheckpoint(snap).resume(second)
    assert resume.restored and resume.offsets == {"in": half}
    assert [o.payload for o in resume.outbox] == [o.payload for o in out]
    partners.deliver(resume.outbox)  # all copies: every one refused as replayed
    partners.deliver(feed(second, inputs[resume.offsets["in"] :]))

    assert partners.view() == ref.view()
    for p, door in partners.doors.items():
        copies = _items(o for o in out if o.subject.startswith(f"trilink.hub.out.{p}."))
        assert dict(door.deadletters.by_reason) == ({"replayed": copies} if copies else {})
    assert second.link.stamper.next_seq == ref_hub.link.stamper.next_seq
    assert second.table.next_number == ref_hub.table.next_number
    second.audit.close()
    ref_hub.audit.close()
    # One valid chain with the same decisions (message ids are random per send).
    assert verify_audit(audit)[0] == verify_audit(tmp_path / "audit-a.jsonl")[0]
    assert decisions(audit) == decisions(tmp_path / "audit-a.jsonl")


def test_killed_before_commit_redoes_the_lost_work_with_the_same_numbers(
    recorded, tmp_path: Path
) -> None:
    ref, ref_hub = uninterrupted(recorded, tmp_path)
    inputs = recorded[2]
    k, m = split(recorded, 0.3, 0.7)
    audit, snap = tmp_path / "audit.jsonl", tmp_path / "hub.snapshot"
    partners = Partners(recorded)

    first = new_hub(recorded, audit)
    out = HubCheckpoint(snap).commit(first, feed(first, inputs[:k]), {"in": k})
    assert any(o.subject.endswith(".tracks") for o in out)
    partners.deliver(out)
    lost = feed(first, inputs[k:m])  # decided and audited, never committed nor published
    assert lost
    first.audit.close()

    second = new_hub(recorded, audit)
    resume = HubCheckpoint(snap).resume(second)
    partners.deliver(resume.outbox)
    partners.deliver(feed(second, inputs[resume.offsets["in"] :]))

    assert partners.view() == ref.view()
    for p, door in partners.doors.items():  # only the outbox copies were refused
        copies = _items(o for o in out if o.subject.startswith(f"trilink.hub.out.{p}."))
        assert dict(door.deadletters.by_reason) == ({"replayed": copies} if copies else {})
    assert second.table.next_number == ref_hub.table.next_number
    second.audit.close()
    ref_hub.audit.close()
    count, _ = verify_audit(audit)  # still one valid chain, the redone decisions included
    released = [o for o in lost if o.subject.startswith("trilink.hub.out.")]
    audited_twice = sum(  # every release, not the hub's heartbeats
        1
        for o in released
        for m in iter_payload_messages(o.payload)
        if type(m).__name__ != "Heartbeat"
    )
    assert audited_twice
    assert count >= verify_audit(tmp_path / "audit-a.jsonl")[0] + audited_twice


def test_a_truncated_audit_log_is_refused_at_restart(recorded, tmp_path: Path) -> None:
    audit, snap = tmp_path / "audit.jsonl", tmp_path / "hub.snapshot"
    first = new_hub(recorded, audit)
    HubCheckpoint(snap).commit(first, feed(first, recorded[2][: split(recorded, 0.5)[0]]))
    first.audit.close()
    lines = audit.read_text().splitlines(keepends=True)
    assert len(lines) > 3
    audit.write_text("".join(lines[:-2]))  # still a valid chain on its own, but shorter
    verify_audit(audit)
    with pytest.raises(AuditError, match="truncated"):
        HubCheckpoint(snap).resume(new_hub(recorded, audit))


def test_a_rebuilt_audit_log_of_the_same_length_is_refused(recorded, tmp_path: Path) -> None:
    audit, snap = tmp_path / "audit.jsonl", tmp_path / "hub.snapshot"
    first = new_hub(recorded, audit)
    HubCheckpoint(snap).commit(first, feed(first, recorded[2][: split(recorded, 0.5)[0]]))
    count = first.audit.count
    first.audit.close()
    # A forger rewrites the log from scratch: valid chain, same length, other contents.
    from trilink.policy import AuditLog

    audit.unlink()
    forged = AuditLog(audit)
    for i in range(count):
        forged.record(t_ns=i, kind="system_track", partner="JPN", allowed=True)
    forged.close()
    with pytest.raises(AuditError, match="differs"):
        HubCheckpoint(snap).resume(new_hub(recorded, audit))


def test_snapshot_files_are_atomic_private_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "state" / "hub.snapshot"
    assert load_snapshot(path) is None
    save_snapshot(path, {"version": 1, "x": [1, 2]})
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["x"] == [1, 2]
    assert [p.name for p in path.parent.iterdir()] == ["hub.snapshot"]  # no temp file left
    path.write_text("{not json")
    with pytest.raises(DeployError, match="bad JSON"):
        load_snapshot(path)
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(DeployError, match="version"):
        load_snapshot(path)


def _items(payloads) -> int:
    """Messages carried by these payloads: a replayed bundle is refused item by item."""
    return sum(len(list(iter_payload_messages(o.payload))) for o in payloads)
