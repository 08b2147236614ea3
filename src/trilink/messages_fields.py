"""The ICD's scalar field types with their units and ranges, and the helpers that fill them.

Each type is an ``Annotated`` msgspec type whose ``Meta`` carries the range and the
description (they become the JSON Schema under ``docs/schema/``): ids, times, counts,
angles, the 6-element ECEF state, the 21-element covariance and the 0..15 track quality.
:func:`pack_covariance` / :func:`unpack_covariance` convert the covariance to and from its
wire form, :func:`track_quality` computes the quality. The Structs that use these types
are in :mod:`trilink.messages`, which re-exports everything here. A leaf: msgspec, stdlib
and :mod:`trilink.messages_uuid7`.
"""

import math
from typing import Annotated, Literal

from msgspec import Meta

from trilink.messages_uuid7 import UUID7_PATTERN

NODE_ID_PATTERN = r"^[A-Z][A-Z0-9_]{1,15}$"

# --- scalar types with their units and ranges (they also become the JSON Schema) ---------
INT64_MAX = 2**63 - 1
NodeId = Annotated[
    str,
    Meta(
        pattern=NODE_ID_PATTERN,
        description="Node or nation id: upper-case letters, digits, underscore (KOR, JPN, USA, HUB).",
    ),
]
MessageId = Annotated[
    str, Meta(pattern=UUID7_PATTERN, description="UUIDv7 (RFC 9562), lower-case text form.")
]
TimeNs = Annotated[
    int, Meta(ge=0, le=INT64_MAX, description="Nanoseconds since the Unix epoch, UTC.")
]
Count = Annotated[int, Meta(ge=0, le=INT64_MAX)]
LatDeg = Annotated[float, Meta(ge=-90.0, le=90.0, description="Geodetic latitude, degrees.")]
LonDeg = Annotated[
    float, Meta(ge=-180.0, le=180.0, description="Longitude, degrees east, [-180, 180].")
]
Metres = Annotated[float, Meta(ge=0.0, description="Metres, non-negative.")]
Seconds = Annotated[float, Meta(ge=0.0, description="Seconds, non-negative.")]
StateEcef = Annotated[
    tuple[float, ...],
    Meta(
        min_length=6,
        max_length=6,
        description="[x, y, z] ECEF m then [vx, vy, vz] ECEF m/s, valid at measured_ns.",
    ),
]
CovarianceEcef = Annotated[
    tuple[float, ...],
    Meta(
        min_length=21,
        max_length=21,
        description=(
            "Upper triangle of the 6x6 state covariance, row-major: P00 P01 P02 P03 P04 P05 "
            "P11 .. P15 P22 .. P55; m^2, m^2/s, m^2/s^2. Must be positive definite."
        ),
    ),
]
TrackQuality = Annotated[
    int, Meta(ge=0, le=15, description="0 (no use) .. 15 (best); see track_quality().")
]
TrackNumber = Annotated[int, Meta(ge=1, le=2**31 - 1, description="Hub system track number.")]
ShortText = Annotated[str, Meta(min_length=1, max_length=64)]
SensorIds = Annotated[
    tuple[ShortText, ...],
    Meta(max_length=64, description="Contributing sensor ids; redactable (empty)."),
]
Phase = Annotated[
    Literal["boost", "ballistic", "reentry", "unknown"],
    Meta(description="Flight phase: powered, unpowered in space, in the atmosphere again."),
]
TrackStatus = Annotated[
    Literal["tentative", "confirmed", "lost"],
    Meta(description="tentative: not yet confirmed; lost: last report of this track."),
]
MissileClass = Annotated[
    str, Meta(max_length=16, description="Class guess (SRBM, MRBM, IRBM, ICBM, ...).")
]
RejectReason = Literal[
    "oversize",
    "invalid",
    "unknown_source",
    "unsupported_version",
    "bad_signature",
    "replayed",
    "clock_skew",
    "subject_mismatch",
    "internal",
]
"""Why a node refused a message; the meanings are tabled in the ICD, section 8."""


# --- packing helpers ---------------------------------------------------------------------
_UPPER = [(i, j) for i in range(6) for j in range(i, 6)]


def pack_covariance(p: list[list[float]] | tuple[tuple[float, ...], ...]) -> tuple[float, ...]:
    """6x6 nested sequence (or numpy array) -> the 21 wire floats (upper triangle,
    row-major). The lower triangle is not read: symmetrise before packing if needed."""
    return tuple(float(p[i][j]) for i, j in _UPPER)


def unpack_covariance(c: tuple[float, ...]) -> list[list[float]]:
    """The 21 wire floats -> a symmetric 6x6 list of lists (``np.array`` it for numpy)."""
    out = [[0.0] * 6 for _ in range(6)]
    for (i, j), v in zip(_UPPER, c, strict=True):
        out[i][j] = out[j][i] = v
    return out


def track_quality(sigma_pos_m: float) -> int:
    """Track quality 0..15 from the RMS one-sigma position error sqrt(trace(P_pos)/3).

    Link 16's TQ tables are not public; ours keeps the idea (15 is best, one step per
    factor of two): TQ 15 at <= 10 m, 14 at <= 20 m, ..., 0 beyond 10 m * 2^15 = 328 km.
    """
    if not math.isfinite(sigma_pos_m):
        return 0
    if sigma_pos_m <= 10.0:
        return 15
    return max(0, 15 - math.ceil(math.log2(sigma_pos_m / 10.0)))
