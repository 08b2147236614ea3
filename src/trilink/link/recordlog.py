"""The recorded message log: every delivery on the bus, as it arrived, replayable.

File format (``.tlog``; the ICD, section "Recorded log"):

- the 8 magic bytes ``b"TRILOG1\\n"``;
- then records, each a 4-byte big-endian unsigned length N followed by N bytes of
  MessagePack: the array ``[t_ns, subject, payload, headers]`` (int, str, bin, map of
  str to str), where ``t_ns`` is the receive time (UTC ns) and ``payload`` the bytes
  exactly as delivered (a trilink message, or anything else that was on the subject).

Length framing makes the log appendable and lets a reader stop cleanly at a record cut
short by a crash.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import msgspec

from trilink.errors import DecodeError

MAGIC = b"TRILOG1\n"
MAX_RECORD_BYTES = 16 * 2**20
_LEN = struct.Struct(">I")


class LogRecord(msgspec.Struct, frozen=True, array_like=True):
    """One delivery: receive time, subject, payload bytes, headers."""

    t_ns: int
    subject: str
    payload: bytes
    headers: dict[str, str] = {}


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(LogRecord)


class LogWriter:
    """Appends records to a ``.tlog`` file (writes the magic if the file is new)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._file: IO[bytes] = self.path.open("ab")
        if new:
            self._file.write(MAGIC)
        self.count = 0

    def append(
        self, t_ns: int, subject: str, payload: bytes, headers: Mapping[str, str] | None = None
    ) -> None:
        body = _encoder.encode(LogRecord(t_ns, subject, bytes(payload), dict(headers or {})))
        self._file.write(_LEN.pack(len(body)) + body)
        self.count += 1

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_log(data: bytes) -> bool:
    return data.startswith(MAGIC)


def iter_records(data: bytes, *, strict: bool = True) -> Iterator[LogRecord]:
    """Records of a log held in memory. A record cut short at the end raises DecodeError
    if ``strict``, else ends the iteration (what a crash mid-write leaves)."""
    if not is_log(data):
        raise DecodeError("$", "not a trilink log (missing TRILOG1 magic)")
    view = memoryview(data)
    pos = len(MAGIC)
    while pos < len(view):
        if pos + 4 > len(view):
            if strict:
                raise DecodeError("$", f"truncated record length at byte {pos}")
            return
        (n,) = _LEN.unpack_from(view, pos)
        if n > MAX_RECORD_BYTES:
            raise DecodeError("$", f"record at byte {pos} claims {n} bytes (corrupt log?)")
        if pos + 4 + n > len(view):
            if strict:
                raise DecodeError("$", f"truncated record at byte {pos}")
            return
        try:
            yield _decoder.decode(view[pos + 4 : pos + 4 + n])
        except msgspec.DecodeError as e:  # ValidationError is a subclass
            raise DecodeError("$", f"bad record at byte {pos}: {e}") from None
        pos += 4 + n


def read_log(path: Path | str, *, strict: bool = True) -> Iterator[LogRecord]:
    """Records of a ``.tlog`` file, in order."""
    yield from iter_records(Path(path).read_bytes(), strict=strict)
