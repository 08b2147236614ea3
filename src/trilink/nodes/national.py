"""A national node: its own sensors' detections in, TrackReports to the hub out, and the
hub's releases (system tracks, launch events, warnings) in.

The node keeps a log of what it knew and when (:class:`NodeEvent`), from which the run
summary and the evaluation measure the warning time each partner had, with and without
the link.

A nation alone warns its people from its own picture: given a warner (``own_warner``, the
hub's :data:`~trilink.nodes.hub_release.Warner`, e.g. ``make_warner(scenario)``), each
tick runs the same warning rules over the node's own reports of that tick
(:func:`own_system_track`: the report as a system track numbered by the node's own track
id) and logs each decided warning as a ``warning`` event, as a warning received from the
hub is logged; the warnings are kept in ``own_warnings``, not sent. A simulated run
without the link sets it (``run_simulation``); a linked node has none (the hub warns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import NDArray

from trilink.link import Keyring, subjects
from trilink.messages import (
    Envelope,
    Heartbeat,
    LaunchEvent,
    Message,
    PeerStatus,
    SystemTrack,
    TrackReport,
    Warning,
)
from trilink.nodes.base import LinkEndpoint, Outbound
from trilink.nodes.clock import Clock
from trilink.nodes.convert import (
    covariance_from_wire,
    covariance_to_wire,
    ground_point_to_wire,
    phase_to_wire,
    quality_of,
    state_to_wire,
)
from trilink.tracking import NationalTracker, TrackerConfig, TrackEstimate

OwnWarner = Callable[[str, list[SystemTrack], int], list[Envelope]]
"""The hub's ``Warner`` shape: (nation, tracks, t_ns) -> warnings (``nodes.hub_release``)."""


@dataclass(frozen=True)
class NodeEvent:
    """Something a node learned at local time ``t_ns``.

    kinds: ``own_confirmed`` (its tracker confirmed a track), ``link_track`` (the first
    system track of a number received over the link), ``launch_event``, ``warning``.
    ``ref`` is the local track id or the system track number; ``x`` the state (ECEF) and
    ``measured_ns`` its epoch, so that evaluation can tell which missile it was.
    """

    t_ns: int
    kind: str
    ref: str
    measured_ns: int
    x: NDArray[np.float64] | None = None
    detail: str = ""


