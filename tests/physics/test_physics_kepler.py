"""The closed-form ballistics of kepler.py against numerical flight, and vice versa."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trilink.geo.wgs84 import GM
from trilink.physics.kepler import (
    free_flight,
    min_energy_burnout_speed,
    min_energy_flight_path_angle,
    min_energy_time_of_flight,
)
from trilink.physics.propagate import ballistic_accel, hermite, propagate_fixed, rk4_step


def _fly_to_radius(
    r0: np.ndarray, v0: np.ndarray, radius: float, h: float = 0.5
) -> tuple[float, np.ndarray]:
    """Point-mass vacuum RK4 until |r| falls back to ``radius``; (time, position)."""
    acc = ballistic_accel(None, j2=False)
    t, r, v = 0.0, r0[None, :], v0[None, :]
    step = np.array([h])
    while True:
        r1, v1 = rk4_step(acc, np.array([t]), r, v, step)
        if np.linalg.norm(r1) < radius and (r1 @ v1.T)[0, 0] < 0.0:
            break
        t, r, v = t + h, r1, v1
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        rm, _ = hermite(r, v, r1, v1, step, np.array([mid]))
        lo, hi = (mid, hi) if np.linalg.norm(rm) > radius else (lo, mid)
    # The Hermite arc locates the crossing; one true RK4 sub-step gives the state there.
    _, r_end, _ = propagate_fixed(acc, t, r, v, lo * h, 1)
    return t + lo * h, r_end[0]


@pytest.mark.parametrize("psi_deg", [2.7, 10.0, 40.0, 90.0])
def test_minimum_energy_ellipse_of_the_textbook_is_what_the_integrator_flies(
    psi_deg: float,
) -> None:
    # Bate, Mueller & White §6.2: from radius r with gamma = (pi - Psi)/4 and the speed
    # of the free-flight range equation, a vacuum point-mass body returns to radius r after a central angle
    # Psi, in the Lagrange minimum-energy time. Tolerances are the RK4 error at 0.5 s.
    psi = math.radians(psi_deg)
    r = 6_471_000.0
    gamma = (math.pi - psi) / 4.0
    speed = float(min_energy_burnout_speed(r, psi))
    r0 = np.array([r, 0.0, 0.0])
    v0 = speed * np.array([math.sin(gamma), math.cos(gamma), 0.0])
    tof, r_end = _fly_to_radius(r0, v0, r)
    angle = math.atan2(r_end[1], r_end[0]) % (2 * math.pi)
    assert angle == pytest.approx(psi, rel=1e-8)
    assert tof == pytest.approx(float(min_energy_time_of_flight(r, r, psi)), rel=1e-9)
    # and the general flight-path-angle rule reduces to (pi - Psi)/4 for equal radii
    assert float(min_energy_flight_path_angle(r0, r_end)[0]) == pytest.approx(gamma, abs=1e-8)


def test_minimum_energy_speed_is_the_vis_viva_of_the_minimum_energy_ellipse() -> None:
    # Lambert minimum-energy ellipse: a = s/2 with s the semi-perimeter of the triangle.
    for psi in (0.1, 0.7, 1.5, 2.5):
        r = 6.5e6
        c = 2 * r * math.sin(psi / 2)
        a = (2 * r + c) / 4
        assert float(min_energy_burnout_speed(r, psi)) == pytest.approx(
            math.sqrt(GM * (2 / r - 1 / a)), rel=1e-12
        )


def test_minimum_energy_is_the_minimum() -> None:
    # Among flight-path angles, the one of the formula needs the least speed for Psi.
    r, psi = 6.45e6, 0.8
    best = float(min_energy_burnout_speed(r, psi))

    def speed_for(gamma: float) -> float:
        # Free-flight range equation (BMW §6.2) solved for nu = v^2 r / mu at fixed gamma, Psi.
        cg = math.cos(gamma)
        return math.sqrt((1 - math.cos(psi)) / (cg * cg - cg * math.cos(gamma + psi)) * GM / r)

    assert speed_for((math.pi - psi) / 4) == pytest.approx(best, rel=1e-12)
    for gamma in np.radians([10, 20, 25, 30, 40, 50, 60]):
        assert speed_for(gamma) > best


@pytest.mark.parametrize("gamma_deg", [15.0, 35.0, 60.0, 85.0])
def test_free_flight_matches_integration(gamma_deg: float) -> None:
    # A conic from 100 km up at 5 km/s to the sphere of 6,371 km.
    g = math.radians(gamma_deg)
    r0 = np.array([6_471_000.0, 0.0, 0.0])
    v0 = 5000.0 * np.array([math.sin(g), 0.6 * math.cos(g), 0.8 * math.cos(g)])
    ff = free_flight(r0, v0, 6_371_000.0)
    tof, r_end = _fly_to_radius(r0, v0, 6_371_000.0)
    assert ff.valid[0]
    assert ff.tof_s[0] == pytest.approx(tof, rel=1e-9)
    assert np.linalg.norm(ff.r_impact[0] - r_end) < 1e-2
    # Energy and angular momentum fix the apogee radius a (1 + e).
    eps = 0.5 * v0 @ v0 - GM / np.linalg.norm(r0)
    a = -GM / (2 * eps)
    h = np.linalg.norm(np.cross(r0, v0))
    e = math.sqrt(1 - h * h / (GM * a))
    assert ff.r_apogee_m[0] == pytest.approx(a * (1 + e), rel=1e-12)


def test_free_flight_of_an_orbit_is_not_valid() -> None:
    r0 = np.array([6_771_000.0, 0.0, 0.0])
    v0 = np.array([0.0, math.sqrt(GM / 6_771_000.0), 0.0])  # circular at 400 km
    assert not free_flight(r0, v0, 6_371_000.0).valid[0]
