"""Built territory polygons: the 200-nm and 12-nm buffers measured with true geodesic
distances, point and track questions, and the clear error when the data are missing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from alerts_fixtures import great_circle_deg
from pyproj import Transformer

from trilink.alerts.ellipse import ellipse_ring
from trilink.alerts.geodata import TERRITORIAL_SEA_M, ZONE_M, feature_geometry
from trilink.alerts.territory import (
    LAND,
    OUTSIDE,
    TERRITORIAL_SEA,
    ZONE,
    geodata_manifest,
    load_territory,
)
from trilink.alerts.topojson import features_by_id
from trilink.errors import GeodataMissing

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "node_modules" / "world-atlas" / "countries-50m.json"
KM = 1e3
D = math.radians


@pytest.fixture(scope="module")
def jpn():
    return load_territory("JPN")


@pytest.fixture(scope="module")
def kor():
    return load_territory("KOR")


@pytest.fixture(scope="module")
def foreign_of():
    countries = features_by_id(json.loads(WORLD.read_text()), "countries")
    geoms = {
        k: feature_geometry(f)
        for k, f in countries.items()
        if f["type"] in ("Polygon", "MultiPolygon")
    }

    def foreign(iso_ids, near):
        # 8 degrees round the area: every coast a median line of it can face.
        box = shapely.box(*np.add(near.bounds, (-8.0, -8.0, 8.0, 8.0)))
        return shapely.union_all(
            [g for k, g in geoms.items() if k not in iso_ids and g.intersects(box)]
        )

    return foreign


def _distance_to_land_m(land, lon_deg, lat_deg):
    """True geodesic distance from a point to land: PROJ's ellipsoidal AEQD centred on the
    point keeps distances from its centre exact, so the planar distance there is the
    geodesic one (land edges are a few km long, so straight in the plane)."""
    window = shapely.clip_by_rect(land, lon_deg - 12, lat_deg - 8, lon_deg + 12, lat_deg + 8)
    if window.is_empty:
        return math.inf
    to_aeqd = Transformer.from_pipeline(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lat_0={lat_deg} +lon_0={lon_deg} +ellps=WGS84"
    )
    projected = shapely.transform(
        window, lambda xy: np.column_stack(to_aeqd.transform(xy[:, 0], xy[:, 1]))
    )
    return shapely.distance(shapely.Point(0.0, 0.0), projected)


@pytest.mark.parametrize(
    "nation, iso, kind, distance_m",
    [
        ("JPN", ("392",), "zone", ZONE_M),
        ("KOR", ("410",), "territorial", TERRITORIAL_SEA_M),  # its zone: all median lines
        ("JPN", ("392",), "territorial", TERRITORIAL_SEA_M),
    ],
)
def test_buffer_edge_is_at_the_stated_distance_from_land(nation, iso, kind, distance_m, foreign_of):
    territory = load_territory(nation)
    area = getattr(territory, kind)
    foreign = foreign_of(iso, area)
    rings = [np.asarray(p.exterior.coords) for p in getattr(area, "geoms", [area])]
    # Mid-points of the edges: the worst places (the chord cuts inside the true curve).
    mids = np.concatenate([0.5 * (r[:-1] + r[1:]) for r in rings])
    # Edges drawn in proportion to their length: the median lines' 2-km edges would
    # otherwise crowd out the buffer's arcs.
    length = np.concatenate([np.hypot(*np.diff(r, axis=0).T) for r in rings])
    rng = np.random.default_rng(3)
    pick = rng.choice(len(mids), size=min(150, len(mids)), replace=False, p=length / length.sum())
    sample = mids[pick]
    errors = []
    for lon, lat in sample:
        d_land = _distance_to_land_m(territory.land, lon, lat)
        d = d_land - distance_m
        assert d < 0.1 * KM, f"{nation} {kind} edge at {lat:.3f},{lon:.3f} is {d / KM:+.2f} km out"
        # Edges on a foreign coast, or on a median line (as near a foreign coast as to
        # ours: test_alerts_median.py measures those), are not the buffer's edge.
        if _distance_to_land_m(foreign, lon, lat) > d_land + 0.5 * KM:
            errors.append(d)
    errors = np.array(errors)
    assert len(errors) > 30
    # Measured: within -0.16 km (the chords of 128-gon arcs and the AEQD's stretch).
    assert errors.min() > -0.5 * KM


@pytest.mark.parametrize(
    "lat, lon, jpn_code, kor_code",
    [
        (35.68, 139.69, LAND, OUTSIDE),  # Tokyo
        (37.57, 126.98, OUTSIDE, LAND),  # Seoul
        (39.02, 125.75, OUTSIDE, OUTSIDE),  # Pyongyang: foreign land is no one's waters
        (35.18, 129.08, OUTSIDE, LAND),  # Busan, 50 km from Tsushima: still not Japan's
        (40.0, 135.0, ZONE, OUTSIDE),  # Sea of Japan, ~230 km off Honshu
        (38.0, 138.9, TERRITORIAL_SEA, OUTSIDE),  # ~10 km off Niigata
        (30.0, 160.0, OUTSIDE, OUTSIDE),  # open Pacific
    ],
)
def test_locate_known_places(jpn, kor, lat, lon, jpn_code, kor_code):
    assert jpn.locate(D(lat), D(lon)) == jpn_code
    assert kor.locate(D(lat), D(lon)) == kor_code


def test_locate_is_vectorised(jpn):
    lat = np.radians([[35.68, 40.0], [30.0, 38.0]])
    lon = np.radians([[139.69, 135.0], [160.0, 138.9]])
    np.testing.assert_array_equal(jpn.locate(lat, lon), [[LAND, ZONE], [OUTSIDE, TERRITORIAL_SEA]])


def test_overflight_of_japan_and_not_of_korea(jpn, kor):
    over_japan = np.radians(great_circle_deg((39.7, 124.7), (38.0, 160.0)))  # Sohae -> Pacific
    assert jpn.track_crosses(over_japan)
    assert not kor.track_crosses(over_japan)
    east_sea_only = np.radians(great_circle_deg((39.17, 127.48), (40.5, 133.0)))
    assert not jpn.track_crosses(east_sea_only)


def test_track_across_the_antimeridian_meets_the_aleutians():
    usa = load_territory("USA")
    track = np.radians(great_circle_deg((51.5, 170.0), (52.0, -170.0)))  # along the chain
    assert usa.track_crosses(track)
    assert not usa.track_crosses(np.radians(great_circle_deg((30.0, 170.0), (30.0, -170.0))))


def test_distance_to_zone_matches_geodesic_measure(jpn):
    # An ellipse west of Japan's zone, in Korea's waters off Samcheok (~170 km from the
    # Korea-Japan median line; the Yellow Sea, used before the median lines, is now more
    # than 500 km from Japan's zone, past the 400-km window of the exact measure below).
    ring = ellipse_ring(D(37.5), D(129.5), 20e3, 10e3, 0.0, k=3.0)
    d = jpn.distance_m(ring)
    # Independent: the exact distance from every ring vertex to the zone, minimised.
    exact = min(
        _distance_to_land_m(jpn.zone, math.degrees(lon), math.degrees(lat))
        for lat, lon in ring[:-1]
    )
    assert d == pytest.approx(exact, rel=5e-3, abs=1 * KM)
    assert 20 * KM < d < 400 * KM


def test_overlapping_ring_has_zero_distance(jpn):
    ring = ellipse_ring(D(40.0), D(135.0), 20e3, 10e3, 0.0, k=3.0)
    assert jpn.area_intersects(ring) and jpn.distance_m(ring) == 0.0


def test_manifest_names_its_source_package():
    manifest = geodata_manifest()
    assert manifest["source"]["package"].startswith("world-atlas@")
    assert manifest["zone_m"] == pytest.approx(370_400.0)
    assert set(manifest["nations"]) >= {"KOR", "JPN", "USA"}


def test_missing_data_fail_with_the_command_that_builds_them(tmp_path):
    with pytest.raises(GeodataMissing) as err:
        load_territory("JPN", directory=tmp_path)
    assert "build_geodata.py" in str(err.value) and "npm ci" in err.value.hint


def test_data_of_an_older_format_are_refused(tmp_path):
    """Files built by an older trilink (format 1: zones without median lines, which
    overlap) must not load silently: the warnings would use the wrong waters."""
    manifest = {**geodata_manifest(), "format_version": 1}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(GeodataMissing, match="format 1, this trilink needs 2") as err:
        load_territory("JPN", directory=tmp_path)
    assert "build_geodata.py" in str(err.value)


def test_rings_across_the_antimeridian_stay_where_they_are():
    """world-atlas writes a ring that crosses 180 deg with a 360 deg jump; read flat,
    Russia's Chukotka became a band of land from Alaska to Scandinavia (geodata
    ``_continuous``)."""
    countries = features_by_id(json.loads(WORLD.read_text()), "countries")
    russia = feature_geometry(countries["643"])
    assert not russia.contains(shapely.Point(-150.0, 66.0))  # Alaska
    assert not russia.contains(shapely.Point(-100.0, 67.0))  # Nunavut
    assert not russia.contains(shapely.Point(15.0, 67.0))  # Norway
    assert russia.contains(shapely.Point(178.0, 66.0))  # Chukotka, west of 180
    assert russia.contains(shapely.Point(-175.0, 66.0))  # Chukotka, east of 180


def test_unknown_nation_is_reported(tmp_path):
    (tmp_path / "manifest.json").write_text(
        json.dumps({"format_version": geodata_manifest()["format_version"], "nations": {"JPN": {}}})
    )
    with pytest.raises(GeodataMissing, match="no territory for 'FRA'"):
        load_territory("FRA", directory=tmp_path)
