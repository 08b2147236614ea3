"""A recorded run seen by one partner: what the hub released to it, decoded, in order.

A recording is the directory ``trilink run --record DIR`` writes (``DIR/messages.tlog``,
format in :mod:`trilink.link.recordlog`) or the ``.tlog`` file itself. A partner ``P``
received exactly the messages on ``trilink.hub.out.P.*``: system tracks, launch events,
warnings, the hub's heartbeats. :func:`partner_view` decodes those (the contract's
validation: :func:`trilink.link.iter_payload_messages`, which opens bundles) with their log times, and the helpers below turn
them into this package's values:

- :func:`threat_inputs` / :func:`track_records`: the tracks, for CZML, GeoJSON, KML, CoT;
- :func:`cycles`: the tracks grouped per hub cycle, for replaying the warning rules;
- :func:`warning_to_cap`: a received ``Warning`` as the CAP 1.2 alert the partner would
  issue (sent = the decision time; ``references`` rebuilt as ``sender,identifier,sent``
  from the thread's earlier warnings in the same recording).

This module reads bytes, so it imports :mod:`trilink.link` (record log and codec); the
rest of the package sees only decoded values. The log time ``t_ns`` is when the message
was on the bus (in a simulated run, when the hub published it).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trilink import messages
from trilink.alerts.adapters import threat_from_system_track
from trilink.alerts.cap import _SHELTER, _WATERS, CAP_NS, DEFAULT_SENDER, SCOPES, STATUSES
from trilink.alerts.records import TrackRecord
from trilink.alerts.rules import ThreatInput
from trilink.alerts.timefmt import cap_time
from trilink.errors import DecodeError
from trilink.link.codec import iter_payload_messages
from trilink.link.recordlog import LogRecord, read_log

LOG_NAME = "messages.tlog"
_HUB_OUT = re.compile(r"^trilink\.hub\.out\.([A-Z][A-Z0-9_]{1,15})\.([a-z]+)$")


@dataclass(frozen=True)
class Received:
    """One decoded message with the time it was on the bus and its subject."""

    t_ns: int
    subject: str
    message: messages.Envelope


@dataclass(frozen=True)
class PartnerView:
    """Everything released to one partner, in log order.

    ``skipped`` counts records on the partner's subjects that did not decode or were not
    the kind the subject carries (a recording of a faulty run can hold such records).
    """

    partner: str
    tracks: tuple[Received, ...]
    warnings: tuple[Received, ...]
    launches: tuple[Received, ...]
    skipped: int = 0

    @property
    def system_tracks(self) -> list[messages.SystemTrack]:
        return [r.message for r in self.tracks]  # type: ignore[misc]

    @property
    def warning_messages(self) -> list[messages.Warning]:
        return [r.message for r in self.warnings]  # type: ignore[misc]

    def span_ns(self) -> tuple[int, int] | None:
        """First and last log time of the tracks and warnings (None if there are none)."""
        times = [r.t_ns for r in (*self.tracks, *self.warnings)]
        return (min(times), max(times)) if times else None


def log_path(path: Path | str) -> Path:
    """``DIR/messages.tlog`` for a recording directory, the path itself for a file."""
    p = Path(path)
    return p / LOG_NAME if p.is_dir() else p


def read_records(path: Path | str) -> list[LogRecord]:
    """Every record of a recording. A record cut short at the very end (a crash while
    writing) is dropped; anything else malformed raises :class:`DecodeError`;
    a missing file raises :class:`FileNotFoundError`."""
    return list(read_log(log_path(path), strict=False))


def partners_in(records: Iterable[LogRecord]) -> tuple[str, ...]:
    """The partners the hub released anything to, sorted."""
    found = set()
    for r in records:
        m = _HUB_OUT.match(r.subject)
        if m:
            found.add(m.group(1))
    return tuple(sorted(found))


_TOPIC_KIND = {
    "tracks": messages.SystemTrack,
    "warnings": messages.Warning,
    "events": messages.LaunchEvent,
}


def partner_view(records: Iterable[LogRecord], partner: str) -> PartnerView:
    """Decode what was released to ``partner`` (tracks, warnings, launch events)."""
    out: dict[str, list[Received]] = {k: [] for k in _TOPIC_KIND}
    skipped = 0
    for r in records:
        m = _HUB_OUT.match(r.subject)
        if m is None or m.group(1) != partner or m.group(2) not in _TOPIC_KIND:
            continue
        try:  # a plain message or a bundle of them (the hub bundles a partner's releases)
            msgs = iter_payload_messages(r.payload)
        except DecodeError:
            skipped += 1
            continue
        for msg in msgs:
            if isinstance(msg, messages.Heartbeat):
                continue  # the hub's status, at the end of a cycle's tracks (ICD section 14)
            if not isinstance(msg, _TOPIC_KIND[m.group(2)]):
                skipped += 1
                continue
            out[m.group(2)].append(Received(int(r.t_ns), r.subject, msg))
    return PartnerView(
        partner,
        tuple(out["tracks"]),
        tuple(out["warnings"]),
        tuple(out["events"]),
        skipped,
    )


def threat_inputs(view: PartnerView, *, ground_track: bool = False) -> list[ThreatInput]:
    """The partner's system tracks as ThreatInputs, ordered by state time.

    Exports need no ground track: without ``ground_track`` it is left empty (the
    geodesic to the impact point is only for the overflight rule).
    """
    msgs = sorted(view.system_tracks, key=lambda m: (m.measured_ns, m.system_track_number))
    return threat_inputs_of(msgs, ground_track=ground_track)


def threat_inputs_of(
    msgs: Iterable[messages.SystemTrack], *, ground_track: bool = False
) -> list[ThreatInput]:
    """ThreatInputs of system tracks, in the order given (see :func:`threat_inputs`)."""
    gt = None if ground_track else np.zeros((0, 2))
    return [threat_from_system_track(m, ground_track_rad=gt) for m in msgs]


def track_records(view: PartnerView) -> list[TrackRecord]:
    """The partner's tracks as export records (position, phase, launch, prediction)."""
    return [TrackRecord.from_threat(t) for t in threat_inputs(view)]


