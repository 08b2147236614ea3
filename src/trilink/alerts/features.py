"""GeoJSON (RFC 7946) and KML 2.2 (OGC 07-147r2) exports of a recorded run.

GeoJSON FeatureCollection, features told apart by ``properties.kind``:

- ``trajectory``: LineString ``[lon, lat, h]`` with ``times`` (ISO 8601, one per
  position) in its properties; split into a MultiLineString where it crosses the
  antimeridian (RFC 7946 sec. 3.1.9);
- ``launch``: Point of the (latest) launch-point estimate;
- ``impact_ellipse``: Polygon of the 95 % ellipse (counter-clockwise exterior, RFC 7946
  sec. 3.1.6) with ``valid_from``/``valid_until``, the impact time and the axes;
- ``impact_point``: Point of the last prediction.

KML: a Document with one Folder per track: the trajectory as a LineString with
``altitudeMode absolute`` (KML altitudes are above mean sea level; trilink's are above
the ellipsoid; the difference, the geoid undulation, is tens of metres and is ignored),
a launch Placemark, and the ellipses as Polygons clamped to the ground with a TimeSpan.
Ellipses are thinned to one per ``ellipse_interval_s`` (10 s) plus the last one.
"""

from __future__ import annotations

import itertools
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

from trilink.alerts.ellipse import K95
from trilink.alerts.records import TrackRecord, by_track, ellipse_intervals, launch_of
from trilink.alerts.timefmt import iso_z

KML_NS = "http://www.opengis.net/kml/2.2"


def _lon(rad: float) -> float:
    return round((math.degrees(rad) + 180.0) % 360.0 - 180.0, 6)


def _lat(rad: float) -> float:
    return round(math.degrees(rad), 6)


def split_antimeridian(coords: list[list[float]]) -> list[list[list[float]]]:
    """Cut a ``[lon, lat, ...]`` line where consecutive longitudes jump by more than 180
    degrees, adding the interpolated crossing point at +-180 to both sides."""
    parts = [[coords[0]]]
    for prev, cur in itertools.pairwise(coords):
        d = cur[0] - prev[0]
        if abs(d) > 180.0:
            # Eastward over +180 reads as a large negative jump, westward as a positive one.
            edge = 180.0 if d < 0 else -180.0
            unrolled = cur[0] + (360.0 if d < 0 else -360.0)
            f = (edge - prev[0]) / (unrolled - prev[0])
            mid = [prev[i] + f * (cur[i] - prev[i]) for i in range(1, len(cur))]
            parts[-1].append([edge, *mid])
            parts.append([[-edge, *mid]])
        parts[-1].append(cur)
    return parts


