"""Rejected input is kept, never dropped: a DeadLetter per refusal, counted by reason.

A :class:`DeadLetterLog` appends one JSON object per line (raw bytes in base64) to a file,
or keeps them in memory, and counts refusals by reason and by field. Nodes publish each
record on ``trilink.deadletter.<NODE>`` and may answer the sender with a
:class:`~trilink.messages.Reject` (:func:`reject_for`).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import msgspec

from trilink.errors import DecodeError
from trilink.link.codec import error_field
from trilink.messages import Reject, RejectReason


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One refused input: what arrived, when, where, and why (reason code + field)."""

    t_ns: int
    reason: RejectReason
    field: str
    detail: str
    raw: bytes
    subject: str | None = None
    source: str | None = None
    message_id: str | None = None
    seq: int | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DeadLetter)


class DeadLetterLog:
    """Append-only record of refusals, with counters.

    ``path``: a JSON Lines file opened for append (None: memory only). ``keep``: how many
    recent records stay in memory (the counters count them all). ``listeners`` are
    called with each record, e.g. to publish it on the bus.
    """

    def __init__(self, path: Path | str | None = None, *, keep: int = 10_000):
        self.path = None if path is None else Path(path)
        self.recent: deque[DeadLetter] = deque(maxlen=keep)
        self.by_reason: Counter[str] = Counter()
        self.by_field: Counter[str] = Counter()
        self.listeners: list[Callable[[DeadLetter], None]] = []
        self.failures: Counter[str] = Counter()  # writes or listeners that raised
        self._file: IO[bytes] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def append(self, letter: DeadLetter) -> None:
        """Record and count ``letter``. Never raises: a failed write or listener is
        counted in ``failures`` (the letter stays in memory), because this runs on the
        receive path that must keep a node alive."""
        self.recent.append(letter)
        self.by_reason[letter.reason] += 1
        self.by_field[letter.field] += 1
        if self._file is not None:
            try:
                # One write per line, flushed: a crash loses at most the line being written.
                self._file.write(_encoder.encode(letter) + b"\n")
                self._file.flush()
            except (OSError, ValueError) as e:
                self.failures[f"write: {type(e).__name__}"] += 1
        for listener in self.listeners:
            try:
                listener(letter)
            except Exception as e:  # a listener's bug must not break the receive path
                self.failures[f"listener: {type(e).__name__}"] += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> DeadLetterLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def encode_deadletter(letter: DeadLetter) -> bytes:
    """The JSON form (the line written to the log and the payload on the bus)."""
    return _encoder.encode(letter)


def decode_deadletter(data: bytes | str) -> DeadLetter:
    """One dead-letter record; DecodeError (naming the field) if it is not one."""
    try:
        return _decoder.decode(data)
    except msgspec.ValidationError as e:
        field, reason = error_field(e)
        raise DecodeError(field, reason) from None
    except msgspec.DecodeError as e:
        raise DecodeError("$", f"not a dead-letter record: {e}") from None


def read_deadletters(path: Path | str) -> Iterator[DeadLetter]:
    """Every record in a dead-letter file, in order; DecodeError names the bad line."""
    with Path(path).open("rb") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield decode_deadletter(line)
                except DecodeError as e:
                    raise DecodeError(f"line {lineno}: {e.field}", e.reason) from None


def reject_for(letter: DeadLetter, *, source: str, releasability: tuple[str, ...]) -> Reject:
    """An unstamped Reject telling the sender about ``letter`` (stamp it before sending)."""
    return Reject(
        source=source,
        measured_ns=letter.t_ns,
        releasability=releasability,
        rejected_message_id=letter.message_id,
        rejected_source=letter.source,
        rejected_seq=letter.seq,
        reason=letter.reason,
        field=letter.field[:256],
        detail=letter.detail[:1024],
    )
