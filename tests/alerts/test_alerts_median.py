"""Median (equidistance) lines of the built zones: true geodesic distances to both coasts,
sides of the Korea-Japan line, the agreed 1974 boundary, no overlaps between nations,
and the method itself on a case whose answer is known by symmetry."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod
from scipy.spatial import cKDTree

from trilink.alerts.geodata import DEFAULT_NATIONS, FORMAT_VERSION, ZONE_M, feature_geometry
from trilink.alerts.median import boundary_samples, chord, nearer_to_foreign, unit_vectors
from trilink.alerts.territory import ZONE, geodata_manifest, load_territory
from trilink.alerts.topojson import features_by_id
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse, vincenty_inverse
from trilink.geo.wgs84 import R_MEAN

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "node_modules" / "world-atlas" / "countries-50m.json"
KM = 1e3
D = math.radians
NATIONS = ("KOR", "JPN", "USA", "PRK")
# Equidistance tolerance for boundary points farther than 5 km from both coasts: the
# coast samples are 0.02 deg apart (h = 2.2 km at most), each stands for its stretch of
# coast (error <= h^2 / 8d), and the tile's plane stretches by <= 0.2 %; measured worst
# 0.062 km over 5,800 such median-line points of the four nations (docs/alerts.md).
EQUIDISTANT_M = 0.15 * KM


@pytest.fixture(scope="module")
def lands():
    countries = features_by_id(json.loads(WORLD.read_text()), "countries")
    return {
        k: feature_geometry(f)
        for k, f in countries.items()
        if f["type"] in ("Polygon", "MultiPolygon")
    }


@pytest.fixture(scope="module")
def territories():
    return {n: load_territory(n) for n in NATIONS}


class Coast:
    """Geodesic distance to a land: KD-tree candidates among 0.002-degree samples of its
    boundary (~0.2 km apart), then the exact geodesic to each (Vincenty's inverse, which
    equals Karney's to 1e-11 relative: tests/geo). The tree measures on a
    sphere, which may rank two coasts 0.5 % apart the wrong way round, so the candidates
    are every sample within 1 % + 0.5 km of the nearest one."""

    def __init__(self, land):
        self.xy = boundary_samples(land, 0.002)
        self.tree = cKDTree(unit_vectors(self.xy))

    def distance_m(self, lonlat_deg: np.ndarray) -> np.ndarray:
        u = unit_vectors(lonlat_deg)
        c0, _ = self.tree.query(u)
        s0 = 2.0 * R_MEAN * np.arcsin(c0 / 2.0)
        out = []
        for (lon, lat), ui, si in zip(lonlat_deg, u, s0, strict=True):
            q = self.xy[self.tree.query_ball_point(ui, chord(1.01 * si + 500.0))]
            s, _, _ = vincenty_inverse(D(lat), D(lon), np.radians(q[:, 1]), np.radians(q[:, 0]))
            out.append(s.min())
        return np.array(out)


def _boundary_midpoints(geom, n, seed):
    rings = [
        np.asarray(r.coords) for r in shapely.get_parts(shapely.segmentize(geom, 0.05).boundary)
    ]
    mids = np.concatenate([0.5 * (r[:-1] + r[1:]) for r in rings])
    rng = np.random.default_rng(seed)
    return mids[rng.choice(len(mids), size=min(n, len(mids)), replace=False)]


@pytest.mark.parametrize("nation", ["KOR", "JPN", "PRK"])
def test_zone_edge_is_the_200nm_arc_a_foreign_coast_or_equidistant(nation, territories, lands):
    zone = territories[nation].zone
    ids = DEFAULT_NATIONS[nation]
    near = shapely.box(*np.add(zone.bounds, (-8.0, -8.0, 8.0, 8.0)))
    own = Coast(territories[nation].land)
    foreign = Coast(
        shapely.union_all([g for k, g in lands.items() if k not in ids and g.intersects(near)])
    )
    pts = _boundary_midpoints(zone, 400, seed=5)
    d_own, d_foreign = own.distance_m(pts), foreign.distance_m(pts)
    arc = np.abs(d_own - ZONE_M) < 0.5 * KM
    coast = d_foreign < 0.5 * KM
    median = ~arc & ~coast
    assert median.sum() > 40, "the sample should meet the median lines"
    far = median & (np.minimum(d_own, d_foreign) > 5 * KM)
    gap = d_own - d_foreign
    assert np.abs(gap[far]).max() < EQUIDISTANT_M, pts[far][np.argmax(np.abs(gap[far]))]
    # Within 5 km of a coast the samples' spacing shows (h^2 / 8d): still within 0.5 km.
    assert np.abs(gap[median]).max() < 0.5 * KM
    # No part of the edge is nearer a foreign coast than the zone's own limit allows.
    assert (d_own[~coast] < ZONE_M + 0.1 * KM).all()


def _crossing(kor, jpn, a, b):
    """Where the geodesic a -> b (lat, lon deg) leaves Korea's zone: (lat, lon) rad and
    the azimuth there, by bisection on the zone test."""
    s12, az1, _ = geodesic_inverse(D(a[0]), D(a[1]), D(b[0]), D(b[1]))
    lo, hi = 0.0, float(s12)
    assert kor.locate(D(a[0]), D(a[1])) >= ZONE and jpn.locate(D(b[0]), D(b[1])) >= ZONE
    while hi - lo > 1.0:
        mid = 0.5 * (lo + hi)
        lat, lon = geodesic_direct(D(a[0]), D(a[1]), az1, mid)
        if kor.locate(lat, lon) >= ZONE:
            lo = mid
        else:
            hi = mid
    return D(a[0]), D(a[1]), float(az1), lo


@pytest.mark.parametrize(
    "a, b",
    [
        ((35.9, 130.0), (35.4, 131.6)),  # East Sea, off Pohang towards Oki
        ((34.75, 128.75), (34.45, 129.1)),  # Korea Strait western channel, Geoje -> Tsushima
        ((33.0, 126.9), (32.4, 128.3)),  # south of Jeju towards the Goto islands
    ],
)
def test_points_either_side_of_the_korea_japan_line(a, b, territories, lands):
    kor, jpn = territories["KOR"], territories["JPN"]
    lat1, lon1, az, s = _crossing(kor, jpn, a, b)
    for offset_m, mine, other in ((-1 * KM, kor, jpn), (1 * KM, jpn, kor)):
        lat, lon = geodesic_direct(lat1, lon1, az, s + offset_m)
        assert mine.locate(lat, lon) >= ZONE
        assert other.locate(lat, lon) < ZONE  # zones do not overlap
    # The crossing itself is equidistant from the two coasts (true geodesics).
    lat, lon = geodesic_direct(lat1, lon1, az, s)
    p = np.degrees([[float(lon), float(lat)]])
    d_kor, d_jpn = Coast(lands["410"]).distance_m(p)[0], Coast(lands["392"]).distance_m(p)[0]
    assert abs(d_kor - d_jpn) < EQUIDISTANT_M + 2.0  # + the 1 m bisection step, twice


def test_east_sea_400km_ene_of_wonsan_is_no_partners_zone(territories, lands):
    lat, lon = geodesic_direct(D(39.17), D(127.48), D(67.5), 400 * KM)
    lat, lon = float(lat), float(lon)
    for nation in ("KOR", "JPN", "USA"):
        assert territories[nation].locate(lat, lon) < ZONE, nation
    assert territories["PRK"].locate(lat, lon) == ZONE
    p = np.degrees([[lon, lat]])
    d = {
        k: Coast(lands[iso]).distance_m(p)[0]
        for k, iso in (("PRK", "408"), ("KOR", "410"), ("JPN", "392"))
    }
    assert d["PRK"] < min(d["KOR"], d["JPN"]) - 50 * KM  # measured: 218, 292, 364 km
    assert d["KOR"] < ZONE_M  # within Korea's 200-nm buffer: cut by the median line only


def test_no_two_nations_share_water():
    geod = Geod(ellps="WGS84")
    t = {n: load_territory(n) for n in NATIONS}
    for i, a in enumerate(NATIONS):
        for b in NATIONS[i + 1 :]:
            for kind in ("zone", "territorial"):
                shared = getattr(t[a], kind).intersection(getattr(t[b], kind))
                area_km2 = (
                    abs(geod.geometry_area_perimeter(shared)[0]) / 1e6
                    if not shared.is_empty
                    else 0.0
                )
                assert area_km2 < 1.0, (a, b, kind, area_km2)


# The agreed Korea-Japan boundary of the northern continental shelf (Agreement of
# 30 January 1974, art. I: 35 points, degrees and minutes on 1958 Japanese charts).
AGREED_1974 = [
    (32, 57.0, 127, 41.1), (32, 57.5, 127, 41.9), (33, 1.3, 127, 44.0), (33, 8.7, 127, 48.3),
    (33, 13.7, 127, 51.6), (33, 16.2, 127, 52.3), (33, 45.1, 128, 21.7), (33, 47.4, 128, 25.5),
    (33, 50.4, 128, 26.1), (34, 8.2, 128, 41.3), (34, 13.0, 128, 47.6), (34, 18.0, 128, 52.8),
    (34, 18.5, 128, 53.3), (34, 24.5, 128, 57.3), (34, 27.6, 128, 59.4), (34, 29.2, 129, 0.2),
    (34, 32.1, 129, 0.8), (34, 32.6, 129, 0.8), (34, 40.3, 129, 3.1), (34, 49.7, 129, 12.1),
    (34, 50.6, 129, 13.0), (34, 52.4, 129, 15.8), (34, 54.3, 129, 18.4), (34, 57.0, 129, 21.7),
    (34, 57.6, 129, 22.6), (34, 58.6, 129, 25.3), (35, 1.2, 129, 32.9), (35, 4.1, 129, 40.7),
    (35, 6.8, 130, 7.5), (35, 7.0, 130, 16.4), (35, 18.2, 130, 23.3), (35, 33.7, 130, 34.1),
    (35, 42.3, 130, 42.7), (36, 3.8, 131, 8.3), (36, 10.0, 131, 15.9),
]  # fmt: skip


def test_median_line_follows_the_agreed_1974_boundary(territories):
    kor, jpn = territories["KOR"], territories["JPN"]
    line = kor.zone.boundary.intersection(shapely.buffer(jpn.zone.boundary, 0.005))
    geod = Geod(ellps="WGS84")
    offsets = []
    for lat_d, lat_m, lon_d, lon_m in AGREED_1974:
        p = shapely.Point(lon_d + lon_m / 60.0, lat_d + lat_m / 60.0)
        q = shapely.shortest_line(p, line).coords[1]
        offsets.append(geod.inv(p.x, p.y, q[0], q[1])[2])
    offsets = np.array(offsets)
    # Measured: median 3.5 km, worst 22 km (points 31-33, off Okinoshima). The agreed
    # line adjusts equidistance (Tsushima's effect, baselines, islets missing at 1:50m).
    assert np.median(offsets) < 5 * KM
    assert offsets.max() < 25 * KM


def test_equidistance_on_a_symmetric_strait():
    # Two equal islands on the equator, 1..2 and 4..5 deg E: by symmetry of the
    # ellipsoid about lon 3, the median line between them is the meridian 3 deg E.
    west = shapely.box(1.0, -0.5, 2.0, 0.5)
    east = shapely.box(4.0, -0.5, 5.0, 0.5)
    sea = shapely.box(2.0, -2.0, 4.0, 2.0)
    beyond = nearer_to_foreign(sea, west, [east])
    assert beyond.area == pytest.approx(4.0, rel=1e-3)  # half of the 2 x 4 deg sea
    xy = shapely.get_coordinates(beyond.boundary)
    on_line = (xy[:, 0] < 3.5) & (np.abs(xy[:, 1]) < 1.99)
    assert on_line.sum() > 100
    assert np.abs(xy[on_line, 0] - 3.0).max() * 111_320.0 < 0.02 * KM
    again = nearer_to_foreign(sea, west, [east])
    assert shapely.to_wkb(again) == shapely.to_wkb(beyond)  # deterministic


def test_no_foreign_coast_within_reach_cuts_nothing():
    island = shapely.box(0.0, 0.0, 1.0, 1.0)
    far = shapely.box(20.0, 0.0, 21.0, 1.0)  # 2,100 km away: more than 400 nm
    assert nearer_to_foreign(shapely.box(-3.0, -3.0, 4.0, 4.0), island, [far]).is_empty


def test_manifest_records_the_median_line_build():
    manifest = geodata_manifest()
    assert manifest["format_version"] == FORMAT_VERSION >= 2
    assert manifest["median_lines"]["spacing_deg"] == pytest.approx(0.02)
