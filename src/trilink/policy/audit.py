"""An append-only, hash-chained audit log of release decisions (JSON Lines).

Each record carries ``prev`` (the previous record's hash) and ``hash`` =
SHA-256(prev || canonical JSON of the record without ``hash``). Editing, inserting,
deleting or reordering any record breaks the chain at that line, which
:func:`verify_audit` reports (an ``AuditError`` with the line number). Truncating the tail
cannot be seen from the file alone; the hub therefore also publishes its latest
(count, hash) nowhere yet: a witness held by the partners (the head hash in the hub's
heartbeat) is future work, so truncation by whoever controls the hub's disk is not
detected (docs/security.md).

A restarted hub reopens the file and continues the chain from its last record.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from trilink.errors import AuditError

GENESIS = "0" * 64


def _canonical(record: dict[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8 as is: ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)``, the form every chain so far was hashed in.

    msgspec writes the same bytes for strings, integers, booleans, null, lists and objects
    (checked over every code point to U+07FF and the planes' edges, in the tests) about
    8x faster, which matters at thousands of releases a second; it writes floats in
    another exponent form (``1e16`` for ``1e+16``), so a record holding a float goes
    through ``json``.
    """
    if _has_float(record):  # a dict at the top
        return json.dumps(
            record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    return msgspec.json.encode(record, order="sorted")


_SCALARS = (str, int, bool, type(None))


def _has_float(value: Any) -> bool:
    # Plain loops, scalars first: this runs for every record, thousands a second.
    items = value.values() if isinstance(value, dict) else value
    for v in items:
        if isinstance(v, _SCALARS):
            continue
        if isinstance(v, float) or (isinstance(v, dict | list | tuple) and _has_float(v)):
            return True
    return False


def chain_hash(prev: str, record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(prev.encode() + _canonical(body)).hexdigest()


class AuditLog:
    """Append-only audit chain, in a file (durable) or in memory (tests, demos)."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else None
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.count = 0
        self.head = GENESIS
        if self.path is not None and self.path.exists():
            # Continue the chain after a restart; refuse to extend a broken one.
            self.count, self.head = verify_audit(self.path)
        self._fh = None if self.path is None else open(self.path, "a", encoding="utf-8")

    def record(self, **fields: Any) -> dict[str, Any]:
        with self._lock:
            rec = {"n": self.count, **fields, "prev": self.head}
            rec["hash"] = chain_hash(self.head, rec)
            if self._fh is not None:  # (in memory, the line is never made: half the cost)
                self._fh.write(_canonical(rec).decode() + "\n")
                self._fh.flush()
            else:
                self.records.append(rec)
            self.count += 1
            self.head = rec["hash"]
            return rec

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def iter_records(path: Path | str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise AuditError(lineno, f"not JSON: {exc.msg}") from None
            if not isinstance(rec, dict):
                raise AuditError(lineno, "not a JSON object")
            yield lineno, rec


def verify_records(records: list[dict[str, Any]]) -> tuple[int, str]:
    """Check an in-memory chain; returns (count, head hash)."""
    prev = GENESIS
    for i, rec in enumerate(records):
        prev = _check(i + 1, i, rec, prev)
    return len(records), prev


def verify_audit(path: Path | str) -> tuple[int, str]:
    """Check a chain file line by line; returns (count, head hash) or raises AuditError."""
    prev = GENESIS
    count = 0
    for lineno, rec in iter_records(path):
        prev = _check(lineno, count, rec, prev)
        count += 1
    return count, prev


def _check(lineno: int, expected_n: int, rec: dict[str, Any], prev: str) -> str:
    if rec.get("n") != expected_n:
        raise AuditError(
            lineno, f"record number {rec.get('n')!r}, expected {expected_n} (inserted or deleted)"
        )
    if rec.get("prev") != prev:
        raise AuditError(lineno, "prev does not match the previous record's hash (chain broken)")
    if rec.get("hash") != chain_hash(prev, rec):
        raise AuditError(lineno, "hash does not match the record's contents (record altered)")
    return str(rec["hash"])
