"""Gravity (J2) and the US76 atmosphere against published reference values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trilink.geo.frames import geodetic_to_ecef
from trilink.geo.wgs84 import E2
from trilink.physics.atmosphere import density, density_fast, pressure, pressure_fast, temperature
from trilink.physics.gravity import gravity_j2, gravity_point_mass, rotating_frame_acceleration
from trilink.physics.propagate import drag_acceleration, unpowered_acceleration

# WGS84 normal gravity (NIMA TR8350.2, eq. 4-1 and table 3.4): Somigliana's closed form.
GAMMA_E = 9.7803253359  # at the equator [m s^-2]
GAMMA_P = 9.8321849378  # at the poles
K_SOMIGLIANA = 0.00193185265241


def normal_gravity(lat_rad: float) -> float:
    s2 = math.sin(lat_rad) ** 2
    return GAMMA_E * (1.0 + K_SOMIGLIANA * s2) / math.sqrt(1.0 - E2 * s2)


@pytest.mark.parametrize("lat_deg", [0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0])
def test_j2_surface_gravity_matches_wgs84_normal_gravity(lat_deg: float) -> None:
    # Gravitation to J2 plus the centrifugal term, on the ellipsoid, against the normal
    # gravity of the WGS84 level ellipsoid. The level ellipsoid's field also holds J4,
    # J6, ... (J4 = -2.37e-6): truncating at J2 leaves a few 1e-5 relative at most
    # (measured: 4.5e-6 at the equator, 1.2e-5 at the pole), so 2e-5 is the bound.
    r = geodetic_to_ecef([math.radians(lat_deg), 0.3, 0.0])
    g = gravity_j2(r) + rotating_frame_acceleration(r, np.zeros(3))
    assert np.linalg.norm(g) == pytest.approx(normal_gravity(math.radians(lat_deg)), rel=2e-5)


def test_normal_gravity_endpoints() -> None:
    assert normal_gravity(0.0) == pytest.approx(GAMMA_E, abs=1e-10)
    assert normal_gravity(math.pi / 2) == pytest.approx(GAMMA_P, abs=1e-9)


def test_gravity_points_down_the_normal_within_the_deflection_of_the_ellipsoid() -> None:
    # Effective gravity on a level ellipsoid is normal to it: the J2 model's direction
    # must match the geodetic vertical to within the J4 truncation (< 1 arcsecond).
    lat = math.radians(40.0)
    r = geodetic_to_ecef([lat, 1.0, 0.0])
    g = gravity_j2(r) + rotating_frame_acceleration(r, np.zeros(3))
    up = np.array([math.cos(lat) * math.cos(1.0), math.cos(lat) * math.sin(1.0), math.sin(lat)])
    angle = math.acos(-g @ up / np.linalg.norm(g))
    assert angle < math.radians(1.0 / 3600.0)


def test_fused_acceleration_equals_the_reference_terms() -> None:
    rng = np.random.default_rng(1)
    lla = np.column_stack(
        [rng.uniform(-1.5, 1.5, 50), rng.uniform(-3, 3, 50), rng.uniform(0, 200e3, 50)]
    )
    r = geodetic_to_ecef(lla)
    v = rng.normal(0.0, 3000.0, (50, 3))
    beta = rng.uniform(1000.0, 10000.0, 50)
    ref = gravity_j2(r) + drag_acceleration(r, v, beta)
    fused = unpowered_acceleration(r, v, 1.0 / beta)
    # The fused pass uses the 10-m density table (< 3e-5 relative) for the drag term.
    assert np.allclose(
        fused, ref, rtol=0, atol=3e-5 * np.abs(drag_acceleration(r, v, beta)).max() + 1e-12
    )
    assert np.allclose(unpowered_acceleration(r, v, None), gravity_j2(r), rtol=1e-14, atol=0)
    assert np.allclose(
        unpowered_acceleration(r, v, None, j2=False), gravity_point_mass(r), rtol=1e-14
    )


# U.S. Standard Atmosphere 1976, Table I (geometric height): density, pressure, temperature.
US76 = [
    # h [m], rho [kg m^-3], p [Pa], T [K]
    (0.0, 1.2250, 101_325.0, 288.150),
    (10_000.0, 4.1351e-1, 2.6500e4, 223.252),
    (20_000.0, 8.8910e-2, 5.5293e3, 216.650),
    (30_000.0, 1.8410e-2, 1.1970e3, 226.509),
    (40_000.0, 3.9957e-3, 2.8714e2, 250.350),
    (50_000.0, 1.0269e-3, 7.9779e1, 270.650),
    (60_000.0, 3.0968e-4, 2.1959e1, 247.021),
    (70_000.0, 8.2829e-5, 5.2209e0, 219.585),
    (80_000.0, 1.8458e-5, 1.0525e0, 198.639),
]


@pytest.mark.parametrize(("h", "rho", "p", "t"), US76)
def test_us76_table(h: float, rho: float, p: float, t: float) -> None:
    # The table prints five significant digits.
    assert density(h) == pytest.approx(rho, rel=1e-4)
    assert pressure(h) == pytest.approx(p, rel=1e-4)
    assert temperature(h) == pytest.approx(t, abs=1e-3)


def test_us76_upper_atmosphere_is_continuous_monotonic_and_ends() -> None:
    assert density(85_999.0) == pytest.approx(density(86_001.0), rel=1e-3)
    assert density(86_000.0) == pytest.approx(6.958e-6, rel=1e-3)  # Table I at 86 km
    h = np.linspace(0.0, 999_000.0, 20_000)
    assert np.all(np.diff(density(h)) < 0.0)
    assert np.all(np.diff(pressure(h)) < 0.0)
    assert density(1_000_001.0) == 0.0
    assert density(100_000.0) == pytest.approx(5.604e-7, rel=1e-3)


def test_tabulated_density_and_pressure_follow_the_formulas() -> None:
    h = np.random.default_rng(2).uniform(-1_000.0, 1_000_000.0, 200_000)
    assert np.max(np.abs(density_fast(h) / density(h) - 1.0)) < 3e-5
    assert np.max(np.abs(pressure_fast(h) / pressure(h) - 1.0)) < 1e-6
