"""The hub: national TrackReports in; one fused, numbered picture; each partner's share of
it out, after policy, every fusion cycle.

Determinism. The hub fuses on a fixed grid of measurement times (every ``cycle_s``).
Cycle ``t_k`` runs once every expected source's watermark (the ``measured_ns`` of its
heartbeat: "I have sent everything measured up to here") has passed ``t_k``, and fuses
exactly the reports measured at or before ``t_k``. What the hub publishes therefore does
not depend on how the bytes travelled: the in-memory run and a run over NATS produce the
same picture. In a live run a source that has gone silent for ``source_timeout_s`` stops
holding the cycles back (its late reports are still fused, aligned, in a later cycle).

Release (:mod:`trilink.nodes.hub_release`). For each partner and each system track, the
hub asks the policy about every nation whose data the track carries. If some may not go
to that partner, the partner gets the track fused from the nations that may (covariance
intersection of their aligned reports) — never the full fusion with a field blanked.
Every decision is written to the audit chain.

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

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.fusion import (
    FusionConfig,
    NationalTrackBatch,
    SystemPicture,
    SystemTrackTable,
)
from trilink.link import Keyring, subjects
from trilink.messages import Envelope, Heartbeat, PeerStatus, TrackReport
from trilink.nodes.base import LinkEndpoint, Outbound
from trilink.nodes.clock import Clock
from trilink.nodes.convert import covariances_from_wire
from trilink.nodes.hub_fast import FastPath, Latest
from trilink.nodes.hub_release import HubReleaseMixin, SharedBodies, Warner
from trilink.policy import AuditLog, Decision, Policy
from trilink.tracking import TrackerConfig

HUB_ID = subjects.HUB


class HubNode(HubReleaseMixin):
    """The hub (module notes): input, the fusion grid and the fast path here; policy,
    redaction, audit and sending in :class:`~trilink.nodes.hub_release.HubReleaseMixin`."""

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
        self.last_cycle_at_ns: int | None = None  # the clock when the last cycle ran (health)
        # Releases sent, by subject (trilink.hub.out.<partner>.<topic>): one addition per
        # subject and bundle, read by the metrics endpoint (trilink.nodes.metrics).
        self.released_by_subject: Counter[str] = Counter()
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
        self.last_cycle_at_ns = self.clock.now_ns()
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

    # --- the fast path (trilink.nodes.hub_fast) ----------------------------------------
    def _fast_release(self, reports: list[TrackReport]) -> list[Outbound]:
        """Release at once what these reports update (:meth:`FastPath.propose`), each
        proposal through the policy, redaction, contract check and audit of any release;
        partners share each product's body, as on the grid."""
        shared: SharedBodies = {}
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
