"""Values the fusion room hands out: its configuration, system tracks and events.

:class:`SystemPicture` is what :meth:`SystemTrackTable.update` returns: stacked arrays of
every system track in the picture at the fusion time (ECEF state (M, 6) [m, m/s],
covariance (M, 6, 6)), their contributors and the events of this update. Iterate it for
one :class:`SystemTrackEstimate` per track.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from trilink.fusion.align import DEFAULT_PROCESS_NOISE, ProcessNoise

Status = Literal["active", "coasting", "dropped", "merged"]
EventKind = Literal["new", "associate", "decorrelate", "leave", "merge", "drop"]


@dataclass(frozen=True)
class FusionConfig:
    """Tuning of the hub's association and fusion; times in seconds.

    Attributes:
        gate_probability: a true pair of tracks passes the association gate with this
            probability (6-dof chi-square; 0.9999 -> d^2 < 27.9).
        decorrelation_probability: a pairing counts as *clearly* violated beyond this
            quantile (1 - 1e-7 -> d^2 > 43.3); ``decorrelate_k`` consecutive violations
            split it.
        confirm_m, confirm_n: a new pairing needs the same system track in ``m`` of the
            last ``n`` updates; ``m`` unmatched updates out of ``n`` give the national track
            a system track of its own.
        merge_m, merge_n: two system tracks with no nation in common are merged after
            gating in ``m`` of the last ``n`` updates.
        stale_after_s: a national track not reported for this long leaves the picture.
        silent_after_s: a bound national track this much older than its nation's newest
            report no longer holds its slot against a newcomer of that nation (the
            national tracker has probably dropped it and re-initiated).
        coast_limit_s: a system track with no contributor is coasted this long, then
            dropped.
        method: "ci" (covariance intersection), "ici" (inverse CI) or "naive"
            (independent information sum: for comparison only, overconfident).
        criterion: the CI/ICI weights minimise "trace" or "det" of the fused covariance.
        omega: "optimal" (exact minimiser) or "fast" (closed-form fast CI).
        max_step_s: RK4 step of the alignment propagator.
        process_noise: per flight phase, the unmodelled acceleration of the alignment.
    """

    gate_probability: float = 0.9999
    decorrelation_probability: float = 1.0 - 1e-7
    confirm_m: int = 3
    confirm_n: int = 5
    decorrelate_k: int = 3
    merge_m: int = 3
    merge_n: int = 4
    stale_after_s: float = 6.0
    silent_after_s: float = 2.5
    coast_limit_s: float = 20.0
    method: Literal["ci", "ici", "naive"] = "ci"
    criterion: Literal["trace", "det"] = "trace"
    omega: Literal["optimal", "fast"] = "optimal"
    max_step_s: float = 2.0
    process_noise: tuple[tuple[str, ProcessNoise], ...] = field(
        default_factory=lambda: tuple(DEFAULT_PROCESS_NOISE.items())
    )

    def __post_init__(self) -> None:
        if not 0 < self.confirm_m <= self.confirm_n:
            raise ValueError("confirm_m, confirm_n: need 0 < m <= n")
        if not 0 < self.merge_m <= self.merge_n:
            raise ValueError("merge_m, merge_n: need 0 < m <= n")
        if not 0.5 < self.gate_probability < self.decorrelation_probability < 1.0:
            raise ValueError("gate_probability < decorrelation_probability < 1 required")
        if not 0 < self.silent_after_s < self.stale_after_s:
            raise ValueError("silent_after_s: need 0 < silent_after_s < stale_after_s")
        if self.method not in ("ci", "ici", "naive"):
            raise ValueError(f"method: {self.method!r} is not 'ci', 'ici' or 'naive'")

    @property
    def gate_d2(self) -> float:
        return _chi2_quantile_6(self.gate_probability)

    @property
    def decorrelation_d2(self) -> float:
        return _chi2_quantile_6(self.decorrelation_probability)

    @property
    def noise_table(self) -> Mapping[str, ProcessNoise]:
        return dict(self.process_noise)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["process_noise"] = {k: [v.q_m2ps3, v.sigma_acc_mps2] for k, v in self.process_noise}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FusionConfig:
        kw = dict(d)
        if "process_noise" in kw:
            kw["process_noise"] = tuple(
                (k, ProcessNoise(float(v[0]), float(v[1]))) for k, v in kw["process_noise"].items()
            )
        return cls(**kw)


@lru_cache(maxsize=64)
def _chi2_quantile_6(p: float) -> float:
    # scipy's ppf costs ~0.3 ms a call, and the table asks several times per cycle.
    return float(chi2.ppf(p, 6))


@dataclass(frozen=True)
class FusionEvent:
    """Something the table decided at ``t_ns``.

    kinds: "new" (a system number was issued, seeded by (source, local_id)); "associate"
    (a national track joined ``number``); "decorrelate" (it was split off); "leave" (it
    stopped reporting); "merge" (``number`` was a duplicate and is folded into
    ``other``); "drop" (``number`` coasted too long and ended).
    """

    t_ns: int
    kind: EventKind
    number: int
    source: str = ""
    local_id: str = ""
    other: int = -1


@dataclass(frozen=True, eq=False)
class SystemTrackEstimate:
    """One system track at the fusion time ``t_ns``.

    ``x`` (6,) ECEF [m, m/s] and ``P`` (6, 6); ``contributors`` are the (source, local_id)
    national tracks fused into it now; ``phase`` is that of the most precise contributor;
    ``last_report_ns`` the newest contributing report; ``merged_into`` the surviving number
    when ``status == "merged"``, else -1.
    """

    number: int
    t_ns: int
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    contributors: tuple[tuple[str, str], ...]
    phase: str
    status: Status
    first_seen_ns: int
    last_report_ns: int
    merged_into: int = -1

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(sorted({s for s, _ in self.contributors}))


@dataclass(frozen=True, eq=False)
class SystemPicture:
    """All system tracks at ``t_ns`` as arrays (M rows), plus this update's events.

    Tracks that ended in this update (dropped or merged) appear once, with that status.
    """

    t_ns: int
    number: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    status: NDArray[np.str_]
    phase: NDArray[np.str_]
    first_seen_ns: NDArray[np.int64]
    last_report_ns: NDArray[np.int64]
    merged_into: NDArray[np.int64]
    contributors: tuple[tuple[tuple[str, str], ...], ...]
    events: tuple[FusionEvent, ...] = ()

    @classmethod
    def empty(cls, t_ns: int, events: tuple[FusionEvent, ...] = ()) -> SystemPicture:
        """The picture of a cycle with no track at all: what the table makes of empty
        columns (same shapes and dtypes)."""
        none = np.empty(0, np.int64)
        return cls(
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
            events=events,
        )

    def __len__(self) -> int:
        return int(self.number.shape[0])

    def __iter__(self) -> Iterator[SystemTrackEstimate]:
        for i in range(len(self)):
            yield self.estimate(i)

    def estimate(self, i: int) -> SystemTrackEstimate:
        return SystemTrackEstimate(
            number=int(self.number[i]),
            t_ns=self.t_ns,
            x=self.x[i],
            P=self.P[i],
            contributors=self.contributors[i],
            phase=str(self.phase[i]),
            status=str(self.status[i]),  # type: ignore[arg-type]
            first_seen_ns=int(self.first_seen_ns[i]),
            last_report_ns=int(self.last_report_ns[i]),
            merged_into=int(self.merged_into[i]),
        )

    def estimates(self) -> list[SystemTrackEstimate]:
        return list(self)

    def live(self) -> NDArray[np.bool_]:
        """Mask of tracks still in the picture (active or coasting)."""
        # Two comparisons, not np.isin: its set machinery cost ~50 us a call on the few
        # rows of a cycle (twice per hub cycle).
        return (self.status == "active") | (self.status == "coasting")

    def get(self, number: int) -> SystemTrackEstimate | None:
        hit = np.flatnonzero(self.number == number)
        return self.estimate(int(hit[0])) if hit.size else None
