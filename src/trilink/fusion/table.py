"""The system track table: the hub's one stateful object.

It keeps the newest report of every national track and the stacked arrays of system
tracks, and each :meth:`SystemTrackTable.update` walks one fusion cycle:

1. ingest the batch (newest report per national track wins);
2. forget national tracks reported lost, or silent for ``stale_after_s``;
3. align every national track to the fusion time (:mod:`trilink.fusion.align`);
4. decorrelate: while two contributors of a system track clearly disagree, the one
   farthest from the track's last undisputed state is held out of the fusion; after
   ``decorrelate_k`` such reports it is split off (:mod:`trilink.fusion.maintenance`);
5. associate the unpaired national tracks, one nation at a time, against every system
   track with that nation's slot free (:mod:`trilink.fusion.gating`), with M-of-N
   confirmation (counted in national reports) before a pairing is made
   (:mod:`trilink.fusion.table_associate`);
6. fuse each system track's contributors (CI by default, :mod:`trilink.fusion.intersection`,
   through :mod:`trilink.fusion.table_fuse`);
7. merge system tracks that share no nation and gate together for M of N updates;
8. coast tracks without contributors and drop them after ``coast_limit_s``.

Rules that keep one and only one number per object:

* Numbers are issued from a counter and never reissued; a merged number survives as
  ``merged_into`` in the event and the picture, never as a live track.
* A nation's tracker is trusted to keep its own objects apart: two tracks of one nation
  that both keep reporting are never fused into one system track (each system track has
  at most one contributor per nation).
* Every bound national track keeps its pairing (hysteresis) until decorrelation splits
  it; a newcomer needs the same system track in M of its last N reports.
* A newcomer that gates on nothing it could join is a new object at once, so a missile
  seen by one nation gets a number on its first report.
* A bound national track that has gone silent (its nation reports, it does not) does not
  hold its slot against a newcomer: that is how a national track that re-initiates
  under a new local id keeps the old system number.

The fused estimate is recomputed each cycle from the national tracks alone (no feedback
of the fused state), so the same national information is never counted twice.

This module holds the cycle and the stages that keep the numbers (expiry, decorrelation,
merge, the commit into the picture) and the snapshot; the table's columns live in
:mod:`trilink.fusion.table_state`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from trilink.fusion import compiled
from trilink.fusion.align import propagate
from trilink.fusion.batch import NationalTrackBatch
from trilink.fusion.maintenance import (
    disputed_pairings,
    least_consistent,
    merge_candidates,
    nation_bits,
)
from trilink.fusion.picture import FusionConfig, FusionEvent, SystemPicture
from trilink.fusion.table_associate import AssociationStage
from trilink.fusion.table_fuse import FusedRows, GroupFusion, member_flags
from trilink.fusion.table_state import NationalStore, SystemStore, phase_noise_of

Array = NDArray[np.float64]
_NS = 1_000_000_000
_NOISE_MEMO_ROWS = 64  # process noise remembered per phase sequence up to this many rows


class SystemTrackTable(AssociationStage):
    """System tracks fused from national tracks, with stable numbers.

    ``update(batch, t_ns)`` returns the :class:`SystemPicture` at ``t_ns``;
    ``to_dict()`` / ``from_dict()`` snapshot and restore the whole state as plain JSON.
    """

    def __init__(self, config: FusionConfig | None = None):
        compiled.warm_up()  # compile or load the kernels now, not in the first cycle
        self.config = config or FusionConfig()
        self.nat = NationalStore()
        self.sys = SystemStore()
        self.pending: dict[tuple[str, str], list[int]] = {}
        self.pending_age: dict[tuple[str, str], int] = {}
        self.merge_history: dict[tuple[int, int], list[bool]] = {}
        self.next_number = 1
        self.t_ns: int | None = None
        self.fusion = GroupFusion()  # fuses contributors; keeps the kernels' layout
        self._bits_memo: tuple[NDArray[np.intp], NDArray[np.object_], NDArray[np.int64]] | None
        self._bits_memo = None
        self._noise_memo: dict[tuple[Any, ...], tuple[Array, Array]] = {}

    # ------------------------------------------------------------------ cycle
    def update(self, batch: NationalTrackBatch, t_ns: int) -> SystemPicture:
        """Ingest ``batch`` and return the fused picture at ``t_ns`` (integer ns UTC)."""
        t_ns = int(t_ns)
        events: list[FusionEvent] = []
        self.nat.ingest(batch)
        self._expire_national(t_ns, events)
        if len(self.nat) == 0 and len(self.sys) == 0:
            # Nothing to fuse (before the first launch, after the last drop): an empty
            # picture without the cycle's stages, about a third of a trial's hub cycles.
            self.t_ns = t_ns
            return SystemPicture.empty(t_ns, tuple(events))
        xa, Pa = self._align(t_ns)
        xs, Ps = self._predict_systems(t_ns)
        suspect = self._decorrelate(xa, Pa, t_ns, events)
        xs, Ps = self._associate(xa, Pa, xs, Ps, t_ns, events)
        fused = self._fuse(xa, Pa, xs, Ps, suspect)
        if self._merge(fused.x, fused.P, t_ns, events):
            # A track folded into another has no contributors now: it coasts, and its
            # coasted state is computed here (it was NaN, "fuse afresh", while it had
            # some; left NaN, its last picture and the hub's "lost" for it were NaN).
            fx, fP = self._predict_systems(t_ns)
            now_coasting = np.isnan(xs[:, 0]) & ~np.isnan(fx[:, 0])
            xs, Ps = xs.copy(), Ps.copy()
            xs[now_coasting], Ps[now_coasting] = fx[now_coasting], fP[now_coasting]
            fused = self._fuse(xa, Pa, xs, Ps, suspect)
        self.t_ns = t_ns
        return self._commit(fused, suspect, t_ns, events)

    def _align(self, t_ns: int) -> tuple[Array, Array]:
        n = self.nat
        if len(n) == 0:
            return np.empty((0, 6)), np.empty((0, 6, 6))
        cfg = self.config
        dt_s = (np.int64(t_ns) - n.t_ns).astype(float) * 1e-9  # as align() computes it
        q, sig = self._phase_noise(n.phase)
        return propagate(n.x, n.P, dt_s, q, sig, cfg.max_step_s)

    def _phase_noise(self, phase: NDArray[np.object_]) -> tuple[Array, Array]:
        """``phase_noise_of`` per row, remembered per sequence of phase names (a cycle's
        few tracks repeat last cycle's phases); the arrays are only read."""
        if len(phase) > _NOISE_MEMO_ROWS:
            return phase_noise_of(phase, self.config)  # large tables: not worth a key
        names = tuple(phase.tolist())
        hit = self._noise_memo.get(names)
        if hit is None:
            if len(self._noise_memo) >= 256:
                self._noise_memo.clear()  # bounded: a long run meets many combinations
            hit = self._noise_memo[names] = phase_noise_of(phase, self.config)
        return hit

    def _predict_systems(self, t_ns: int) -> tuple[Array, Array]:
        """Coasted state of system tracks left without contributors (NaN for the rest:
        their estimate is fused afresh from the national tracks)."""
        s = self.sys
        xs, Ps = np.full((len(s), 6), np.nan), np.full((len(s), 6, 6), np.nan)
        _, _, coast = self.fusion.layout(self.sys_groups())
        if coast.size:
            q, sig = phase_noise_of(s.phase[coast], self.config)
            dt = (np.int64(t_ns) - s.t_ns[coast]).astype(float) / _NS
            xs[coast], Ps[coast] = propagate(
                s.x[coast], s.P[coast], dt, q, sig, self.config.max_step_s
            )
        return xs, Ps

    def _expire_national(self, t_ns: int, events: list[FusionEvent]) -> None:
        """Forget national tracks reported lost, or silent for ``stale_after_s``."""
        if len(self.nat) == 0:
            return
        stale = (np.int64(t_ns) - self.nat.t_ns) > int(self.config.stale_after_s * _NS)
        stale |= self.nat.lost
        if not stale.any():
            return  # the common cycle: no event, no row to delete
        for row in np.flatnonzero(stale & (self.nat.sys >= 0)):
            events.append(self._event(t_ns, "leave", int(self.nat.sys[row]), int(row)))
        for key in self.nat.remove(stale):
            self.pending.pop(key, None)
            self.pending_age.pop(key, None)

    def _event(
        self, t_ns: int, kind: Any, number: int, row: int = -1, other: int = -1
    ) -> FusionEvent:
        src = str(self.nat.source[row]) if row >= 0 else ""
        lid = str(self.nat.local_id[row]) if row >= 0 else ""
        return FusionEvent(t_ns, kind, number, src, lid, other)

    def sys_groups(self) -> NDArray[np.intp]:
        """National rows per system row (M, K), -1 padded."""
        return self.nat.groups(self.sys.number)

    def _decorrelate(
        self, xa: Array, Pa: Array, t_ns: int, events: list[FusionEvent]
    ) -> NDArray[np.bool_]:
        """Split pairings that clearly disagree; returns national rows to leave out now.

        While a pairing is in doubt, the contributor least consistent with the system
        track's last undisputed state (predicted to now) is kept out of the fused
        estimate; after ``decorrelate_k`` reports in doubt it is split off. The number
        thus follows the object's history, not whichever track moved.
        """
        idx = self.sys_groups()
        s, cfg = self.sys, self.config
        suspect = np.zeros(len(self.nat), bool)
        if idx.shape[1] < 2:
            s.decor[:] = 0
            return suspect
        disputed = disputed_pairings(idx, xa, Pa, cfg.decorrelation_d2)
        if not disputed.any():
            s.decor = np.zeros(len(s), np.int64)  # what the count below gives: no doubt
            return suspect
        fresh = np.any(member_flags(self.nat.fresh, idx), axis=1)
        # Count only updates that bring new national information, so K means K reports.
        s.decor = np.where(disputed, s.decor + fresh, 0)
        doubt = np.flatnonzero(disputed)
        if doubt.size == 0:
            return suspect
        q, sig = phase_noise_of(s.phase[doubt], cfg)
        dt = (np.int64(t_ns) - s.ok_t_ns[doubt]).astype(float) / _NS
        x_ok, P_ok = propagate(s.ok_x[doubt], s.ok_P[doubt], dt, q, sig, cfg.max_step_s)
        worst = least_consistent(idx[doubt], xa, Pa, x_ok, P_ok)
        split = s.decor[doubt] >= cfg.decorrelate_k
        suspect[worst[~split]] = True
        for srow, row in zip(doubt[split].tolist(), worst[split].tolist(), strict=True):
            events.append(self._event(t_ns, "decorrelate", int(s.number[srow]), row))
            self.nat.sys[row] = -1
            s.decor[srow] = 0
        return suspect

    def _fuse(
        self, xa: Array, Pa: Array, xs: Array, Ps: Array, suspect: NDArray[np.bool_]
    ) -> FusedRows:
        """Fused x, P, has-contributor mask, phase and newest report time per system row."""
        idx = self.sys_groups()
        return self.fusion.fuse(xa, Pa, xs, Ps, idx, suspect, self.nat, self.sys, self.config)

    def _merge(self, xf: Array, Pf: Array, t_ns: int, events: list[FusionEvent]) -> bool:
        """Fold duplicates: tracks of no common nation gating in M of N reports."""
        cfg = self.config
        s = self.sys
        idx = self.sys_groups()
        memo = self._bits_memo
        if memo is not None and memo[0] is idx and memo[1] is self.nat.source:
            bits = memo[2]  # the same layout and rows as last cycle: the same nations
        else:
            bits = nation_bits(idx, self.nat.source)
            self._bits_memo = (idx, self.nat.source, bits)
        ia, jb, d2 = merge_candidates(xf, Pf, bits, cfg.gate_d2)
        hits = {
            (int(s.number[a]), int(s.number[b])): float(d)
            for a, b, d in zip(ia.tolist(), jb.tolist(), d2.tolist(), strict=True)
        }
        if not hits and not self.merge_history:
            return False  # the common cycle: no candidate, nothing being counted
        fresh = np.any(member_flags(self.nat.fresh, idx), axis=1)
        for pair in set(self.merge_history) | set(hits):
            rows = np.searchsorted(s.number, pair)
            if np.any(rows >= len(s)) or np.any(s.number[np.minimum(rows, len(s) - 1)] != pair):
                self.merge_history.pop(pair, None)  # one of them has ended
                continue
            if not np.any(fresh[rows]):
                continue  # no new national report: nothing new to count
            h = self.merge_history.setdefault(pair, [])
            h.append(pair in hits)
            del h[: -cfg.merge_n]
            if len(h) == cfg.merge_n and not any(h):
                del self.merge_history[pair]
        ready = [p for p, h in self.merge_history.items() if sum(h) >= cfg.merge_m and p in hits]
        merged = False
        gone: set[int] = set()
        for a, b in sorted(ready, key=lambda p: hits[p]):
            if a in gone or b in gone:
                continue
            ra, rb = np.searchsorted(s.number, [a, b])
            # The older track keeps its number; the younger one is folded into it.
            keep, lose = (a, b) if (s.first_ns[ra], a) <= (s.first_ns[rb], b) else (b, a)
            self.nat.sys[self.nat.sys == lose] = keep
            s.merged_into[np.searchsorted(s.number, lose)] = keep
            events.append(FusionEvent(t_ns, "merge", lose, other=keep))
            gone.add(lose)
            merged = True
        for pair in [p for p in self.merge_history if p[0] in gone or p[1] in gone]:
            del self.merge_history[pair]
        return merged

    def _commit(
        self,
        fused: FusedRows,
        suspect: NDArray[np.bool_],
        t_ns: int,
        events: list[FusionEvent],
    ) -> SystemPicture:
        xf, Pf, has, phase, last = fused
        s = self.sys
        s.x, s.P, s.phase, s.last_report_ns = xf, Pf, phase, last
        s.t_ns = np.full(len(s), t_ns, np.int64)
        undisputed = s.decor == 0
        if undisputed.all():
            # Every row (the common cycle): whole copies, not three masked assignments.
            s.ok_x, s.ok_P, s.ok_t_ns = xf.copy(), Pf.copy(), s.t_ns.copy()
        else:
            s.ok_x[undisputed], s.ok_P[undisputed] = xf[undisputed], Pf[undisputed]
            s.ok_t_ns[undisputed] = t_ns
        merged = s.merged_into >= 0
        ended: NDArray[np.bool_] | None = None
        if has.all() and not merged.any():
            # Every track fused, none merged (the common cycle): all active, none ends.
            status = np.array(["active"] * len(s), dtype=str)
        else:
            coast_ns = int(self.config.coast_limit_s * _NS)
            dropped = ~has & ((t_ns - last) > coast_ns) & ~merged
            # One list pass instead of four NumPy calls on an object array (same strings,
            # same dtype: the width of the longest status present).
            status = np.array(
                [
                    "merged" if mg else "dropped" if dr else "active" if h else "coasting"
                    for h, dr, mg in zip(
                        has.tolist(), dropped.tolist(), merged.tolist(), strict=True
                    )
                ],
                dtype=str,
            )
            ended = dropped | merged
            for num in s.number[dropped].tolist():
                events.append(FusionEvent(t_ns, "drop", int(num)))
        idx = self.sys_groups()
        keys = self.nat.keys()
        if suspect.any():
            left_out = set(np.flatnonzero(suspect).tolist())
            contributors = tuple(
                tuple(sorted(keys[r] for r in row if r >= 0 and r not in left_out))
                for row in idx.tolist()
            )
        else:
            contributors = tuple(
                tuple(sorted(keys[r] for r in row if r >= 0)) for row in idx.tolist()
            )
        picture = SystemPicture(
            t_ns=t_ns,
            number=s.number.copy(),
            x=xf.copy(),
            P=Pf.copy(),
            status=status,
            phase=phase.astype(str),
            first_seen_ns=s.first_ns.copy(),
            last_report_ns=last.copy(),
            merged_into=s.merged_into.copy(),
            contributors=contributors,
            events=tuple(events),
        )
        if ended is not None and ended.any():
            s.remove(ended)
        return picture

    # ------------------------------------------------------------- snapshot
    def to_dict(self) -> dict[str, Any]:
        """The whole state as plain JSON-able values (lists, str, int, float)."""
        return {
            "version": 1,
            "config": self.config.to_dict(),
            "t_ns": self.t_ns,
            "next_number": self.next_number,
            "national": self.nat.to_dict(),
            "system": self.sys.to_dict(),
            "pending": [
                [k[0], k[1], self.pending_age.get(k, 0), h] for k, h in self.pending.items()
            ],
            "merge_history": [[a, b, h] for (a, b), h in self.merge_history.items()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SystemTrackTable:
        """Restore a table saved by :meth:`to_dict`; it carries on issuing the same numbers."""
        if d.get("version") != 1:
            raise ValueError(f"version: unsupported snapshot version {d.get('version')!r}")
        table = cls(FusionConfig.from_dict(d["config"]))
        table.t_ns = d["t_ns"]
        table.next_number = int(d["next_number"])
        table.nat = NationalStore.from_dict(d["national"])
        table.sys = SystemStore.from_dict(d["system"])
        for src, lid, age, hist in d["pending"]:
            table.pending[(src, lid)] = [int(h) for h in hist]
            table.pending_age[(src, lid)] = int(age)
        for a, b, hist in d["merge_history"]:
            table.merge_history[(int(a), int(b))] = [bool(h) for h in hist]
        return table
