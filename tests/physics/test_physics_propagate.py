"""The integrator: conservation laws, the ground event, frames, vectorisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo.frames import ecef_to_eci, ecef_to_geodetic, eci_to_ecef, geodetic_to_ecef
from trilink.geo.wgs84 import GM, J2, A
from trilink.physics.propagate import (
    ballistic_accel,
    coast_to_ground,
    ecef_to_inertial,
    inertial_to_ecef,
    propagate_fixed,
)


def _burnout(
    alt_m: float, speed: float, gamma_deg: float, lat_deg: float = 35.0
) -> tuple[np.ndarray, np.ndarray]:
    """An inertial burnout state over (lat, 0) heading north-east."""
    lat = math.radians(lat_deg)
    r = geodetic_to_ecef([lat, 0.0, alt_m])
    up = r / np.linalg.norm(r)
    east = np.array([0.0, 1.0, 0.0])
    north = np.cross(up, east)
    horiz = (east + north) / math.sqrt(2.0)
    g = math.radians(gamma_deg)
    return r[None, :], (speed * (math.sin(g) * up + math.cos(g) * horiz))[None, :]


def _energy_point_mass(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    return 0.5 * np.sum(v * v, axis=-1) - GM / np.linalg.norm(r, axis=-1)


def _energy_j2(r: np.ndarray, v: np.ndarray) -> np.ndarray:
    # U = -mu/r [1 - J2 (a/r)^2 P2(sin phi)], P2(x) = (3x^2 - 1)/2 (Vallado eq. 8-27).
    rn = np.linalg.norm(r, axis=-1)
    s = r[..., 2] / rn
    u = -GM / rn * (1.0 - J2 * (A / rn) ** 2 * 0.5 * (3.0 * s * s - 1.0))
    return 0.5 * np.sum(v * v, axis=-1) + u


def test_point_mass_vacuum_coast_conserves_energy_to_1e_9() -> None:
    # The coast of a 10,000 km shot with the regime step rule the designer uses.
    r0, v0 = _burnout(300e3, 7000.0, 25.0)
    res = coast_to_ground(0.0, r0, v0, beta_kg_m2=None, j2=False)
    assert res.hit[0]
    e = _energy_point_mass(res.r[:, 0], res.v[:, 0])
    assert np.max(np.abs(e / e[0] - 1.0)) < 1e-9
    h = np.cross(res.r[:, 0], res.v[:, 0])  # angular momentum, too
    assert np.max(np.linalg.norm(h - h[0], axis=-1)) / np.linalg.norm(h[0]) < 1e-9


def test_fixed_step_rk4_energy_drift_and_order() -> None:
    # 2,000 s of point-mass vacuum flight: the drift falls as h^4 (RK4 is fourth order).
    r0, v0 = _burnout(200e3, 6500.0, 40.0)
    acc = ballistic_accel(None, j2=False)
    drifts = []
    for h in (4.0, 2.0, 1.0):
        _, r, v = propagate_fixed(acc, 0.0, r0, v0, h, int(2000 / h))
        drifts.append(abs(_energy_point_mass(r, v)[0] / _energy_point_mass(r0, v0)[0] - 1.0))
    assert drifts[-1] < 1e-11
    assert 12.0 < drifts[0] / drifts[1] < 20.0  # 2^4 = 16 (measured 15.9)


def test_j2_vacuum_coast_conserves_energy_and_polar_angular_momentum() -> None:
    # J2 is static and axisymmetric in the inertial frame: E = v^2/2 + U and h_z are
    # integrals of the motion.
    r0, v0 = _burnout(500e3, 7300.0, 60.0, lat_deg=50.0)
    res = coast_to_ground(0.0, r0, v0, beta_kg_m2=None, j2=True)
    e = _energy_j2(res.r[:, 0], res.v[:, 0])
    assert np.max(np.abs(e / e[0] - 1.0)) < 1e-9
    hz = np.cross(res.r[:, 0], res.v[:, 0])[:, 2]
    assert np.max(np.abs(hz / hz[0] - 1.0)) < 1e-9


def test_drag_only_ever_removes_energy() -> None:
    r0, v0 = _burnout(80e3, 2500.0, 30.0)
    res = coast_to_ground(0.0, r0, v0, beta_kg_m2=np.array([3000.0]), j2=True)
    e = _energy_j2(res.r[:, 0], res.v[:, 0])
    assert np.all(np.diff(e) <= 1e-6 * abs(e[0]))
    assert e[-1] < e[0] - 1e5  # a real loss: the body arrives far slower than it would in vacuum


def test_ground_event_lands_on_the_ellipsoid() -> None:
    r0, v0 = _burnout(150e3, 5000.0, 35.0)
    res = coast_to_ground(0.0, r0, v0, beta_kg_m2=np.array([5000.0]))
    h = ecef_to_geodetic(res.r_hit)[:, 2]
    assert abs(h[0]) < 1e-3
    assert res.t[-1, 0] == res.t_hit[0]


def test_bodies_in_a_batch_fly_as_they_would_alone() -> None:
    states = [
        _burnout(100e3, 3000.0, 45.0),
        _burnout(400e3, 7000.0, 70.0),
        _burnout(50e3, 2000.0, 20.0),
    ]
    r0 = np.vstack([s[0] for s in states])
    v0 = np.vstack([s[1] for s in states])
    beta = np.array([3000.0, 8000.0, 5000.0])
    batch = coast_to_ground(np.array([10.0, 0.0, 5.0]), r0, v0, beta_kg_m2=beta)
    for i in range(3):
        alone = coast_to_ground(
            [10.0, 0.0, 5.0][i], r0[i : i + 1], v0[i : i + 1], beta_kg_m2=beta[i : i + 1]
        )
        assert batch.t_hit[i] == pytest.approx(alone.t_hit[0], abs=1e-9)
        assert np.allclose(batch.r_hit[i], alone.r_hit[0], atol=1e-6)


def test_step_rule_is_accurate_against_a_fine_reference() -> None:
    # Re-entry of an RV at 7 km/s: the regime rule against fixed 0.01 s steps.
    r0, v0 = _burnout(120e3, 7000.0, -30.0)
    coarse = coast_to_ground(0.0, r0, v0, beta_kg_m2=np.array([6000.0]))
    acc = ballistic_accel(np.array([6000.0]))
    t, r, v = 0.0, r0, v0
    while True:  # fixed 0.01 s RK4 until the step that crosses the ground
        _, r1, v1 = propagate_fixed(acc, t, r, v, 0.01, 1)
        if ecef_to_geodetic(r1)[0, 2] <= 0.0:
            break
        t, r, v = t + 0.01, r1, v1
    assert coarse.t_hit[0] == pytest.approx(t, abs=0.011)
    assert np.linalg.norm(coarse.r_hit[0] - r[0]) < 100.0  # < 0.01 s of flight at ~7 km/s


@settings(max_examples=50, deadline=None)
@given(
    t=st.floats(0.0, 7_200.0),
    lat=st.floats(-1.5, 1.5),
    lon=st.floats(-3.1, 3.1),
    h=st.floats(0.0, 2e6),
    vel=st.lists(st.floats(-8000.0, 8000.0), min_size=3, max_size=3),
)
def test_inertial_frame_round_trip_and_agreement_with_geo(
    t: float, lat: float, lon: float, h: float, vel: list[float]
) -> None:
    r = geodetic_to_ecef([lat, lon, h])
    v = np.array(vel)
    ri, vi = ecef_to_inertial(t, r, v)
    r2, v2 = inertial_to_ecef(t, ri, vi)
    assert np.allclose(r2, r, atol=1e-6) and np.allclose(v2, v, atol=1e-9)
    # The launch-aligned frame is geo's ECI turned by a constant angle about z. geo's
    # Earth-rotation angle runs at the IERS rate (7.29211515e-5 rad/s), the dynamics at
    # WGS84's rounded 7.292115e-5: 1.5e-12 rad/s, < 0.1 m after two hours at 2,000 km.
    t0_ns = 1_700_000_000_000_000_000
    t_ns = t0_ns + round(t * 1e9)
    ge_r, ge_v = ecef_to_eci(r, t_ns, v)
    base_r, base_v = ecef_to_eci(ri, t0_ns, vi - np.cross([0, 0, 7.292115e-5], ri))
    assert np.allclose(ge_r, base_r, atol=0.1)
    assert np.allclose(ge_v, base_v, atol=1e-4)
    assert np.allclose(eci_to_ecef(ge_r, t_ns), r, atol=1e-3)
