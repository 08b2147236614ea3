"""Equidistance (median) lines: the part of a nation's 200-nm belt nearer another country.

Where the belts of opposite or adjacent coasts overlap, neither state's territorial sea
extends past the median line "every point of which is equidistant from the nearest points
on the baselines" of the two (UNCLOS art. 15), and the EEZ and continental-shelf
boundaries agreed under arts. 74 and 83 mostly start from the same equidistance line (the
Korea-Japan continental-shelf agreements of 1974 are runs of median-line segments). We
draw it from the Natural Earth land polygons, not from legal baselines: the part of the
sea that lies **strictly nearer some other country's land than the nation's own** is
:func:`nearer_to_foreign`, and the areas of :mod:`trilink.alerts.geodata` remove it.

Method (a discrete Voronoi diagram of the coasts, computed tile by tile):

1. Sample the land boundaries (coasts, and land borders, which are part of "the land")
   every ``spacing_deg`` of longitude/latitude: the nation's own points and every other
   country's. A foreign sample farther than 2 x 200 nm from every own sample can be
   nearest to no point of the belt, and is dropped.
2. Cut the area (the 200-nm belt) into tiles of ``tile_deg``. A tile with no foreign
   sample within its half-diagonal + 200 nm is uncontested: a belt point in it lies
   within 200 nm of its own coast, and so would a nearer foreign point. So is a tile
   where, on a 0.1-degree grid, every point is nearer its own coast by a safe margin
   (:func:`_uncontested`).
3. In a contested tile, project the samples within that reach into the ellipsoidal
   azimuthal-equidistant plane centred on the tile (exact geodesic distances and
   azimuths from the centre: Vincenty's compiled solutions, :mod:`trilink.geo.geodesic`),
   build the Voronoi diagram of own and foreign samples (``shapely.voronoi_polygons``,
   GEOS), unite the foreign samples' cells, map the result back (after cutting its edges
   to 2 km so that curves stay curves) and clip it to the tile in degrees.

Accuracy: each sample stands for its stretch of coast, so a distance to the sampled coast
exceeds the true one by at most ``h**2 / (8 d)`` for sample spacing ``h`` at distance
``d`` (20 m at 2 km spacing and 25 km away). The plane stretches distances across the
radial direction by ``(rho/R) / sin(rho/R)`` (Snyder 1987, eq. 25-2), up to 0.2 % at the
~700 km of a 4-degree tile's reach; the two distances that meet at the line are stretched
alike where the coasts face each other, so the line moves much less than that (measured
with true geodesics in the tests and in docs/alerts.md).

Shapes: sample arrays are ``(n, 2)`` ``[lon_deg, lat_deg]`` (the order of the shapely
geometries they come from and go back to); geometries are shapely, in degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from trilink.geo.geodesic import vincenty_direct, vincenty_inverse
from trilink.geo.wgs84 import R_MEAN

Array = NDArray[np.float64]

NAUTICAL_MILE_M = 1852.0
BELT_M = 200.0 * NAUTICAL_MILE_M  # the widest claim cut here: the 200-nm zone
SPACING_DEG = 0.02  # ~2.2 km of latitude, less of longitude
TILE_DEG = 4.0
# Reach radii are measured on the mean sphere for the KD-tree; 1 % + 10 km more covers
# the ellipsoid's spread of radii (M..N differ by < 1 %) and the tile's corners.
_REACH_FACTOR = 1.01
_REACH_PAD_M = 10e3
_EDGE_M = 2000.0  # longest straight edge mapped back from the plane
_GRID_DEG = 0.1  # the uncontested-tile test's grid


def boundary_samples(geom_deg: BaseGeometry, spacing_deg: float = SPACING_DEG) -> Array:
    """Points along every ring of a (multi)polygon, at most ``spacing_deg`` apart (n, 2).

    Only the polygons of a geometry collection count (``make_valid`` leaves stray lines
    in some, e.g. Antarctica's).
    """
    polygons = [
        g for g in shapely.get_parts(geom_deg) if g.geom_type in ("Polygon", "MultiPolygon")
    ]
    if not polygons:
        return np.empty((0, 2))
    rings = shapely.segmentize(shapely.boundary(polygons), spacing_deg)
    return _unique_points(shapely.get_coordinates(rings))  # rings repeat their first point


def _unique_points(xy: Array, decimals: int = 9) -> Array:
    """Distinct rows of ``xy`` after rounding, in lexicographic order (fast 1-D unique)."""
    z = np.unique(np.round(xy[:, 0], decimals) + 1j * np.round(xy[:, 1], decimals))
    return np.column_stack([z.real, z.imag])


def coast_samples(
    own_land: BaseGeometry, foreign_lands: Sequence[BaseGeometry], spacing_deg: float = SPACING_DEG
) -> tuple[Array, Array]:
    """Own and foreign boundary samples (n, 2), without the land borders between them.

    A sample on the boundary of two countries lies on a land border (Natural Earth's
    TopoJSON shares the arc, so both copies are the same point): no sea point has it as
    its nearest land except where the border meets the sea, and there the next coastal
    sample, ``spacing_deg`` away, stands in. Dropping the borders keeps the thousands of
    inland points of, say, the U.S.-Canada border out of every Voronoi diagram.
    """
    parts = [boundary_samples(own_land, spacing_deg)]
    parts += [boundary_samples(g, spacing_deg) for g in foreign_lands]
    owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    xy = np.vstack(parts)
    key = np.round(xy[:, 0], 7) + 1j * np.round(xy[:, 1], 7)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    coastal = counts[inverse] == 1
    return xy[coastal & (owner == 0)], xy[coastal & (owner > 0)]


def neighbours(
    own_land: BaseGeometry, lands: Sequence[BaseGeometry], within_m: float
) -> list[BaseGeometry]:
    """The lands that come within ``within_m`` of ``own_land`` (tested on 0.5-degree
    samples of both, with half a sample step of slack: a coarse first cut)."""
    coarse = 0.5
    slack_m = coarse * 111.32e3
    own_tree = cKDTree(unit_vectors(boundary_samples(own_land, coarse)))
    out = []
    for g in lands:
        pts = boundary_samples(g, coarse)
        if len(pts) == 0:
            continue
        d, _ = own_tree.query(unit_vectors(pts), distance_upper_bound=chord(within_m + slack_m))
        if np.isfinite(d).any():
            out.append(g)
    return out


def unit_vectors(lonlat_deg: Array) -> Array:
    """Points on the unit sphere (n, 3): the KD-tree's space for "within a radius"."""
    lon = np.radians(lonlat_deg[:, 0])
    lat = np.radians(lonlat_deg[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def chord(distance_m: float) -> float:
    """Unit-sphere chord of a mean-sphere distance (clamped at the antipode)."""
    return 2.0 * math.sin(min(distance_m / R_MEAN, math.pi) / 2.0)


def aeqd_forward_fast(lonlat_deg: Array, centre_rad: tuple[float, float]) -> Array:
    """Ellipsoidal AEQD ``[x, y]`` m of ``[lon, lat]`` degrees about ``(lat0, lon0)`` rad.

    The same projection as :func:`trilink.alerts.projection.aeqd_forward` (distance and
    azimuth of the WGS84 geodesic from the centre) through the compiled Vincenty inverse.
    """
    lat0, lon0 = centre_rad
    s, az, _ = vincenty_inverse(
        lat0, lon0, np.radians(lonlat_deg[:, 1]), np.radians(lonlat_deg[:, 0])
    )
    return np.column_stack([s * np.sin(az), s * np.cos(az)])


def aeqd_inverse_fast(xy_m: Array, centre_rad: tuple[float, float]) -> Array:
    """Back to ``[lon, lat]`` degrees, longitudes unrolled about the centre's."""
    lat0, lon0 = centre_rad
    s = np.hypot(xy_m[:, 0], xy_m[:, 1])
    az = np.arctan2(xy_m[:, 0], xy_m[:, 1])
    lat, lon = vincenty_direct(lat0, lon0, az, s)
    lon = lon0 + np.mod(lon - lon0 + np.pi, 2.0 * np.pi) - np.pi
    return np.column_stack([np.degrees(lon), np.degrees(lat)])


def _haversine_m(lat0: float, lon0: float, lat: Array, lon: Array) -> Array:
    h = np.sin((lat - lat0) / 2) ** 2 + np.cos(lat0) * np.cos(lat) * np.sin((lon - lon0) / 2) ** 2
    return 2.0 * R_MEAN * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def _tiles(area: BaseGeometry, tile_deg: float) -> list[tuple[float, float, float, float]]:
    """Boxes ``(lon0, lat0, lon1, lat1)`` of a fixed degree grid that meet the area."""
    xmin, ymin, xmax, ymax = area.bounds
    lons = np.arange(math.floor(xmin / tile_deg), math.ceil(xmax / tile_deg)) * tile_deg
    lats = np.arange(math.floor(ymin / tile_deg), math.ceil(ymax / tile_deg)) * tile_deg
    shapely.prepare(area)
    boxes = []
    for lat in lats:
        for lon in lons:
            box = (
                max(lon, -180.0),
                max(lat, -90.0),
                min(lon + tile_deg, 180.0),
                min(lat + tile_deg, 90.0),
            )
            if area.intersects(shapely.box(*box)):
                boxes.append(box)
    return boxes


def _uncontested(
    box: tuple[float, float, float, float], own_tree: cKDTree, foreign_tree: cKDTree, belt_m: float
) -> bool:
    """True when no point of the tile can be nearer a foreign sample than its own land.

    Checked on a grid of cell centres (``_GRID_DEG``): a point within ``delta`` of a
    centre is at most ``delta`` nearer or farther from either coast, so a centre whose
    foreign distance exceeds its own one by ``2 delta`` (plus 1 % for the mean sphere
    of the KD-tree and 2 km for the sampling) settles its cell. A coarse first test
    that spares the Voronoi diagram of tiles where foreign coasts are near but never
    nearer (a third of the U.S. tiles).
    """
    lons = np.arange(box[0] + _GRID_DEG / 2, box[2], _GRID_DEG)
    lats = np.arange(box[1] + _GRID_DEG / 2, box[3], _GRID_DEG)
    grid = np.stack(np.meshgrid(lons, lats), axis=-1).reshape(-1, 2)
    # A cell's half-diagonal is longest where the meridians are furthest apart, at the
    # tile's lowest |latitude|: bounded by the equator's (cos = 1), whatever the tile.
    delta_m = 0.5 * math.hypot(1.0, 1.0) * _GRID_DEG * 111.32e3 * 1.01
    u = unit_vectors(grid)
    # Only a point nearer a foreign coast than 200 nm can be nearer it than its own land;
    # the own distance is to coastal samples, never shorter than to the land: cautious.
    bound = chord(belt_m * _REACH_FACTOR + delta_m)
    c_foreign, _ = foreign_tree.query(u, distance_upper_bound=bound)
    near = np.isfinite(c_foreign)
    if not near.any():
        return True
    c_own, _ = own_tree.query(u[near])
    d_foreign = 2.0 * R_MEAN * np.arcsin(c_foreign[near] / 2.0)
    d_own = 2.0 * R_MEAN * np.arcsin(np.minimum(c_own, 2.0) / 2.0)
    margin = 2.0 * delta_m + 0.01 * (d_own + d_foreign) + 2e3
    return bool((d_foreign - d_own > margin).all())


def _tile_nearer_to_foreign(
    box: tuple[float, float, float, float], own: Array, foreign: Array
) -> BaseGeometry:
    """The part of one tile nearer to a foreign sample than to every own sample."""
    lon_c, lat_c = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
    centre = (math.radians(lat_c), math.radians(lon_c))
    pts = np.vstack([own, foreign])
    xy = aeqd_forward_fast(pts, centre)
    # One site per metre: GEOS would merge closer sites and the cells would no longer
    # match the samples one to one (the own copy of such a pair stays; it moves the line
    # by less than a metre).
    _, first = np.unique(np.round(xy, 0), axis=0, return_index=True)
    first.sort()
    xy, is_foreign = xy[first], first >= len(own)
    corners = np.array([[box[0], box[1]], [box[0], box[3]], [box[2], box[1]], [box[2], box[3]]])
    radius = float(np.hypot(*aeqd_forward_fast(corners, centre).T).max()) + 10e3
    disk = Point(0.0, 0.0).buffer(radius, quad_segs=64)
    extent = Point(0.0, 0.0).buffer(4.0 * (radius + BELT_M), quad_segs=8)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=extent, ordered=True)
    )
    if len(cells) != len(xy):  # GEOS merged sites closer than its tolerance
        raise RuntimeError(f"tile {box}: {len(cells)} Voronoi cells for {len(xy)} sites")
    region = shapely.coverage_union_all(cells[is_foreign]).intersection(disk)
    if region.is_empty:
        return region
    region = shapely.segmentize(region, _EDGE_M)
    back = shapely.transform(region, lambda p: aeqd_inverse_fast(p, centre))
    return shapely.clip_by_rect(shapely.make_valid(back), *box)


def nearer_to_foreign(
    area: BaseGeometry,
    own_land: BaseGeometry,
    foreign_lands: Sequence[BaseGeometry],
    spacing_deg: float = SPACING_DEG,
    tile_deg: float = TILE_DEG,
    belt_m: float = BELT_M,
) -> BaseGeometry:
    """The part of ``area`` (degrees) strictly nearer some foreign land than ``own_land``.

    ``area`` must lie within ``belt_m`` of ``own_land`` (it is the nation's belt); the
    foreign lands are every other country that might be within ``2 belt_m`` of it.
    Deterministic: the same inputs give the same polygons.
    """
    if area.is_empty:
        return shapely.Polygon()
    reach_m = 2.0 * belt_m * _REACH_FACTOR + _REACH_PAD_M
    own, foreign = coast_samples(
        own_land, neighbours(own_land, foreign_lands, reach_m), spacing_deg
    )
    if len(foreign) == 0 or len(own) == 0:
        return shapely.Polygon()
    own_tree = cKDTree(unit_vectors(own))
    near_own, _ = own_tree.query(
        unit_vectors(foreign),
        distance_upper_bound=chord(reach_m),
    )
    foreign = foreign[np.isfinite(near_own)]
    if len(foreign) == 0:
        return shapely.Polygon()
    foreign_tree = cKDTree(unit_vectors(foreign))
    pieces = []
    for box in _tiles(area, tile_deg):
        lon_c, lat_c = (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
        lat0, lon0 = math.radians(lat_c), math.radians(lon_c)
        corners = np.radians(
            [[box[1], box[0]], [box[1], box[2]], [box[3], box[0]], [box[3], box[2]]]
        )
        half_diag = float(_haversine_m(lat0, lon0, corners[:, 0], corners[:, 1]).max())
        reach = chord((half_diag + belt_m) * _REACH_FACTOR + _REACH_PAD_M)
        centre_u = unit_vectors(np.array([[lon_c, lat_c]]))[0]
        near_foreign = foreign_tree.query_ball_point(centre_u, reach)
        if not near_foreign:
            continue  # uncontested tile
        if _uncontested(box, own_tree, foreign_tree, belt_m):
            continue
        near_own = own_tree.query_ball_point(centre_u, reach)
        piece = _tile_nearer_to_foreign(
            box, own[np.sort(np.asarray(near_own, dtype=int))], foreign[np.sort(near_foreign)]
        )
        if not piece.is_empty:
            pieces.append(piece)
    if not pieces:
        return shapely.Polygon()
    return shapely.make_valid(shapely.union_all(pieces)).intersection(area)