def geojson_features(
    records: Iterable[TrackRecord], ellipse_interval_s: float = 10.0
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts for the records (see module notes)."""
    features: list[dict[str, Any]] = []
    for tid, track in by_track(records).items():
        coords = [[_lon(r.lon_rad), _lat(r.lat_rad), round(r.alt_m, 1)] for r in track]
        parts = split_antimeridian(coords)
        geometry: dict[str, Any] = (
            {"type": "LineString", "coordinates": parts[0]}
            if len(parts) == 1
            else {"type": "MultiLineString", "coordinates": parts}
        )
        if len(coords) == 1:
            geometry = {"type": "Point", "coordinates": coords[0]}
        features.append(
            {
                "type": "Feature",
                "id": f"trajectory/{tid}",
                "geometry": geometry,
                "properties": {
                    "kind": "trajectory",
                    "track_id": tid,
                    "times": [iso_z(r.t_ns) for r in track],
                    "phases": [r.phase for r in track],
                },
            }
        )
        launch = launch_of(track)
        if launch is not None:
            features.append(
                {
                    "type": "Feature",
                    "id": f"launch/{tid}",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [_lon(launch.launch_lon_rad), _lat(launch.launch_lat_rad)],
                    },
                    "properties": {
                        "kind": "launch",
                        "track_id": tid,
                        "time": iso_z(launch.launch_t_ns)
                        if launch.launch_t_ns is not None
                        else None,
                    },
                }
            )
        spans = ellipse_intervals(track, ellipse_interval_s)
        for i, (a, b, p) in enumerate(spans):
            ring = [[_lon(lon), _lat(lat)] for lat, lon in p.ring(K95, n=48)]
            features.append(
                {
                    "type": "Feature",
                    "id": f"ipp/{tid}/{i}",
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {
                        "kind": "impact_ellipse",
                        "track_id": tid,
                        "probability": 0.95,
                        "valid_from": iso_z(a),
                        "valid_until": iso_z(b),
                        "impact_time": iso_z(p.t_ns),
                        "semi_major_m": round(K95 * p.semi_major_m, 1),
                        "semi_minor_m": round(K95 * p.semi_minor_m, 1),
                        "orientation_deg": round(math.degrees(p.orientation_rad), 2),
                    },
                }
            )
        if spans:
            p = spans[-1][2]
            features.append(
                {
                    "type": "Feature",
                    "id": f"impact/{tid}",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [_lon(p.lon_rad), _lat(p.lat_rad)],
                    },
                    "properties": {
                        "kind": "impact_point",
                        "track_id": tid,
                        "impact_time": iso_z(p.t_ns),
                    },
                }
            )
    return features


def to_geojson(records: Iterable[TrackRecord], ellipse_interval_s: float = 10.0) -> str:
    """GeoJSON FeatureCollection text."""
    fc = {"type": "FeatureCollection", "features": geojson_features(records, ellipse_interval_s)}
    return json.dumps(fc, separators=(",", ":"))


def _k(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, f"{{{KML_NS}}}{tag}")
    if text is not None:
        el.text = text
    return el


def _style(doc: ET.Element, sid: str, line_abgr: str, width: str, poly_abgr: str | None) -> None:
    style = _k(doc, "Style")
    style.set("id", sid)
    line = _k(style, "LineStyle")
    _k(line, "color", line_abgr)
    _k(line, "width", width)
    if poly_abgr is not None:
        _k(_k(style, "PolyStyle"), "color", poly_abgr)


def to_kml(
    records: Iterable[TrackRecord], name: str = "trilink run", ellipse_interval_s: float = 10.0
) -> str:
    """KML 2.2 document text (colours are aabbggrr, as KML writes them)."""
    ET.register_namespace("", KML_NS)
    kml = ET.Element(f"{{{KML_NS}}}kml")
    doc = _k(kml, "Document")
    _k(doc, "name", name)
    _style(doc, "trajectory", "ff2828e6", "2", None)
    _style(doc, "ellipse", "ff2828e6", "1.5", "462828e6")
    for tid, track in by_track(records).items():
        folder = _k(doc, "Folder")
        _k(folder, "name", f"Track {tid}")
        pm = _k(folder, "Placemark")
        _k(pm, "name", f"Trajectory {tid}")
        span = _k(pm, "TimeSpan")
        _k(span, "begin", iso_z(track[0].t_ns))
        _k(span, "end", iso_z(track[-1].t_ns))
        _k(pm, "styleUrl", "#trajectory")
        line = _k(pm, "LineString")
        _k(line, "altitudeMode", "absolute")
        _k(
            line,
            "coordinates",
            " ".join(f"{_lon(r.lon_rad)},{_lat(r.lat_rad)},{r.alt_m:.1f}" for r in track),
        )
        launch = launch_of(track)
        if launch is not None:
            pm = _k(folder, "Placemark")
            _k(pm, "name", f"Launch {tid}")
            if launch.launch_t_ns is not None:
                _k(_k(pm, "TimeStamp"), "when", iso_z(launch.launch_t_ns))
            _k(
                _k(pm, "Point"),
                "coordinates",
                f"{_lon(launch.launch_lon_rad)},{_lat(launch.launch_lat_rad)},0",
            )
        for a, b, p in ellipse_intervals(track, ellipse_interval_s):
            pm = _k(folder, "Placemark")
            _k(pm, "name", f"Impact ellipse 95% {tid}")
            _k(
                pm,
                "description",
                f"predicted impact {iso_z(p.t_ns)}; semi-axes {K95 * p.semi_major_m / 1e3:.1f} x {K95 * p.semi_minor_m / 1e3:.1f} km",
            )
            span = _k(pm, "TimeSpan")
            _k(span, "begin", iso_z(a))
            _k(span, "end", iso_z(b))
            _k(pm, "styleUrl", "#ellipse")
            poly = _k(pm, "Polygon")
            _k(poly, "altitudeMode", "clampToGround")
            ring = _k(_k(poly, "outerBoundaryIs"), "LinearRing")
            _k(
                ring,
                "coordinates",
                " ".join(f"{_lon(lon)},{_lat(lat)},0" for lat, lon in p.ring(K95, n=48)),
            )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(kml, encoding="unicode")
