"""What every node shares: its identity on the link, and the messages it sends.

Nodes are sans-I/O: they take detections or received bytes and return the
:class:`Outbound` messages to publish; a runtime (simulated or live) moves the bytes.
That keeps every decision a node makes testable without a bus, and lets the same node
run in one process on a simulated clock or as a service on NATS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.link import DeadLetter, DeadLetterLog, Decoder, Keyring, Receiver, ReplayGuard, Stamper
from trilink.link.deadletter import encode_deadletter
from trilink.link.signing import private_key_from_seed
from trilink.link.subjects import deadletter as deadletter_subject
from trilink.messages import Envelope, Message
from trilink.nodes.clock import Clock


@dataclass(frozen=True)
class Outbound:
    """One message a node wants published."""

    subject: str
    payload: bytes
    headers: dict[str, str] = field(default_factory=dict)


def simulation_keys(node_ids: Iterable[str], seed: int) -> dict[str, Ed25519PrivateKey]:
    """Deterministic Ed25519 keys for a simulated coalition (never for live use).

    Each key's 32-byte seed is SHA-256 of a fixed label, the scenario seed and the node id,
    so a recorded simulation can be re-verified later by anyone who knows the seed.
    """
    return {
        node: private_key_from_seed(
            hashlib.sha256(f"trilink-sim-key\0{seed}\0{node}".encode()).digest()
        )
        for node in node_ids
    }


class LinkEndpoint:
    """A node's door to the link: it stamps and signs what it sends and checks what it
    receives (decode, signature, subject, replay and clock), dead-lettering refusals."""

    def __init__(
        self,
        node_id: str,
        private_key: Ed25519PrivateKey,
        keyring: Keyring,
        clock: Clock,
        *,
        deadletter_path: Path | str | None = None,
        start_seq: int = 0,
        max_age_s: float | None = 3600.0,
        check_clock: bool = True,
    ):
        self.node_id = node_id
        self.clock = clock
        self.stamper = Stamper(node_id, private_key, start_seq=start_seq)
        self.deadletters = DeadLetterLog(deadletter_path)
        self.receiver = Receiver(
            Decoder(keyring.sources),
            keyring,
            # Without a shared clock (an as-fast-as-possible run on a real bus) the skew
            # checks have nothing to compare with; replay and signature checks remain.
            ReplayGuard(clock.now_ns, max_age_s=max_age_s)
            if check_clock
            else ReplayGuard(clock.now_ns, max_future_s=1e12, max_age_s=None),
            self.deadletters,
        )
        # Every refusal is also published on trilink.deadletter.<node> (ICD section 9), so
        # operators see it without access to the node's disk; the node hands these out
        # with its next outbound messages.
        self._refused: list[DeadLetter] = []
        self.deadletters.listeners.append(self._refused.append)

    def seal(self, msg: Envelope, subject: str) -> Outbound:
        """One message, stamped and signed on its own."""
        return Outbound(subject, self.stamper.seal(msg, self.clock.now_ns()))

    def seal_bundle(self, msgs: Sequence[Envelope], subject: str) -> list[Outbound]:
        """Messages for one subject, stamped now and sent as signed bundles (as many as
        the size limits need; a lone message goes plain). Nothing for no messages."""
        if not msgs:
            return []
        now = self.clock.now_ns()
        stamped = [self.stamper.stamp(m, now, sign=False) for m in msgs]
        return [Outbound(subject, p) for p in self.stamper.bundle(stamped, now)]

    def receive(self, payload: bytes, subject: str | None) -> list[Message]:
        """The messages of one delivery that passed every check: ``[msg]`` for a plain
        message, the admitted items of a bundle; refusals are dead-lettered (publish them
        with :meth:`refusals`)."""
        return self.receiver.receive_all(payload, subject)

    def refusals(self) -> list[Outbound]:
        """The dead letters recorded since the last call, as messages to publish."""
        out = [
            Outbound(deadletter_subject(self.node_id), encode_deadletter(d)) for d in self._refused
        ]
        self._refused.clear()
        return out
