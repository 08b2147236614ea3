"""The life of one partner's warnings: when to send an Alert, an Update or a Cancel.

One *thread* of messages per (partner, system track), with CAP 1.2 ``msgType`` meaning
(OASIS CAP 1.2, sec. 3.2.1): the first message is an **Alert**; each later one is an
**Update** or, last, a **Cancel**, and lists every earlier message of the thread in its
``references`` so that a receiver that missed one can still chain them.

- Alert: the first time a confirmed missile in flight is assessed at level "launch" or
  "threat" (:func:`trilink.alerts.rules.assess`).
- Update, at once: the warning becomes *more* severe: "escalated" (launch -> threat), or
  the threat comes closer (impact place or nominal place further in: outside -> zone ->
  territorial -> land; an overflight newly predicted). Quick to warn.
- Update, once it has held: the warning becomes *less* severe and nothing in it more:
  "downgraded" (threat -> launch, i.e. the all-clear for the territory while the missile
  still flies), a place further out, an overflight no longer predicted. Every input must
  keep it less severe than announced for ``stand_down_hold_s`` (15 s); a flip back to
  the announced warning (or above) within that sends nothing and restarts the clock.
  Slow to stand down: a prediction wavering across a zone's edge alerted and un-alerted
  a population every 2 s (:func:`trilink.alerts.changes.severity_change`).
- Update, at most every ``min_update_interval_s`` (2 s): while threatened, the prediction
  changed *materially* against the one last announced (so slow drifts add up): impact
  point moved >= 10 km, predicted impact time moved >= 10 s, or the 95 % ellipse's
  semi-major axis changed by >= 25 % and >= 5 km (a change of size alone must hold for
  ``ellipse_hold_s``, 2 s, so a covariance swinging cycle to cycle is not announced each
  swing); or a first impact prediction arrived. In boost only a change of *where* is
  announced: the prediction then is the instantaneous impact point, walking downrange.
  An input without a prediction keeps the one last announced (a missing prediction is
  not an all-clear).
- Cancel (all-clear): the missile has impacted; or its track was lost (or went silent)
  and the last announced impact time plus ``lost_grace_s`` (30 s) has passed, or
  ``lost_timeout_s`` (120 s) has passed without any prediction. Checked by
  :meth:`WarningState.tick`.

The state is small and explicit; inputs are never mutated; the decision about one
message is the pure :func:`~trilink.alerts.changes.material_changes` and
:func:`~trilink.alerts.changes.severity_change` plus the level from the rules.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from trilink.alerts.changes import (
    LESS_SEVERE,
    ellipse_change,
    impact_shift_m,
    material_changes,
    severity_change,
)
from trilink.alerts.rules import (
    Assessment,
    Footprint,
    ImpactPrediction,
    ThreatInput,
    WarningRules,
    assess,
    decide,
    footprint,
    with_distance,
)
from trilink.alerts.territory import OUTSIDE, Territory

__all__ = [  # material_changes and friends live in trilink.alerts.changes since the hold
    "MSG_TYPES",
    "MessageRef",
    "WarningEvent",
    "WarningState",
    "ellipse_change",
    "impact_shift_m",
    "material_changes",
    "run_warnings",
]

MSG_TYPES = ("Alert", "Update", "Cancel")


@dataclass(frozen=True)
class MessageRef:
    """An earlier message of the same thread (CAP ``references`` entry)."""

    identifier: str
    sent_t_ns: int


@dataclass(frozen=True, eq=False)
class WarningEvent:
    """One warning message decided for one partner; :func:`trilink.alerts.cap.to_cap` writes it."""

    partner: str
    partner_name: str
    track_id: str
    identifier: str
    msg_type: str  # "Alert" | "Update" | "Cancel"
    sent_t_ns: int
    references: tuple[MessageRef, ...]
    level: str  # "launch" | "threat" | "clear"
    prior_level: str  # the thread's level before this message ("none" for an Alert)
    reason: str  # launch | threat | escalated | downgraded | changed | impacted | lost
    changes: tuple[str, ...]
    assessment: Assessment
    threat: ThreatInput


@dataclass
class _Thread:
    seq: int = 0
    level: str = "none"
    refs: list[MessageRef] = field(default_factory=list)
    announced: ImpactPrediction | None = None
    announced_assessment: Assessment | None = None
    last_input: ThreatInput | None = None
    last_sent_t_ns: int = 0
    lost_since_t_ns: int | None = None
    size_change_since_t_ns: int | None = None
    stand_down_since_t_ns: int | None = None  # since when every input was less severe


def _sooner(
    announced: ImpactPrediction | None, threat: ThreatInput, level: str, rules: WarningRules
) -> bool:
    """Whether a threat's predicted impact is now due at least ``impact_time_shift_s``
    sooner than announced (never held back by a pending stand-down)."""
    new = threat.impact
    if level != "threat" or announced is None or new is None:
        return False
    return (announced.t_ns - new.t_ns) / 1e9 >= rules.impact_time_shift_s


def _safe(text: str) -> str:
    # CAP identifiers must not hold spaces, commas or the restricted characters < and &.
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


class WarningState:
    """Warning threads of one partner. Feed it :class:`ThreatInput` values in time order."""

    def __init__(
        self, territory: Territory, rules: WarningRules = WarningRules(), id_prefix: str = "trilink"
    ):
        self.territory = territory
        self.rules = rules
        self.id_prefix = _safe(id_prefix)
        self._threads: dict[str, _Thread] = {}

    @property
    def partner(self) -> str:
        return self.territory.nation

    def open_tracks(self) -> tuple[str, ...]:
        """Tracks with a warning thread still open (not yet cancelled)."""
        return tuple(sorted(self._threads))

    def level(self, track_id: str) -> str:
        """Current level of a track's thread: "none", "launch" or "threat"."""
        thread = self._threads.get(track_id)
        return thread.level if thread else "none"

    def step(self, threat: ThreatInput, facts: Footprint | None = None) -> WarningEvent | None:
        """Decide the message (if any) that this new information about a track calls for.

        ``facts``: the geometry of ``threat`` against this partner's territory, when the
        caller computed it in bulk (:mod:`trilink.alerts.batch`); the same decisions as
        without, only the 3-sigma distance is then computed only when it is needed.
        """
        thread = self._threads.get(threat.track_id)
        if threat.status == "impacted":
            if thread is None:
                return None
            return self._close(thread, threat, "impacted")
        if threat.status == "lost":
            if thread is None:
                return None
            if thread.lost_since_t_ns is None:
                thread.lost_since_t_ns = threat.t_ns
            thread.stand_down_since_t_ns = None  # a hold runs over inputs in flight only
            thread.last_input = _keep_prediction(thread.last_input, threat)
            # Only this track's thread: other silent threads are tick()'s business (a
            # tick here used to close them too and return only the first Cancel).
            if threat.t_ns >= self._deadline_ns(thread):
                return self._close(thread, _at(thread.last_input, threat.t_ns), "lost")
            return None
        if not threat.confirmed:
            return None

        if thread is not None and threat.impact is None and thread.announced is not None:
            # A missing prediction is no news (the hub's predictor can fail for a cycle,
            # or give up just before impact): keep the one announced rather than read
            # its absence as an all-clear.
            threat = _replace(threat, impact=thread.announced)
            facts = None  # computed for the input as given, not for this one
        previously = thread is not None and thread.level == "threat"
        if facts is None:
            facts = footprint(threat, self.territory, self.rules)
        if (
            thread is not None
            and thread.level == "launch"
            and facts.place == OUTSIDE
            and not facts.overflight
        ):
            # Nothing raised and no threat to hold: decide() gives "launch" again, the
            # thread's level, which sends nothing (below). Skipped for speed only.
            thread.last_input = threat
            thread.lost_since_t_ns = None
            return None
        a = decide(threat, facts, self.rules, previously, need_distance=False)
        if a.level == "none":
            return None
        if thread is None:
            thread = self._threads.setdefault(threat.track_id, _Thread())
            return self._emit(
                thread, threat, with_distance(a, facts), "Alert", a.level, a.level, ()
            )
        thread.last_input = threat
        thread.lost_since_t_ns = None
        less = severity_change(thread.level, thread.announced_assessment, a.level, a)
        if less == LESS_SEVERE and not _sooner(thread.announced, threat, a.level, self.rules):
            # Slow to stand down: a less severe warning (downgrade, a place further out,
            # an overflight no longer predicted) is news only once it has held through
            # stand_down_hold_s of inputs; a flip back within it sends nothing. Routine
            # refinements wait with it: the message carrying them would announce it;
            # except an impact now due sooner (_sooner), news a threatened population
            # needs at once, which goes out with whatever else changed.
            thread.size_change_since_t_ns = None
            if thread.stand_down_since_t_ns is None:
                thread.stand_down_since_t_ns = threat.t_ns
            held_s = (threat.t_ns - thread.stand_down_since_t_ns) / 1e9
            if held_s < self.rules.stand_down_hold_s:
                return None
        else:
            thread.stand_down_since_t_ns = None  # as announced, or more severe: at once
        if a.level != thread.level:
            reason = "escalated" if a.level == "threat" else "downgraded"
            return self._emit(
                thread, threat, with_distance(a, facts), "Update", a.level, reason, ()
            )
        if a.level != "threat":
            return None
        changes, urgent = material_changes(
            thread.announced, thread.announced_assessment, threat, a, self.rules
        )
        size = ellipse_change(thread.announced, threat.impact, self.rules)
        if changes and changes == (size,):
            # Only the ellipse's size changed: announce it once it has held for
            # ellipse_hold_s, so a covariance that swings cycle to cycle (seen from the
            # hub in re-entry: 1 -> 7 -> 4 -> 1 km in 2 s) does not send an Update each time.
            if thread.size_change_since_t_ns is None:
                thread.size_change_since_t_ns = threat.t_ns
            if (threat.t_ns - thread.size_change_since_t_ns) / 1e9 < self.rules.ellipse_hold_s:
                return None
        else:
            thread.size_change_since_t_ns = None
        if threat.phase == "boost" and not urgent:
            # In boost the prediction is the instantaneous impact point: it walks downrange
            # by design until burnout (measured: 20-75 km every 2 s for an SRBM), so its
            # moves are not news; a change of *where* (urgent) still is.
            return None
        waited_s = (threat.t_ns - thread.last_sent_t_ns) / 1e9
        if changes and (urgent or waited_s >= self.rules.min_update_interval_s):
            a = with_distance(a, facts)
            return self._emit(thread, threat, a, "Update", a.level, "changed", changes)
        return None

    def tick(self, t_ns: int) -> list[WarningEvent]:
        """Cancel threads whose track was lost or went silent past their deadline."""
        events = []
        for thread in list(self._threads.values()):
            last = thread.last_input
            if last is not None and t_ns >= self._deadline_ns(thread):
                events.append(self._close(thread, _at(last, t_ns), "lost"))
        return events

    # --- internals ----------------------------------------------------------------------

    def _deadline_ns(self, thread: _Thread) -> int:
        """When a lost or silent thread is cancelled: the later of the last announced
        impact time and the loss, plus the grace time; without a prediction, the loss
        plus the timeout."""
        last = thread.last_input
        assert last is not None  # every thread has had an input since its Alert
        since = thread.lost_since_t_ns if thread.lost_since_t_ns is not None else last.t_ns
        impact = last.impact or thread.announced
        if impact is not None:
            return max(impact.t_ns, since) + int(self.rules.lost_grace_s * 1e9)
        return since + int(self.rules.lost_timeout_s * 1e9)

    def _close(self, thread: _Thread, threat: ThreatInput, reason: str) -> WarningEvent:
        a = assess(threat, self.territory, self.rules)  # level "none" for impacted/lost
        event = self._emit(thread, threat, a, "Cancel", "clear", reason, ())
        del self._threads[threat.track_id]
        return event

    def _emit(
        self,
        thread: _Thread,
        threat: ThreatInput,
        a: Assessment,
        msg_type: str,
        level: str,
        reason: str,
        changes: tuple[str, ...],
    ) -> WarningEvent:
        thread.seq += 1
        identifier = f"{self.id_prefix}-{self.partner}-{_safe(threat.track_id)}-{thread.seq:03d}"
        event = WarningEvent(
            partner=self.partner,
            partner_name=self.territory.name,
            track_id=threat.track_id,
            identifier=identifier,
            msg_type=msg_type,
            sent_t_ns=threat.t_ns,
            references=tuple(thread.refs),
            level=level,
            prior_level=thread.level,
            reason=reason,
            changes=changes,
            assessment=a,
            threat=threat,
        )
        thread.refs.append(MessageRef(identifier, threat.t_ns))
        thread.level = level
        thread.last_sent_t_ns = threat.t_ns
        thread.last_input = threat
        thread.size_change_since_t_ns = None
        thread.stand_down_since_t_ns = None
        if threat.impact is not None:
            thread.announced = threat.impact
        thread.announced_assessment = a
        return event


