"""One partner's picture: what the hub has released to it, kept for display.

State lives here and only here (the feed owns one :class:`PartnerPicture` per partner).
:meth:`PartnerPicture.apply` takes one accepted message and its receive time and returns
the deltas a page needs to stay in step; :meth:`PartnerPicture.snapshot` is the whole
picture for a page that has just connected. Both are JSON-ready dicts (shapes in
``docs/web.md``).

What is kept, per partner:

- tracks: the latest SystemTrack of each number (older epochs arriving late are
  ignored), with a trail of at most ``trail_points`` positions at least ``trail_step_s``
  of measured time apart, the newest position always last;
- launches: the latest LaunchEvent of each number;
- warnings by id: an Alert is active until an Update or Cancel names it in
  ``references``; a Cancel that names no known warning closes every active warning of its
  system track (a partner that missed the Alert still sees the all-clear);
- a timeline (launch, first track, alert/update/cancel, lost) with two latencies:
  ``latency_s`` = receive time - measured time of the message, ``since_launch_s`` =
  receive time - the launch time estimated for that track;
- the hub's last heartbeat, and refusals counted by reason.

A message not labelled releasable to the partner, or a warning addressed to another
partner, is refused here too (counted, never drawn): the page shows only what the label
says the partner may hold.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

from trilink.messages import Heartbeat, LaunchEvent, Message, SystemTrack, Warning
from trilink.web.views import View, launch_view, ms, status_view, track_view, warning_view

NS = 1_000_000_000


class _Trail:
    """Positions at least ``step_ns`` apart, the newest always last (replacing a last point
    that is too close to the one before it)."""

    def __init__(self, points: int, step_ns: int):
        self.points: deque[list[float]] = deque(maxlen=points)
        self.t_ns: deque[int] = deque(maxlen=points)
        self.step_ns = step_ns

    def add(self, t_ns: int, point: list[float]) -> None:
        if len(self.t_ns) >= 2 and self.t_ns[-1] - self.t_ns[-2] < self.step_ns:
            self.points[-1], self.t_ns[-1] = point, t_ns
        else:
            self.points.append(point)
            self.t_ns.append(t_ns)


class PartnerPicture:
    """Everything released to ``partner`` that the page draws."""

    def __init__(
        self,
        partner: str,
        *,
        trail_points: int = 120,
        trail_step_s: float = 2.0,
        max_events: int = 500,
        max_tracks: int = 500,
        max_closed_warnings: int = 200,
    ):
        if trail_points < 1:
            raise ValueError("trail_points must be >= 1")
        self.partner = partner
        self.trail_points = trail_points
        self.trail_step_ns = int(trail_step_s * NS)
        self.max_tracks = max_tracks
        self.max_closed_warnings = max_closed_warnings
        self._tracks: dict[int, View] = {}
        self._track_t: dict[int, int] = {}
        self._trails: dict[int, _Trail] = {}
        self._launches: dict[int, View] = {}
        self._launch_t: dict[int, int] = {}
        self._warnings: dict[str, View] = {}
        self._events: deque[View] = deque(maxlen=max_events)
        self._event_seq = 0
        self._lost: set[int] = set()
        self._status: View | None = None
        self.rejected: Counter[str] = Counter()

    # --- input ------------------------------------------------------------------------
    def apply(self, msg: Message, received_ns: int) -> list[View]:
        """Take one accepted message; return the deltas (possibly none)."""
        if self.partner not in msg.releasability:
            return self.reject("not_releasable")
        if isinstance(msg, SystemTrack):
            return self._track(msg, received_ns)
        if isinstance(msg, LaunchEvent):
            return self._launch(msg, received_ns)
        if isinstance(msg, Warning):
            if msg.partner != self.partner:
                return self.reject("not_for_partner")
            return self._warning(msg, received_ns)
        if isinstance(msg, Heartbeat):
            self._status = status_view(msg, received_ns)
            return [{"type": "status", "status": self._status}]
        return []  # Rejects from the hub concern the partner's node, not its picture

    def reject(self, reason: str) -> list[View]:
        """Count a refused message; the delta carries every count."""
        self.rejected[reason] += 1
        return [{"type": "rejected", "rejected": dict(self.rejected)}]

    # --- output -----------------------------------------------------------------------
    def snapshot(self) -> View:
        return {
            "type": "snapshot",
            "partner": self.partner,
            "tracks": [self._tracks[n] for n in sorted(self._tracks)],
            "launches": [self._launches[n] for n in sorted(self._launches)],
            "warnings": list(self._warnings.values()),
            "events": list(self._events),
            "status": self._status,
            "rejected": dict(self.rejected),
        }

    def track(self, number: int) -> View | None:
        return self._tracks.get(number)

    def active_warnings(self) -> list[View]:
        return [w for w in self._warnings.values() if w["active"]]

    # --- kinds ------------------------------------------------------------------------
    def _track(self, msg: SystemTrack, received_ns: int) -> list[View]:
        n = msg.system_track_number
        if n in self._track_t and msg.measured_ns <= self._track_t[n]:
            if msg.status != "lost" or n in self._lost:
                return []  # an older epoch arriving late: the picture already has newer
            # The end of a track applies whatever its time: the hub's fast path may have
            # sent a state newer than the cycle that ended the track.
            self._lost.add(n)
            view = {**self._tracks[n], "status": "lost"}
            self._tracks[n] = view
            return [
                {"type": "track", "track": view},
                self._event("lost", n, msg.measured_ns, received_ns, f"T{n} lost"),
                *self._prune_tracks(),
            ]
        first = n not in self._tracks
        trail = self._trails.setdefault(n, _Trail(self.trail_points, self.trail_step_ns))
        view = track_view(msg, received_ns, [])
        trail.add(msg.measured_ns, [view["lat"], view["lon"], view["alt_m"]])
        view["trail"] = list(trail.points)
        self._tracks[n] = view
        self._track_t[n] = msg.measured_ns
        if msg.launch is not None and n not in self._launch_t:
            self._launch_t[n] = msg.launch.t_ns
        out: list[View] = [{"type": "track", "track": view}]
        if first:
            cls = f" {msg.missile_class}" if msg.missile_class else ""
            out.append(self._event("first_track", n, msg.measured_ns, received_ns,
                                   f"first track T{n}{cls}"))  # fmt: skip
        if msg.status == "lost" and n not in self._lost:
            self._lost.add(n)
            out.append(self._event("lost", n, msg.measured_ns, received_ns, f"T{n} lost"))
        out.extend(self._prune_tracks())
        return out

    def _launch(self, msg: LaunchEvent, received_ns: int) -> list[View]:
        n = msg.system_track_number
        first = n not in self._launches
        self._launch_t[n] = msg.launch.t_ns
        view = launch_view(msg, received_ns)
        self._launches[n] = view
        out: list[View] = [{"type": "launch", "launch": view}]
        if first:
            cls = msg.missile_class or "missile"
            text = f"launch T{n} {cls} at {msg.launch.lat_deg:.2f}, {msg.launch.lon_deg:.2f}"
            out.append(self._event("launch", n, msg.measured_ns, received_ns, text))
        return out

    def _warning(self, msg: Warning, received_ns: int) -> list[View]:
        out: list[View] = []
        named = [self._warnings[r] for r in msg.references if r in self._warnings]
        if msg.msg_type == "Cancel" and not named:
            named = [
                w
                for w in self._warnings.values()
                if w["active"] and w["number"] == msg.system_track_number
            ]
        for old in named:
            if old["active"]:
                old = self._warnings[old["id"]] = {
                    **old,
                    "active": False,
                    "closed_by": msg.warning_id,
                }
                out.append({"type": "warning", "warning": old})
        view = warning_view(msg, received_ns, active=msg.msg_type != "Cancel")
        self._warnings.pop(msg.warning_id, None)  # re-insert: newest last
        self._warnings[msg.warning_id] = view
        out.append({"type": "warning", "warning": view})
        tti = msg.time_to_impact_s
        text = f"{msg.msg_type.lower()} T{msg.system_track_number}: {msg.event}"
        if msg.area_desc:
            text += f", {msg.area_desc}"
        if tti is not None and msg.msg_type != "Cancel":
            text += f" (impact in {tti:.0f} s)"
        kind = {"Alert": "alert", "Update": "update", "Cancel": "cancel"}[msg.msg_type]
        out.append(self._event(kind, msg.system_track_number, msg.measured_ns, received_ns, text))
        self._prune_warnings()
        return out

    # --- helpers ----------------------------------------------------------------------
    def _event(self, kind: str, number: int, measured_ns: int, received_ns: int, text: str) -> View:
        self._event_seq += 1
        launch_t = self._launch_t.get(number)
        event: dict[str, Any] = {
            "seq": self._event_seq,
            "kind": kind,
            "number": number,
            "t_ms": ms(measured_ns),
            "received_ms": ms(received_ns),
            "latency_s": (received_ns - measured_ns) / NS,
            "since_launch_s": None if launch_t is None else (received_ns - launch_t) / NS,
            "text": text,
        }
        self._events.append(event)
        return {"type": "event", "event": event}

    def _prune_tracks(self) -> list[View]:
        """Over ``max_tracks``: forget the tracks updated longest ago."""
        out: list[View] = []
        while len(self._tracks) > self.max_tracks:
            n = min(self._track_t, key=self._track_t.__getitem__)
            for table in (self._tracks, self._track_t, self._trails):
                table.pop(n, None)
            out.append({"type": "track_removed", "number": n})
        return out

    def _prune_warnings(self) -> None:
        closed = [k for k, w in self._warnings.items() if not w["active"]]
        for k in closed[: max(0, len(closed) - self.max_closed_warnings)]:
            del self._warnings[k]
