"""CZML, GeoJSON and KML exports parsed back and checked against the records."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from datetime import datetime

import numpy as np
import pytest
import shapely
from alerts_fixtures import D, flight
from shapely.geometry import shape

from trilink.alerts.czml import czml_packets, to_czml
from trilink.alerts.ellipse import K95
from trilink.alerts.features import split_antimeridian, to_geojson, to_kml
from trilink.alerts.records import TrackRecord, ellipse_intervals
from trilink.geo.geodesic import geodesic_inverse

KML = "{http://www.opengis.net/kml/2.2}"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def records():
    a = [TrackRecord.from_threat(t) for t in flight()]
    b = [
        TrackRecord.from_threat(t) for t in flight(impact_deg=(37.0, 133.0), track_id="T0002", n=31)
    ]
    # Interleave the two tracks as a recorder would see them.
    return sorted(a + b, key=lambda r: r.t_ns)


def test_czml_document_packet_first(records):
    packets = json.loads(to_czml(records, name="demo"))
    doc = packets[0]
    assert doc["id"] == "document" and doc["version"] == "1.0" and doc["name"] == "demo"
    start, stop = (_t(x) for x in doc["clock"]["interval"].split("/"))
    assert stop > start and _t(doc["clock"]["currentTime"]) == start
    ids = [p["id"] for p in packets]
    assert len(ids) == len(set(ids))
    assert {"track/T0001", "trajectory/T0001", "launch/T0001", "ipp/T0001", "track/T0002"} <= set(
        ids
    )


def test_czml_position_samples_match_the_records(records):
    packets = {p["id"]: p for p in czml_packets(records)}
    track = [r for r in records if r.track_id == "T0001"]
    pos = packets["track/T0001"]["position"]
    samples = np.array(pos["cartographicDegrees"]).reshape(-1, 4)
    assert len(samples) == len(track)
    epoch = _t(pos["epoch"])
    assert np.all(np.diff(samples[:, 0]) > 0) and samples[0, 0] == 0.0
    for row, r in zip(samples, track, strict=True):
        assert (epoch.timestamp() + row[0]) == pytest.approx(r.t_ns / 1e9, abs=1e-3)
        assert row[1] == pytest.approx(math.degrees(r.lon_rad), abs=1e-6)
        assert row[2] == pytest.approx(math.degrees(r.lat_rad), abs=1e-6)
        assert row[3] == pytest.approx(r.alt_m, abs=0.05)
    polyline = np.array(
        packets["trajectory/T0001"]["polyline"]["positions"]["cartographicDegrees"]
    ).reshape(-1, 3)
    np.testing.assert_allclose(polyline, samples[:, 1:], atol=1e-6)
    launch = packets["launch/T0001"]["position"]["cartographicDegrees"]
    assert launch[:2] == pytest.approx([127.48, 39.17])


def test_czml_ellipse_intervals_are_contiguous_and_rotation_is_ccw(records):
    ipp = {p["id"]: p for p in czml_packets(records)}["ipp/T0001"]
    semi = ipp["ellipse"]["semiMajorAxis"]
    intervals = [tuple(_t(x) for x in s["interval"].split("/")) for s in semi]
    assert all(a < b for a, b in intervals)
    assert all(intervals[i][1] == intervals[i + 1][0] for i in range(len(intervals) - 1))
    assert [p["interval"] for p in ipp["position"]] == [s["interval"] for s in semi]
    first = flight()[0].impact
    assert semi[0]["number"] == pytest.approx(K95 * first.semi_major_m, abs=0.1)
    assert ipp["ellipse"]["rotation"][0]["number"] == pytest.approx(-D(70.0), abs=1e-6)
    minor = ipp["ellipse"]["semiMinorAxis"]
    assert all(m["number"] <= s["number"] for m, s in zip(minor, semi, strict=True))


def test_geojson_structure_and_values(records):
    fc = json.loads(to_geojson(records))
    assert fc["type"] == "FeatureCollection"
    by_kind = {}
    for f in fc["features"]:
        by_kind.setdefault(f["properties"]["kind"], []).append(f)
    assert set(by_kind) == {"trajectory", "launch", "impact_ellipse", "impact_point"}
    traj = next(f for f in by_kind["trajectory"] if f["properties"]["track_id"] == "T0001")
    coords = traj["geometry"]["coordinates"]
    assert traj["geometry"]["type"] == "LineString" and len(coords[0]) == 3
    assert len(coords) == len(traj["properties"]["times"]) == 61
    assert max(c[2] for c in coords) == pytest.approx(500e3, rel=1e-3)
    for f in by_kind["impact_ellipse"]:
        poly = shape(f["geometry"])
        assert poly.is_valid and shapely.is_ccw(poly.exterior)  # RFC 7946 exterior ring
        ring = f["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        assert _t(f["properties"]["valid_from"]) < _t(f["properties"]["valid_until"])
    ell = [f for f in by_kind["impact_ellipse"] if f["properties"]["track_id"] == "T0001"]
    # Thinned to one per 10 s: the flight's 61 records span 600 s.
    assert 30 <= len(ell) <= 62
    lon, lat = ell[-1]["geometry"]["coordinates"][0][0]
    s, _, _ = geodesic_inverse(D(40.2), D(137.6), D(lat), D(lon))
    assert s == pytest.approx(ell[-1]["properties"]["semi_major_m"], abs=1.0)


def test_geojson_splits_lines_at_the_antimeridian():
    parts = split_antimeridian([[178.0, 50.0, 0.0], [-178.0, 52.0, 10.0], [-176.0, 53.0, 20.0]])
    assert parts == [
        [[178.0, 50.0, 0.0], [180.0, 51.0, 5.0]],
        [[-180.0, 51.0, 5.0], [-178.0, 52.0, 10.0], [-176.0, 53.0, 20.0]],
    ]
    back = split_antimeridian([[-179.0, 0.0], [179.0, 2.0]])
    assert back == [[[-179.0, 0.0], [-180.0, 1.0]], [[180.0, 1.0], [179.0, 2.0]]]


def test_kml_structure_and_values(records):
    root = ET.fromstring(to_kml(records).encode())
    assert root.tag == f"{KML}kml"
    folders = root.findall(f"{KML}Document/{KML}Folder")
    assert [f.findtext(f"{KML}name") for f in folders] == ["Track T0001", "Track T0002"]
    line = folders[0].find(f".//{KML}LineString")
    assert line.findtext(f"{KML}altitudeMode") == "absolute"
    coords = [
        tuple(float(v) for v in c.split(",")) for c in line.findtext(f"{KML}coordinates").split()
    ]
    assert len(coords) == 61 and max(c[2] for c in coords) == pytest.approx(500e3, rel=1e-3)
    polys = folders[0].findall(f".//{KML}Polygon")
    assert polys
    for p in polys:
        ring = p.findtext(f".//{KML}LinearRing/{KML}coordinates").split()
        assert ring[0] == ring[-1] and len(ring) >= 4
    marks = [pm.findtext(f"{KML}name") for pm in folders[0].findall(f"{KML}Placemark")]
    assert "Launch T0001" in marks and "Trajectory T0001" in marks


def test_ellipse_intervals_thin_but_keep_the_last():
    track = [TrackRecord.from_threat(t) for t in flight(n=121)]  # every 5 s
    all_spans = ellipse_intervals(track)
    thin = ellipse_intervals(track, min_interval_s=30.0)
    assert len(all_spans) == 121 and 20 <= len(thin) <= 22
    assert thin[-1][2] is all_spans[-1][2]
    assert thin[-1][1] >= track[-1].t_ns + 60 * 10**9 - 1  # the tail after the last record


def test_export_dispatch_and_cap_files():
    from trilink.alerts.exports import cap_files, export
    from trilink.alerts.territory import load_territory

    threats = flight(n=21)
    assert json.loads(export("czml", threats))[0]["id"] == "document"
    assert json.loads(export("geojson", threats))["type"] == "FeatureCollection"
    assert ET.fromstring(export("kml", threats).encode()).tag == f"{KML}kml"
    lines = export("cot", threats).splitlines()
    kinds = [ET.fromstring(line).get("type") for line in lines]
    assert kinds.count("a-h-A-W-M-S-S") == 21 and kinds.count("u-d-c-e") == 21
    files = cap_files(threats, load_territory("JPN"))
    assert files[0][0].endswith("-001.xml") and files[0][1].startswith(b"<?xml")
    assert len({name for name, _ in files}) == len(files) >= 2
    with pytest.raises(ValueError, match="one document each"):
        export("cap", threats)
    with pytest.raises(ValueError, match="unknown export format"):
        export("shp", threats)
