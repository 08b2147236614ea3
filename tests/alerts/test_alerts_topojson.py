"""TopoJSON decoding against the specification's own example and the real world-atlas data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import Point

from trilink.alerts.geodata import feature_geometry
from trilink.alerts.topojson import decode_arcs, decode_object, features_by_id, stitch
from trilink.errors import DecodeError

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "node_modules" / "world-atlas" / "countries-50m.json"

# Section 1.1 of the TopoJSON specification: the same topology plain and quantised.
PLAIN = {
    "type": "Topology",
    "objects": {
        "example": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [102, 0.5]},
                {"type": "LineString", "arcs": [0]},
                {"type": "Polygon", "arcs": [[-2]]},
            ],
        }
    },
    "arcs": [
        [[102, 0], [103, 1], [104, 0], [105, 1]],
        [[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]],
    ],
}
QUANTISED = {
    "type": "Topology",
    "transform": {"scale": [0.0005000500050005, 0.00010001000100010001], "translate": [100, 0]},
    "objects": {
        "example": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [4000, 5000]},
                {"type": "LineString", "arcs": [0]},
                {"type": "Polygon", "arcs": [[1]]},
            ],
        }
    },
    "arcs": [
        [[4000, 0], [1999, 9999], [2000, -9999], [2000, 9999]],
        [[0, 0], [0, 9999], [2000, 0], [0, -9999], [-2000, 0]],
    ],
}
# The GeoJSON the specification says both encode.
LINE = [[102, 0], [103, 1], [104, 0], [105, 1]]
RING = [[100, 0], [100, 1], [101, 1], [101, 0], [100, 0]]


def test_plain_example_decodes_exactly_with_reversed_arc():
    point, line, poly = decode_object(PLAIN, "example")["geometries"]
    np.testing.assert_array_equal(point["coordinates"], [102, 0.5])
    np.testing.assert_array_equal(line["coordinates"], LINE)
    np.testing.assert_array_equal(poly["coordinates"][0], RING)


def test_quantised_example_matches_plain_within_quantisation_step():
    point, line, poly = decode_object(QUANTISED, "example")["geometries"]
    # One quantum is 5e-4 deg in x and 1e-4 in y; the spec's scale rounds 1/1999.8.
    np.testing.assert_allclose(point["coordinates"], [102, 0.5], atol=5e-4)
    np.testing.assert_allclose(line["coordinates"], LINE, atol=5e-4)
    np.testing.assert_allclose(poly["coordinates"][0], RING, atol=5e-4)


def test_delta_decoding_is_a_running_sum_then_scale_and_translate():
    topo = {
        "type": "Topology",
        "transform": {"scale": [2.0, 0.5], "translate": [10.0, -1.0]},
        "arcs": [[[1, 2], [3, -4], [-1, 0]]],
    }
    (arc,) = decode_arcs(topo)
    np.testing.assert_array_equal(arc, [[12.0, 0.0], [18.0, -2.0], [16.0, -2.0]])


def test_stitch_drops_the_shared_point_between_arcs():
    arcs = [np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[1.0, 1.0], [1.0, 0.0]])]
    joined = stitch(arcs, [0, ~1])  # second arc reversed: (1,0) -> (1,1)
    np.testing.assert_array_equal(joined, [[0, 0], [1, 0], [1, 1]])


@pytest.mark.parametrize(
    "topology, field",
    [
        ({"type": "Feature"}, "type"),
        ({"type": "Topology", "objects": {}, "arcs": []}, "objects.example"),
        (
            {
                "type": "Topology",
                "objects": {"example": {"type": "LineString", "arcs": [5]}},
                "arcs": [[[0, 0], [1, 1]]],
            },
            "arcs",
        ),
        ({"type": "Topology", "objects": {"example": {"type": "Blob"}}, "arcs": []}, "type"),
    ],
)
def test_malformed_topologies_are_rejected_naming_the_field(topology, field):
    with pytest.raises(DecodeError) as err:
        decode_object(topology, "example")
    assert err.value.field == field


def test_input_topology_is_not_mutated():
    before = json.dumps(QUANTISED, sort_keys=True)
    decode_object(QUANTISED, "example")
    assert json.dumps(QUANTISED, sort_keys=True) == before


@pytest.fixture(scope="module")
def countries():
    if not WORLD.is_file():
        pytest.fail(
            f"{WORLD} missing: run `npm ci` at the repository root (the Makefile's setup does)"
        )
    return features_by_id(json.loads(WORLD.read_text()), "countries")


@pytest.mark.parametrize(
    "iso, official_km2",
    # Land areas: Japan's Statistics Bureau 377,975 km2; Korea's MOLIT 100,210 km2; DPRK
    # 120,540 km2 (CIA World Factbook). Natural Earth 1:50m generalises coasts and drops
    # small islands, so a few percent is expected; a decoding error would be far larger.
    [("392", 377_975.0), ("410", 100_210.0), ("408", 120_540.0)],
)
def test_decoded_country_areas_match_official_figures(countries, iso, official_km2):
    area_m2, _ = Geod(ellps="WGS84").geometry_area_perimeter(feature_geometry(countries[iso]))
    assert abs(abs(area_m2) / 1e6 / official_km2 - 1.0) < 0.04


def test_country_polygons_are_valid_and_where_they_should_be(countries):
    japan = feature_geometry(countries["392"])
    korea = feature_geometry(countries["410"])
    assert japan.is_valid and korea.is_valid
    tokyo, seoul = Point(139.69, 35.68), Point(126.98, 37.57)
    assert japan.contains(tokyo) and not japan.contains(seoul)
    assert korea.contains(seoul) and not korea.contains(tokyo)
    minx, miny, maxx, maxy = japan.bounds
    assert 122.5 < minx < 124.5 and 24 < miny < 25 and 145 < maxx < 146.5 and 45 < maxy < 46
