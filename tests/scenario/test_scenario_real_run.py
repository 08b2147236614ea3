"""The built-in scenario through the real flight design and the real sensors.

The hour-long ICBM is left out to keep this file fast; its feasibility is checked on its
own. What is checked here is the scenario room's part: the file's degrees and kilometres
reach physics as the intended flights, and the sites make the geometry the scenario is
for (Korea sees the Wonsan salvo first, Japan tens of seconds later).
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace

import pytest

from trilink.geo import ecef_to_geodetic, geodesic_inverse
from trilink.scenario import load_scenario, simulate
from trilink.scenario.records import write_jsonl
from trilink.scenario.simulate import design, first_detections


@pytest.fixture(scope="module")
def run():
    sc = load_scenario("korea-japan")
    short = replace(sc, launches=tuple(x for x in sc.launches if x.missile_class != "ICBM"))
    return simulate(short)


def test_flights_land_where_the_file_asks(run) -> None:
    for launch, traj in zip(run.scenario.launches, run.trajectories, strict=True):
        lat, lon, _ = ecef_to_geodetic(traj.r_ecef_m[-1])
        lat0, lon0, h0 = ecef_to_geodetic(traj.r_ecef_m[0])
        assert float(h0) == pytest.approx(0.0, abs=5.0)
        assert (float(lat0), float(lon0)) == pytest.approx(
            (launch.launch_lat_rad, launch.launch_lon_rad), abs=1e-6
        )
        dist, az, _ = geodesic_inverse(
            launch.launch_lat_rad, launch.launch_lon_rad, float(lat), float(lon)
        )
        if launch.range_m is not None:  # srbm-2: azimuth 70 deg, 420 km; irbm-1: 82 deg, 4,500 km
            assert float(dist) == pytest.approx(launch.range_m, abs=1e3)
            assert float(az) == pytest.approx(launch.azimuth_rad, abs=1e-3)
        else:
            miss, _, _ = geodesic_inverse(
                float(lat), float(lon), launch.impact_lat_rad, launch.impact_lon_rad
            )
            assert float(miss) < 1e3
        assert traj.launch_t_ns == launch.launch_t_ns


def test_korea_sees_the_salvo_tens_of_seconds_before_japan(run) -> None:
    """Measured: KOR (Green Pine North) ~23 s after lift-off, JPN (J/FPS-5) ~65 s."""
    firsts = first_detections(run)
    for missile in ("srbm-1", "srbm-2", "srbm-3"):
        launch_t = next(t.launch_t_ns for t in run.trajectories if t.missile_id == missile)
        kor = (firsts[missile]["KOR"][0] - launch_t) / 1e9
        jpn = (firsts[missile]["JPN"][0] - launch_t) / 1e9
        assert kor < 35.0
        assert jpn - kor > 20.0
        assert firsts[missile]["KOR"][1].startswith("KOR-")


def test_the_irbm_overflies_northern_japan(run) -> None:
    traj = next(t for t in run.trajectories if t.missile_id == "irbm-1")
    lla = ecef_to_geodetic(traj.r_ecef_m)
    lon_deg = [math.degrees(x) for x in lla[:, 1]]
    i = min(range(len(lon_deg)), key=lambda k: abs(lon_deg[k] - 140.7))  # Aomori's longitude
    assert 40.5 < math.degrees(float(lla[i, 0])) < 42.0
    assert float(lla[i, 2]) > 500e3  # far above Japan, in midcourse


def test_jsonl_of_a_real_run_parses(run) -> None:
    buf = io.StringIO()
    n = write_jsonl(run, buf)
    lines = buf.getvalue().splitlines()
    assert n == len(lines)
    objs = [json.loads(line) for line in lines]
    dets = [o for o in objs if o["type"] == "detection"]
    assert len(dets) == sum(len(d) for d in run.detections) > 0
    assert {o["truth_id"] for o in dets} >= {"srbm-1", "srbm-2", "srbm-3", "irbm-1", None}


def test_the_lofted_icbm_is_feasible_and_about_an_hour_long() -> None:
    """The ICBM's lofted 6,000 km apogee over ~1,000 km (public Hwasong-17 figures:
    about 6,000 km and 67-69 minutes) is within its class. Measured: 68 min."""
    sc = load_scenario("korea-japan")
    icbm = next(x for x in sc.launches if x.missile_class == "ICBM")
    traj = design(icbm)
    apogee = float(ecef_to_geodetic(traj.r_ecef_m)[:, 2].max())
    assert apogee == pytest.approx(6_000e3, rel=0.01)
    assert 55 * 60 < (traj.impact_t_ns - traj.launch_t_ns) / 1e9 < 80 * 60
