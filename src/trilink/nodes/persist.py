"""The hub's restart protocol, so that a killed hub process restarts where it stopped.

What the snapshot holds (the state a restarted hub must not lose, and its file format) is
:mod:`trilink.nodes.persist_snapshot`; its functions are importable from here too, the one
module for users of the restart state.

The protocol (:class:`HubCheckpoint`) is write-ahead: after each batch of input, the
service runs the due cycles, **commits** the state *and the messages those cycles
produced* (the outbox), then publishes them, then acknowledges the input to JetStream.
So a kill at any point loses nothing and duplicates nothing a partner accepts:

==============================  =============================================================
killed                          on restart
==============================  =============================================================
before the commit               the previous snapshot; the unacknowledged input is redelivered
                                and processed again; sequence numbers used since were never
                                published, so reusing them is harmless
after the commit                the outbox is published again: partners' replay guards drop
                                what they already had (same ``seq``, same ``message_id``) and
                                JetStream drops it by ``Nats-Msg-Id``; redelivered input is
                                refused by the restored guard as replayed (dead-lettered)
==============================  =============================================================

Cycles that ran before a kill and are run again after it write their audit records twice
(the chain stays valid: a record is a decision, and the decision was taken twice); only one
of the two message ids was ever published.

A service may commit less often than after every batch (the commit of a 1,000-track
picture costs hundreds of milliseconds, docs/operations.md): batches between two commits
are published at once and acknowledged at the next commit. After a kill, the input since
the last commit is read again and its cycles are run again from the restored state; they
are the same cycles with the same sequence numbers (the hub fuses on a grid of
measurement times, each cycle exactly the reports the watermarks vouch for), so partners
refuse the copies by sequence number and JetStream by ``Nats-Msg-Id``
(:func:`outbound_with_ids` derives it from source and sequence, not from the random
message id, for that reason). That holds for cycles the watermarks let run; one the wall
clock let run (a source timed out) may come out differently the second time. The
:class:`Fence` (``<state>.fence``: the highest sequence number published since the last
commit and the input position it came from) lets the restarted service check, at that
very position, that it used the same numbers, and move past them if not.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from trilink.nodes.base import Outbound
from trilink.nodes.hub import HubNode
from trilink.nodes.persist_snapshot import (
    GUARD_IDS,
    SNAPSHOT_VERSION,
    check_audit,
    check_version,
    load_snapshot,
    restore_hub,
    save_snapshot,
    snapshot_hub,
    write_atomic,
)

__all__ = [
    "GUARD_IDS",
    "SNAPSHOT_VERSION",
    "Fence",
    "HubCheckpoint",
    "Resume",
    "check_audit",
    "check_version",
    "load_snapshot",
    "outbound_with_ids",
    "restore_hub",
    "save_snapshot",
    "snapshot_hub",
    "transport_id",
    "write_atomic",
]


class _Head(msgspec.Struct):
    """The two envelope fields a transport id needs (the rest of the map is skipped)."""

    source: str
    seq: int


_head_decoder = msgspec.msgpack.Decoder(_Head)


def transport_id(payload: bytes) -> str:
    """The ``Nats-Msg-Id`` of a hub payload: ``<source>-<seq>`` of a message, so that a
    cycle run again after a restart (same sequence numbers, new random message ids and
    signatures) is stored once by JetStream; for anything else (a bundle, a dead letter)
    a digest of the bytes, which at least drops an identical re-publication."""
    try:
        head = _head_decoder.decode(payload)
        return f"{head.source}-{head.seq}"
    except (msgspec.DecodeError, msgspec.ValidationError):
        return "sha256-" + hashlib.sha256(payload).hexdigest()[:32]


def outbound_with_ids(out: Sequence[Outbound]) -> list[Outbound]:
    """The same messages with ``Nats-Msg-Id`` headers (:func:`transport_id`), so JetStream
    stores a re-published message once. Headers already set are kept."""
    return [
        o
        if "Nats-Msg-Id" in o.headers
        else Outbound(o.subject, o.payload, {**o.headers, "Nats-Msg-Id": transport_id(o.payload)})
        for o in out
    ]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: building a snapshot allocates some 10^5 small
    lists, which set off full collections over the hub's whole heap (measured at 1,000
    tracks: 73-309 ms to build with the collector on, 33-56 ms with it paused)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class Resume:
    """What a restarted hub does first: publish ``outbox`` again, read its inputs on
    from ``offsets`` (stream name -> last stream sequence consumed; empty: from the start).
    ``meta`` is what the service saved with its last commit."""

    outbox: list[Outbound] = field(default_factory=list)
    offsets: dict[str, int] = field(default_factory=dict)
    restored: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    fence: Fence | None = None


@dataclass(frozen=True)
class Fence:
    """What the killed process published after its last commit: the highest sequence
    number (``seq``), and how far it had read each stream (``offsets``) by then.

    A service that publishes between commits notes both before each publication
    (:meth:`HubCheckpoint.fence`). After a restart, once the service has read that far
    again, its sequence number must have reached ``seq + 1``: the cycles run again
    produced at least as many messages as the first time. If not, the second run went
    another way (module notes) and the service moves its sequence number past ``seq``,
    so that what it sends from then on is not refused for a number already used."""

    offsets: dict[str, int]
    seq: int

    def passed(self, offsets: Mapping[str, int]) -> bool:
        """Whether ``offsets`` reach the fence in every stream."""
        return all(offsets.get(s, 0) >= o for s, o in self.offsets.items())

    def beyond(self, stream: str, seq: int) -> bool:
        """Whether message ``seq`` of ``stream`` lies past what the killed process read."""
        return seq > self.offsets.get(stream, 0)


class HubCheckpoint:
    """The restart protocol of one hub (see module notes) around a snapshot file.

    ::

        cp = HubCheckpoint(path)
        r = cp.resume(hub)                  # after building the hub
        publish(r.outbox); read inputs from r.offsets
        ...                                 # each batch of input:
        out = cp.commit(hub, hub.run_due(), offsets)   # state + outbox + offsets on disk
        publish(out); ack(batch)

    ``meta`` (given to the constructor, or updated later) is saved with every commit.
    :attr:`commit_s` holds the duration of the last 10,000 commits (seconds), for the service's
    statistics.
    """

    def __init__(self, path: Path | str, meta: Mapping[str, Any] | None = None):
        self.path = Path(path)
        self.fence_path = self.path.with_name(self.path.name + ".fence")
        self.meta = dict(meta or {})
        self.commits = 0
        self._fence_fd: int | None = None
        self._fenced_seq = -1
        self.commit_s: deque[float] = deque(maxlen=10_000)

    def load(self) -> dict[str, Any] | None:
        """The saved snapshot (None: a first start), e.g. to read its ``meta`` before
        building the hub."""
        return load_snapshot(self.path)

    def resume(self, hub: HubNode, snap: dict[str, Any] | None = None) -> Resume:
        """Restore ``hub`` from the snapshot (``snap`` if already loaded) if there is one."""
        fence = self.read_fence()
        with _gc_paused():
            snap = snap if snap is not None else self.load()
            if snap is None:
                return Resume(fence=fence)
            outbox = restore_hub(hub, snap)
        offsets = {k: int(v) for k, v in snap.get("offsets", {}).items()}
        return Resume(outbox, offsets, True, dict(snap.get("meta", {})), fence)

    def fence(self, hub: HubNode, offsets: Mapping[str, int]) -> None:
        """Before publishing between commits: note the highest sequence number about to
        go out and the input position it came from (:class:`Fence`). One appended line,
        not fsynced: it must outlive the process, not the machine (a lost line costs only
        the check it would have allowed)."""
        seq = hub.link.stamper.next_seq - 1
        if seq <= self._fenced_seq:
            return
        if self._fence_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._fence_fd = os.open(self.fence_path, flags, 0o600)
        line = msgspec.json.encode({"offsets": dict(offsets), "seq": seq}) + b"\n"
        os.write(self._fence_fd, line)
        self._fenced_seq = seq

    def read_fence(self) -> Fence | None:
        """The fence the last process left since its last commit (None: nothing was
        published after it). A line cut short by the kill is skipped."""
        try:
            lines = self.fence_path.read_bytes().splitlines()
        except FileNotFoundError:
            return None
        best: Fence | None = None
        for line in lines:
            try:
                rec = msgspec.json.decode(line)
                fence = Fence({k: int(v) for k, v in rec["offsets"].items()}, int(rec["seq"]))
            except (msgspec.DecodeError, KeyError, TypeError, ValueError, AttributeError):
                continue
            # The highest number, with the position it was reached at (a process restarted
            # before a commit appends lower numbers after a higher one).
            if best is None or fence.seq > best.seq:
                best = fence
        return best

    def _clear_fence(self) -> None:
        """After a commit: the snapshot covers everything fenced so far."""
        if self._fence_fd is not None:
            os.ftruncate(self._fence_fd, 0)
        elif self.fence_path.exists():
            os.truncate(self.fence_path, 0)

    def commit(
        self, hub: HubNode, out: Sequence[Outbound], offsets: Mapping[str, int] | None = None
    ) -> list[Outbound]:
        """Save the hub's state with ``out`` as its outbox; ``out`` with message-id headers."""
        t0 = time.perf_counter()
        out = outbound_with_ids(out)
        with _gc_paused():
            data = msgspec.json.encode(snapshot_hub(hub, out, offsets, self.meta))
        write_atomic(self.path, data)
        self._clear_fence()
        self.commits += 1
        self.commit_s.append(time.perf_counter() - t0)
        return out
