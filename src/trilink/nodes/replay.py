"""Replay: a recorded message log played back through the same nodes.

The national reports and heartbeats of a recording (``trilink.<NODE>.tracks|status``)
are fed, in recorded order, to a fresh hub; because the hub fuses on watermarks, it
reproduces the recorded run's releases exactly — a check that the recording is complete
and the hub deterministic, and a way to re-run a day's traffic under another policy or
fusion setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from trilink.link import Keyring, iter_payload_messages
from trilink.link.recordlog import LogRecord, read_log
from trilink.link.signing import private_key_from_seed
from trilink.link.subjects import expected
from trilink.messages import SystemTrack
from trilink.nodes.clock import SimClock
from trilink.nodes.coalition import HUB_FUSION
from trilink.nodes.hub import HUB_ID, HubNode
from trilink.policy import AuditLog, Policy
from trilink.scenario.model import Scenario, thaw


@dataclass
class ReplayResult:
    hub: HubNode
    fed: int = 0
    releases: dict[str, list[SystemTrack]] = field(default_factory=dict)
    recorded: dict[str, list[SystemTrack]] = field(default_factory=dict)

    def mismatches(self) -> list[str]:
        """Differences between the replayed and the recorded releases (empty if none)."""
        out = []
        for partner in sorted(set(self.releases) | set(self.recorded)):
            a = [_essence(m) for m in self.releases.get(partner, [])]
            b = [_essence(m) for m in self.recorded.get(partner, [])]
            if a != b:
                n = next(
                    (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                    min(len(a), len(b)),
                )
                out.append(
                    f"{partner}: {len(a)} replayed vs {len(b)} recorded system tracks; first difference at #{n}"
                )
        return out


def _essence(m: SystemTrack) -> tuple[object, ...]:
    """What a release says, without its stamp (id, seq, times of sending, signature)."""
    return (
        m.system_track_number,
        m.measured_ns,
        m.status,
        m.state_ecef,
        m.covariance_ecef,
        m.sources,
    )


def replay(directory: Path, *, policy: Policy | None = None) -> ReplayResult:
    """Feed a recording's national traffic to a fresh hub and collect what it releases.

    ``directory`` holds ``messages.tlog``, ``keyring.json`` and ``run.json`` (the fusion
    grid, the nations and the policy of the recorded run); ``policy`` overrides the
    recorded one (to ask "what would partners have seen under this policy?").
    """
    meta = json.loads((directory / "run.json").read_text())
    nations = sorted(meta["nations"])
    pol = policy if policy is not None else Policy.from_table(meta.get("policy") or None)
    records: list[LogRecord] = list(read_log(directory / "messages.tlog"))
    recorded_ring = Keyring.load(directory / "keyring.json")
    clock = SimClock(records[0].t_ns if records else int(meta["start_ns"]))
    # The replaying hub signs with a key of its own; the sources' recorded keys verify them.
    replay_key = private_key_from_seed(b"trilink-replay-hub".ljust(32, b"\0"))
    keys = {src: hexkey for src, hexkey in recorded_ring.to_hex().items() if src != HUB_ID}
    ring = Keyring.from_raw(
        {**keys, HUB_ID: Keyring.of_private({HUB_ID: replay_key}).to_hex()[HUB_ID]}
    )
    hub = HubNode(
        replay_key, ring, clock, partners=nations, sources=nations, policy=pol,
        start_ns=int(meta["start_ns"]), cycle_s=float(meta["cycle_s"]), audit=AuditLog(),
        check_clock=False, fusion_config=HUB_FUSION,
    )  # fmt: skip
    result = ReplayResult(hub)
    for r in records:
        if r.subject.startswith("trilink.hub.out.") and r.subject.endswith(".tracks"):
            for msg in iter_payload_messages(r.payload):  # a message or a bundle of them
                if isinstance(msg, SystemTrack):
                    result.recorded.setdefault(r.subject.split(".")[3], []).append(msg)
            continue
        e = expected(r.subject)
        if e is None or e[0] == HUB_ID or not r.subject.endswith((".tracks", ".status")):
            continue
        clock.advance_to(max(clock.now_ns(), r.t_ns))
        hub.on_message(r.subject, r.payload)
        result.fed += 1
        for ob in hub.run_due():
            if ob.subject.startswith("trilink.hub.out.") and ob.subject.endswith(".tracks"):
                for st in iter_payload_messages(ob.payload):
                    if isinstance(st, SystemTrack):
                        result.releases.setdefault(ob.subject.split(".")[3], []).append(st)
    return result


def write_run_meta(
    directory: Path, scenario: Scenario, start_ns: int, cycle_s: float, seed: int
) -> Path:
    """What a replay needs besides the messages: the fusion grid, nations, policy."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "run.json"
    meta = {
        "scenario": scenario.name,
        "source": scenario.source,
        "seed": seed,
        "start_ns": int(start_ns),
        "cycle_s": cycle_s,
        "nations": [n.id for n in scenario.nations],
        "hub_nation": scenario.hub.id,
        "policy": thaw(scenario.policy),
    }
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path
