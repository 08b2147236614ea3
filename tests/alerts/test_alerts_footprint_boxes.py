"""The box shortcuts of :mod:`trilink.alerts.box_tests` against GEOS on the drawn shapes:
an ellipse placed from its box (``_box_place``) and a box settled by its key's last
answer (``_near_one``) give exactly what testing the shape itself gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from trilink import messages
from trilink.alerts import box_tests as fp
from trilink.alerts.batch import draw_ellipses, threat_products
from trilink.alerts.rules import WarningRules
from trilink.alerts.territory import LAND, OUTSIDE, TERRITORIAL_SEA, ZONE, load_territory
from trilink.geo.frames import geodetic_to_ecef


def _aimed(number: int, lat_deg: float, lon_deg: float, sigma_m: float, az_deg: float):
    r = geodetic_to_ecef(np.array([math.radians(38.5), math.radians(127.0), 150e3]))
    gp = messages.GroundPoint(
        lat_deg=lat_deg, lon_deg=lon_deg, t_ns=1_800_000_000_000_000_000, t_sigma_s=2.0,
        ellipse=messages.Ellipse(sigma_major_m=sigma_m, sigma_minor_m=sigma_m / 3.0, major_azimuth_deg=az_deg),
    )  # fmt: skip
    return messages.SystemTrack(
        source="HUB", measured_ns=1_799_999_700_000_000_000, releasability=("KOR",),
        system_track_number=number, state_ecef=(*map(float, r), 0.0, 0.0, -100.0),
        covariance_ecef=messages.pack_covariance(np.diag([1e4] * 3 + [25.0] * 3).tolist()),
        phase="ballistic", status="confirmed", quality=10, impact=gp,
    )  # fmt: skip


def _drawn_place(territory, ellipse) -> int:
    """The place GEOS gives the drawn ellipse: the innermost area it reaches."""
    want = OUTSIDE
    for code, geom in (
        (ZONE, territory.zone),
        (TERRITORIAL_SEA, territory.territorial),
        (LAND, territory.land),
    ):
        if shapely.intersects(geom, ellipse):
            want = code
    return want


@pytest.mark.parametrize("nation", ["KOR", "JPN"])
def test_ellipse_placed_from_its_box_equals_the_drawn_polygon(nation):
    territory = load_territory(nation)
    rules = WarningRules()
    rng = np.random.default_rng(5)
    n = 300
    msgs = [
        _aimed(
            k,
            float(rng.uniform(32.0, 42.0)),
            float(rng.uniform(124.0, 142.0)),
            float(rng.choice([200.0, 3e3, 20e3])),
            float(rng.uniform(0.0, 179.0)),
        )
        for k in range(n)
    ]
    products = threat_products(msgs, rules)
    draw_ellipses(products, rules)
    decided = set()
    for p in products:
        got = fp._box_place(territory, p)
        if got is None:
            continue
        decided.add(got)
        assert got == _drawn_place(territory, p.ellipse)
        # the nominal point lies in the box, so the same place holds it
        imp = p.threat.impact
        assert int(territory.locate(imp.lat_rad, imp.lon_rad)) == got
    assert {OUTSIDE, ZONE} <= decided  # boxes settle both ways
    assert len(decided) >= 3


@pytest.mark.parametrize("nation", ["KOR", "JPN", "USA"])
def test_settled_boxes_answer_as_geos(nation, monkeypatch):
    """Boxes drifting near the coasts and zone edges, each track's box a little off its
    last one: with keys (settled boxes reused) the answers are GEOS's on each box."""
    territory = load_territory(nation)
    geom = fp._areas(territory)
    rng = np.random.default_rng(9)
    calls = []
    intersects = shapely.intersects

    def counted(a, b):
        calls.append(1)
        return intersects(a, b)

    monkeypatch.setattr(fp.shapely, "intersects", counted)
    boxes = 0
    for track in range(40):
        x, y = rng.uniform(124.0, 142.0), rng.uniform(32.0, 42.0)
        w, h = rng.choice([0.02, 0.1, 1.0]), rng.choice([0.02, 0.1, 0.5])
        for _ in range(25):
            x += rng.normal(0.0, 0.03)
            y += rng.normal(0.0, 0.03)
            box = (x, y, x + w, y + h)
            key = ("e", f"{nation}-{track}")
            got = fp._near(geom, [box], [key])
            assert bool(got[0]) == bool(intersects(geom, shapely.box(*box)))
            boxes += 1
    assert len(calls) < 0.8 * boxes  # settled boxes spared GEOS calls


@pytest.mark.parametrize("nation", ["KOR", "JPN"])
def test_settled_ellipse_places_equal_the_drawn_polygon(nation):
    """One track's ellipse drifting cycle to cycle (settled relations reused): the place
    from its box, when given, is the drawn polygon's."""
    territory = load_territory(nation)
    rules = WarningRules()
    rng = np.random.default_rng(13)
    told = 0
    for track in range(12):
        lat, lon = rng.uniform(33.0, 41.0), rng.uniform(126.0, 140.0)
        for _ in range(20):
            lat += rng.normal(0.0, 0.02)
            lon += rng.normal(0.0, 0.02)
            (p,) = threat_products([_aimed(1000 + track, lat, lon, 2e3, 40.0)], rules)
            got = fp._box_place(territory, p)
            if got is None:
                continue
            draw_ellipses([p], rules)
            assert got == _drawn_place(territory, p.ellipse)
            told += 1
    assert told > 120