class NationalNode:
    """One nation's node. Feed it detections with :meth:`on_detections`; call :meth:`tick`
    periodically (it reports updated tracks and its watermark); hand it received bytes
    with :meth:`on_message`.

    ``bundle_reports`` (default True): a tick's TrackReports, then its heartbeat, travel
    as a signed bundle on the node's tracks subject (ICD section 14), one signature for
    all of them; False sends each report signed on its own and the heartbeat on the
    status subject (for a hub that predates bundles)."""

    def __init__(
        self,
        nation: str,
        private_key: Ed25519PrivateKey,
        keyring: Keyring,
        clock: Clock,
        *,
        hub_nation: str,
        tracker_config: TrackerConfig | None = None,
        deadletter_path: Path | str | None = None,
        start_seq: int = 0,
        check_clock: bool = True,
        bundle_reports: bool = True,
    ):
        self.nation = nation
        self.bundle_reports = bundle_reports
        self.hub_nation = hub_nation
        self.clock = clock
        self.link = LinkEndpoint(
            nation,
            private_key,
            keyring,
            clock,
            deadletter_path=deadletter_path,
            start_seq=start_seq,
            check_clock=check_clock,
        )
        self.tracker = NationalTracker(nation, tracker_config)
        self.events: list[NodeEvent] = []
        self.system_tracks: dict[int, SystemTrack] = {}
        self.launch_events: dict[int, LaunchEvent] = {}
        self.warnings: dict[str, Warning] = {}
        # Alone: the warning rules over the node's own tracks (see the module notes).
        self.own_warner: OwnWarner | None = None
        self.own_warnings: dict[str, Warning] = {}
        self._reported: dict[int, int] = {}  # track id -> update time last reported
        self._confirmed: set[int] = set()
        self._last: dict[int, TrackEstimate] = {}
        self._started_ns = clock.now_ns()
        self.reports_sent = 0
        self.last_tick_ns: int | None = None  # the clock at the last tick (health)
        self.last_hub_seq: int | None = None
        self.last_hub_ns: int | None = None
        # The newest fusion cycle the hub has vouched for (its heartbeats' epoch): how far
        # behind this node the hub is, for a run that keeps the two in step.
        self.hub_cycle_ns: int | None = None

    # --- own sensors --------------------------------------------------------------------
    def on_detections(self, detections) -> None:
        """Track one sensor's detections (one or more scans, in time order)."""
        self.tracker.process(detections)

    def tick(self, watermark_ns: int) -> list[Outbound]:
        """Report every confirmed track that a measurement updated since its last report,
        the tracks that ended, then a heartbeat whose ``measured_ns`` is the watermark:
        every detection measured at or before it has been processed and reported. With
        reports (and ``bundle_reports``) the heartbeat is the last item of their bundle on
        the tracks subject; without, it goes alone on the status subject.

        A track the radars no longer see is not reported while the tracker coasts it:
        a coasted re-entry prediction is the least trustworthy thing a node has, and the
        hub coasts the fused track itself. Its end is reported once ("lost")."""
        now = self.clock.now_ns()
        self.last_tick_ns = now
        out: list[Outbound] = []
        trk = self.tracker
        ids = trk.ids.tolist()
        confirmed = dict(zip(ids, trk.confirmed.tolist(), strict=True))
        last_hit = dict(zip(ids, trk.t_hit.tolist(), strict=True))
        live = {tid for tid, c in confirmed.items() if c}
        fresh = {tid for tid in live if self._reported.get(tid) != last_hit[tid]}
        new = live - self._confirmed
        ended = self._confirmed - live
        rel = (self.nation, self.hub_nation)
        reports: list[TrackReport] = []
        numbers: list[int] = []  # each report's own track id
        if fresh or new:
            estimates = {e.track_id: e for e in trk.tracks(predictions=fresh)}
            for tid in sorted(new):
                est = estimates[tid]
                self.events.append(
                    NodeEvent(now, "own_confirmed", str(tid), est.t_ns, est.x.copy())
                )
            for tid in sorted(fresh):
                est = estimates[tid]
                self._reported[tid] = last_hit[tid]
                self._last[tid] = est
                reports.append(self._report(est, "confirmed", rel))
                numbers.append(tid)
        self._confirmed |= new
        for tid in sorted(ended):
            last = self._last.pop(tid, None)
            if last is not None:
                reports.append(self._report(last, "lost", rel))
                numbers.append(tid)
            self._confirmed.discard(tid)
            self._reported.pop(tid, None)
        if self.own_warner is not None:
            self._warn_own(dict(zip(numbers, reports, strict=True)), watermark_ns)
        self.reports_sent += len(reports)
        # One signed bundle for the tick's reports and, last, the heartbeat (ICD
        # "Bundles"): one signature and one verify for all of them instead of one each,
        # and the watermark cannot overtake the reports it vouches for, whatever the
        # transport does with two payloads. A tick without reports heartbeats alone.
        if reports and self.bundle_reports:
            hb = self._heartbeat(watermark_ns, sent_before=len(reports))
            out.extend(self.link.seal_bundle([*reports, hb], subjects.tracks(self.nation)))
            return out
        out.extend(self.link.seal(r, subjects.tracks(self.nation)) for r in reports)
        out.append(self.link.seal(self._heartbeat(watermark_ns), subjects.status(self.nation)))
        return out

    def _report(self, est: TrackEstimate, status: str, rel: tuple[str, ...]) -> TrackReport:
        """The TrackReport of one estimate (not yet stamped: :meth:`tick` sends it)."""
        sensors = tuple(getattr(est, "sensors", ()) or ())
        msg = TrackReport(
            source=self.nation,
            measured_ns=int(est.t_ns),
            releasability=tuple(sorted(set(rel))),
            track_id=f"{self.nation}-{est.track_id}",
            nation=self.nation,
            state_ecef=state_to_wire(est.x),
            covariance_ecef=covariance_to_wire(est.P),
            phase=phase_to_wire(est.phase),  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            quality=quality_of(est.P),
            n_updates=int(getattr(est, "n_updates", 0)),
            launch=ground_point_to_wire(est.launch),
            impact=ground_point_to_wire(est.impact),
            apogee_height_m=float(est.apogee_m) if np.isfinite(est.apogee_m) else None,
            sensors=sensors,
        )
        return msg

    def _warn_own(self, tracks: dict[int, TrackReport], t_ns: int) -> None:
        """Run the node's own warner over this tick's reports (own track id -> report: the
        tracks the hub would have received) at the tick's time; like the hub's warner, it
        is called every tick, reports or not, so that its clocks close the threads of
        lost or fallen tracks."""
        assert self.own_warner is not None
        now = self.clock.now_ns()  # when the node learned it (its log's time)
        shaped = [own_system_track(r, n) for n, r in tracks.items()]
        for w in self.own_warner(self.nation, shaped, t_ns):
            if not isinstance(w, Warning):
                continue
            mine = msgspec.structs.replace(w, source=self.nation)
            self.own_warnings[mine.warning_id] = mine
            number = mine.system_track_number
            held = tracks.get(number)
            last = self._last.get(number)
            x = (
                np.array(held.state_ecef)
                if held is not None
                else (last.x.copy() if last is not None else None)
            )
            self._log_warning(now, mine, x)

    def _heartbeat(self, watermark_ns: int, *, sent_before: int = 0) -> Heartbeat:
        """The heartbeat to send next; ``sent_before``: messages that will be stamped
        ahead of it (the reports of its bundle), so that ``last_seq_sent`` is the
        sequence number of the message just before it."""
        last_sent = self.link.stamper.next_seq - 1 + sent_before
        return Heartbeat(
            source=self.nation,
            measured_ns=int(watermark_ns),
            releasability=tuple(sorted({self.hub_nation, self.nation})),
            state="running",
            uptime_s=max(0.0, (self.clock.now_ns() - self._started_ns) / 1e9),
            peers=(
                PeerStatus(
                    peer="HUB",
                    last_seq_sent=last_sent if last_sent >= 0 else None,
                    last_seq_received=self.last_hub_seq,
                    last_received_ns=self.last_hub_ns,
                    rejected=self.link.deadletters.total,
                ),
            ),
            deadletters=self.link.deadletters.total,
        )

    # --- the link -----------------------------------------------------------------------
    def on_message(self, subject: str, payload: bytes) -> list[Outbound]:
        """Take one delivery from the hub (a message or a bundle of them); refusals are
        dead-lettered and returned for publishing, never raised."""
        for msg in self.link.receive(payload, subject):
            self._take(msg)
        return self.link.refusals()

    def _take(self, msg: Message) -> None:
        now = self.clock.now_ns()
        self.last_hub_seq, self.last_hub_ns = msg.seq, now
        if isinstance(msg, SystemTrack):
            number = msg.system_track_number
            if number not in self.system_tracks and msg.status != "lost":
                x = np.array(msg.state_ecef)
                self.events.append(NodeEvent(now, "link_track", str(number), msg.measured_ns, x))
            held = self.system_tracks.get(number)
            if msg.status == "lost":
                self.system_tracks.pop(number, None)
            elif held is None or held.measured_ns <= msg.measured_ns:
                # Newest state wins: with the hub's fast path a cycle's release can be
                # older than a fast one already here (ICD section 6).
                self.system_tracks[number] = msg
        elif isinstance(msg, Heartbeat):
            mark = msg.measured_ns
            self.hub_cycle_ns = mark if self.hub_cycle_ns is None else max(self.hub_cycle_ns, mark)
        elif isinstance(msg, LaunchEvent):
            self.launch_events[msg.system_track_number] = msg
            self.events.append(
                NodeEvent(now, "launch_event", str(msg.system_track_number), msg.measured_ns)
            )
        elif isinstance(msg, Warning):
            self.warnings[msg.warning_id] = msg
            track = self.system_tracks.get(msg.system_track_number)
            self._log_warning(now, msg, np.array(track.state_ecef) if track is not None else None)

    def _log_warning(self, now: int, msg: Warning, x: NDArray[np.float64] | None) -> None:
        """A ``warning`` event: a received hub warning or, alone, one of the node's own.
        A threat warning (impact or overflight of this partner) is CAP urgency
        "Immediate"; a launch notice is "Expected"; a Cancel closes the thread."""
        threat = msg.msg_type != "Cancel" and msg.urgency == "Immediate"
        detail = "threat" if threat else msg.msg_type.lower()
        self.events.append(
            NodeEvent(now, "warning", str(msg.system_track_number), msg.measured_ns, x, detail)
        )

    def picture(self) -> list[SystemTrack]:
        """The system tracks this partner holds now."""
        return list(self.system_tracks.values())

    @staticmethod
    def state_of(msg: SystemTrack | TrackReport) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return np.array(msg.state_ecef), covariance_from_wire(msg.covariance_ecef)


def own_system_track(report: TrackReport, number: int) -> SystemTrack:
    """A node's own report in the shape the warning rules read (a released system track):
    the same state, covariance, phase, status, launch and impact predictions, numbered by
    the node's own track id ``number``, so that the warning threads are the node's tracks.
    Nothing is fused or aligned: the node warns from exactly what it would have sent."""
    return SystemTrack(
        source=report.source,
        measured_ns=report.measured_ns,
        releasability=report.releasability,
        system_track_number=number,
        state_ecef=report.state_ecef,
        covariance_ecef=report.covariance_ecef,
        phase=report.phase,
        status=report.status,
        quality=report.quality,
        launch=report.launch,
        impact=report.impact,
        apogee_height_m=report.apogee_height_m,
        missile_class=report.missile_class,
    )
