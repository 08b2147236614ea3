"""The message contract (ICD v1): frozen, tagged msgspec Structs. A leaf: msgspec + stdlib.

Every message is one Struct whose first key on the wire is ``kind`` (the tag) followed by
the envelope (:class:`Envelope`: message id, source, sequence, times, schema version,
releasability, signature) and then the body. ``docs/icd.md`` is the prose; the JSON
Schema under ``docs/schema/`` is generated from this module; both are checked against it.

Wire conventions (the ICD's section "Units"):

- absolute times: ``*_ns``, integer nanoseconds since the Unix epoch, UTC;
- durations: ``*_s``, float seconds;
- positions and velocities: ECEF (WGS84), metres and metres per second;
- angles on the wire are degrees (``*_deg``) because people read the JSON; latitude is
  geodetic, longitude east-positive in [-180, 180], azimuths clockwise from true north;
- covariances: the 21 upper-triangle elements of the symmetric 6x6 matrix, row-major
  (P00 P01 .. P05 P11 .. P15 P22 .. P55), so an asymmetric matrix cannot be sent.

A :class:`Bundle` carries several complete messages of one source (each encoded, with an
empty signature) under one signature: the ICD's section "Bundles". ``Message`` is the
union of the six content kinds; ``Payload`` adds Bundle: what may arrive on the wire.

Decoding and validation live in :mod:`trilink.link.codec` and :mod:`trilink.link.validate`;
this module only declares shapes. The scalar field types (units, ranges) and the
covariance and track-quality helpers are in :mod:`trilink.messages_fields`, the UUIDv7
generator in :mod:`trilink.messages_uuid7`; every public name of both is importable from
here too.
"""

from typing import Annotated, Literal

from msgspec import Meta, Struct

# ``X as X`` marks a re-export: importable from here as before the field types, the
# helpers and the UUIDv7 functions moved to their own modules.
from trilink.messages_fields import INT64_MAX as INT64_MAX
from trilink.messages_fields import NODE_ID_PATTERN as NODE_ID_PATTERN
from trilink.messages_fields import (
    Count,
    CovarianceEcef,
    LatDeg,
    LonDeg,
    Metres,
    MissileClass,
    NodeId,
    Phase,
    RejectReason,
    Seconds,
    SensorIds,
    ShortText,
    StateEcef,
    TimeNs,
    TrackNumber,
    TrackQuality,
    TrackStatus,
)
from trilink.messages_fields import MessageId as MessageId
from trilink.messages_fields import pack_covariance as pack_covariance
from trilink.messages_fields import track_quality as track_quality
from trilink.messages_fields import unpack_covariance as unpack_covariance
from trilink.messages_uuid7 import UUID7_PATTERN as UUID7_PATTERN
from trilink.messages_uuid7 import Uuid7Generator as Uuid7Generator
from trilink.messages_uuid7 import is_uuid7 as is_uuid7
from trilink.messages_uuid7 import uuid7 as uuid7
from trilink.messages_uuid7 import uuid7_from_fields as uuid7_from_fields
from trilink.messages_uuid7 import uuid7_time_ns as uuid7_time_ns

SCHEMA_VERSION = 1
"""The ICD version this module implements; bumped on any change to a field."""


