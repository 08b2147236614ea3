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
   confirmation (counted in national reports) before a pairing is made;
6. fuse each system track's contributors (CI by default, :mod:`trilink.fusion.intersection`);
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
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from trilink.fusion import compiled
from trilink.fusion.align import propagate
from trilink.fusion.batch import NationalTrackBatch
from trilink.fusion.gating import assign, gated_pairs
from trilink.fusion.intersection import covariance_intersection, fuse
from trilink.fusion.maintenance import (
    disputed_pairings,
    least_consistent,
    merge_candidates,
    nation_bits,
)
from trilink.fusion.picture import FusionConfig, FusionEvent, SystemPicture
from trilink.fusion.table_state import NationalStore, SystemStore, phase_noise_of
from trilink.tracking.jit import arg

Array = NDArray[np.float64]
_NS = 1_000_000_000
_GATED_NOTHING = -1
_AMBIGUOUS = -2
_NOISE_MEMO_ROWS = 64  # process noise remembered per phase sequence up to this many rows


class _Fused(NamedTuple):
    """The fused columns of one cycle, one row per system track."""

    x: NDArray[np.float64]
    P: NDArray[np.float64]
    has: NDArray[np.bool_]  # fused from at least one national track (else coasted)
    phase: NDArray[np.object_]
    last_report_ns: NDArray[np.int64]


