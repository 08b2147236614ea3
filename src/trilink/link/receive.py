"""The one door every node's incoming bytes go through: decode, verify, check, admit.

:func:`receive` returns the message, or None after dead-lettering the input with its
reason; it never raises, so one bad input (or a bug in a check) cannot stop a node.

Order matters: the signature is verified before the subject and replay checks so that
only authentic messages move a source's sequence window; the subject check comes before
the guard so a misrouted message does not consume its sequence number.
"""

from __future__ import annotations

import msgspec

from trilink.errors import (
    BadSignature,
    ClockSkew,
    DecodeError,
    ReplayedMessage,
    UnknownSource,
    VerificationError,
)
from trilink.link.codec import Decoder
from trilink.link.deadletter import DeadLetter, DeadLetterLog
from trilink.link.guard import ReplayGuard
from trilink.link.signing import Keyring
from trilink.link.subjects import HUB, expected
from trilink.messages import Message, RejectReason, kind

_VERIFY_REASONS: dict[type[VerificationError], RejectReason] = {
    UnknownSource: "unknown_source",
    BadSignature: "bad_signature",
    ReplayedMessage: "replayed",
    ClockSkew: "clock_skew",
}
_any_decoder = msgspec.msgpack.Decoder()


def receive(
    data: bytes | bytearray | memoryview,
    *,
    decoder: Decoder,
    keyring: Keyring,
    guard: ReplayGuard,
    deadletters: DeadLetterLog,
    subject: str | None = None,
    hub: str = HUB,
) -> Message | None:
    """Decode -> verify -> subject check -> replay/clock guard; None if refused.

    With ``subject`` given, a trilink subject must carry a message of its publisher
    (``trilink.KOR.tracks`` only KOR's track reports; ``trilink.hub.out.*`` only ``hub``'s).
    """
    msg: Message | None = None
    try:
        msg = decoder.decode(data)
        keyring.verify(msg)
        if subject is not None:
            rule = expected(subject, hub)
            if rule is not None and (msg.source != rule[0] or kind(msg) not in rule[1]):
                refusal: tuple[RejectReason, str, str] = (
                    "subject_mismatch",
                    "source" if msg.source != rule[0] else "kind",
                    f"{kind(msg)} from {msg.source} may not arrive on {subject}",
                )
                _refuse(deadletters, guard, data, refusal, subject, msg)
                return None
        guard.admit(msg)
        return msg
    except DecodeError as e:
        refusal = (_decode_reason(e, data, decoder), e.field, e.reason)
    except VerificationError as e:
        reason = _VERIFY_REASONS.get(type(e), "bad_signature")
        field = {"unknown_source": "source", "bad_signature": "signature"}.get(reason, e.field)
        refusal = (reason, field, e.reason)
    except Exception as e:  # a bug in a check must not stop the node: record it instead
        refusal = ("internal", "$", f"{type(e).__name__}: {e}")
    _refuse(deadletters, guard, data, refusal, subject, msg)
    return None


class Receiver:
    """:func:`receive` with its collaborators bound: ``receiver(data, subject)``."""

    def __init__(
        self,
        decoder: Decoder,
        keyring: Keyring,
        guard: ReplayGuard,
        deadletters: DeadLetterLog | None = None,
        *,
        hub: str = HUB,
    ):
        self.decoder = decoder
        self.keyring = keyring
        self.guard = guard
        self.deadletters = deadletters if deadletters is not None else DeadLetterLog()
        self.hub = hub
        self.accepted = 0

    def __call__(
        self, data: bytes | bytearray | memoryview, subject: str | None = None
    ) -> Message | None:
        msg = receive(
            data,
            decoder=self.decoder,
            keyring=self.keyring,
            guard=self.guard,
            deadletters=self.deadletters,
            subject=subject,
            hub=self.hub,
        )
        if msg is not None:
            self.accepted += 1
        return msg

    @property
    def rejected(self) -> int:
        return self.deadletters.total


def _decode_reason(
    e: DecodeError, data: bytes | bytearray | memoryview, d: Decoder
) -> RejectReason:
    if len(data) > d.max_bytes:
        return "oversize"
    if e.field == "source":  # pattern or registry: either way not a source we know
        return "unknown_source"
    if e.field == "schema_version":
        return "unsupported_version"
    return "invalid"


def _refuse(
    log: DeadLetterLog,
    guard: ReplayGuard,
    data: bytes | bytearray | memoryview,
    refusal: tuple[RejectReason, str, str],
    subject: str | None,
    msg: Message | None,
) -> None:
    reason, field, detail = refusal
    try:
        raw = bytes(data)
        source, message_id, seq = (
            (msg.source, msg.message_id, msg.seq) if msg is not None else _peek(raw, reason)
        )
        letter = DeadLetter(
            t_ns=guard.now_ns(),
            reason=reason,
            field=field,
            detail=detail,
            raw=raw,
            subject=subject,
            source=source,
            message_id=message_id,
            seq=seq,
        )
    except Exception as e:  # even the clock failed: keep what we can
        letter = DeadLetter(
            t_ns=0,
            reason=reason,
            field=field,
            detail=f"{detail} ({e!r})",
            raw=b"",
            subject=subject,
        )
    log.append(letter)


def _peek(raw: bytes, reason: RejectReason) -> tuple[str | None, str | None, int | None]:
    """Best effort: the envelope of a message that failed to decode, for the Reject."""
    if reason == "oversize":
        return None, None, None
    try:
        obj = _any_decoder.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        return None, None, None
    if not isinstance(obj, dict):
        return None, None, None
    source, mid, seq = obj.get("source"), obj.get("message_id"), obj.get("seq")
    return (
        source[:64] if isinstance(source, str) else None,
        mid[:64] if isinstance(mid, str) else None,
        seq if isinstance(seq, int) and 0 <= seq < 2**63 else None,
    )
