"""Association with M-of-N confirmation (step 5 of the cycle): which system number a
national track gets.

:class:`AssociationStage` is the part of :class:`~trilink.fusion.table.SystemTrackTable`
that binds national tracks to system tracks. Each cycle, the unpaired national tracks
with a new report are gated, one nation at a time, against every system track whose slot
for that nation is free (:mod:`trilink.fusion.gating`), and assigned by the generalised
distance ``d^2 + ln|S|`` (Blackman & Popoli 1999, sec. 6.4), so that a coasting track's
wide covariance does not make it the cheapest partner. The outcome of each report (a
system number; gated on nothing; or gated, but every such slot held or taken by another
track of its nation) enters the track's window of its last N outcomes (``confirm_m`` of
``confirm_n``):

* the same system number M times: bind to it ("associate");
* gated on nothing, and no number in the window: a new object at once, so a missile
  seen by one nation gets a number on its first report ("new");
* gated on nothing M times, or a full window without any number (its nation keeps
  reporting the holders it gated on: a booster beside its RV, a close salvo partner),
  or more than 2 N reports of waiting: new as well;
* otherwise wait.

A bound national track that has gone silent (its nation reports, it does not) does not
hold its slot: that is how a national track that re-initiates under a new local id keeps
the old system number. Only national tracks with a new report take a step, so the
decision counts national reports, whatever the hub's own update rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from trilink.fusion.gating import assign, gated_pairs
from trilink.fusion.picture import FusionConfig, FusionEvent
from trilink.fusion.table_fuse import GroupFusion
from trilink.fusion.table_state import NationalStore, SystemStore

Array = NDArray[np.float64]
_NS = 1_000_000_000
_GATED_NOTHING = -1
_AMBIGUOUS = -2


class AssociationStage:
    """Association of a :class:`~trilink.fusion.table.SystemTrackTable`; the table owns
    every attribute named below, and the pending windows are part of its snapshot."""

    config: FusionConfig
    nat: NationalStore
    sys: SystemStore
    fusion: GroupFusion
    pending: dict[tuple[str, str], list[int]]  # last N outcomes per unpaired national track
    pending_age: dict[tuple[str, str], int]  # reports it has waited so far
    next_number: int

    if TYPE_CHECKING:

        def _event(
            self, t_ns: int, kind: Any, number: int, row: int = -1, other: int = -1
        ) -> FusionEvent: ...

        def sys_groups(self) -> NDArray[np.intp]: ...

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
        xr, Pr = self.fusion.reference(xa, Pa, xs, Ps, self.sys_groups(), self.nat)
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
