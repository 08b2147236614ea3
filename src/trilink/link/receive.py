"""The one door every node's incoming bytes go through: decode, verify, check, admit.

:func:`receive_all` returns the admitted messages of a payload (``[msg]`` for a plain
message, the admitted items of a bundle, ``[]`` if nothing was), dead-lettering every
refusal with its reason; :func:`receive` is the same for plain messages only (a bundle is
refused: ``invalid``, field ``kind``, naming receive_all). Neither raises, so one bad
input (or a bug in a check) cannot stop a node.

Order matters: the signature is verified before the subject and replay checks so that
only authentic messages move a source's sequence window; the subject check comes before
the guard so a misrouted message does not consume its sequence number.

A bundle (ICD section "Bundles") is refused as a whole, with one dead letter, when it is
too large, does not decode, fails its signature or comes from another publisher than its
subject's. Then each item is decoded and validated, must be of the bundle's source with
an empty signature and a label that covers the bundle's, of a kind its subject carries,
and passes the replay guard on its own: a refused item is dead-lettered alone (its bytes
as ``raw``, the bundle's id in ``detail``) and the others are admitted. The bundle's own
sequence number and id are not entered in the guard, so a replayed bundle is refused
item by item (``replayed``), as its items are what was seen before.
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
from trilink.link.codec import Decoder, bundle_item_problem
from trilink.link.deadletter import DeadLetter, DeadLetterLog
from trilink.link.guard import ReplayGuard
from trilink.link.signing import Keyring
from trilink.link.subjects import HUB, expected
from trilink.messages import Bundle, Message, RejectReason, kind

Refusal = tuple[RejectReason, str, str]
"""(reason, field, detail) of a dead letter."""

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
    A bundle is refused here (``invalid``, field ``kind``): use :func:`receive_all`.
    """
    got = _receive(data, decoder, keyring, guard, deadletters, subject, hub, bundles=False)
    return got[0] if got else None


def receive_all(
    data: bytes | bytearray | memoryview,
    *,
    decoder: Decoder,
    keyring: Keyring,
    guard: ReplayGuard,
    deadletters: DeadLetterLog,
    subject: str | None = None,
    hub: str = HUB,
) -> list[Message]:
    """:func:`receive` for any payload: ``[msg]``, the admitted items of a bundle, or []."""
    return _receive(data, decoder, keyring, guard, deadletters, subject, hub, bundles=True)


def _receive(
    data: bytes | bytearray | memoryview,
    decoder: Decoder,
    keyring: Keyring,
    guard: ReplayGuard,
    deadletters: DeadLetterLog,
    subject: str | None,
    hub: str,
    *,
    bundles: bool,
) -> list[Message]:
    msg: Message | Bundle | None = None
    refusal: Refusal
    try:
        msg = decoder.decode_payload(data) if bundles else decoder.decode(data)
        keyring.verify(msg)
        rule = None if subject is None else expected(subject, hub)
        if rule is not None and msg.source != rule[0]:
            refusal = ("subject_mismatch", "source", _misrouted(msg, subject))
        elif isinstance(msg, Bundle):
            return _open_bundle(msg, decoder, guard, deadletters, subject, rule)
        elif rule is not None and kind(msg) not in rule[1]:
            refusal = ("subject_mismatch", "kind", _misrouted(msg, subject))
        else:
            guard.admit(msg)
            return [msg]
    except Exception as e:  # a bug in a check must not stop the node: record it instead
        limit = decoder.limit_for(data) if bundles else decoder.max_bytes
        refusal = _refusal(e, len(data) > limit)
    _refuse(deadletters, guard, data, refusal, subject, msg)
    return []


def _open_bundle(
    bundle: Bundle,
    decoder: Decoder,
    guard: ReplayGuard,
    deadletters: DeadLetterLog,
    subject: str | None,
    rule: tuple[str, frozenset[str]] | None,
) -> list[Message]:
    """The items of a verified bundle, each checked and admitted on its own."""
    out: list[Message] = []
    for i, item in enumerate(bundle.items):
        msg: Message | None = None
        refusal: Refusal | None
        try:
            msg = decoder.decode(item)
            refusal = bundle_item_problem(bundle, msg)
            if refusal is None and rule is not None and kind(msg) not in rule[1]:
                refusal = ("subject_mismatch", "kind", _misrouted(msg, subject))
            if refusal is None:
                guard.admit(msg)
                out.append(msg)
                continue
        except Exception as e:
            refusal = _refusal(e, len(item) > decoder.max_bytes)
        reason, field, detail = refusal
        where = f"item {i} of bundle {bundle.message_id} from {bundle.source}"
        _refuse(deadletters, guard, item, (reason, field, f"{where}: {detail}"), subject, msg)
    return out


def _misrouted(msg: Message | Bundle, subject: str | None) -> str:
    return f"{kind(msg)} from {msg.source} may not arrive on {subject}"


def _refusal(e: Exception, oversize: bool) -> Refusal:
    if isinstance(e, DecodeError):
        return (_decode_reason(e, oversize), e.field, e.reason)
    if isinstance(e, VerificationError):
        reason = _VERIFY_REASONS.get(type(e), "bad_signature")
        field = {"unknown_source": "source", "bad_signature": "signature"}.get(reason, e.field)
        return (reason, field, e.reason)
    return ("internal", "$", f"{type(e).__name__}: {e}")


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
        """One plain message, or None; a bundle is refused (use :meth:`receive_all`)."""
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

    def receive_all(
        self, data: bytes | bytearray | memoryview, subject: str | None = None
    ) -> list[Message]:
        """Any payload: ``[msg]`` for a plain message, the admitted items of a bundle, or
        ``[]``; every refusal (of the payload or of one item) is dead-lettered."""
        got = receive_all(
            data,
            decoder=self.decoder,
            keyring=self.keyring,
            guard=self.guard,
            deadletters=self.deadletters,
            subject=subject,
            hub=self.hub,
        )
        self.accepted += len(got)
        return got

    @property
    def rejected(self) -> int:
        return self.deadletters.total


def _decode_reason(e: DecodeError, oversize: bool) -> RejectReason:
    if oversize:
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
    refusal: Refusal,
    subject: str | None,
    msg: Message | Bundle | None,
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
