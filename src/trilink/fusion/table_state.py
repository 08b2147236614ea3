"""Column stores behind :class:`trilink.fusion.table.SystemTrackTable`.

Two stores of stacked arrays, one row per track, so every stage of a fusion cycle works
on whole columns: :class:`NationalStore` (the newest report of each national track and
the system number it is bound to, -1 if none) and :class:`SystemStore` (system tracks,
numbers ascending). Both serialise to plain JSON-able dicts for snapshots.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.fusion.align import phase_noise
from trilink.fusion.batch import NationalTrackBatch
from trilink.fusion.picture import FusionConfig

Array = NDArray[np.float64]
_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max


def phase_noise_of(phase: ArrayLike, config: FusionConfig) -> tuple[Array, Array]:
    return phase_noise(phase, config.noise_table)


def _objects(values: Any) -> NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


class NationalStore:
    """The newest report per (source, local_id) and its binding to a system number."""

    def __init__(self) -> None:
        self.index: dict[tuple[str, str], int] = {}
        self.source = _objects([])
        self.local_id = _objects([])
        self.t_ns = np.empty(0, np.int64)
        self.x = np.empty((0, 6))
        self.P = np.empty((0, 6, 6))
        self.phase = _objects([])
        self.first_ns = np.empty(0, np.int64)
        self.sys = np.empty(0, np.int64)
        self.fresh = np.empty(0, bool)  # got a new report in the latest ingest
        self.lost = np.empty(0, bool)  # its newest report says the nation lost it
        self._groups_memo: tuple[bytes, bytes, NDArray[np.intp]] | None = None
        # (source, local_id) per row, for the arrays it was built from (both columns are
        # replaced, never written in place, when rows come or go).
        self._keys_memo: tuple[NDArray[np.object_], NDArray[np.object_], list[Any]] | None = None

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def key(self, row: int) -> tuple[str, str]:
        return (str(self.source[row]), str(self.local_id[row]))

    def keys(self) -> list[tuple[str, str]]:
        """``(source, local_id)`` of every row, remembered while the rows stay the same."""
        memo = self._keys_memo
        if memo is not None and memo[0] is self.source and memo[1] is self.local_id:
            return memo[2]
        keys = list(zip(self.source.tolist(), self.local_id.tolist(), strict=True))
        self._keys_memo = (self.source, self.local_id, keys)
        return keys

    def ingest(self, batch: NationalTrackBatch) -> None:
        """Store each track's newest report; older or equal-time duplicates lose."""
        self.fresh = np.zeros(len(self), bool)
        self.lost = np.zeros(len(self), bool)
        if len(batch) == 0:
            return
        n0 = len(self)
        rows = np.empty(len(batch), np.intp)
        new_keys: list[tuple[str, str]] = []
        for i, k in enumerate(zip(batch.source.tolist(), batch.local_id.tolist(), strict=True)):
            r = self.index.get(k)
            if r is None:
                r = n0 + len(new_keys)
                self.index[k] = r
                new_keys.append(k)
            rows[i] = r
        if new_keys:
            m = len(new_keys)
            self.source = np.concatenate([self.source, _objects([k[0] for k in new_keys])])
            self.local_id = np.concatenate([self.local_id, _objects([k[1] for k in new_keys])])
            self.t_ns = np.concatenate([self.t_ns, np.full(m, _I64_MIN, np.int64)])
            self.x = np.concatenate([self.x, np.zeros((m, 6))])
            self.P = np.concatenate([self.P, np.broadcast_to(np.eye(6), (m, 6, 6))])
            self.phase = np.concatenate([self.phase, _objects(["unknown"] * m)])
            self.first_ns = np.concatenate([self.first_ns, np.full(m, _I64_MAX, np.int64)])
            self.sys = np.concatenate([self.sys, np.full(m, -1, np.int64)])
            self.fresh = np.concatenate([self.fresh, np.zeros(m, bool)])
            self.lost = np.concatenate([self.lost, np.zeros(m, bool)])
        # The newest report of each track in the batch, and only if newer than the store's.
        if len(set(rows.tolist())) == rows.size and (batch.t_ns > self.t_ns[rows]).all():
            # One newer report per track (the hub's usual batch): every row is taken as is.
            self._store(rows, batch, slice(None))
            return
        order = np.lexsort((batch.t_ns, rows))
        r_sorted = rows[order]
        last = np.append(r_sorted[1:] != r_sorted[:-1], True)
        pick = order[last]
        target = rows[pick]
        newer = batch.t_ns[pick] > self.t_ns[target]
        self._store(target[newer], batch, pick[newer])

    def _store(
        self, target: NDArray[np.intp], batch: NationalTrackBatch, pick: NDArray[np.intp] | slice
    ) -> None:
        """Batch rows ``pick`` become the newest reports of store rows ``target``."""
        self.t_ns[target] = batch.t_ns[pick]
        self.x[target] = batch.x[pick]
        self.P[target] = batch.P[pick]
        self.phase[target] = batch.phase[pick].astype(object)
        self.first_ns[target] = np.minimum(self.first_ns[target], batch.t_ns[pick])
        self.fresh[target] = True
        if batch.lost is not None:
            self.lost[target] = batch.lost[pick]

    def remove(self, drop: NDArray[np.bool_]) -> list[tuple[str, str]]:
        """Delete rows; returns their keys."""
        if not np.any(drop):
            return []
        gone = [self.key(r) for r in np.flatnonzero(drop).tolist()]
        keep = ~drop
        for name in (
            "source",
            "local_id",
            "t_ns",
            "x",
            "P",
            "phase",
            "first_ns",
            "sys",
            "fresh",
            "lost",
        ):
            setattr(self, name, getattr(self, name)[keep])
        self.index = {
            k: i
            for i, k in enumerate(zip(self.source.tolist(), self.local_id.tolist(), strict=True))
        }
        return gone

    def groups(self, numbers: NDArray[np.int64]) -> NDArray[np.intp]:
        """Rows bound to each system number (M, K), -1 padded; ``numbers`` ascending.

        The result is read-only and remembered for the same bindings and numbers (a cycle
        asks five times, and most cycles change nothing in between).
        """
        memo = self._groups_memo
        key_sys, key_num = self.sys.tobytes(), np.asarray(numbers, np.int64).tobytes()
        if memo is not None and memo[0] == key_sys and memo[1] == key_num:
            return memo[2]
        idx = self._groups(numbers)
        idx.setflags(write=False)
        self._groups_memo = (key_sys, key_num, idx)
        return idx

    def _groups(self, numbers: NDArray[np.int64]) -> NDArray[np.intp]:
        bound = np.flatnonzero(self.sys >= 0)
        srow = np.searchsorted(numbers, self.sys[bound])
        if bound.size == 0:
            return np.full((len(numbers), 1), -1, np.intp)
        order = np.argsort(srow, kind="stable")
        b, r = bound[order], srow[order]
        pos = np.arange(r.size) - np.searchsorted(r, r, side="left")
        idx = np.full((len(numbers), int(pos.max()) + 1), -1, np.intp)
        idx[r, pos] = b
        return idx

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": [str(s) for s in self.source],
            "local_id": [str(s) for s in self.local_id],
            "t_ns": self.t_ns.tolist(),
            "x": self.x.tolist(),
            "P": self.P.tolist(),
            "phase": [str(s) for s in self.phase],
            "first_ns": self.first_ns.tolist(),
            "system": self.sys.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NationalStore:
        s = cls()
        n = len(d["t_ns"])
        s.source = _objects(d["source"])
        s.local_id = _objects(d["local_id"])
        s.t_ns = np.array(d["t_ns"], dtype=np.int64).reshape(n)
        s.x = np.array(d["x"], dtype=float).reshape(n, 6)
        s.P = np.array(d["P"], dtype=float).reshape(n, 6, 6)
        s.phase = _objects(d["phase"])
        s.first_ns = np.array(d["first_ns"], dtype=np.int64).reshape(n)
        s.sys = np.array(d["system"], dtype=np.int64).reshape(n)
        s.fresh = np.zeros(n, bool)
        s.lost = np.zeros(n, bool)
        s.index = {
            k: i for i, k in enumerate(zip(s.source.tolist(), s.local_id.tolist(), strict=True))
        }
        return s


