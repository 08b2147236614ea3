"""Authority tests for geo: against PROJ (pyproj), an independent implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pyproj import Geod, Transformer

from trilink.geo import (
    aer_to_ecef,
    earth_rotation_angle,
    ecef_to_aer,
    ecef_to_eci,
    ecef_to_enu,
    ecef_to_geodetic,
    eci_to_ecef,
    enu_to_ecef,
    geodesic_direct,
    geodesic_inverse,
    geodetic_to_ecef,
)
from trilink.geo.wgs84 import OMEGA

MM = 1e-3
_TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
_TO_ENU_TEMPLATE = "+proj=topocentric +ellps=WGS84 +lat_0={lat} +lon_0={lon} +h_0={h}"


@pytest.fixture(scope="module")
def random_lla() -> np.ndarray:
    rng = np.random.default_rng(42)
    n = 2000
    lat = rng.uniform(-90, 90, n)
    lat[:4] = [90.0, -90.0, 0.0, 1e-12]  # poles and equator
    lon = rng.uniform(-180, 180, n)
    h = rng.uniform(-10e3, 40e6, n)  # below the ellipsoid to beyond GEO
    return np.stack([lat, lon, h], axis=-1)


def test_geodetic_to_ecef_matches_proj(random_lla: np.ndarray) -> None:
    x, y, z = _TO_ECEF.transform(random_lla[:, 1], random_lla[:, 0], random_lla[:, 2])
    lla = np.column_stack(
        [np.radians(random_lla[:, 0]), np.radians(random_lla[:, 1]), random_lla[:, 2]]
    )
    assert np.abs(geodetic_to_ecef(lla) - np.column_stack([x, y, z])).max() < 1 * MM


def test_ecef_to_geodetic_matches_proj(random_lla: np.ndarray) -> None:
    x, y, z = _TO_ECEF.transform(random_lla[:, 1], random_lla[:, 0], random_lla[:, 2])
    lla = ecef_to_geodetic(np.column_stack([x, y, z]))
    lat_err_m = np.abs(np.degrees(lla[:, 0]) - random_lla[:, 0]) * 111e3
    lon_err = np.abs((np.degrees(lla[:, 1]) - random_lla[:, 1] + 180) % 360 - 180)
    lon_err_m = lon_err * 111e3 * np.cos(np.radians(random_lla[:, 0]))
    assert lat_err_m.max() < 1 * MM
    assert lon_err_m.max() < 1 * MM
    assert np.abs(lla[:, 2] - random_lla[:, 2]).max() < 1 * MM


def test_ecef_to_geodetic_at_the_centre_is_finite() -> None:
    lla = ecef_to_geodetic(np.array([0.0, 0.0, 1.0]))
    assert np.all(np.isfinite(lla))


def test_enu_matches_proj_topocentric() -> None:
    site = (36.5, 126.8, 120.0)  # a Green Pine site (deg, deg, m)
    t = Transformer.from_pipeline(_TO_ENU_TEMPLATE.format(lat=site[0], lon=site[1], h=site[2]))
    rng = np.random.default_rng(1)
    targets = geodetic_to_ecef(
        np.column_stack(
            [
                np.radians(rng.uniform(30, 45, 500)),
                np.radians(rng.uniform(120, 140, 500)),
                rng.uniform(0, 2e6, 500),
            ]
        )
    )
    e, n, u = t.transform(targets[:, 0], targets[:, 1], targets[:, 2])
    mine = ecef_to_enu(targets, np.array([math.radians(site[0]), math.radians(site[1]), site[2]]))
    assert np.abs(mine - np.column_stack([e, n, u])).max() < 1 * MM


def test_aer_against_known_geometry() -> None:
    site = np.array([0.0, 0.0, 0.0])
    # A point 100 km straight up is at elevation 90 deg, range 100 km.
    up = geodetic_to_ecef(np.array([0.0, 0.0, 100e3]))
    rng, _, el = ecef_to_aer(up, site)
    assert rng == pytest.approx(100e3, abs=1 * MM)
    assert el == pytest.approx(math.pi / 2)
    # Due east on the equator: azimuth 90 deg; due north: 0.
    east = geodetic_to_ecef(np.array([0.0, math.radians(1.0), 0.0]))
    north = geodetic_to_ecef(np.array([math.radians(1.0), 0.0, 0.0]))
    assert ecef_to_aer(east, site)[1] == pytest.approx(math.pi / 2)
    assert ecef_to_aer(north, site)[1] == pytest.approx(0.0, abs=1e-12)


finite = st.floats(-1e7, 1e7, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(arrays(float, (5, 3), elements=finite))
def test_aer_and_enu_round_trip_without_mutating_inputs(points: np.ndarray) -> None:
    site = np.array([math.radians(38.1), math.radians(138.4), 50.0])
    ecef = geodetic_to_ecef(site) + points
    before = ecef.copy()
    site_before = site.copy()
    back = aer_to_ecef(ecef_to_aer(ecef, site), site)
    assert np.abs(back - ecef).max() < 1e-6 * max(1.0, np.abs(points).max())
    back2 = enu_to_ecef(ecef_to_enu(ecef, site), site)
    assert np.abs(back2 - ecef).max() < 1e-6 * max(1.0, np.abs(points).max())
    np.testing.assert_array_equal(ecef, before)
    np.testing.assert_array_equal(site, site_before)


def test_broadcasting_over_leading_axes() -> None:
    lla = np.zeros((4, 5, 3))
    lla[..., 0] = np.radians(np.linspace(-80, 80, 4))[:, None]
    lla[..., 1] = np.radians(np.linspace(-170, 170, 5))[None, :]
    assert geodetic_to_ecef(lla).shape == (4, 5, 3)
    assert ecef_to_geodetic(geodetic_to_ecef(lla)).shape == (4, 5, 3)


def test_earth_rotation_angle_reference_values() -> None:
    # At J2000.0 (2000-01-01T12:00 TT) ERA = 2 pi * 0.7790572732640 (IERS 2010 eq. 5.15).
    t_j2000_ns = 946_727_935_816_000_000
    assert earth_rotation_angle(t_j2000_ns) == pytest.approx(
        2 * math.pi * 0.779_057_273_264, abs=1e-12
    )
    # One sidereal rotation later (86164.0989 s) the angle returns to within ~1e-7 rad.
    sidereal_ns = round(86_164.098_903_691 * 1e9)
    d = earth_rotation_angle(t_j2000_ns + sidereal_ns) - earth_rotation_angle(t_j2000_ns)
    assert abs((d + math.pi) % (2 * math.pi) - math.pi) < 1e-7
    # The mean rate equals WGS84's omega to 1e-8 relative.
    rate = (
        earth_rotation_angle(t_j2000_ns + 1_000_000_000) - earth_rotation_angle(t_j2000_ns)
    ) / 1.0
    assert rate == pytest.approx(OMEGA, rel=1e-7)


def test_eci_round_trip_and_velocity_transport() -> None:
    t = np.int64(1_772_323_200_000_000_000)  # 2026-03-01
    r = geodetic_to_ecef(np.array([math.radians(39.0), math.radians(125.7), 0.0]))
    r_eci, v_eci = ecef_to_eci(r, t, np.zeros(3))
    # A point fixed on the Earth moves at omega x r in the inertial frame.
    assert np.linalg.norm(v_eci) == pytest.approx(OMEGA * np.hypot(r[0], r[1]), rel=1e-12)
    r_back, v_back = eci_to_ecef(r_eci, t, v_eci)
    assert np.abs(r_back - r).max() < 1e-6
    assert np.abs(v_back).max() < 1e-9


def test_geodesic_matches_proj_geod() -> None:
    geod = Geod(ellps="WGS84")
    pairs = [
        ((39.17, 127.48), (40.5, 134.0)),
        ((39.2, 125.67), (41.0, 170.0)),
        ((-33.9, 151.2), (51.5, -0.1)),
    ]
    for (a1, o1), (a2, o2) in pairs:
        az12, _, dist = geod.inv(o1, a1, o2, a2)
        s, az1, _ = geodesic_inverse(
            math.radians(a1), math.radians(o1), math.radians(a2), math.radians(o2)
        )
        assert float(s) == pytest.approx(dist, abs=1 * MM)
        assert math.degrees(float(az1)) == pytest.approx(az12, abs=1e-9)
        lat2, lon2 = geodesic_direct(math.radians(a1), math.radians(o1), az1, s)
        assert math.degrees(float(lat2)) == pytest.approx(a2, abs=1e-9)
        assert math.degrees(float(lon2)) == pytest.approx(o2, abs=1e-9)


def test_vectorised_direct_geodesic_matches_karney() -> None:
    from trilink.geo.geodesic import geodesic_direct_karney

    rng = np.random.default_rng(7)
    n = 400
    lat = np.radians(rng.uniform(-85, 85, n))
    lon = np.radians(rng.uniform(-180, 180, n))
    az = np.radians(rng.uniform(0, 360, n))
    dist = np.concatenate([rng.uniform(0, 2_000e3, n // 2), rng.uniform(2_000e3, 15_000e3, n // 2)])
    lat2, lon2 = geodesic_direct(lat, lon, az, dist)
    ref_lat, ref_lon = geodesic_direct_karney(lat, lon, az, dist)
    s, _, _ = geodesic_inverse(lat2, lon2, ref_lat, ref_lon)
    assert np.max(s) < 1 * MM
    assert geodesic_direct(lat[:3], lon[:3], az[:3], np.zeros(3))[0] == pytest.approx(
        lat[:3], abs=1e-15
    )