def cycles(view: PartnerView) -> list[tuple[int, list[messages.SystemTrack]]]:
    """``(t_ns, tracks)`` per hub cycle, in time order: the hub stamps every track it
    releases in a cycle with the cycle time as ``measured_ns``."""
    groups: dict[int, list[messages.SystemTrack]] = {}
    for m in view.system_tracks:
        groups.setdefault(m.measured_ns, []).append(m)
    return sorted(groups.items())


def stream_times(view: PartnerView) -> Iterator[tuple[int, ThreatInput]]:
    """``(log t_ns, ThreatInput)`` in log order: what a live partner saw, when it saw it."""
    for r in view.tracks:
        yield r.t_ns, threat_inputs_of([r.message])[0]  # type: ignore[list-item]


# --- CAP 1.2 from a received Warning -----------------------------------------------------
def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, _q(tag))
    el.text = text
    return el


def _response(w: messages.Warning) -> str:
    if w.msg_type == "Cancel":
        return "AllClear"
    return "Shelter" if w.urgency == "Immediate" else "Monitor"


def _instruction(w: messages.Warning) -> str:
    if w.msg_type == "Cancel" or w.urgency != "Immediate":
        return "No protective action is needed. Stay informed through official channels."
    # Extreme: land or territorial sea; an overflight is Severe but still a shelter call.
    if w.severity == "Extreme" or w.event == "Missile overflight":
        return _SHELTER
    return _WATERS


def _split_text(w: messages.Warning) -> tuple[str, str]:
    # The hub writes text as "<headline>. <description>", the description opening with
    # "System track": split there; anything else is all description.
    head, sep, rest = w.text.partition(". System track ")
    if sep:
        return head, "System track " + rest
    return w.event, w.text or w.event


def _polygon(w: messages.Warning) -> str:
    return " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in w.impact_polygon)


