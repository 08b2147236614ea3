"""The hub's snapshot: its state as plain JSON values, and back into a fresh hub.

What a restarted hub must not lose, and why:

- the **system track table** (:meth:`SystemTrackTable.to_dict`): system track numbers
  continue instead of starting again at the first number (one number per object, SIAP);
- its **cycle position** (next cycle time, watermarks, reports waiting for their cycle,
  each national track's latest report for subset fusion);
- **what each partner holds** (released numbers, launch events sent): a partner gets one
  LaunchEvent per track and a "lost" for every track it holds, no more;
- the **stamper's next sequence number**: a partner's replay guard drops any number it
  has seen, so a hub that reused numbers would have its new messages discarded;
- the **replay guard's windows**: a report already admitted is refused if it comes again;
- the **dead-letter counters**; and the **audit chain**, which lives in its own file and
  is continued by :class:`~trilink.policy.AuditLog` on reopening — the snapshot records
  its length and head so that a shortened or rewritten audit file is detected at restart;
- **under whose consent** each partner holds each track (the nations a "lost" or a warning
  about it is released under);
- the **warner's state** (``hub.warner.snapshot()`` / ``.restore()`` where the warner has
  them, :class:`trilink.nodes.warnings.PartnerWarnings`): which warning threads are open,
  so that a restarted hub does not send a partner the same launch alert again.

The snapshot is JSON (``version`` :data:`SNAPSHOT_VERSION`; any other version is refused),
written to a temporary file, fsynced and renamed over the old one (0600), so a crash
during the write leaves the previous snapshot intact. It holds no key. The replay guard
keeps its per-source windows and the newest ``GUARD_IDS`` message ids.

When the snapshot is taken and what a restart does with it, the protocol around it:
:mod:`trilink.nodes.persist`.
"""

from __future__ import annotations

import base64
import os
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from trilink.errors import AuditError, DeployError
from trilink.fusion import SystemTrackTable
from trilink.link import Decoder, encode
from trilink.messages import TrackReport
from trilink.nodes.base import Outbound
from trilink.nodes.hub import HubNode
from trilink.nodes.hub_fast import Latest
from trilink.policy.audit import iter_records

SNAPSHOT_VERSION = 2
"""1: the first format; 2: adds the warner's state, each partner's per-track consent
(``track_sources``) and the service's ``meta``; the sequence number is restored exactly."""
GUARD_IDS = 4096
"""Message ids kept in a snapshot (the sequence windows are kept whole)."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def snapshot_hub(
    hub: HubNode,
    outbox: Sequence[Outbound] = (),
    offsets: Mapping[str, int] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a restarted hub needs (see module notes), as plain JSON values.

    ``offsets``: the last input position consumed per input stream (JetStream stream
    sequence), saved with the state they produced so that a restart reads on from there.
    ``meta``: the service's own facts (scenario, start time), returned as they were.
    """
    guard = hub.link.receiver.guard
    ids = list(guard._ids)[-GUARD_IDS:]
    warner_snapshot = getattr(hub.warner, "snapshot", None)
    return {
        "version": SNAPSHOT_VERSION,
        "table": hub.table.to_dict(),
        "next_cycle_ns": hub.next_cycle_ns,
        "cycles": hub.cycles,
        "reports_in": hub.reports_in,
        "watermarks": dict(hub.watermarks),
        "heard_ns": dict(hub.heard_ns),
        "last_seq": dict(hub.last_seq),
        "pending": [_b64(encode(m)) for m in hub._pending],
        "latest": [
            [v.source, v.track_id, v.t_ns, v.x.tolist(), v.P.tolist(), v.phase]
            for v in hub._latest.values()
        ],
        "launch_sent": sorted([p, int(n)] for p, n in hub._launch_sent),
        "released": {p: sorted(int(n) for n in s) for p, s in hub._released.items()},
        "next_seq": hub.link.stamper.next_seq,
        "guard": {
            "highest": dict(guard._highest),
            "bits": {s: format(b, "x") for s, b in guard._seen_bits.items()},
            "ids": ids,
        },
        "deadletters": {
            "by_reason": dict(hub.link.deadletters.by_reason),
            "by_field": dict(hub.link.deadletters.by_field),
        },
        "audit": {"count": hub.audit.count, "head": hub.audit.head},
        "track_sources": sorted(
            [p, n, list(srcs)] for (p, n), srcs in hub._track_sources.items() if n is not None
        ),
        # The warner's state is its own strict JSON (PartnerWarnings.snapshot: NaN as text).
        "warner": warner_snapshot() if callable(warner_snapshot) else None,
        "outbox": [[o.subject, _b64(o.payload), dict(o.headers)] for o in outbox],
        "offsets": {k: int(v) for k, v in (offsets or {}).items()},
        "meta": dict(meta or {}),
    }


