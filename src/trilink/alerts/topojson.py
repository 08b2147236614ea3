"""A small TopoJSON decoder: quantised, delta-encoded arcs to GeoJSON-like geometries.

Follows the TopoJSON Format Specification (Bostock & Metcalf, topojson-specification
README, sections 2.1.2 Transforms, 2.1.3 Arcs, 2.2 Geometry Objects):

- with a ``transform``, every arc is delta-encoded: the first position is absolute, each
  later one is the difference from the previous; decoded positions are
  ``x * scale + translate`` (section 2.1.2);
- a geometry lists arc indexes; a negative index ``i`` means the arc ``~i`` (ones'
  complement, ``-i - 1``) reversed (section 2.1.3);
- when several arcs make one ring or line, the first position of each arc after the first
  repeats the last of the previous one and is dropped (section 2.1.3).

Only what trilink needs is decoded: Polygon and MultiPolygon (rings of arcs), LineString
and MultiLineString, Point/MultiPoint, and GeometryCollection. Coordinates come out as
``(N, 2)`` float arrays of ``[lon_deg, lat_deg]`` as in GeoJSON (degrees here because this
is a file format edge; the caller converts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trilink.errors import DecodeError

Array = NDArray[np.float64]


def decode_arcs(topology: Mapping[str, Any]) -> list[Array]:
    """Every arc of ``topology`` as absolute ``(N, 2)`` coordinates (spec 2.1.2-2.1.3)."""
    arcs = topology.get("arcs")
    if not isinstance(arcs, list):
        raise DecodeError("arcs", "a topology must have an 'arcs' array")
    transform = topology.get("transform")
    out: list[Array] = []
    if transform is None:
        for i, arc in enumerate(arcs):
            a = np.asarray(arc, dtype=float)
            if a.ndim != 2 or a.shape[0] < 2 or a.shape[1] < 2:
                raise DecodeError(f"arcs[{i}]", "an arc is an array of two or more positions")
            out.append(a[:, :2].copy())
        return out
    try:
        scale = np.asarray(transform["scale"], dtype=float)
        translate = np.asarray(transform["translate"], dtype=float)
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError("transform", f"needs numeric 'scale' and 'translate': {exc}") from exc
    if scale.shape != (2,) or translate.shape != (2,):
        raise DecodeError("transform", "scale and translate are two-element arrays")
    for i, arc in enumerate(arcs):
        q = np.asarray(arc, dtype=np.int64)
        if q.ndim != 2 or q.shape[0] < 2 or q.shape[1] < 2:
            raise DecodeError(f"arcs[{i}]", "an arc is an array of two or more positions")
        # Delta decoding is a running sum; integers keep it exact before scaling.
        absolute = np.cumsum(q[:, :2], axis=0)
        out.append(absolute * scale + translate)
    return out


def _arc(arcs: Sequence[Array], index: int) -> Array:
    if index >= 0:
        return arcs[index]
    return arcs[~index][::-1]


def stitch(arcs: Sequence[Array], indexes: Sequence[int]) -> Array:
    """Join arcs (negative index = reversed arc ``~i``) into one line, dropping shared points."""
    if len(indexes) == 0:
        raise DecodeError("arcs", "a line or ring needs at least one arc")
    parts = []
    for k, index in enumerate(indexes):
        if not -len(arcs) <= index < len(arcs):
            raise DecodeError("arcs", f"arc index {index} out of range ({len(arcs)} arcs)")
        a = _arc(arcs, int(index))
        parts.append(a if k == 0 else a[1:])
    return np.concatenate(parts, axis=0)


def _ring(arcs: Sequence[Array], indexes: Sequence[int]) -> Array:
    ring = stitch(arcs, indexes)
    if not np.array_equal(ring[0], ring[-1]):
        # The spec makes rings closed by construction; close defensively, never reject.
        ring = np.concatenate([ring, ring[:1]], axis=0)
    return ring


def geometry_to_geojson(geometry: Mapping[str, Any], arcs: Sequence[Array]) -> dict[str, Any]:
    """One TopoJSON geometry object to a GeoJSON-like dict with numpy coordinates.

    Returns ``{"type", "coordinates" | "geometries", "id", "properties"}``.
    """
    kind = geometry.get("type")
    out: dict[str, Any] = {"type": kind}
    if "id" in geometry:
        out["id"] = geometry["id"]
    out["properties"] = geometry.get("properties") or {}
    if kind == "Polygon":
        out["coordinates"] = [_ring(arcs, r) for r in geometry["arcs"]]
    elif kind == "MultiPolygon":
        out["coordinates"] = [[_ring(arcs, r) for r in poly] for poly in geometry["arcs"]]
    elif kind == "LineString":
        out["coordinates"] = stitch(arcs, geometry["arcs"])
    elif kind == "MultiLineString":
        out["coordinates"] = [stitch(arcs, line) for line in geometry["arcs"]]
    elif kind in ("Point", "MultiPoint"):
        out["coordinates"] = np.asarray(geometry["coordinates"], dtype=float)
    elif kind == "GeometryCollection":
        out["geometries"] = [geometry_to_geojson(g, arcs) for g in geometry.get("geometries", [])]
    elif kind is None:
        out["coordinates"] = None  # the spec allows null geometries
    else:
        raise DecodeError("type", f"unknown TopoJSON geometry type {kind!r}")
    return out


def decode_object(topology: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Decode the named object of a topology (for example ``"countries"``)."""
    if topology.get("type") != "Topology":
        raise DecodeError("type", "not a TopoJSON Topology")
    objects = topology.get("objects") or {}
    if name not in objects:
        raise DecodeError(f"objects.{name}", f"no such object (have {sorted(objects)})")
    points_transform = topology.get("transform")
    decoded = geometry_to_geojson(objects[name], decode_arcs(topology))
    if points_transform is not None:
        _untransform_points(decoded, points_transform)
    return decoded


def _untransform_points(geo: dict[str, Any], transform: Mapping[str, Any]) -> None:
    # Point positions are quantised but not delta-encoded (spec 2.1.2); fix them in place
    # on our own freshly built dict (never on the caller's input).
    if geo["type"] == "GeometryCollection":
        for g in geo["geometries"]:
            _untransform_points(g, transform)
    elif geo["type"] in ("Point", "MultiPoint"):
        scale = np.asarray(transform["scale"], dtype=float)
        translate = np.asarray(transform["translate"], dtype=float)
        geo["coordinates"] = geo["coordinates"][..., :2] * scale + translate


def features_by_id(topology: Mapping[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """The member geometries of a GeometryCollection object, keyed by their ``id``."""
    collection = decode_object(topology, name)
    if collection["type"] != "GeometryCollection":
        raise DecodeError(f"objects.{name}", "expected a GeometryCollection")
    return {str(g["id"]): g for g in collection["geometries"] if "id" in g}
