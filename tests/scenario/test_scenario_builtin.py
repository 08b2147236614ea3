"""The built-in korea-japan scenario: it loads, holds what issue 2 asks for, and its
geometry tells the story of the link (Korea sees the launch, Japan the fall)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from trilink.geo import geodesic_inverse, geodetic_to_ecef, horizon_height, in_line_of_sight
from trilink.scenario import builtin_names, builtin_path, load_scenario
from trilink.sensors.specs import InfraredSatelliteSpec, RadarSpec

DEG = math.pi / 180


@pytest.fixture(scope="module")
def sc():
    return load_scenario("korea-japan")


def test_builtin_is_listed_and_loads_by_name_and_by_file(sc) -> None:
    assert "korea-japan" in builtin_names()
    assert sc.name == "korea-japan"
    by_file = load_scenario(Path(str(builtin_path("korea-japan"))))
    assert replace(by_file, source=sc.source) == sc
    assert replace(load_scenario("korea-japan.toml"), source=sc.source) == sc
    # 2026-03-01T00:00:00Z, exactly, in integer ns
    assert sc.start_t_ns == 1_772_323_200 * 10**9


def test_topology_partners_link_only_to_the_hub(sc) -> None:
    assert sc.hub.id == "USA"
    assert {n.id for n in sc.partners} == {"KOR", "JPN"}
    assert sc.linked("KOR", "USA") and sc.linked("JPN", "USA")
    assert not sc.linked("KOR", "JPN")


def test_sensors_of_each_nation(sc) -> None:
    kinds = {(s.nation, s.kind) for s in sc.sensors}
    assert {("KOR", "radar"), ("JPN", "radar"), ("USA", "radar"), ("USA", "ir")} <= kinds
    assert len(sc.sensors_of("KOR")) == 3  # Green Pine x3
    assert sum("FPS5" in s.sensor_id for s in sc.sensors_of("JPN")) == 4
    assert sum("TPY2" in s.sensor_id for s in sc.sensors_of("USA")) == 3
    ir = [s for s in sc.sensors if isinstance(s, InfraredSatelliteSpec)]
    assert len(ir) == 1 and ir[0].nation == "USA"


def test_units_are_converted_at_the_edge(sc) -> None:
    gp = next(s for s in sc.sensors if s.sensor_id == "KOR-GP-Busan")
    assert isinstance(gp, RadarSpec)
    assert gp.lat_rad == pytest.approx(35.2 * DEG) and gp.lon_rad == pytest.approx(129.1 * DEG)
    assert gp.max_range_m == 800e3 and gp.ref_range_m == 600e3
    assert gp.angle_sigma_rad == pytest.approx(
        2.0e-3
    ) and gp.angle_sigma_floor_rad == pytest.approx(0.4e-3)
    (face,) = gp.faces
    assert face.boresight_az_rad == pytest.approx(
        340 * DEG
    ) and face.half_width_el_rad == pytest.approx(40 * DEG)
    aegis = next(s for s in sc.sensors if s.sensor_id == "JPN-Aegis-SPY1")
    assert aegis.faces == ()  # full coverage
    ir = next(s for s in sc.sensors if isinstance(s, InfraredSatelliteSpec))
    assert ir.angle_sigma_rad == pytest.approx(25e-6)


def test_launches_are_the_ones_issue_2_asks_for(sc) -> None:
    by_class: dict[str, list] = {}
    for launch in sc.launches:
        by_class.setdefault(launch.missile_class, []).append(launch)
    srbms = sorted(by_class["SRBM"], key=lambda x: x.launch_t_ns)
    assert len(srbms) == 3
    assert np.diff([s.launch_t_ns for s in srbms]).tolist() == [20 * 10**9, 20 * 10**9]
    # every launch within the first 10 minutes
    assert all(0 <= launch.launch_t_ns - sc.start_t_ns <= 600e9 for launch in sc.launches)
    (icbm,) = by_class["ICBM"]
    assert icbm.apogee_m == 6_000e3
    dist, _, _ = geodesic_inverse(
        icbm.launch_lat_rad, icbm.launch_lon_rad, icbm.impact_lat_rad, icbm.impact_lon_rad
    )
    assert 900e3 < float(dist) < 1_100e3
    (irbm,) = by_class["IRBM"]
    assert irbm.range_m == 4_500e3 and irbm.apogee_m is None


def _srbm_ranges(sc) -> list[float]:
    out = []
    for s in sc.launches:
        if s.missile_class != "SRBM":
            continue
        if s.range_m is not None:
            out.append(s.range_m)
        else:
            d, _, _ = geodesic_inverse(
                s.launch_lat_rad, s.launch_lon_rad, s.impact_lat_rad, s.impact_lon_rad
            )
            out.append(float(d))
    return out


def test_srbms_fly_short_range_into_the_east_sea(sc) -> None:
    assert all(300e3 <= r <= 600e3 for r in _srbm_ranges(sc))


def _lowest_visible_height_m(radars, lat_rad: float, lon_rad: float) -> float:
    """Lowest height above the launch point that any of ``radars`` could see (4/3 Earth)."""
    best = math.inf
    for s in radars:
        d, _, _ = geodesic_inverse(s.lat_rad, s.lon_rad, lat_rad, lon_rad)
        best = min(best, float(horizon_height(float(d), s.height_m)) + 0.0)
    return best


def test_korean_radars_see_the_srbm_launch_far_lower_than_japanese_radars(sc) -> None:
    """The point of the link: from the Wonsan pad Korean radars see a missile once it
    climbs a few km; Japanese radars, 800+ km away, only after tens of km (d^2 / 2kR)."""
    srbm = next(s for s in sc.launches if s.missile_class == "SRBM")
    kor = [s for s in sc.sensors_of("KOR") if isinstance(s, RadarSpec)]
    jpn = [s for s in sc.sensors_of("JPN") if isinstance(s, RadarSpec)]
    h_kor = _lowest_visible_height_m(kor, srbm.launch_lat_rad, srbm.launch_lon_rad)
    h_jpn = _lowest_visible_height_m(jpn, srbm.launch_lat_rad, srbm.launch_lon_rad)
    assert h_kor < 6e3  # Green Pine North, 263 km: ~4.2 km (less its own height)
    assert h_jpn > 30e3  # Aegis in the Sea of Japan, ~800 km: ~38 km
    # and the exact refracted line-of-sight check agrees at a 10 km-high point over the pad
    point = geodetic_to_ecef(np.array([srbm.launch_lat_rad, srbm.launch_lon_rad, 10e3]))
    seen_kor = [
        bool(in_line_of_sight([s.lat_rad, s.lon_rad, s.height_m], point, s.min_elevation_rad))
        for s in kor
    ]
    seen_jpn = [
        bool(in_line_of_sight([s.lat_rad, s.lon_rad, s.height_m], point, s.min_elevation_rad))
        for s in jpn
    ]
    assert any(seen_kor) and not any(seen_jpn)


def test_launch_sites_face_the_korean_radars(sc) -> None:
    """Each Green Pine face points at the launch areas (within its half-width)."""
    for s in sc.sensors_of("KOR"):
        assert isinstance(s, RadarSpec)
        (face,) = s.faces
        for site in sc.launch_sites:
            _, az, _ = geodesic_inverse(s.lat_rad, s.lon_rad, site.lat_rad, site.lon_rad)
            off = (float(az) - face.boresight_az_rad + math.pi) % (2 * math.pi) - math.pi
            assert abs(off) < face.half_width_az_rad, (s.sensor_id, site.id)


def test_ir_satellite_stares_at_the_launch_areas(sc) -> None:
    ir = next(s for s in sc.sensors if isinstance(s, InfraredSatelliteSpec))
    sat = 42_164e3 * np.array([math.cos(ir.sub_lon_rad), math.sin(ir.sub_lon_rad), 0.0])
    aim = geodetic_to_ecef(np.array([ir.aim_lat_rad, ir.aim_lon_rad, 0.0])) - sat
    for site in sc.launch_sites:
        los = geodetic_to_ecef(np.array([site.lat_rad, site.lon_rad, 20e3])) - sat
        angle = math.acos(float(aim @ los) / float(np.linalg.norm(aim) * np.linalg.norm(los)))
        assert angle < ir.field_of_regard_rad, site.id