def _fuse_groups(
    xa: Array,
    Pa: Array,
    t_ns: NDArray[np.int64],
    idx: NDArray[np.int64],
    mask: NDArray[np.bool_],
    criterion: str,
    omega: str,
) -> tuple[Array, Array, NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """CI of each system row's national rows, compiled (kernels_ci.fuse_groups_kernel).

    ``idx`` and ``mask`` must be writable, contiguous int64 and bool arrays (numba compiles,
    and caches, one specialisation per array type; the kernel only reads them).
    """
    from trilink.fusion.kernels_ci import fuse_groups_kernel

    out = fuse_groups_kernel(
        arg(xa), arg(Pa), t_ns, idx, mask, criterion == "trace", omega == "fast", 30, 1e-12,
    )  # fmt: skip
    xf, Pf, _, best, newest, good = out
    if not good.all():
        raise np.linalg.LinAlgError("fusion: a national covariance is not positive definite")
    return xf, Pf, best, newest, good


def _flags(per_row: NDArray[np.bool_], idx: NDArray[np.intp]) -> NDArray[np.bool_]:
    """Per-national-row flags gathered into the (M, K) layout; padding (-1) is False."""
    return np.append(per_row, False)[idx]


class SystemTrackTable:
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
        # The kernels' copy of the group layout, for the memoised layout it was made from.
        self._layout_memo: tuple[NDArray[np.intp], NDArray[np.int64], NDArray[np.bool_], Any] | None
        self._layout_memo = None
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
            return self._empty_picture(t_ns, events)
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

    def _empty_picture(self, t_ns: int, events: list[FusionEvent]) -> SystemPicture:
        """The picture of a cycle with no track at all: what ``_commit`` makes of empty
        columns (same shapes and dtypes), without its stages."""
        none = np.empty(0, np.int64)
        return SystemPicture(
            t_ns=t_ns,
            number=none,
            x=np.empty((0, 6)),
            P=np.empty((0, 6, 6)),
            status=np.empty(0, "<U1"),
            phase=np.empty(0, "<U1"),
            first_seen_ns=none.copy(),
            last_report_ns=none.copy(),
            merged_into=none.copy(),
            contributors=(),
            events=tuple(events),
        )

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
        _, _, coast = self._kernel_layout(self.sys_groups())
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

    def _event(self, t_ns: int, kind: Any, number: int, row: int = -1, other: int = -1):
        src = str(self.nat.source[row]) if row >= 0 else ""
        lid = str(self.nat.local_id[row]) if row >= 0 else ""
        return FusionEvent(t_ns, kind, number, src, lid, other)

    def _reference(self, xa: Array, Pa: Array, xs: Array, Ps: Array) -> tuple[Array, Array]:
        """Cheap fused estimate per system track for gating: fast CI, or the coast."""
        idx = self.sys_groups()
        if compiled.use_kernels() and xa.shape[-1] == 6:
            idx64, mask64, _ = self._kernel_layout(idx)
            xf, Pf, best, _, _ = _fuse_groups(xa, Pa, self._t_ns(), idx64, mask64, "trace", "fast")
            found = best >= 0
            return np.where(found[:, None], xf, xs), np.where(found[:, None, None], Pf, Ps)
        mask = idx >= 0
        has = mask.any(axis=1)
        xr, Pr = xs.copy(), Ps.copy()
        if np.any(has):
            sel = np.where(mask[has], idx[has], 0)
            xf, Pf, _ = covariance_intersection(xa[sel], Pa[sel], mask[has], omega="fast")
            xr[has], Pr[has] = xf, Pf
        return xr, Pr

    def sys_groups(self) -> NDArray[np.intp]:
        """National rows per system row (M, K), -1 padded."""
        return self.nat.groups(self.sys.number)

    def _kernel_layout(
        self, idx: NDArray[np.intp]
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.intp]]:
        """``idx`` as the kernels take it (writable int64), its mask of present rows and
        the system rows without any (coasting), made once per layout (most cycles keep
        the previous cycle's); all three are only read."""
        memo = self._layout_memo
        if memo is not None and memo[0] is idx:
            return memo[1], memo[2], memo[3]
        idx64 = np.array(idx, np.int64)
        mask = idx64 >= 0
        coast = np.flatnonzero(~np.any(mask, axis=1))
        self._layout_memo = (idx, idx64, mask, coast)
        return idx64, mask, coast

    def _t_ns(self) -> NDArray[np.int64]:
        """The national report times as a kernel argument (contiguous, writable int64)."""
        t = self.nat.t_ns
        if t.dtype == np.int64 and t.flags.c_contiguous and t.flags.writeable:
            return t
        return np.array(t, np.int64)

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
        fresh = np.any(_flags(self.nat.fresh, idx), axis=1)
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

    def _held_slots(self, source: str) -> NDArray[np.bool_]:
        """System rows where ``source`` has a bound, still-reporting national track."""
        n = self.nat
        mine = n.source == source
        newest = n.t_ns[mine].max(initial=np.iinfo(np.int64).min)
        silent_ns = int(self.config.silent_after_s * _NS)
        holders = mine & (n.sys >= 0) & (n.t_ns >= newest - silent_ns)
        held = np.zeros(len(self.sys), bool)
        held[np.searchsorted(self.sys.number, n.sys[holders])] = True
        return held

    def _associate(
        self, xa: Array, Pa: Array, xs: Array, Ps: Array, t_ns: int, events: list[FusionEvent]
    ) -> tuple[Array, Array]:
        # Only national tracks with a new report take a step of M-of-N: the decision then
        # counts national reports, whatever the hub's own update rate.
        unbound = np.flatnonzero((self.nat.sys < 0) & self.nat.fresh)
        if unbound.size == 0:
            return xs, Ps
        cfg = self.config
        xr, Pr = self._reference(xa, Pa, xs, Ps)
        for source in sorted(set(self.nat.source[unbound].tolist())):
            u = unbound[self.nat.source[unbound] == source]
            held = self._held_slots(source)
            ia, jb, d2, logdet = gated_pairs(xa[u], Pa[u], xr, Pr, cfg.gate_d2)
            free = ~held[jb]
            # Generalised distance d^2 + ln|S| (Blackman & Popoli 1999, sec. 6.4) so a
            # coasting track's wide covariance does not make it the cheapest partner.
            mi, mj = assign(ia[free], jb[free], (d2 + logdet)[free], u.size, len(xr))
            outcome = np.full(u.size, _GATED_NOTHING, np.int64)
            # Gated, but every such slot is held, or went to another track of its nation.
            outcome[ia] = _AMBIGUOUS
            outcome[mi] = self.sys.number[mj]
            new_rows: list[int] = []
            for k, row in enumerate(u.tolist()):
                verdict = self._confirm(row, int(outcome[k]))
                if verdict == "bind":
                    self._bind(row, int(outcome[k]), t_ns, events)
                elif verdict == "new":
                    new_rows.append(row)
            if new_rows:
                rows = np.array(new_rows)
                self._new_tracks(rows, xa, Pa, t_ns, events)
                xs = np.concatenate([xs, xa[rows]])
                Ps = np.concatenate([Ps, Pa[rows]])
                xr = np.concatenate([xr, xa[rows]])
                Pr = np.concatenate([Pr, Pa[rows]])
        return xs, Ps

    def _confirm(self, row: int, outcome: int) -> str:
        """M-of-N decision for an unpaired national track: "bind", "new" or "wait".

        ``outcome`` is the system number it was assigned this time, ``_GATED_NOTHING``
        or ``_AMBIGUOUS`` (it gated only tracks whose slot for its nation is held).
        """
        cfg = self.config
        key = self.nat.key(row)
        hist = self.pending.setdefault(key, [])
        hist.append(outcome)
        del hist[: -cfg.confirm_n]
        age = self.pending_age.get(key, 0) + 1
        self.pending_age[key] = age
        assigned = any(h >= 0 for h in hist)
        if outcome >= 0 and hist.count(outcome) >= cfg.confirm_m:
            return "bind"
        # Nothing it could belong to: a new object, at once.
        if outcome == _GATED_NOTHING and not assigned:
            return "new"
        if hist.count(_GATED_NOTHING) >= cfg.confirm_m:
            return "new"
        # A full window next to held tracks only: its nation keeps reporting the holder,
        # so this is another object (a booster beside its RV, a close salvo partner).
        if len(hist) == cfg.confirm_n and not assigned:
            return "new"
        if age > 2 * cfg.confirm_n:
            return "new"
        return "wait"

    def _bind(self, row: int, number: int, t_ns: int, events: list[FusionEvent]) -> None:
        n = self.nat
        # A silent holder of the same nation gives its slot up (re-initiated national track).
        old = np.flatnonzero((n.sys == number) & (n.source == n.source[row]))
        for r in old.tolist():
            events.append(self._event(t_ns, "leave", number, r))
            n.sys[r] = -1
        n.sys[row] = number
        key = n.key(row)
        self.pending.pop(key, None)
        self.pending_age.pop(key, None)
        events.append(self._event(t_ns, "associate", number, row))

    def _new_tracks(
        self, rows: NDArray[np.intp], xa: Array, Pa: Array, t_ns: int, events: list[FusionEvent]
    ) -> NDArray[np.int64]:
        numbers = np.arange(self.next_number, self.next_number + rows.size, dtype=np.int64)
        self.next_number += rows.size
        n = self.nat
        self.sys.append(
            numbers, t_ns, xa[rows], Pa[rows], n.phase[rows], n.first_ns[rows], n.t_ns[rows]
        )
        n.sys[rows] = numbers
        for r, num in zip(rows.tolist(), numbers.tolist(), strict=True):
            key = n.key(r)
            self.pending.pop(key, None)
            self.pending_age.pop(key, None)
            events.append(self._event(t_ns, "new", num, r))
        return numbers

    def _fuse(
        self, xa: Array, Pa: Array, xs: Array, Ps: Array, suspect: NDArray[np.bool_]
    ) -> _Fused:
        """Fused x, P, has-contributor mask, phase and newest report time per system row."""
        cfg = self.config
        idx = self.sys_groups()
        if cfg.method == "ci" and compiled.use_kernels() and xa.shape[-1] == 6:
            idx64, mask, _ = self._kernel_layout(idx)
            if suspect.any():
                mask = mask & ~_flags(suspect, idx)  # a new array: the layout's stays as is
            # One compiled pass gathers, fuses and picks phase and newest report per row.
            xf, Pf, best, newest, _ = _fuse_groups(
                xa, Pa, self._t_ns(), idx64, mask, cfg.criterion, cfg.omega
            )
            has = best >= 0
            newest = np.maximum(self.sys.last_report_ns, newest)
            if has.all():
                # Every track fused (the common cycle): the kernel's rows as they are.
                return _Fused(xf, Pf, has, self.nat.phase[best], newest)
            phase = self.sys.phase.copy()
            phase[has] = self.nat.phase[best[has]]
            return _Fused(
                np.where(has[:, None], xf, xs),
                np.where(has[:, None, None], Pf, Ps),
                has,
                phase,
                newest,
            )
        mask = idx >= 0
        if np.any(suspect):
            mask &= ~_flags(suspect, idx)
        has = np.asarray(mask.any(axis=1), bool)
        xf, Pf = xs.copy(), Ps.copy()
        phase = self.sys.phase.copy()
        last = self.sys.last_report_ns.copy()
        if np.any(has):
            sel = np.where(mask[has], idx[has], 0)
            m = mask[has]
            xf[has], Pf[has] = fuse(xa[sel], Pa[sel], m, cfg.method, cfg.criterion, cfg.omega)
            # Phase of the most precise contributor: the best-placed sensor's call.
            tr = np.where(m, np.trace(Pa[sel][..., :3, :3], axis1=-2, axis2=-1), np.inf)
            best = sel[np.arange(sel.shape[0]), np.argmin(tr, axis=1)]
            phase[has] = self.nat.phase[best]
            newest = np.where(m, self.nat.t_ns[sel], np.iinfo(np.int64).min).max(axis=1)
            last[has] = np.maximum(last[has], newest)
        return _Fused(xf, Pf, has, phase, last)

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
        fresh = np.any(_flags(self.nat.fresh, idx), axis=1)
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
        fused: _Fused,
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