# --- nested values -----------------------------------------------------------------------
class _Value(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Untagged nested value."""


class Ellipse(_Value, frozen=True):
    """One-sigma horizontal error ellipse on the ground (39.3 % for a 2-D Gaussian;
    multiply both axes by 2.4477 for 95 %)."""

    sigma_major_m: Annotated[Metres, Meta(description="One-sigma semi-major axis, m.")]
    sigma_minor_m: Annotated[
        Metres, Meta(description="One-sigma semi-minor axis, m; <= sigma_major_m.")
    ]
    major_azimuth_deg: Annotated[
        float,
        Meta(ge=0.0, lt=180.0, description="Azimuth of the major axis from true north, [0, 180)."),
    ]


class GroundPoint(_Value, frozen=True):
    """A predicted place and time on the ground (launch point or impact point)."""

    lat_deg: LatDeg
    lon_deg: LonDeg
    t_ns: Annotated[TimeNs, Meta(description="Predicted time of launch or impact, UTC ns.")]
    t_sigma_s: Annotated[Seconds, Meta(description="One-sigma uncertainty of t_ns, s.")]
    ellipse: Annotated[Ellipse, Meta(description="One-sigma ground ellipse of (lat, lon).")]


class SourceTrack(_Value, frozen=True):
    """One national track that contributed to a system track."""

    nation: Annotated[NodeId, Meta(description="The nation whose track contributed.")]
    track_id: (
        Annotated[str, Meta(max_length=64, description="The nation's local track id.")] | None
    ) = None


class PeerStatus(_Value, frozen=True):
    """What a node knows of one peer link."""

    peer: Annotated[NodeId, Meta(description="The peer node.")]
    last_seq_sent: Annotated[
        Count | None, Meta(description="seq of the last message sent toward the peer.")
    ] = None
    last_seq_received: Annotated[
        Count | None, Meta(description="seq of the last message accepted from the peer.")
    ] = None
    last_received_ns: Annotated[
        TimeNs | None, Meta(description="When that message arrived, UTC ns.")
    ] = None
    rejected: Annotated[Count, Meta(description="Messages from this peer rejected so far.")] = 0


# --- the envelope ------------------------------------------------------------------------
class Envelope(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind"):
    """Fields every message carries; the Stamper fills those with defaults before sending.

    ``signature`` is Ed25519 over ``b"trilink-sig-v1\\x00"`` + the canonical MessagePack of
    the message with ``signature`` set to empty bytes (trilink.link.signing, ICD section
    "Signing").
    """

    message_id: Annotated[str, Meta(description="UUIDv7 (RFC 9562), lower-case text form.")] = ""
    source: NodeId
    seq: Annotated[Count, Meta(description="Per-source sequence number, never reused.")] = 0
    measured_ns: Annotated[
        TimeNs, Meta(description="Time the content is valid at (state epoch), UTC ns.")
    ]
    sent_ns: Annotated[TimeNs, Meta(description="Time the source signed and sent it, UTC ns.")] = 0
    schema_version: Annotated[
        int, Meta(ge=1, le=65535, description="ICD version of this message.")
    ] = SCHEMA_VERSION
    releasability: Annotated[
        tuple[NodeId, ...],
        Meta(
            max_length=16,
            description="REL TO: the nations whose nodes may hold this message, no repeats.",
        ),
    ]
    signature: Annotated[
        bytes, Meta(max_length=64, description="Ed25519 signature (64 bytes) or empty.")
    ] = b""


class TrackReport(Envelope, frozen=True, kw_only=True, tag="track_report"):
    """A national node's track of one object (national -> hub, ``trilink.<NODE>.tracks``)."""

    track_id: Annotated[ShortText, Meta(description="Track id, unique within the nation.")]
    nation: Annotated[NodeId, Meta(description="The nation whose tracker made it.")]
    state_ecef: StateEcef
    covariance_ecef: CovarianceEcef
    phase: Phase
    status: TrackStatus
    quality: TrackQuality
    n_updates: Annotated[Count, Meta(description="Measurement updates so far.")]
    launch: Annotated[GroundPoint | None, Meta(description="Predicted launch point.")] = None
    impact: Annotated[GroundPoint | None, Meta(description="Predicted impact point.")] = None
    apogee_height_m: Annotated[
        float | None, Meta(description="Predicted apogee, height above WGS84, m.")
    ] = None
    sensors: SensorIds = ()
    missile_class: MissileClass | None = None


class SystemTrack(Envelope, frozen=True, kw_only=True, tag="system_track"):
    """The hub's fused track of one object (``trilink.hub.out.<NODE>.tracks``)."""

    system_track_number: TrackNumber
    state_ecef: StateEcef
    covariance_ecef: CovarianceEcef
    phase: Phase
    status: TrackStatus
    quality: TrackQuality
    launch: Annotated[GroundPoint | None, Meta(description="Fused launch point.")] = None
    impact: Annotated[GroundPoint | None, Meta(description="Fused impact point.")] = None
    apogee_height_m: Annotated[
        float | None, Meta(description="Predicted apogee, height above WGS84, m.")
    ] = None
    sources: Annotated[
        tuple[SourceTrack, ...],
        Meta(max_length=16, description="Contributing national tracks; redactable (empty)."),
    ] = ()
    missile_class: MissileClass | None = None


class LaunchEvent(Envelope, frozen=True, kw_only=True, tag="launch_event"):
    """The hub declares a launch (``trilink.hub.out.<NODE>.events``)."""

    system_track_number: TrackNumber
    launch: Annotated[GroundPoint, Meta(description="Estimated launch point and time.")]
    first_detection_ns: Annotated[
        TimeNs, Meta(description="First detection by any coalition sensor, UTC ns.")
    ]
    detecting_nations: Annotated[
        tuple[NodeId, ...], Meta(max_length=16, description="Redactable (empty).")
    ] = ()
    missile_class: MissileClass | None = None


LatLon = tuple[LatDeg, LonDeg]
CapUrgency = Annotated[
    Literal["Immediate", "Expected", "Future", "Past", "Unknown"],
    Meta(description="CAP 1.2 urgency."),
]
CapSeverity = Annotated[
    Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"],
    Meta(description="CAP 1.2 severity."),
]
CapCertainty = Annotated[
    Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"],
    Meta(description="CAP 1.2 certainty."),
]


class Warning(Envelope, frozen=True, kw_only=True, tag="warning"):
    """A warning for one partner (``trilink.hub.out.<NODE>.warnings``); maps onto CAP 1.2."""

    warning_id: Annotated[ShortText, Meta(description="Stable id; CAP identifier.")]
    partner: Annotated[NodeId, Meta(description="The partner node this warning is for.")]
    system_track_number: TrackNumber
    msg_type: Annotated[Literal["Alert", "Update", "Cancel"], Meta(description="CAP 1.2 msgType.")]
    references: Annotated[
        tuple[ShortText, ...],
        Meta(max_length=64, description="warning_ids this one updates or cancels."),
    ] = ()
    event: Annotated[
        str, Meta(min_length=1, max_length=128, description="CAP event, e.g. Ballistic missile.")
    ]
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    impact_polygon: Annotated[
        tuple[LatLon, ...],
        Meta(
            max_length=1024,
            description="Closed ring [lat_deg, lon_deg] (first == last, >= 4 points) or empty.",
        ),
    ] = ()
    impact_t_ns: Annotated[TimeNs | None, Meta(description="Predicted impact time.")] = None
    time_to_impact_s: Annotated[
        float | None, Meta(description="(impact_t_ns - measured_ns) / 1e9, s.")
    ] = None
    area_desc: Annotated[
        str, Meta(max_length=512, description="CAP areaDesc: the area in words.")
    ] = ""
    text: Annotated[str, Meta(max_length=4096, description="Text for people.")] = ""


class Heartbeat(Envelope, frozen=True, kw_only=True, tag="heartbeat"):
    """A node's link status (``trilink.<NODE>.status``, ``trilink.hub.out.<NODE>.status``,
    or last in a bundle of its tracks on the tracks subject)."""

    state: Annotated[
        Literal["starting", "running", "degraded", "stopping"],
        Meta(description="Node state; degraded: running with a peer link down."),
    ]
    uptime_s: Annotated[Seconds, Meta(description="Seconds since the node started.")]
    peers: Annotated[
        tuple[PeerStatus, ...], Meta(max_length=64, description="One entry per peer link.")
    ] = ()
    deadletters: Annotated[Count, Meta(description="Messages dead-lettered so far.")] = 0


class Reject(Envelope, frozen=True, kw_only=True, tag="reject"):
    """A node tells the sender it refused one of its messages."""

    rejected_message_id: (
        Annotated[str, Meta(max_length=64, description="message_id refused, if readable.")] | None
    ) = None
    rejected_source: (
        Annotated[str, Meta(max_length=64, description="Its source, if readable.")] | None
    ) = None
    rejected_seq: Annotated[Count | None, Meta(description="Its seq, if readable.")] = None
    reason: Annotated[RejectReason, Meta(description="Why (ICD: Rejection reasons).")]
    field: Annotated[str, Meta(max_length=256, description="Field path, '$' = whole message.")]
    detail: Annotated[str, Meta(max_length=1024, description="Explanation for people.")] = ""


MAX_ITEM_BYTES = 65_536
"""Largest encoded message, standalone or as a bundle item (the receivers' default limit)."""
MAX_BUNDLE_ITEMS = 1_000
"""Most items in one bundle. Keep it below the receivers' sequence window (1,024): the
items of one bundle take consecutive sequence numbers, and a message of the same source
that overtakes a whole bundle must not push its items below the window."""
MAX_BUNDLE_BYTES = 1_000_000
"""Largest bundle payload: under NATS's default ``max_payload`` of 1 MiB (1,048,576 bytes;
trilink's server configurations keep the default), with room for headers and subject."""

BundleItem = Annotated[
    bytes,
    Meta(
        min_length=1,
        max_length=MAX_ITEM_BYTES,
        description="One complete encoded message of the bundle's source, signature empty.",
    ),
]


class Bundle(Envelope, frozen=True, kw_only=True, tag="bundle"):
    """Several messages of one source under one signature (any subject of that source;
    ICD section "Bundles"). ``measured_ns`` is the latest of the items', ``releasability``
    what every item allows (the intersection of their labels)."""

    items: Annotated[
        tuple[BundleItem, ...],
        Meta(
            min_length=1,
            max_length=MAX_BUNDLE_ITEMS,
            description=(
                "Encoded messages (canonical MessagePack, each with an empty signature), in "
                "sending order; never a bundle."
            ),
        ),
    ]


Message = TrackReport | SystemTrack | LaunchEvent | Warning | Heartbeat | Reject
"""A content message: what nodes act on."""
Payload = Message | Bundle
"""What may arrive on the wire: a content message or a bundle of them."""
MESSAGE_TYPES: tuple[type[Envelope], ...] = (
    TrackReport,
    SystemTrack,
    LaunchEvent,
    Warning,
    Heartbeat,
    Reject,
)
PAYLOAD_TYPES: tuple[type[Envelope], ...] = (*MESSAGE_TYPES, Bundle)
KINDS: dict[str, type[Envelope]] = {str(t.__struct_config__.tag): t for t in PAYLOAD_TYPES}
"""Every wire kind (the six content kinds and ``bundle``) -> its type."""


def kind(msg: Envelope) -> str:
    """The wire tag of a message (``"track_report"``, ...)."""
    return str(type(msg).__struct_config__.tag)


def marking(releasability: tuple[str, ...]) -> str:
    """The label people read: ``("USA", "KOR")`` -> ``"REL TO KOR, USA"``."""
    return "REL TO " + ", ".join(sorted(releasability)) if releasability else "NOT RELEASABLE"
