"""The hub's release machinery: from a cycle's fused picture to what each partner gets.

:class:`HubReleaseMixin` is the half of :class:`~trilink.nodes.hub.HubNode` that releases
(module notes of :mod:`trilink.nodes.hub`, "Release"): for each partner and each live
system track it asks the policy about every nation whose data the track carries, fuses
the subset a partner may have when that is not all of them (covariance intersection of
their aligned newest reports), builds each distinct product's body once (predictions
included) and shares it between partners, redacts, checks it against the contract
(what would fail a partner's door is withheld, counted and logged), audits every
decision, and sends a cycle's releases as one signed bundle per subject. It keeps no
state of its own: it works on the hub's attributes, declared below, which
:class:`~trilink.nodes.hub.HubNode` sets up.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from trilink.errors import DecodeError
from trilink.fusion import FusionConfig, SystemPicture, align, fuse
from trilink.link import subjects
from trilink.link.validate import validate
from trilink.messages import Envelope, LaunchEvent, SourceTrack, SystemTrack, uuid7_from_fields
from trilink.nodes.base import LinkEndpoint, Outbound
from trilink.nodes.clock import Clock
from trilink.nodes.convert import (
    covariance_to_wire,
    ground_point_to_wire,
    quality_of,
    rows_to_wire,
    state_to_wire,
)
from trilink.nodes.hub_fast import FastPath, Latest
from trilink.policy import AuditLog, Decision, Policy, kind_of, redact
from trilink.tracking import TrackerConfig, predict_points
from trilink.tracking.records import ground_points

# The hub's logger: a withheld release is the hub's record, under the hub's name.
log = logging.getLogger("trilink.nodes.hub")


@dataclass(frozen=True)
class Release:
    """One fused product prepared for one partner (before policy)."""

    partner: str
    number: int
    sources: tuple[str, ...]
    x: NDArray[np.float64]
    P: NDArray[np.float64]


Warner = Callable[[str, list[SystemTrack], int], list[Envelope]]
"""Per partner: (partner, the tracks released to it this cycle, t_ns) -> warnings to send."""


class HubReleaseMixin:
    """Policy, subset fusion, redaction, contract check, audit and bundling of the hub's
    releases (module notes). The attributes are :class:`~trilink.nodes.hub.HubNode`'s."""

    clock: Clock
    link: LinkEndpoint
    partners: tuple[str, ...]
    policy: Policy
    fusion_config: FusionConfig
    tracker_config: TrackerConfig
    audit: AuditLog
    warner: Warner | None
    withheld: int
    released_by_subject: Counter[str]
    fast_path: bool
    fast: FastPath
    _latest: dict[tuple[str, str], Latest]
    _launch_sent: set[tuple[str, int]]
    _may: dict[tuple[str, str], bool]
    _decisions: dict[tuple[str, tuple[str, ...], str], Decision]
    _outbox: list[tuple[str, Envelope, dict[str, Any] | None, bool]]
    _released: dict[str, set[int]]
    _track_sources: dict[tuple[str, int | None], tuple[str, ...]]

    def _release_all(self, picture: SystemPicture, t_ns: int) -> None:
        """Release this cycle's picture: each live track to each partner (from the nations
        it may have), each ended track's end to the partners that held it, the warnings."""
        alive = picture.live()
        live, ended = np.flatnonzero(alive), np.flatnonzero(~alive)
        products: list[Release] = []
        # Partners allowed the same nations get the same product: fuse each subset once.
        subsets: dict[tuple[int, tuple[str, ...]], tuple[NDArray, NDArray] | None] = {}
        for i in live:
            est = picture.estimate(int(i))
            contributors = [(s, lid) for s, lid in est.contributors if (s, lid) in self._latest]
            nations = tuple(sorted({s for s, _ in contributors})) or est.sources
            for partner in self.partners:
                allowed = tuple(s for s in nations if self._may_release(s, partner))
                if not allowed:
                    self._audit_denied(partner, est.number, nations, t_ns)
                    continue
                if allowed == nations:
                    products.append(Release(partner, est.number, nations, est.x, est.P))
                    continue
                key = (est.number, allowed)
                if key not in subsets:
                    subsets[key] = self._fuse_subset(
                        [c for c in contributors if c[0] in allowed], t_ns
                    )
                fused = subsets[key]
                if fused is not None:
                    products.append(Release(partner, est.number, allowed, *fused))
        by_partner = self._publish_products(products, picture, t_ns)
        for i in ended:  # tell each partner that held it that the track has ended
            number = int(picture.number[i])
            for partner in self.partners:
                if number in self._released[partner]:
                    self._released[partner].discard(number)
                    sent = self._lost(partner, number, picture, int(i), t_ns)
                    if sent is not None:
                        by_partner.setdefault(partner, []).append(sent)
        if self.warner is not None:
            # Every partner, every cycle: the warning rules also run their clocks (an
            # all-clear after impact, a thread closed when its track was lost).
            for partner in self.partners:
                tracks = by_partner.get(partner, [])
                for warning in self.warner(partner, tracks, t_ns):
                    about = getattr(warning, "system_track_number", None)
                    srcs = self._track_sources.get((partner, about), (partner,))
                    self._release(
                        warning, srcs, partner, subjects.hub_out(partner, "warnings"), t_ns
                    )

    def _may_release(self, source: str, partner: str) -> bool:
        """Whether ``source``'s data may reach ``partner`` in a system track (the policy is
        fixed for the hub's life, so each answer is asked once)."""
        key = (source, partner)
        allowed = self._may.get(key)
        if allowed is None:
            allowed = self._may[key] = self.policy.decide("system_track", [source], partner).allowed
        return allowed

    def _fuse_subset(
        self, contributors: list[tuple[str, str]], t_ns: int
    ) -> tuple[NDArray, NDArray] | None:
        if not contributors:
            return None
        return self._fuse_rows([self._latest[c] for c in contributors], t_ns)

    def _fuse_rows(self, rows: list[Latest], t_ns: int) -> tuple[NDArray, NDArray]:
        """National reports aligned to ``t_ns`` and fused (one report: itself, aligned)."""
        xa, Pa = align(
            np.stack([r.x for r in rows]),
            np.stack([r.P for r in rows]),
            np.array([r.t_ns for r in rows], dtype=np.int64),
            np.array([r.phase for r in rows]),
            t_ns,
            self.fusion_config.noise_table,
            self.fusion_config.max_step_s,
        )
        if len(rows) == 1:
            return xa[0], Pa[0]
        xf, Pf = fuse(xa[None], Pa[None], method=self.fusion_config.method)
        return xf[0], Pf[0]

    def _publish_products(
        self, products: list[Release], picture: SystemPicture, t_ns: int
    ) -> dict[str, list[SystemTrack]]:
        """Release each product to its partner; what each partner got, by partner."""
        by_partner: dict[str, list[SystemTrack]] = {}
        if not products:
            return by_partner
        # One body per distinct product (track number and the nations fused in it): the
        # predictions are computed once, not once per partner.
        distinct: dict[tuple[int, tuple[str, ...]], Release] = {}
        for prod in products:
            distinct.setdefault((prod.number, prod.sources), prod)
        index = {key: k for k, key in enumerate(distinct)}
        firsts = list(distinct.values())
        x = np.stack([p.x for p in firsts])
        P = np.stack([p.P for p in firsts])
        phase = {int(n): str(ph) for n, ph in zip(picture.number, picture.phase, strict=True)}
        boosting = np.array([phase.get(p.number) == "boost" for p in firsts])
        n = len(firsts)
        pred = predict_points(
            x, P, np.full(n, t_ns, dtype=np.int64), boosting, np.full(n, np.nan),
            self.tracker_config,
        )  # fmt: skip
        states, covs, qualities = rows_to_wire(x, P)  # every body's wire form at once
        sources = {p.sources: tuple(SourceTrack(nation=s) for s in p.sources) for p in firsts}
        launches, impacts = ground_points(pred.launch), ground_points(pred.impact)
        bodies = [
            SystemTrack(
                source=subjects.HUB,
                measured_ns=int(t_ns),
                releasability=(prod.partner,),
                system_track_number=prod.number,
                state_ecef=states[k],
                covariance_ecef=covs[k],
                phase=phase.get(prod.number, "unknown"),  # type: ignore[arg-type]
                status="confirmed",
                quality=qualities[k],
                launch=ground_point_to_wire(launches[k]),
                impact=ground_point_to_wire(impacts[k]),
                apogee_height_m=_finite(pred.apogee_m[k]),
                sources=sources[prod.sources],
            )
            for k, prod in enumerate(firsts)
        ]
        redacted: SharedBodies = {}  # partners share bodies
        for prod in products:
            k = index[(prod.number, prod.sources)]
            msg = msgspec.structs.replace(bodies[k], releasability=(prod.partner,))
            sent = self._release(
                msg, prod.sources, prod.partner, subjects.hub_out(prod.partner, "tracks"), t_ns,
                shared=(redacted, k),
            )  # fmt: skip
            if sent is None:
                continue
            assert isinstance(sent, SystemTrack)
            by_partner.setdefault(prod.partner, []).append(sent)
            if self.fast_path:
                self.fast.remember(prod.partner, prod.sources, sent)
            self._released[prod.partner].add(prod.number)
            self._track_sources[(prod.partner, prod.number)] = prod.sources
            self._launch_event(prod, msg, picture, t_ns)
        return by_partner

    def _launch_event(
        self, prod: Release, msg: SystemTrack, picture: SystemPicture, t_ns: int
    ) -> None:
        key = (prod.partner, prod.number)
        if key in self._launch_sent or msg.launch is None:
            return
        self._launch_sent.add(key)
        first = picture.get(prod.number)
        ev = LaunchEvent(
            source=subjects.HUB,
            measured_ns=int(t_ns),
            releasability=(prod.partner,),
            system_track_number=prod.number,
            launch=msg.launch,
            first_detection_ns=int(first.first_seen_ns) if first is not None else int(t_ns),
            detecting_nations=prod.sources,
        )
        self._release(
            ev, prod.sources, prod.partner, subjects.hub_out(prod.partner, "events"), t_ns
        )

    def _lost(
        self, partner: str, number: int, picture: SystemPicture, i: int, t_ns: int
    ) -> SystemTrack | None:
        P = picture.P[i]
        msg = SystemTrack(
            source=subjects.HUB,
            measured_ns=int(t_ns),
            releasability=(partner,),
            system_track_number=number,
            state_ecef=state_to_wire(picture.x[i]),
            covariance_ecef=covariance_to_wire(P),
            phase=str(picture.phase[i]),  # type: ignore[arg-type]
            status="lost",
            quality=quality_of(P),
        )
        nations = self._track_sources.get((partner, number), (partner,))
        sent = self._release(msg, nations, partner, subjects.hub_out(partner, "tracks"), t_ns)
        assert sent is None or isinstance(sent, SystemTrack)
        return sent

    def _release(
        self,
        msg: Envelope,
        sources: Iterable[str],
        partner: str,
        subject: str,
        t_ns: int,
        shared: tuple[SharedBodies, int] | None = None,
    ) -> Envelope | None:
        """Policy and redaction; the message to send (stamped and audited with the
        cycle's bundle on ``subject``, :meth:`_send_outbox`), or None if denied (audited
        now). ``shared`` = (cache, key): messages that differ only in releasability share
        one key, and each redaction of them is computed, and checked against the
        contract, once."""
        srcs = tuple(sorted(set(sources)))
        kind = kind_of(msg)
        key = (kind, srcs, partner)
        decision = self._decisions.get(key)
        if decision is None:  # the policy is fixed for the hub's life: decide once per key
            decision = self._decisions[key] = self.policy.decide(kind, srcs, partner)
        audit = {
            "t_ns": int(t_ns),
            "kind": kind,
            "partner": partner,
            "sources": list(srcs),
            "allowed": decision.allowed,
            "reason": decision.reason,
            "redacted": list(decision.redact),
            "number": getattr(msg, "system_track_number", None),
        }
        if not decision.allowed:
            self.audit.record(**audit, message_id=None)
            return None
        if shared is None:
            out = redact(msg, decision.redact)
        else:
            cache, key_ = shared
            entry = cache.get((key_, decision.redact))
            if entry is None:
                done = redact(msg, decision.redact)
                entry = cache[(key_, decision.redact)] = (done, _problem(done))
            done, problem = entry
            if problem is not None:
                self._withhold(done, subject, problem)
                self.audit.record(**_withheld(audit, problem), message_id=None)
                return None
            out = msgspec.structs.replace(done, releasability=msg.releasability)
        assert isinstance(out, Envelope)
        self._outbox.append((subject, out, audit, shared is not None))
        return out

    def _send_outbox(self) -> list[Outbound]:
        """Everything this cycle released on one subject (a partner's tracks, its events,
        its warnings) leaves as signed bundles: one signature, not one per message.

        Messages are stamped here, subject by subject, so that each partner receives
        sequence numbers in increasing order without gaps inside a bundle: stamped at
        release time, a partner's launch events would carry numbers from the middle of
        the cycle's thousands of releases and arrive after its tracks bundle, below its
        replay window. Each release's audit record is written with its message id.
        """
        by_subject: dict[str, list[tuple[Envelope, dict[str, Any] | None, bool]]] = {}
        for subject, msg, audit, checked in self._outbox:
            by_subject.setdefault(subject, []).append((msg, audit, checked))
        self._outbox = []
        now = self.clock.now_ns()
        out: list[Outbound] = []
        for subject, items in by_subject.items():
            stamped = []
            released = 0
            for msg, audit, checked in items:
                # What a partner's door would refuse (and with it the whole bundle) is
                # withheld; shared bodies were checked once, in _release.
                problem = None if checked else _problem(msg)
                if problem is not None and audit is not None:  # (the heartbeat is checked)
                    self._withhold(msg, subject, problem)
                    self.audit.record(**_withheld(audit, problem), message_id=None)
                    continue
                st = self.link.stamper.stamp(msg, now, sign=False)
                if audit is not None:  # a release (not the hub's own heartbeat)
                    self.audit.record(**audit, message_id=st.message_id)
                    released += 1
                stamped.append(st)
            self.released_by_subject[subject] += released
            out.extend(Outbound(subject, p) for p in self.link.stamper.bundle(stamped, now))
        return out

    def _withhold(self, msg: Envelope, subject: str, exc: DecodeError) -> None:
        """A message the hub built but may not send (a bug upstream: a non-finite state,
        a covariance that is not positive definite): counted, logged, never published."""
        self.withheld += 1
        number = getattr(msg, "system_track_number", None)
        log.error(
            "hub: withheld %s #%s for %s: %s: %s", kind_of(msg), number, subject, exc.field,
            exc.reason,
        )  # fmt: skip

    def _audit_denied(self, partner: str, number: int, nations: tuple[str, ...], t_ns: int) -> None:
        self.audit.record(
            t_ns=int(t_ns), kind="system_track", partner=partner, sources=list(nations),
            allowed=False, reason=f"no source releases system_track to {partner}",
            redacted=[], message_id=None, number=number,
        )  # fmt: skip


SharedBodies = dict[tuple[int, tuple[str, ...]], tuple[Envelope, DecodeError | None]]
"""A cycle's redacted shared bodies by (body, redaction), with their contract check."""
_PROBE_ID = uuid7_from_fields(0, 0, 0)  # a valid id, to check a body before it is stamped


def _problem(msg: Envelope) -> DecodeError | None:
    """Why a partner's door would refuse this message's content, or None."""
    try:
        validate(msgspec.structs.replace(msg, message_id=_PROBE_ID))
    except DecodeError as exc:
        return exc
    return None


def _withheld(audit: dict[str, Any], problem: DecodeError) -> dict[str, Any]:
    return {**audit, "allowed": False, "reason": f"withheld: {problem}"}


def _finite(v: float) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None
