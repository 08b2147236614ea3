"""The hub's fast path: what it keeps between cycles and the releases it proposes.

The hub (:mod:`trilink.nodes.hub`, module notes) fuses on a grid of measurement times;
with its fast path on, a report of a national track that a cycle has already made part
of a system track is also released at once. :class:`FastPath` holds what that needs
between cycles — each national track's newest report, the membership the last cycle
decided, the predictions of each product's last cycle release, what each partner last
got — and turns a delivery's reports into proposed releases: the system tracks they
update, fused (covariance intersection of the members' newest reports aligned to the
newest of them, in one batch) per partner from the nations the policy allows. The hub
puts each proposal through its policy, redaction, contract check and audit, as any
release.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trilink.fusion import FusionConfig, SystemPicture, fuse, propagate
from trilink.fusion.align import phase_noise
from trilink.link import subjects
from trilink.messages import SourceTrack, SystemTrack, TrackReport
from trilink.nodes.convert import covariance_from_wire, rows_to_wire


@dataclass
class Latest:
    """The newest report of one national track (the hub's subset fusion and the fast
    path both fuse from these)."""

    source: str
    track_id: str
    t_ns: int
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    phase: str


@dataclass(frozen=True)
class _Body:
    """What a fast release repeats of its product's last cycle release: the predictions
    (made on the grid, where they are affordable) and the flight phase."""

    phase: str
    launch: Any
    impact: Any
    apogee_height_m: float | None


Product = tuple[int, tuple[str, ...]]
"""(system track number, the nations fused in it)."""
Proposal = tuple[str, tuple[str, ...], SystemTrack, int]
"""(partner, nations fused, the release, index of its product: partners share bodies)."""


class FastPath:
    """The fast path's state; :meth:`propose` turns arrived reports into releases."""

    def __init__(self, config: FusionConfig):
        self.config = config
        self.releases = 0  # fast releases sent
        self.arrived: list[TrackReport] = []  # reports waiting for the hub's flush
        self._newest: dict[tuple[str, str], Latest] = {}  # every national track's newest
        self._number_of: dict[tuple[str, str], int] = {}  # national track -> system number
        self._members: dict[int, tuple[tuple[str, str], ...]] = {}  # number -> its tracks
        self._last_ns: dict[tuple[str, int], int] = {}  # (partner, number) -> newest sent
        self._body: dict[Product, _Body] = {}  # the last cycle's, per product

    # --- from the grid --------------------------------------------------------------
    def learn(self, picture: SystemPicture) -> None:
        """Which national tracks make up each live system track, as this cycle decided."""
        self._number_of.clear()
        self._members.clear()
        for i in np.flatnonzero(picture.live()).tolist():
            number = int(picture.number[i])
            self._members[number] = picture.contributors[i]
            for c in picture.contributors[i]:
                self._number_of[c] = number
        self._body.clear()  # refilled by this cycle's releases

    def remember(self, partner: str, sources: tuple[str, ...], msg: SystemTrack) -> None:
        """A cycle released ``msg`` (fused from ``sources``) to ``partner``."""
        number = msg.system_track_number
        self._body[(number, sources)] = _Body(
            msg.phase, msg.launch, msg.impact, msg.apogee_height_m
        )
        key = (partner, number)
        self._last_ns[key] = max(self._last_ns.get(key, -1), msg.measured_ns)

    def sent(self, partner: str, msg: SystemTrack) -> None:
        """A proposal passed the hub's checks and went to ``partner``."""
        self._last_ns[(partner, msg.system_track_number)] = msg.measured_ns
        self.releases += 1

    # --- from the link --------------------------------------------------------------
    def propose(
        self,
        reports: Iterable[TrackReport],
        partners: Iterable[str],
        may: Callable[[str, str], bool],
    ) -> list[Proposal]:
        """The releases these reports make due, partner by partner (``may(source,
        partner)``: the policy). Only national tracks a cycle has associated take this
        path (a new track waits for the grid, which numbers it); a product is released
        only after a cycle released it (its predictions come from there); a partner
        never gets an older state than it already has."""
        touched = self._take(reports)
        products: dict[Product, list[Latest]] = {}
        wanted: list[tuple[str, Product, _Body]] = []
        for number in touched:
            members = [c for c in self._members.get(number, ()) if c in self._newest]
            nations = tuple(sorted({s for s, _ in members}))
            for partner in partners:
                allowed = tuple(s for s in nations if may(s, partner))
                body = self._body.get((number, allowed))
                if not allowed or body is None:  # denied, or not yet released on the grid
                    continue
                product = (number, allowed)
                if product not in products:
                    products[product] = [self._newest[c] for c in members if c[0] in allowed]
                wanted.append((partner, product, body))
        if not wanted:
            return []
        fused = dict(zip(products, self._fuse(list(products.values())), strict=True))
        index = {product: k for k, product in enumerate(products)}
        out: list[Proposal] = []
        for partner, product, body in wanted:
            number, allowed = product
            t_ns, state, cov, quality = fused[product]
            if t_ns <= self._last_ns.get((partner, number), -1):
                continue
            msg = SystemTrack(
                source=subjects.HUB,
                measured_ns=t_ns,
                releasability=(partner,),
                system_track_number=number,
                state_ecef=state,
                covariance_ecef=cov,
                phase=body.phase,  # type: ignore[arg-type]
                status="confirmed",
                quality=quality,
                launch=body.launch,
                impact=body.impact,
                apogee_height_m=body.apogee_height_m,
                sources=tuple(SourceTrack(nation=s) for s in allowed),
            )
            out.append((partner, allowed, msg, index[product]))
        return out

    def _take(self, reports: Iterable[TrackReport]) -> list[int]:
        """Keep each national track's newest report; the system tracks touched."""
        touched: dict[int, None] = {}
        for m in reports:
            key = (m.source, m.track_id)
            if m.status == "lost":
                self._newest.pop(key, None)
                continue
            old = self._newest.get(key)
            if old is None or old.t_ns <= m.measured_ns:
                x, P = np.array(m.state_ecef), covariance_from_wire(m.covariance_ecef)
                self._newest[key] = Latest(m.source, m.track_id, m.measured_ns, x, P, m.phase)
            number = self._number_of.get(key)
            if number is not None:
                touched[number] = None
        return list(touched)

    def _fuse(
        self, groups: list[list[Latest]]
    ) -> list[tuple[int, tuple[float, ...], tuple[float, ...], int]]:
        """Each group of national reports aligned to its newest report's time and fused
        (one propagation and one fusion call for all): (t_ns, wire state, wire
        covariance, track quality) per group."""
        rows = [r for g in groups for r in g]
        t_out = np.array([max(r.t_ns for r in g) for g in groups], dtype=np.int64)
        size = np.array([len(g) for g in groups])
        t_row = np.repeat(t_out, size)
        dt = (t_row - np.array([r.t_ns for r in rows], dtype=np.int64)).astype(float) * 1e-9
        q, sig = phase_noise([r.phase for r in rows], self.config.noise_table)
        xa, Pa = propagate(
            np.stack([r.x for r in rows]), np.stack([r.P for r in rows]), dt, q, sig,
            self.config.max_step_s,
        )  # fmt: skip
        k = int(size.max())
        idx = np.zeros((len(groups), k), dtype=np.int64)
        mask = np.arange(k)[None, :] < size[:, None]
        idx[mask] = np.arange(len(rows))
        xf, Pf = fuse(xa[idx], Pa[idx], mask, method=self.config.method)
        states, covs, qualities = rows_to_wire(xf, Pf)
        return list(zip(t_out.tolist(), states, covs, qualities, strict=True))