class SystemStore:
    """System tracks: number (ascending), state at ``t_ns`` and bookkeeping, per row."""

    _COLUMNS = (
        "number",
        "t_ns",
        "x",
        "P",
        "phase",
        "first_ns",
        "last_report_ns",
        "decor",
        "merged_into",
        "ok_t_ns",
        "ok_x",
        "ok_P",
    )

    def __init__(self) -> None:
        self.number = np.empty(0, np.int64)
        self.t_ns = np.empty(0, np.int64)
        self.x = np.empty((0, 6))
        self.P = np.empty((0, 6, 6))
        self.phase = _objects([])
        self.first_ns = np.empty(0, np.int64)
        self.last_report_ns = np.empty(0, np.int64)
        self.decor = np.empty(0, np.int64)  # consecutive clearly-violated updates
        self.merged_into = np.empty(0, np.int64)  # -1, or the survivor this update
        # The last state no contributor disputed: the reference for decorrelation.
        self.ok_t_ns = np.empty(0, np.int64)
        self.ok_x = np.empty((0, 6))
        self.ok_P = np.empty((0, 6, 6))

    def __len__(self) -> int:
        return int(self.number.shape[0])

    def append(
        self,
        numbers: NDArray[np.int64],
        t_ns: int,
        x: Array,
        P: Array,
        phase: NDArray[np.object_],
        first_ns: NDArray[np.int64],
        last_report_ns: NDArray[np.int64],
    ) -> None:
        m = numbers.size
        self.number = np.concatenate([self.number, numbers])
        self.t_ns = np.concatenate([self.t_ns, np.full(m, t_ns, np.int64)])
        self.x = np.concatenate([self.x, x])
        self.P = np.concatenate([self.P, P])
        self.phase = np.concatenate([self.phase, phase.astype(object)])
        self.first_ns = np.concatenate([self.first_ns, first_ns])
        self.last_report_ns = np.concatenate([self.last_report_ns, last_report_ns])
        self.decor = np.concatenate([self.decor, np.zeros(m, np.int64)])
        self.merged_into = np.concatenate([self.merged_into, np.full(m, -1, np.int64)])
        self.ok_t_ns = np.concatenate([self.ok_t_ns, np.full(m, t_ns, np.int64)])
        self.ok_x = np.concatenate([self.ok_x, x])
        self.ok_P = np.concatenate([self.ok_P, P])

    def remove(self, drop: NDArray[np.bool_]) -> None:
        if not np.any(drop):
            return
        keep = ~drop
        for name in self._COLUMNS:
            setattr(self, name, getattr(self, name)[keep])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._COLUMNS:
            value = getattr(self, name)
            out[name] = [str(v) for v in value] if value.dtype == object else value.tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SystemStore:
        s = cls()
        m = len(d["number"])
        s.number = np.array(d["number"], dtype=np.int64).reshape(m)
        s.t_ns = np.array(d["t_ns"], dtype=np.int64).reshape(m)
        s.x = np.array(d["x"], dtype=float).reshape(m, 6)
        s.P = np.array(d["P"], dtype=float).reshape(m, 6, 6)
        s.phase = _objects(d["phase"])
        s.first_ns = np.array(d["first_ns"], dtype=np.int64).reshape(m)
        s.last_report_ns = np.array(d["last_report_ns"], dtype=np.int64).reshape(m)
        s.decor = np.array(d["decor"], dtype=np.int64).reshape(m)
        s.merged_into = np.array(d["merged_into"], dtype=np.int64).reshape(m)
        s.ok_t_ns = np.array(d["ok_t_ns"], dtype=np.int64).reshape(m)
        s.ok_x = np.array(d["ok_x"], dtype=float).reshape(m, 6)
        s.ok_P = np.array(d["ok_P"], dtype=float).reshape(m, 6, 6)
        return s
