"""A small simulator of national track reports for the system-track-table tests.

Objects fly ballistic arcs (the alignment propagator); each nation's track reports the
true state at ``t - latency`` plus an error drawn to match its radar-shaped covariance,
with a common part shared by the nations reporting the same object (see
trilink.fusion.synthetic). A view may follow different objects over time (a track swap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from trilink.fusion import NationalTrackBatch, SystemPicture, SystemTrackTable
from trilink.fusion.align import propagate_state
from trilink.fusion.synthetic import NationModel, arcs, correlated_errors, radar_covariance

T0_NS = 1_750_000_000_000_000_000
NS = 1_000_000_000


@dataclass(frozen=True)
class View:
    """One national track: which object it follows, when, and with what latency."""

    nation: NationModel
    local_id: str
    obj: int | Callable[[float], int]
    start_s: float = 0.0
    end_s: float = np.inf
    latency_s: float = 0.3

    def object_at(self, t_s: float) -> int:
        return self.obj(t_s) if callable(self.obj) else self.obj


@dataclass
class Run:
    pictures: list[SystemPicture] = field(default_factory=list)
    truth: list[np.ndarray] = field(default_factory=list)  # (M, 6) at each fusion time
    reports: list[NationalTrackBatch] = field(default_factory=list)


def simulate(
    x0: np.ndarray,
    views: list[View],
    times_s: np.ndarray,
    table: SystemTrackTable,
    seed: int = 0,
    rho: float = 0.5,
    phase: str = "ballistic",
    bias: Callable[[View, float], np.ndarray] | None = None,
) -> Run:
    """Feed one batch per fusion time to ``table``; return pictures and truth."""
    rng = np.random.default_rng(seed)
    truth = arcs(x0, times_s)
    run = Run()
    for i, t in enumerate(times_s.tolist()):
        active = [v for v in views if v.start_s <= t < v.end_s]
        rows = []
        by_obj: dict[int, list[tuple[View, np.ndarray, np.ndarray]]] = {}
        for v in active:
            k = v.object_at(t)
            x_true = propagate_state(truth[i, k][None], -v.latency_s)[0]
            P = radar_covariance(x_true[None, :3], v.nation)[0]
            by_obj.setdefault(k, []).append((v, x_true, P))
        for group in by_obj.values():
            Ps = np.stack([g[2] for g in group])[:, None]
            err = correlated_errors(Ps, rho, rng)[:, 0]
            for (v, x_true, P), e in zip(group, err, strict=True):
                x_rep = x_true + e + (bias(v, t) if bias else 0.0)
                t_rep = T0_NS + round((t - v.latency_s) * NS)
                rows.append((v.nation.name, v.local_id, t_rep, x_rep, P, phase))
        batch = NationalTrackBatch.from_rows(rows)
        run.reports.append(batch)
        run.pictures.append(table.update(batch, T0_NS + round(t * NS)))
        run.truth.append(truth[i])
    return run


def nearest_object(picture: SystemPicture, truth: np.ndarray) -> dict[int, int]:
    """Live system number -> index of the nearest true object (by position)."""
    live = picture.live()
    out = {}
    for num, x in zip(picture.number[live].tolist(), picture.x[live], strict=True):
        out[num] = int(np.argmin(np.linalg.norm(truth[:, :3] - x[:3], axis=-1)))
    return out


def numbers_per_object(picture: SystemPicture, truth: np.ndarray) -> dict[int, list[int]]:
    """True object -> live system numbers nearest to it (more than one = a duplicate)."""
    per: dict[int, list[int]] = {k: [] for k in range(len(truth))}
    for num, k in nearest_object(picture, truth).items():
        per[k].append(num)
    return per
