"""The hub: national TrackReports in; one fused, numbered picture; each partner's share of
it out, after policy, every fusion cycle.

Determinism. The hub fuses on a fixed grid of measurement times (every ``cycle_s``).
Cycle ``t_k`` runs once every expected source's watermark (the ``measured_ns`` of its
heartbeat: "I have sent everything measured up to here") has passed ``t_k``, and fuses
exactly the reports measured at or before ``t_k``. What the hub publishes therefore does
not depend on how the bytes travelled: the in-memory run and a run over NATS produce the
same picture. In a live run a source that has gone silent for ``source_timeout_s`` stops
holding the cycles back (its late reports are still fused, aligned, in a later cycle).

Release. For each partner and each system track, the hub asks the policy about every
nation whose data the track carries. If some may not go to that partner, the partner
gets the track fused from the nations that may (covariance intersection of their
aligned reports) — never the full fusion with a field blanked. Every decision is written
to the audit chain.

Fast path (``fast_path``, ``trilink hub --fast-path``; off by default;
:mod:`trilink.nodes.hub_fast`). The grid costs a
partner up to one cycle of waiting plus the watermark. With the fast path, a report of a
national track that a cycle has already made part of a system track is released at once:
that system track's members' newest reports are aligned to the newest of them and fused
(covariance intersection, as the cycle fuses them), for each partner from the nations the
policy lets it have, with the launch and impact predictions of the product's last cycle
release (predictions are the dear part; the grid renews them). Each such release goes
through the same policy decision, redaction, contract check, audit record and signed
bundle as the cycle's; a partner never gets an older state from it than it already has
(the cycle's own releases are unchanged: the grid stays the deterministic record, and its
releases may be older than a fast one already sent). New tracks, ends of tracks, launch
events and warnings stay on the grid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import NDArray

from trilink.errors import DecodeError
from trilink.fusion import (
    FusionConfig,
    NationalTrackBatch,
    SystemPicture,
    SystemTrackTable,
    align,
    fuse,
)
from trilink.link import Keyring, subjects
from trilink.link.validate import validate
from trilink.messages import (
    Envelope,
    Heartbeat,
    LaunchEvent,
    PeerStatus,
    SourceTrack,
    SystemTrack,
    TrackReport,
    uuid7_from_fields,
)
from trilink.nodes.base import LinkEndpoint, Outbound
from trilink.nodes.clock import Clock
from trilink.nodes.convert import (
    covariance_to_wire,
    covariances_from_wire,
    ground_point_to_wire,
    quality_of,
    rows_to_wire,
    state_to_wire,
)
from trilink.nodes.hub_fast import FastPath, Latest
from trilink.policy import AuditLog, Decision, Policy, kind_of, redact
from trilink.tracking import TrackerConfig, predict_points
from trilink.tracking.records import ground_points

HUB_ID = subjects.HUB
log = logging.getLogger(__name__)


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


class HubNode:
    def __init__(
        self,
        private_key: Ed25519PrivateKey,
        keyring: Keyring,
        clock: Clock,
        *,
        partners: Iterable[str],
        sources: Iterable[str],
        policy: Policy,
        start_ns: int,
        cycle_s: float = 0.5,
        fusion_config: FusionConfig | None = None,
        tracker_config: TrackerConfig | None = None,
        audit: AuditLog | None = None,
        deadletter_path: Path | str | None = None,
        source_timeout_s: float | None = None,
        warner: Warner | None = None,
        start_seq: int = 0,
        check_clock: bool = True,
        fast_path: bool = False,
    ):
        self.clock = clock
        self.link = LinkEndpoint(
            HUB_ID,
            private_key,
            keyring,
            clock,
            deadletter_path=deadletter_path,
            start_seq=start_seq,
            check_clock=check_clock,
        )
        self.partners = tuple(sorted(set(partners)))
        self.sources = tuple(sorted(set(sources)))
        self.policy = policy
        self.cycle_ns = round(cycle_s * 1e9)
        self.next_cycle_ns = int(start_ns) + self.cycle_ns
        self.table = SystemTrackTable(fusion_config)
        self.fusion_config = self.table.config
        self.tracker_config = tracker_config or TrackerConfig()
        self.audit = audit if audit is not None else AuditLog()
        self.source_timeout_ns = None if source_timeout_s is None else int(source_timeout_s * 1e9)
        self.warner = warner
        self.watermarks: dict[str, int] = {}
        self.heard_ns: dict[str, int] = {}
        self.last_seq: dict[str, int] = {}
        self._pending: list[TrackReport] = []
        self._latest: dict[tuple[str, str], Latest] = {}
        self._launch_sent: set[tuple[str, int]] = set()
        self._may: dict[tuple[str, str], bool] = {}
        self._decisions: dict[tuple[str, tuple[str, ...], str], Decision] = {}
        # This cycle's releases: (subject, message, its audit record without the id,
        # whether its content was already checked against the contract).
        self._outbox: list[tuple[str, Envelope, dict[str, Any] | None, bool]] = []
        self._released: dict[str, set[int]] = {p: set() for p in self.partners}
        # The nations whose data each partner's copy of a track carried, last released:
        # a warning about that track, or its end, is released under the same consent.
        self._track_sources: dict[tuple[str, int | None], tuple[str, ...]] = {}
        self._started_ns = clock.now_ns()
        self.cycles = 0
        self.withheld = 0  # messages built but not sent: they failed the contract's checks
        self.reports_in = 0
        self.last_picture: SystemPicture | None = None
        self.keep_pictures = False  # evaluation: keep every cycle's picture in .pictures
        self.pictures: list[SystemPicture] = []
        self.reports: list[TrackReport] = []  # evaluation: the accepted national reports
        # The fast path (module notes): a report of a known track is fused and released
        # when it arrives. What it needs between cycles:
        self.fast_path = fast_path
        self.defer_fast = False  # on_message leaves fast releases to flush_fast()
        self.fast = FastPath(self.fusion_config)

    # --- input --------------------------------------------------------------------------
    def on_message(self, subject: str, payload: bytes) -> list[Outbound]:
        """Take one delivery (a message or a bundle of them); the refusals to publish."""
        now = self.clock.now_ns()
        arrived: list[TrackReport] = []
        for msg in self.link.receive(payload, subject):
            self.heard_ns[msg.source] = now
            self.last_seq[msg.source] = max(self.last_seq.get(msg.source, -1), msg.seq)
            if isinstance(msg, TrackReport):
                self.reports_in += 1
                self._pending.append(msg)
                arrived.append(msg)
            elif isinstance(msg, Heartbeat):
                mark = max(self.watermarks.get(msg.source, 0), msg.measured_ns)
                self.watermarks[msg.source] = mark
        out = self.link.refusals()
        if self.fast_path and arrived:
            self.fast.arrived.extend(arrived)
            if not self.defer_fast:
                out.extend(self.flush_fast())
        return out

    def flush_fast(self) -> list[Outbound]:
        """The fast releases of the reports that arrived since the last flush (with
        ``defer_fast``, a server flushes when its input queue is empty: under load one
        batch covers many deliveries; at rest each goes out at once)."""
        arrived, self.fast.arrived = self.fast.arrived, []
        return self._fast_release(arrived) if arrived else []

    @property
    def fast_releases(self) -> int:
        """Fast releases sent (module notes, "Fast path")."""
        return self.fast.releases

    def due(self) -> bool:
        """Whether the next fusion cycle may run now."""
        return self._watermark() >= self.next_cycle_ns

    def _watermark(self) -> int:
        now = self.clock.now_ns()
        marks = []
        for src in self.sources:
            heard = self.heard_ns.get(src)
            silent = self.source_timeout_ns is not None and (
                heard is None or now - heard > self.source_timeout_ns
            )
            if silent:
                continue
            marks.append(self.watermarks.get(src, -1))
        if not marks:  # nobody is talking: in a live run, cycles follow the clock
            return now if self.source_timeout_ns is not None else -1
        return min(marks)

    def run_due(self) -> list[Outbound]:
        """Run every cycle whose time has come; the messages to publish."""
        out: list[Outbound] = []
        while self.due():
            out.extend(self.cycle(self.next_cycle_ns))
            self.next_cycle_ns += self.cycle_ns
        return out

    # --- one cycle ----------------------------------------------------------------------
    def cycle(self, t_ns: int) -> list[Outbound]:
        ready = [m for m in self._pending if m.measured_ns <= t_ns]
        self._pending = [m for m in self._pending if m.measured_ns > t_ns]
        ready.sort(key=lambda m: (m.measured_ns, m.source, m.seq))
        picture = self.table.update(self._batch(ready), t_ns)
        self.last_picture = picture
        if self.fast_path:
            self.fast.learn(picture)
        if self.keep_pictures:
            self.pictures.append(picture)
            self.reports.extend(ready)
        self.cycles += 1
        self._outbox = []
        self._release_all(picture, t_ns)
        # The hub's heartbeat goes to every partner: its status and its cycle time. It
        # closes the partner's tracks bundle when there is one (one signature for both),
        # else goes alone on the partner's status subject.
        hb = self._heartbeat(t_ns)
        with_tracks = {subject for subject, *_ in self._outbox}
        alone = []
        for p in self.partners:
            subject = subjects.hub_out(p, "tracks")
            if subject in with_tracks:
                self._outbox.append((subject, hb, None, True))
            else:
                alone.append(p)
        out = self._send_outbox()
        out.extend(self.link.seal(hb, subjects.hub_out(p, "status")) for p in alone)
        return out

    def _batch(self, ready: list[TrackReport]) -> NationalTrackBatch:
        """The cycle's reports as the fusion table's batch (wire to arrays for all rows at
        once), remembering each national track's newest report for subset fusion."""
        if not ready:
            return NationalTrackBatch.empty()
        x = np.array([m.state_ecef for m in ready], dtype=float)
        P = covariances_from_wire([m.covariance_ecef for m in ready])
        lost = [m.status == "lost" for m in ready]
        for k, m in enumerate(ready):
            key = (m.source, m.track_id)
            # A national track's last report frees its place in the table at once, so a
            # re-initiated track of the same object takes over the system number sooner.
            if lost[k]:
                self._latest.pop(key, None)
            else:
                self._latest[key] = Latest(m.source, m.track_id, m.measured_ns, x[k], P[k], m.phase)
        return NationalTrackBatch(
            source=np.array([m.source for m in ready], dtype=str),
            local_id=np.array([m.track_id for m in ready], dtype=str),
            t_ns=np.array([m.measured_ns for m in ready], dtype=np.int64),
            x=x,
            P=P,
            phase=np.array([m.phase for m in ready], dtype=str),
            lost=np.array(lost, dtype=bool),
        )

    def _release_all(self, picture: SystemPicture, t_ns: int) -> None:
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
                source=HUB_ID,
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
        redacted: _Shared = {}  # partners share bodies
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
            source=HUB_ID,
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
            source=HUB_ID,
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
        shared: tuple[_Shared, int] | None = None,
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
                stamped.append(st)
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

    # --- the fast path (trilink.nodes.hub_fast) ----------------------------------------
    def _fast_release(self, reports: list[TrackReport]) -> list[Outbound]:
        """Release at once what these reports update (:meth:`FastPath.propose`), each
        proposal through the policy, redaction, contract check and audit of any release;
        partners share each product's body, as on the grid."""
        shared: _Shared = {}
        for partner, allowed, msg, k in self.fast.propose(
            reports, self.partners, self._may_release
        ):
            subject = subjects.hub_out(partner, "tracks")
            sent = self._release(msg, allowed, partner, subject, msg.measured_ns, (shared, k))
            if sent is not None:
                self.fast.sent(partner, msg)
        return self._send_outbox() if self._outbox else []

    def _heartbeat(self, t_ns: int) -> Heartbeat:
        return Heartbeat(
            source=HUB_ID,
            measured_ns=int(t_ns),
            releasability=tuple(sorted(set(self.partners) | set(self.sources))),
            state="running",
            uptime_s=max(0.0, (self.clock.now_ns() - self._started_ns) / 1e9),
            peers=tuple(
                PeerStatus(
                    peer=s,
                    last_seq_received=self.last_seq.get(s),
                    last_received_ns=self.heard_ns.get(s),
                )
                for s in self.sources
            ),
            deadletters=self.link.deadletters.total,
        )


_Shared = dict[tuple[int, tuple[str, ...]], tuple[Envelope, DecodeError | None]]
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
