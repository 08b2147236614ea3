"""Build-time conversion of Natural Earth land into each partner's territory polygons.

Input: the ``countries`` object of world-atlas's ``countries-50m.json`` (Natural Earth
4.1.0 Admin-0 countries, 1:50m, TopoJSON; installed by ``npm ci``). Output, per nation:

- ``land``: the union of the listed countries' polygons (ISO 3166-1 numeric ids);
- ``territorial``: land plus a 12-nautical-mile buffer: an approximation of the
  territorial sea (UNCLOS art. 3) measured from the Natural Earth coastline rather than
  from the legal baselines, cut at the median line with every other country (art. 15);
- ``zone``: land plus a 200-nautical-mile buffer cut at the equidistance (median) line
  with every other country (:mod:`trilink.alerts.median`): an approximation of the
  exclusive economic zone (UNCLOS art. 57, delimited between opposite or adjacent
  coasts as arts. 74/83 practice mostly does). **Not the legal EEZ**: no straight
  baselines, no agreed boundaries (equidistance from the 1:50m coasts instead), no
  islands too small for a 1:50m map (Japan's real EEZ reaches further, e.g. around
  Minami-Torishima and Okinotorishima), and Natural Earth's de facto sovereignty.

Both buffers have other countries' land (any Natural Earth country not listed for the
nation) removed: waters are waters.

How the buffer is made metric: ``buffer(polygon, d) = polygon U buffer(boundary, d)``.
Each ring of the boundary is cut into chunks of at most ``chunk_m`` of path length;
each chunk is projected into an ellipsoidal azimuthal-equidistant plane centred on its
middle vertex (exact distances from the centre), buffered there by ``d`` with shapely,
and the buffer's outline is mapped back to latitude/longitude. With 300 km chunks a point
of the buffer's edge is at most ~150 km + d from its chunk's centre, where the AEQD's
cross-radial stretch is below 0.15 % (Snyder 1987, eq. 25-2), i.e. < 0.6 km of 370.4 km;
the tests measure the result against true geodesic distances.

Geometries are shapely objects in **degrees** (x = longitude, y = latitude), the format of
every file and exchange format they feed (GeoJSON, CAP, the web map); the functions that
use them take radians and convert once.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.affinity
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiPolygon, Polygon, mapping
from shapely.geometry.base import BaseGeometry

from trilink.alerts.median import SPACING_DEG, TILE_DEG, nearer_to_foreign
from trilink.alerts.projection import aeqd_forward, aeqd_inverse
from trilink.alerts.topojson import features_by_id
from trilink.geo.wgs84 import R_MEAN

NAUTICAL_MILE_M = 1852.0  # exact, by the 1929 international definition
ZONE_M = 200.0 * NAUTICAL_MILE_M  # 370.4 km
TERRITORIAL_SEA_M = 12.0 * NAUTICAL_MILE_M  # 22.224 km
# 2: zone and territorial sea cut at median lines (1: plain buffers). A build whose
# manifest records another version is rebuilt by scripts/build_geodata.py.
FORMAT_VERSION = 2

# Nation code (ISO 3166-1 alpha-3) -> ISO numeric ids of the Natural Earth features that
# make up its land. The United States include the inhabited territories in the Pacific
# and the Caribbean that Natural Earth maps separately at 1:50m.
DEFAULT_NATIONS: dict[str, tuple[str, ...]] = {
    "KOR": ("410",),
    "JPN": ("392",),
    "USA": ("840", "316", "580", "630", "850"),
    "PRK": ("408",),
}
NATION_NAMES = {
    "KOR": "Republic of Korea",
    "JPN": "Japan",
    "USA": "United States",
    "PRK": "DPRK",
}

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class TerritoryGeometry:
    """The three nested areas of one nation, shapely geometries in degrees."""

    nation: str
    name: str
    iso_ids: tuple[str, ...]
    land: BaseGeometry
    territorial: BaseGeometry
    zone: BaseGeometry


def _polygon(rings: Sequence[Array]) -> Polygon:
    return Polygon(rings[0], [r for r in rings[1:]])


def _continuous(ring: Array) -> Array:
    """A ring that crosses the antimeridian, with its longitudes unrolled.

    world-atlas writes such rings (Russia's Chukotka, a Fijian island) with a jump of
    about 360 degrees between two consecutive vertices; read as planar lon/lat that is
    an edge round the world, and ``make_valid`` turned it into bands of false land (a
    "Russian" strip across Alaska and Canada at 65-69 N). Unrolled, the ring closes
    (its longitudes may pass 180); a ring round a pole (Antarctica) does not, and stays.
    """
    lon = np.unwrap(ring[:, 0], period=360.0)
    if abs(lon[-1] - lon[0]) > 1e-9 or np.array_equal(lon, ring[:, 0]):
        return ring
    return np.column_stack([lon, ring[:, 1]])


def feature_geometry(feature: Mapping[str, Any]) -> BaseGeometry:
    """A decoded TopoJSON Polygon/MultiPolygon (numpy rings, degrees) as shapely, with
    rings across the antimeridian cut at +-180 degrees and folded back."""
    if feature["type"] == "Polygon":
        polygons = [feature["coordinates"]]
    elif feature["type"] == "MultiPolygon":
        polygons = feature["coordinates"]
    else:
        raise ValueError(f"feature {feature.get('id')}: expected polygons, got {feature['type']}")
    rings = [[_continuous(np.asarray(r, dtype=float)) for r in p] for p in polygons]
    geom: BaseGeometry = (
        _polygon(rings[0])
        if feature["type"] == "Polygon"
        else MultiPolygon([_polygon(p) for p in rings])
    )
    geom = shapely.make_valid(geom) if not geom.is_valid else geom
    xmin, _, xmax, _ = geom.bounds
    return _wrap_antimeridian(geom) if xmin < -180.0 or xmax > 180.0 else geom


def _haversine_m(lonlat_deg: Array) -> Array:
    """Lengths of consecutive segments of a lon/lat polyline (mean-radius sphere)."""
    lat = np.radians(lonlat_deg[:, 1])
    lon = np.radians(lonlat_deg[:, 0])
    h = (
        np.sin(np.diff(lat) / 2) ** 2
        + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2
    )
    return 2.0 * R_MEAN * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _chunks(ring: Array, chunk_m: float) -> list[Array]:
    """Cut a lon/lat ring (or line) into consecutive pieces of at most ``chunk_m`` length."""
    cum = np.concatenate([[0.0], np.cumsum(_haversine_m(ring))])
    if cum[-1] <= chunk_m:
        return [ring]
    n = math.ceil(cum[-1] / chunk_m)
    cuts = np.searchsorted(cum, np.linspace(0.0, cum[-1], n + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(ring) - 1)), len(ring) - 1]
    return [ring[i : j + 1] for i, j in itertools.pairwise(bounds) if j > i]


def _buffer_chunk(chunk_deg: Array, distance_m: float, quad_segs: int) -> Polygon:
    centre = np.radians(chunk_deg[len(chunk_deg) // 2][::-1])  # [lat, lon] rad
    latlon = np.radians(chunk_deg[:, ::-1])
    xy = aeqd_forward(latlon, centre)
    line = LineString(xy) if len(xy) > 1 else LineString([xy[0], xy[0]])
    buffered = line.buffer(distance_m, quad_segs=quad_segs)
    rings = [np.asarray(buffered.exterior.coords)] + [
        np.asarray(r.coords) for r in buffered.interiors
    ]
    back = [np.degrees(aeqd_inverse(r, centre))[:, ::-1] for r in rings]  # lon, lat deg
    return Polygon(back[0], back[1:])


def _wrap_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """Cut a geometry with unrolled longitudes at +-180 deg and fold the parts back."""
    parts = []
    for k in (-1, 0, 1):
        piece = shapely.clip_by_rect(geom, -180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        if not piece.is_empty:
            parts.append(shapely.affinity.translate(piece, xoff=-360.0 * k))
    return shapely.make_valid(shapely.union_all(parts))


def geodesic_buffer(
    geom_deg: BaseGeometry, distance_m: float, chunk_m: float = 300e3, quad_segs: int = 32
) -> BaseGeometry:
    """``geom`` plus everything within ``distance_m`` of it on WGS84 (see module notes)."""
    pieces: list[BaseGeometry] = [geom_deg]
    polygons = getattr(geom_deg, "geoms", [geom_deg])
    for poly in polygons:
        for ring in [poly.exterior, *poly.interiors]:
            coords = np.asarray(ring.coords)[:, :2]
            for chunk in _chunks(coords, chunk_m):
                pieces.append(_buffer_chunk(chunk, distance_m, quad_segs))
    return _wrap_antimeridian(shapely.union_all(pieces))


def build_territories(
    topology: Mapping[str, Any],
    nations: Mapping[str, Sequence[str]] = DEFAULT_NATIONS,
    chunk_m: float = 300e3,
    median_lines: bool = True,
) -> dict[str, TerritoryGeometry]:
    """Land, territorial sea and 200-nm zone for each nation from a world-atlas topology.

    ``median_lines=False`` gives the plain buffers (format 1), for comparison only.
    """
    countries = {
        key: feature_geometry(f)
        for key, f in features_by_id(topology, "countries").items()
        if f["type"] in ("Polygon", "MultiPolygon")
    }
    out = {}
    for nation, ids in nations.items():
        missing = [i for i in ids if i not in countries]
        if missing:
            raise ValueError(f"{nation}: ISO ids {missing} not in the topology")
        land = shapely.union_all([countries[i] for i in ids])
        territorial = geodesic_buffer(land, TERRITORIAL_SEA_M, chunk_m=chunk_m)
        zone = geodesic_buffer(land, ZONE_M, chunk_m=chunk_m)
        # Waters are waters: another country's land inside the buffer is not part of it.
        box = shapely.box(*zone.bounds)
        others = [g for key, g in sorted(countries.items()) if key not in ids]
        foreign = shapely.union_all([g for g in others if g.intersects(box)])
        zone_waters = zone.difference(land).difference(foreign)
        # ... and waters nearer another country's land are that country's side of the
        # median line (the 12-nm belt is cut by the same line: UNCLOS art. 15).
        beyond = nearer_to_foreign(zone_waters, land, others) if median_lines else Polygon()
        out[nation] = TerritoryGeometry(
            nation=nation,
            name=NATION_NAMES.get(nation, nation),
            iso_ids=tuple(ids),
            land=land,
            territorial=shapely.make_valid(
                land.union(territorial.difference(foreign).difference(beyond))
            ),
            zone=shapely.make_valid(land.union(zone_waters.difference(beyond))),
        )
    return out


KINDS = ("land", "territorial", "zone")


def write_geodata(
    out_dir: Path, territories: Iterable[TerritoryGeometry], source: Mapping[str, Any]
) -> list[Path]:
    """Write ``NATION.KIND.wkb`` files, one ``territory.geojson`` and ``manifest.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "source": dict(source),
        "nautical_mile_m": NAUTICAL_MILE_M,
        "zone_m": ZONE_M,
        "territorial_sea_m": TERRITORIAL_SEA_M,
        "median_lines": {
            "method": "Voronoi of coast samples per tile, ellipsoidal AEQD (alerts/median.py)",
            "spacing_deg": SPACING_DEG,
            "tile_deg": TILE_DEG,
        },
        "nations": {},
    }
    features = []
    for t in territories:
        files = {}
        for kind in KINDS:
            geom = getattr(t, kind)
            path = out_dir / f"{t.nation}.{kind}.wkb"
            path.write_bytes(shapely.to_wkb(geom))
            written.append(path)
            files[kind] = {
                "file": path.name,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
            features.append(
                {
                    "type": "Feature",
                    "properties": {"nation": t.nation, "name": t.name, "kind": kind},
                    "geometry": mapping(shapely.set_precision(geom, 1e-5)),
                }
            )
        manifest["nations"][t.nation] = {"name": t.name, "iso_ids": list(t.iso_ids), "files": files}
    geojson = out_dir / "territory.geojson"
    geojson.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return [*written, geojson, manifest_path]
