"""Line of sight over a 4/3 Earth, and the measurement models' analytic Jacobians."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trilink.geo import (
    apparent_elevation,
    az_el_jacobian,
    boresight_frame,
    enu_rotation,
    geodesic_direct,
    geodetic_to_ecef,
    horizon_height,
    in_line_of_sight,
    range_az_el,
    range_az_el_jacobian,
)
from trilink.geo.horizon import gaussian_radius
from trilink.geo.wgs84 import K_REFRACTION

KM = 1e3


@pytest.mark.parametrize(("d_km", "expected_km"), [(300, 5.3), (900, 48.0)])
def test_horizon_height_follows_d2_over_2kR(d_km: float, expected_km: float) -> None:
    # FACTS.md: ~5 km at 300 km, ~48 km at 900 km.
    h = horizon_height(d_km * KM)
    rule = (d_km * KM) ** 2 / (2 * K_REFRACTION * gaussian_radius(0.0))
    assert h == pytest.approx(expected_km * KM, rel=0.02)
    assert h == pytest.approx(rule, rel=0.01)  # the rule is the small-angle form


def test_first_visibility_height_over_the_ellipsoid() -> None:
    site = np.array([math.radians(36.5), math.radians(126.8), 0.0])
    for d_km in (200.0, 500.0, 900.0):
        lat, lon = geodesic_direct(site[0], site[1], math.radians(20.0), d_km * KM)
        heights = np.linspace(0.0, 80 * KM, 8001)
        pts = geodetic_to_ecef(
            np.column_stack([np.full_like(heights, lat), np.full_like(heights, lon), heights])
        )
        visible = in_line_of_sight(site, pts)
        first = heights[np.argmax(visible)]
        expected = (d_km * KM) ** 2 / (2 * K_REFRACTION * gaussian_radius(site[0]))
        assert first == pytest.approx(expected, rel=0.02, abs=50.0)
        assert not visible[0]


def test_geometric_elevation_with_k_equal_one_matches_enu_elevation_nearby() -> None:
    site = np.array([math.radians(35.0), math.radians(135.0), 0.0])
    target = geodetic_to_ecef(np.array([math.radians(35.05), math.radians(135.0), 5 * KM]))
    rng_az_el = range_az_el(target, geodetic_to_ecef(site), enu_rotation(site[0], site[1]))
    assert float(apparent_elevation(site, target, k=1.0)) == pytest.approx(rng_az_el[2], abs=2e-3)


def _numeric_jacobian(f, x: np.ndarray, step: float) -> np.ndarray:
    cols = [(f(x + step * e) - f(x - step * e)) / (2 * step) for e in np.eye(3)]
    return np.stack(cols, axis=-1)


def test_range_az_el_jacobian_is_the_derivative() -> None:
    site = np.array([math.radians(36.8), math.radians(127.6), 100.0])
    s = geodetic_to_ecef(site)
    rot = enu_rotation(site[0], site[1])
    x = geodetic_to_ecef(np.array([math.radians(39.5), math.radians(127.9), 90 * KM]))
    jac = range_az_el_jacobian(x, s, rot)
    num = _numeric_jacobian(lambda p: range_az_el(p, s, rot), x, 1.0)
    np.testing.assert_allclose(jac, num, rtol=1e-6, atol=1e-12)


def test_az_el_jacobian_for_a_staring_sensor() -> None:
    sat = np.array(
        [42_164e3 * math.cos(math.radians(130.0)), 42_164e3 * math.sin(math.radians(130.0)), 0.0]
    )
    aim = geodetic_to_ecef(np.array([math.radians(39.0), math.radians(127.0), 0.0]))
    rot = boresight_frame(sat, aim)
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    x = geodetic_to_ecef(np.array([math.radians(39.3), math.radians(127.5), 40 * KM]))
    angles = range_az_el(x, sat, rot)[1:]
    assert np.all(np.abs(angles) < math.radians(2.0))  # near boresight: far from singularities
    jac = az_el_jacobian(x, sat, rot)
    num = _numeric_jacobian(lambda p: range_az_el(p, sat, rot)[1:], x, 10.0)
    np.testing.assert_allclose(jac, num, rtol=1e-5, atol=1e-15)
