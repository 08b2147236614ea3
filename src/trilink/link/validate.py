"""Value checks that msgspec's type system cannot express; each failure names its field.

msgspec already enforces types, lengths and the ranges declared in :mod:`trilink.messages`.
What is left: NaN/Inf anywhere, covariances that are not positive definite, ellipses with
minor > major, polygons that are not closed rings, node ids outside the registry,
repeated releasability entries, the schema version, the UUIDv7 form of the message id.

Pure Python on purpose: for one message the Cholesky below takes about 10 us, numpy
(array set-up, scaling, ``linalg.cholesky``) about 13 us on the same machine.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from typing import Any

from msgspec import Struct

from trilink.errors import DecodeError
from trilink.messages import (
    CovarianceEcef,
    Envelope,
    GroundPoint,
    Heartbeat,
    LaunchEvent,
    SystemTrack,
    TrackReport,
    Warning,
    is_uuid7,
)

PD_TOLERANCE = 1e-12
"""Smallest accepted Cholesky pivot of the covariance scaled to unit diagonal (the
correlation matrix). A pivot is 1 - (squared multiple correlation of that component on
the earlier ones), so 1e-12 rejects only matrices singular to within about 1e4 double
rounding steps, and accepts the strongly (|rho| = 0.99999) position-velocity correlated
covariances a coasting filter produces."""

TIME_TO_IMPACT_TOLERANCE_S = 1e-3


def validate(
    msg: Envelope,
    *,
    known_nodes: Collection[str] | None = None,
    versions: Collection[int] = (1,),
) -> None:
    """Raise :class:`DecodeError` (field, reason) for the first value that does not fit."""
    if msg.schema_version not in versions:
        raise DecodeError(
            "schema_version",
            f"version {msg.schema_version} not supported (accepted: {sorted(versions)})",
        )
    if not is_uuid7(msg.message_id):
        raise DecodeError("message_id", f"not a lower-case UUIDv7: {msg.message_id!r}")
    bad = _nonfinite_path(msg)
    if bad is not None:
        raise DecodeError(bad, "not a finite number (NaN or Inf)")
    if known_nodes is not None:
        for field, node in node_id_fields(msg):
            if node not in known_nodes:
                raise DecodeError(field, f"unknown node id {node!r}")
    if len(set(msg.releasability)) != len(msg.releasability):
        raise DecodeError("releasability", "repeated node id")
    if isinstance(msg, TrackReport | SystemTrack):
        check_covariance(msg.covariance_ecef, "covariance_ecef")
        _check_ground(msg.launch, "launch")
        _check_ground(msg.impact, "impact")
    elif isinstance(msg, LaunchEvent):
        _check_ground(msg.launch, "launch")
    elif isinstance(msg, Warning):
        _check_warning(msg)


def node_id_fields(msg: Envelope) -> Iterator[tuple[str, str]]:
    """Every (field path, node id) a message names; the registry check walks these."""
    yield "source", msg.source
    for i, n in enumerate(msg.releasability):
        yield f"releasability[{i}]", n
    if isinstance(msg, TrackReport):
        yield "nation", msg.nation
    elif isinstance(msg, SystemTrack):
        for i, s in enumerate(msg.sources):
            yield f"sources[{i}].nation", s.nation
    elif isinstance(msg, LaunchEvent):
        for i, n in enumerate(msg.detecting_nations):
            yield f"detecting_nations[{i}]", n
    elif isinstance(msg, Warning):
        yield "partner", msg.partner
    elif isinstance(msg, Heartbeat):
        for i, p in enumerate(msg.peers):
            yield f"peers[{i}].peer", p.peer


# _PACKED[i][j]: index of P[i][j] in the 21 packed upper-triangle floats.
_PACKED = [[0] * 6 for _ in range(6)]
for _k, (_i, _j) in enumerate((i, j) for i in range(6) for j in range(i, 6)):
    _PACKED[_i][_j] = _PACKED[_j][_i] = _k
_DIAGONAL = [_PACKED[i][i] for i in range(6)]


def check_covariance(c: CovarianceEcef, field: str) -> None:
    """Positive definite, by Cholesky of the matrix scaled to unit diagonal.

    Scaling first makes the test independent of units (m^2 next to m^2/s^2) and of size
    (a 100 km^2 launch covariance and a 10 m^2 terminal one are judged alike). Row by
    row (Cholesky-Banachiewicz), straight from the packed floats.
    """
    d = [c[k] for k in _DIAGONAL]
    for i, v in enumerate(d):
        if not v > 0.0:
            raise DecodeError(field, f"variance P[{i}][{i}] = {v!r} is not positive")
    s = [1.0 / math.sqrt(v) for v in d]
    low: list[list[float]] = []
    for j in range(6):
        idx, sj = _PACKED[j], s[j]
        row = [c[idx[k]] * sj * s[k] for k in range(j + 1)]  # correlations r[j][0..j]
        for k in range(j):
            lk, acc = low[k], row[k]
            for m in range(k):
                acc -= row[m] * lk[m]
            row[k] = acc / lk[k]
        pivot = row[j] - sum(x * x for x in row[:j])
        if not pivot > PD_TOLERANCE:
            raise DecodeError(
                field,
                f"not positive definite: Cholesky pivot {j} of the unit-diagonal matrix is "
                f"{pivot:.3g} (must exceed {PD_TOLERANCE:g})",
            )
        row[j] = math.sqrt(pivot)
        low.append(row)


def _check_ground(g: GroundPoint | None, field: str) -> None:
    if g is not None and g.ellipse.sigma_minor_m > g.ellipse.sigma_major_m:
        raise DecodeError(f"{field}.ellipse.sigma_minor_m", "larger than sigma_major_m")


def _check_warning(w: Warning) -> None:
    ring = w.impact_polygon
    if ring:
        if len(ring) < 4:
            raise DecodeError("impact_polygon", f"a ring needs at least 4 points, got {len(ring)}")
        if ring[0] != ring[-1]:
            raise DecodeError("impact_polygon", "not closed: first point != last point")
    if w.impact_t_ns is not None and w.time_to_impact_s is not None:
        expected = (w.impact_t_ns - w.measured_ns) / 1e9
        if abs(w.time_to_impact_s - expected) > TIME_TO_IMPACT_TOLERANCE_S:
            raise DecodeError(
                "time_to_impact_s",
                f"{w.time_to_impact_s} s disagrees with impact_t_ns - measured_ns = {expected} s",
            )


def _nonfinite_path(obj: Any) -> str | None:
    parts = _nonfinite(obj)
    if parts is None:
        return None
    return "".join(reversed(parts)).lstrip(".")


def _nonfinite(obj: Any) -> list[str] | None:
    # Parts are collected in reverse, and only on failure, so a clean message costs no
    # string building.
    t = type(obj)
    if t is float:
        return None if math.isfinite(obj) else []
    if t is tuple:
        if all(type(v) is float for v in obj):
            if all(map(math.isfinite, obj)):
                return None
            i = next(i for i, v in enumerate(obj) if not math.isfinite(v))
            return [f"[{i}]"]
        for i, v in enumerate(obj):
            r = _nonfinite(v)
            if r is not None:
                r.append(f"[{i}]")
                return r
        return None
    if isinstance(obj, Struct):
        for name in obj.__struct_fields__:
            r = _nonfinite(getattr(obj, name))
            if r is not None:
                r.append("." + name)
                return r
    return None