def warning_to_cap(
    w: messages.Warning,
    *,
    sent_of: Mapping[str, int],
    sender: str = DEFAULT_SENDER,
    status: str = "Exercise",
    scope: str = "Public",
    partner_name: str | None = None,
    id_prefix: str = "trilink",
) -> str:
    """The CAP 1.2 ``<alert>`` of a received Warning (the mapping of :mod:`.cap`).

    ``sent_of`` maps warning ids to their decision times (``measured_ns``), to write
    ``references`` as CAP wants them (``sender,identifier,sent``); an id not found there
    (a recording that starts mid-thread) is left out.
    """
    if status not in STATUSES or scope not in SCOPES:
        raise ValueError(f"status must be one of {STATUSES} and scope one of {SCOPES}")
    ET.register_namespace("", CAP_NS)
    alert = ET.Element(_q("alert"))
    _sub(alert, "identifier", w.warning_id)
    _sub(alert, "sender", sender)
    _sub(alert, "sent", cap_time(w.measured_ns))
    _sub(alert, "status", status)
    _sub(alert, "msgType", w.msg_type)
    _sub(alert, "scope", scope)
    if scope == "Restricted":
        _sub(alert, "restriction", "Coalition warning partners only")
    if status == "Exercise":
        _sub(alert, "note", "Simulation: trilink exercise message, not a real warning.")
    refs = [f"{sender},{r},{cap_time(sent_of[r])}" for r in w.references if r in sent_of]
    if refs:
        _sub(alert, "references", " ".join(refs))
    _sub(alert, "incidents", f"{id_prefix}-{w.system_track_number}")

    info = ET.SubElement(alert, _q("info"))
    _sub(info, "language", "en-US")
    _sub(info, "category", "Security")
    _sub(info, "event", w.event)
    _sub(info, "responseType", _response(w))
    _sub(info, "urgency", w.urgency)
    _sub(info, "severity", w.severity)
    _sub(info, "certainty", w.certainty)
    _sub(info, "audience", f"{partner_name or w.partner} ({w.partner})")
    code = ET.SubElement(info, _q("eventCode"))
    _sub(code, "valueName", "trilink")
    level = (
        "CLEAR" if w.msg_type == "Cancel" else ("THREAT" if w.urgency == "Immediate" else "LAUNCH")
    )
    _sub(code, "value", f"MISSILE-{level}")
    if w.msg_type == "Cancel" or w.impact_t_ns is None:
        expires = w.measured_ns + (600 if w.msg_type == "Cancel" else 1800) * 10**9
    else:
        expires = max(w.impact_t_ns, w.measured_ns) + 600 * 10**9
    _sub(info, "expires", cap_time(expires))
    _sub(info, "senderName", "trilink coalition hub (simulation)")
    headline, description = _split_text(w)
    _sub(info, "headline", headline)
    _sub(info, "description", description)
    _sub(info, "instruction", _instruction(w))
    params = [("trackId", str(w.system_track_number))]
    if w.impact_t_ns is not None:
        params.append(("impactTime", cap_time(w.impact_t_ns)))
    if w.time_to_impact_s is not None and math.isfinite(w.time_to_impact_s):
        if w.msg_type != "Cancel":
            params.append(("timeToImpactS", f"{w.time_to_impact_s:.0f}"))
    for name, value in params:
        p = ET.SubElement(info, _q("parameter"))
        _sub(p, "valueName", name)
        _sub(p, "value", value)
    area = ET.SubElement(info, _q("area"))
    _sub(area, "areaDesc", w.area_desc or f"{partner_name or w.partner} and its waters")
    if len(w.impact_polygon) >= 4:
        _sub(area, "polygon", _polygon(w))
    return ET.tostring(alert, encoding="unicode", xml_declaration=False)


def cap_documents(view: PartnerView, **options) -> list[tuple[str, bytes]]:
    """``(identifier.xml, CAP document)`` for every warning the partner received."""
    sent_of = {w.warning_id: w.measured_ns for w in view.warning_messages}
    out = []
    for w in view.warning_messages:
        xml = warning_to_cap(w, sent_of=sent_of, **options)
        doc = b'<?xml version="1.0" encoding="UTF-8"?>\n' + xml.encode("utf-8")
        out.append((f"{_file_safe(w.warning_id)}.xml", doc))
    return out


def _file_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