def restore_hub(hub: HubNode, snap: dict[str, Any]) -> list[Outbound]:
    """Put a snapshot's state into a freshly built hub (same scenario, keys and audit
    file as before); returns the outbox to publish again. The hub's audit log must be the
    reopened file: :func:`check_audit` compares it with the snapshot first."""
    check_version(snap, "snapshot")
    check_audit(hub, snap)
    warner_state = snap["warner"]
    warner_restore = getattr(hub.warner, "restore", None)
    if warner_state is not None and not callable(warner_restore):
        raise DeployError("snapshot", "holds warning state but this hub's warner cannot restore it")
    # Table and stamper first: the two that carry numbers partners see. The sequence
    # number is the snapshot's exactly (not the higher start a new process picks): cycles
    # run again after a restart must carry the numbers they had, so partners refuse them.
    hub.table = SystemTrackTable.from_dict(snap["table"])
    hub.fusion_config = hub.table.config
    hub.link.stamper._next_seq = int(snap["next_seq"])
    hub.next_cycle_ns = int(snap["next_cycle_ns"])
    hub.cycles = int(snap["cycles"])
    hub.reports_in = int(snap["reports_in"])
    hub.watermarks = {k: int(v) for k, v in snap["watermarks"].items()}
    hub.heard_ns = {k: int(v) for k, v in snap["heard_ns"].items()}
    hub.last_seq = {k: int(v) for k, v in snap["last_seq"].items()}
    # Pending reports were verified when they arrived; decode them again without a
    # registry (their sources were checked then) so a changed keyring cannot drop them.
    decoder = Decoder()
    pending = [decoder.decode(base64.b64decode(p)) for p in snap["pending"]]
    hub._pending = [m for m in pending if isinstance(m, TrackReport)]
    hub._latest = {
        (src, tid): Latest(src, tid, int(t), np.array(x, float), np.array(P, float), ph)
        for src, tid, t, x, P, ph in snap["latest"]
    }
    hub._launch_sent = {(p, int(n)) for p, n in snap["launch_sent"]}
    hub._released = {p: set() for p in hub.partners}
    hub._released.update({p: {int(n) for n in ns} for p, ns in snap["released"].items()})
    guard = hub.link.receiver.guard
    guard._highest = {s: int(v) for s, v in snap["guard"]["highest"].items()}
    guard._seen_bits = {s: int(b, 16) for s, b in snap["guard"]["bits"].items()}
    guard._ids = OrderedDict((i, None) for i in snap["guard"]["ids"])
    dl = hub.link.deadletters
    dl.by_reason = Counter(snap["deadletters"]["by_reason"]) + dl.by_reason
    dl.by_field = Counter(snap["deadletters"]["by_field"]) + dl.by_field
    hub._track_sources = {(p, int(n)): tuple(srcs) for p, n, srcs in snap["track_sources"]}
    if warner_state is not None and callable(warner_restore):
        warner_restore(warner_state)
    return [Outbound(s, base64.b64decode(p), dict(h)) for s, p, h in snap["outbox"]]


def check_version(snap: Any, where: str) -> None:
    """DeployError unless ``snap`` is a hub snapshot of :data:`SNAPSHOT_VERSION`."""
    if not isinstance(snap, dict) or "version" not in snap:
        raise DeployError(where, "not a hub snapshot")
    if snap["version"] != SNAPSHOT_VERSION:
        raise DeployError(
            where,
            f"hub snapshot version {snap['version']!r}; this trilink reads version "
            f"{SNAPSHOT_VERSION} only. Move the file aside to start the hub afresh (new "
            "system track numbers; partners keep what they hold) or run the trilink "
            "version that wrote it",
        )


def check_audit(hub: HubNode, snap: dict[str, Any]) -> None:
    """AuditError unless the hub's audit chain extends the one the snapshot saw: at least
    as long, and its record ``count - 1`` has the snapshot's head hash. (A chain that was
    truncated or rebuilt since the snapshot cannot pass, even though it verifies alone.)"""
    count, head = int(snap["audit"]["count"]), str(snap["audit"]["head"])
    if hub.audit.count < count:
        raise AuditError(
            hub.audit.count,
            f"the audit log has {hub.audit.count} records, the snapshot saw {count}: truncated?",
        )
    if count == 0:
        return
    if hub.audit.path is None:  # an in-memory chain (tests): its records are at hand
        if hub.audit.records[count - 1].get("hash") != head:
            raise AuditError(count, "record differs from the one the snapshot saw")
        return
    for lineno, rec in iter_records(hub.audit.path):
        if rec.get("n") == count - 1:
            if rec.get("hash") != head:
                raise AuditError(lineno, "record differs from the one the snapshot saw")
            return
    raise AuditError(count, "the record the snapshot ended at is missing")


def save_snapshot(path: Path | str, snap: dict[str, Any]) -> None:
    """Write ``snap`` atomically (temp file, fsync, rename, fsync of the folder), 0600."""
    write_atomic(path, msgspec.json.encode(snap))


def write_atomic(path: Path | str, data: bytes) -> None:
    """``data`` into ``path`` so that a crash leaves the old file or the new one, whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def load_snapshot(path: Path | str) -> dict[str, Any] | None:
    """The snapshot at ``path``; None if there is none (a first start)."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise DeployError(str(path), f"cannot read the hub snapshot: {e}") from None
    try:
        snap = msgspec.json.decode(text)
    except msgspec.DecodeError as e:
        raise DeployError(str(path), f"not a hub snapshot (bad JSON: {e})") from None
    check_version(snap, str(path))
    return dict(snap)
