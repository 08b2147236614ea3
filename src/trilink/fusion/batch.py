"""The hub's input: national track reports stacked as arrays.

A :class:`NationalTrackBatch` is what the hub service fills from decoded TrackReport
messages before each fusion cycle. Rows are reports; one national track may appear more
than once (the newest wins). States are ECEF ``[x, y, z, vx, vy, vz]`` in metres and
metres per second, times integer nanoseconds since the Unix epoch (UTC).

Launch and impact predictions carried by the reports are not part of the batch: the hub
recomputes them from the fused state, so a nation's prediction never bypasses fusion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

PHASES = ("boost", "ballistic", "reentry", "unknown")


@dataclass(frozen=True, eq=False)
class NationalTrackBatch:
    """N national track reports.

    Attributes:
        source: (N,) str, the reporting nation ("KOR", "JPN", "USA", ...).
        local_id: (N,) str, the nation's own track identifier.
        t_ns: (N,) int64, validity time of each state.
        x: (N, 6) ECEF state [m, m/s].
        P: (N, 6, 6) state covariance [m^2, m^2/s, m^2/s^2], symmetric positive definite.
        phase: (N,) str, flight phase ("boost", "ballistic", "reentry" or "unknown";
            other names are treated as "unknown" by the alignment).
        lost: (N,) bool, optional: the nation reports this track as lost (its last
            report). The hub releases it at once instead of waiting for it to go stale,
            so a re-initiated national track takes over its system number sooner.

    The constructor copies and checks shapes and finiteness; a malformed batch is a
    programming error of the caller (messages are validated at decode time), hence a
    plain ``ValueError``.
    """

    source: NDArray[np.str_]
    local_id: NDArray[np.str_]
    t_ns: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    phase: NDArray[np.str_]
    lost: NDArray[np.bool_] | None = None

    def __post_init__(self) -> None:
        # On the hub's hot path (one batch per 0.5 s cycle): plain locals, no dicts.
        src = np.array(self.source, dtype=str).reshape(-1)
        n = src.shape[0]
        lid = np.array(self.local_id, dtype=str)
        t_ns = np.array(self.t_ns, dtype=np.int64)
        x = np.array(self.x, dtype=float)
        P = np.array(self.P, dtype=float)
        phase = np.array(self.phase, dtype=str)
        lost = np.zeros(n, bool) if self.lost is None else np.array(self.lost, dtype=bool)
        for name, value, shape in (
            ("local_id", lid, (n,)),
            ("t_ns", t_ns, (n,)),
            ("x", x, (n, 6)),
            ("P", P, (n, 6, 6)),
            ("phase", phase, (n,)),
            ("lost", lost, (n,)),
        ):
            if value.shape != shape:
                raise ValueError(f"{name}: expected shape {shape}, got {value.shape}")
        if not (np.isfinite(x).all() and np.isfinite(P).all()):
            raise ValueError("x, P: every state and covariance entry must be finite")
        for name, value in (
            ("source", src),
            ("local_id", lid),
            ("t_ns", t_ns),
            ("x", x),
            ("P", P),
            ("phase", phase),
            ("lost", lost),
        ):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.source.shape[0])

    @classmethod
    def empty(cls) -> NationalTrackBatch:
        """The batch of no report. One instance per class is shared: it is frozen and
        its arrays are read-only (the hub asks for one in every quiet cycle)."""
        shared = _EMPTY.get(cls)
        if shared is None:
            shared = _EMPTY[cls] = cls(
                source=np.empty(0, str),
                local_id=np.empty(0, str),
                t_ns=np.empty(0, np.int64),
                x=np.empty((0, 6)),
                P=np.empty((0, 6, 6)),
                phase=np.empty(0, str),
            )
        return shared

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[tuple[str, str, int, ArrayLike, ArrayLike, str]],
        lost: Sequence[bool] | None = None,
    ) -> NationalTrackBatch:
        """Build from ``(source, local_id, t_ns, x, P, phase)`` tuples, one per report."""
        if not rows:
            return cls.empty()
        src, lid, t, x, P, ph = zip(*rows, strict=True)
        return cls(
            source=np.array(src, dtype=str),
            local_id=np.array(lid, dtype=str),
            t_ns=np.array(t, dtype=np.int64),
            x=np.stack([np.asarray(v, dtype=float) for v in x]),
            P=np.stack([np.asarray(v, dtype=float) for v in P]),
            phase=np.array(ph, dtype=str),
            lost=None if lost is None else np.array(lost, dtype=bool),
        )

    @classmethod
    def concatenate(cls, batches: Sequence[NationalTrackBatch]) -> NationalTrackBatch:
        """One batch holding the rows of several (e.g. one per nation), in order."""
        if not batches:
            return cls.empty()
        return cls(
            source=np.concatenate([b.source for b in batches]),
            local_id=np.concatenate([b.local_id for b in batches]),
            t_ns=np.concatenate([b.t_ns for b in batches]),
            x=np.concatenate([b.x for b in batches]),
            P=np.concatenate([b.P for b in batches]),
            phase=np.concatenate([b.phase for b in batches]),
            lost=np.concatenate([b.lost for b in batches if b.lost is not None]),
        )

    def select(self, rows: ArrayLike) -> NationalTrackBatch:
        """The sub-batch of the given row indices or boolean mask."""
        i = np.asarray(rows)
        assert self.lost is not None  # filled by __post_init__
        return NationalTrackBatch(
            self.source[i],
            self.local_id[i],
            self.t_ns[i],
            self.x[i],
            self.P[i],
            self.phase[i],
            self.lost[i],
        )


_EMPTY: dict[type[NationalTrackBatch], NationalTrackBatch] = {}
