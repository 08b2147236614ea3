"""Time stamps at the file-format edge: integer UTC nanoseconds to the strings formats want.

- CAP 1.2 (sec. 3.3.2, DateTime): ``YYYY-MM-DDThh:mm:ss`` with an explicit offset, whole
  seconds, no "Z"; "the timezone for UTC MUST be represented as -00:00".
- CoT, CZML, KML, GeoJSON properties: ISO 8601 / RFC 3339 with "Z" and milliseconds.
"""

from __future__ import annotations

import datetime as _dt

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


def to_datetime(t_ns: int) -> _dt.datetime:
    """UTC datetime of integer nanoseconds since the Unix epoch (microsecond resolution)."""
    return _EPOCH + _dt.timedelta(microseconds=int(t_ns) // 1000)


def cap_time(t_ns: int) -> str:
    """CAP 1.2 DateTime, whole seconds (floored), UTC written ``-00:00``."""
    return (
        to_datetime(int(t_ns) - int(t_ns) % 1_000_000_000).strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"
    )


def iso_z(t_ns: int) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``: ``2024-01-01T00:00:00.000Z``."""
    d = to_datetime(int(t_ns))
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def iso_z_seconds(t_ns: int) -> str:
    """ISO 8601 UTC, whole seconds: ``2024-01-01T00:00:00Z``."""
    return to_datetime(int(t_ns)).strftime("%Y-%m-%dT%H:%M:%SZ")