def _keep_prediction(previous: ThreatInput | None, lost: ThreatInput) -> ThreatInput:
    """A lost report may carry no prediction; keep the last one known for the deadline."""
    if lost.impact is not None or previous is None or previous.impact is None:
        return lost
    return _replace(lost, impact=previous.impact)


def _at(threat: ThreatInput, t_ns: int) -> ThreatInput:
    return _replace(threat, t_ns=int(t_ns), status="lost")


def _replace(threat: ThreatInput, **changes) -> ThreatInput:
    return dataclasses.replace(threat, **changes)


def run_warnings(
    threats: Iterable[ThreatInput],
    territory: Territory,
    rules: WarningRules = WarningRules(),
    id_prefix: str = "trilink",
    end_t_ns: int | None = None,
) -> list[WarningEvent]:
    """Replay time-ordered inputs (all tracks) through a fresh :class:`WarningState`.

    After each input, silent threads are checked (:meth:`WarningState.tick`); with
    ``end_t_ns`` a last check at that time closes what the run left open.
    """
    state = WarningState(territory, rules, id_prefix)
    events: list[WarningEvent] = []
    for threat in sorted(threats, key=lambda t: t.t_ns):
        event = state.step(threat)
        if event is not None:
            events.append(event)
        events.extend(state.tick(threat.t_ns))
    if end_t_ns is not None:
        events.extend(state.tick(end_t_ns))
    return events
