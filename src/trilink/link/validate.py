"""Value checks that msgspec's type system cannot express; each failure names its field.

msgspec already enforces types, lengths and the ranges declared in :mod:`trilink.messages`.
What is left: NaN/Inf anywhere, covariances that are not positive definite, ellipses with
minor > major, polygons that are not closed rings, node ids outside the registry,
repeated releasability entries, the schema version, the UUIDv7 form of the message id.

Cost is what decides the form (every message of every node passes here; a Monte Carlo
trial validates over 15,000): the checks that pass are done in as few Python steps as
possible, and only a failure walks the message again to name its field.

- Finite floats: per message type, a checker built once from the msgspec type info visits
  only the fields that can hold floats, a whole tuple per call (``all(map(isfinite, t))``)
  and the plain-float fields of a struct through one ``attrgetter``; a TrackReport costs
  about 2 us instead of 8 us for the recursive walk over every field (which now runs only
  to find the path of a bad value).
- Positive definiteness: Cholesky of the 6x6 correlation matrix, unrolled at import into
  straight-line code (no loops or lists: about 4 us instead of 12 us); the operations and
  their order are those of the loop form (:func:`_reference_failure`, kept for the
  tests), so the pivots are the same floats.
- Node ids: one set comparison; the field of an unknown id is looked for only on failure.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator
from operator import attrgetter
from typing import Any

import msgspec.inspect as mi
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
    t = type(msg)
    finite = _FINITE.get(t)
    if finite is None:  # a type this module has not seen (a subclass): build its checker
        finite = _FINITE[t] = _finite_checker(mi.type_info(t)) or _always
    if not finite(msg):
        bad = _nonfinite_path(msg)
        raise DecodeError(bad or "$", "not a finite number (NaN or Inf)")
    if known_nodes is not None and not _all_known(known_nodes, _node_ids(msg)):
        for field, node in node_id_fields(msg):
            if node not in known_nodes:
                raise DecodeError(field, f"unknown node id {node!r}")
    rel = msg.releasability
    if len(rel) > 1 and len(set(rel)) != len(rel):
        raise DecodeError("releasability", "repeated node id")
    if isinstance(msg, TrackReport | SystemTrack):
        check_covariance(msg.covariance_ecef, "covariance_ecef")
        _check_ground(msg.launch, "launch")
        _check_ground(msg.impact, "impact")
    elif isinstance(msg, LaunchEvent):
        _check_ground(msg.launch, "launch")
    elif isinstance(msg, Warning):
        _check_warning(msg)


def _all_known(known: Collection[str], ids: list[str]) -> bool:
    if isinstance(known, frozenset | set):
        return known.issuperset(ids)
    return all(n in known for n in ids)


def _node_ids(msg: Envelope) -> list[str]:
    """The node ids of :func:`node_id_fields`, without their paths (the fast path)."""
    ids = [msg.source, *msg.releasability]
    if isinstance(msg, TrackReport):
        ids.append(msg.nation)
    elif isinstance(msg, SystemTrack):
        ids.extend(s.nation for s in msg.sources)
    elif isinstance(msg, LaunchEvent):
        ids.extend(msg.detecting_nations)
    elif isinstance(msg, Warning):
        ids.append(msg.partner)
    elif isinstance(msg, Heartbeat):
        ids.extend(p.peer for p in msg.peers)
    return ids


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
    failed = _first_failure(c, PD_TOLERANCE)
    if failed is not None:
        what, j, value = failed
        if what == "variance":
            raise DecodeError(field, f"variance P[{j}][{j}] = {value!r} is not positive")
        pivot = value
        raise DecodeError(
            field,
            f"not positive definite: Cholesky pivot {j} of the unit-diagonal matrix is "
            f"{pivot:.3g} (must exceed {PD_TOLERANCE:g})",
        )


def _reference_failure(c: CovarianceEcef, tol: float) -> tuple[str, int, float] | None:
    """The loop form of :func:`_first_failure` (which is this, unrolled): the first
    variance that is not positive as ``("variance", i, P[i][i])``, else the first Cholesky
    pivot at or below ``tol`` as ``("pivot", j, pivot)``, else None."""
    d = [c[k] for k in _DIAGONAL]
    for i, v in enumerate(d):
        if not v > 0.0:
            return "variance", i, v
    s = [1.0 / math.sqrt(v) for v in d]  # scales to unit diagonal
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
        if not pivot > tol:
            return "pivot", j, pivot
        row[j] = math.sqrt(pivot)
        low.append(row)
    return None


def _unrolled_cholesky_source() -> str:
    """Python source of :func:`_reference_failure` with every loop unrolled: ``sJ`` is the
    scale of row j, ``rJK`` element k of row j, the same operations in the same order (so
    the same floats)."""
    out = ["def _first_failure(c, tol):"]
    for i in range(6):
        out.append(f"    s{i} = c[{_DIAGONAL[i]}]")
    for i in range(6):
        out.append(f"    if not s{i} > 0.0:")
        out.append(f'        return "variance", {i}, s{i}')
    for i in range(6):
        out.append(f"    s{i} = 1.0 / sqrt(s{i})")
    for j in range(6):
        for k in range(j + 1):
            out.append(f"    r{j}{k} = c[{_PACKED[j][k]}] * s{j} * s{k}")
        for k in range(j):
            acc = f"r{j}{k}"
            for m in range(k):
                acc = f"({acc} - r{j}{m} * r{k}{m})"
            out.append(f"    r{j}{k} = {acc} / r{k}{k}")
        squares = "0"
        for k in range(j):
            squares = f"({squares} + r{j}{k} * r{j}{k})"
        out.append(f"    p = r{j}{j} - {squares}")
        out.append("    if not p > tol:")
        out.append(f'        return "pivot", {j}, p')
        out.append(f"    r{j}{j} = sqrt(p)")
    out.append("    return None")
    return "\n".join(out) + "\n"


_namespace: dict[str, Any] = {"sqrt": math.sqrt}
exec(_unrolled_cholesky_source(), _namespace)
_first_failure: Callable[[CovarianceEcef, float], tuple[str, int, float] | None] = _namespace[
    "_first_failure"
]


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


# --- finite floats ------------------------------------------------------------------------
_isfinite = math.isfinite
Check = Callable[[Any], bool]


def _always(_: Any) -> bool:
    return True


def _all_finite(values: Any) -> bool:
    return all(map(_isfinite, values))


def _finite_checker(ti: Any) -> Check | None:
    """A function telling whether every float in a value of msgspec type ``ti`` is finite,
    or None if the type holds no floats (so the caller skips the field altogether)."""
    while isinstance(ti, mi.Metadata):
        ti = ti.type
    if isinstance(ti, mi.FloatType):
        return _isfinite
    if isinstance(ti, mi.UnionType):
        inner = [x for x in ti.types if not isinstance(x, mi.NoneType)]
        checks = [_finite_checker(x) for x in inner]
        if all(c is None for c in checks):
            return None
        if len(inner) != 1:  # not Optional[X]: no fast path, the walk decides
            return lambda v: _nonfinite(v) is None
        return _optional(checks[0])
    if isinstance(ti, mi.VarTupleType | mi.ListType):
        c = _finite_checker(ti.item_type)
        if c is None:
            return None
        if c is _isfinite:
            return _all_finite
        return lambda v: all(map(c, v))
    if isinstance(ti, mi.TupleType):
        checks = [_finite_checker(x) for x in ti.item_types]
        if all(c is None for c in checks):
            return None
        if all(c is _isfinite for c in checks):
            return _all_finite
        return lambda v: _nonfinite(v) is None
    if isinstance(ti, mi.StructType):
        return _struct_checker(ti)
    return None


def _optional(c: Check | None) -> Check:
    assert c is not None
    return lambda v: v is None or c(v)


def _struct_checker(ti: Any) -> Check | None:
    floats: list[str] = []
    nested: list[tuple[str, Check]] = []
    for f in ti.fields:
        c = _finite_checker(f.type)
        if c is _isfinite:
            floats.append(f.name)
        elif c is not None:
            nested.append((f.name, c))
    if not floats and not nested:
        return None
    # attrgetter with several names returns a tuple, with one the bare value
    get_floats = attrgetter(*floats) if floats else None
    floats_ok: Check = _isfinite if len(floats) == 1 else _all_finite

    def check(v: Any) -> bool:
        if get_floats is not None and not floats_ok(get_floats(v)):
            return False
        for name, c in nested:
            if not c(getattr(v, name)):
                return False
        return True

    return check


_FINITE: dict[type, Check] = {}


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
