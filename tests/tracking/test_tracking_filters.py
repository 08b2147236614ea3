"""EKF/IMM batching, covariance invariants, angle wrapping and angle-only updates."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.geo import boresight_frame, enu_rotation, geodetic_to_ecef, range_az_el
from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import NX
from trilink.tracking.filters import Measurement, is_positive_definite, update
from trilink.tracking.imm import combine, imm_predict, imm_update
from trilink.tracking.initiation import initiate

DEG = np.pi / 180.0
SITE = np.array([36.0 * DEG, 128.0 * DEG, 0.0])
RADAR = Measurement("radar", geodetic_to_ecef(SITE), enu_rotation(SITE[0], SITE[1]))
R3 = np.diag([30.0**2, 1e-3**2, 1e-3**2])


def _targets(rng: np.random.Generator, n: int) -> np.ndarray:
    """n targets 200-700 km from the radar, 20-400 km up, moving 1-4 km/s."""
    lat = SITE[0] + rng.uniform(1.5, 5.0, n) * DEG
    lon = SITE[1] + rng.uniform(-3.0, 3.0, n) * DEG
    r = geodetic_to_ecef(np.stack([lat, lon, rng.uniform(20e3, 400e3, n)], -1))
    v = rng.normal(0.0, 1.0, (n, 3))
    v *= (rng.uniform(1e3, 4e3, n) / np.linalg.norm(v, axis=1))[:, None]
    return np.concatenate([r, v], axis=1)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), dt=st.floats(0.05, 20.0), seed=st.integers(0, 2**31 - 1))
def test_imm_cycle_shapes_and_spd(n, dt, seed):
    rng = np.random.default_rng(seed)
    cfg = TrackerConfig()
    truth = _targets(rng, n)
    R = np.broadcast_to(R3, (n, 3, 3)).copy()
    z = range_az_el(truth[:, 0:3], RADAR.sensor_ecef, RADAR.rot) + rng.normal(
        0, [30, 1e-3, 1e-3], (n, 3)
    )
    x, P, mu = initiate(z, R, RADAR, cfg)
    assert x.shape == (n, 2, NX) and P.shape == (n, 2, NX, NX) and mu.shape == (n, 2)
    for _ in range(3):
        x, P, mu = imm_predict(x, P, mu, dt, cfg)
        z = range_az_el(x[:, 0, 0:3], RADAR.sensor_ecef, RADAR.rot) + rng.normal(
            0, [30, 1e-3, 1e-3], (n, 3)
        )
        x, P, mu, ll = imm_update(x, P, mu, z, R, RADAR)
        assert x.shape == (n, 2, NX) and P.shape == (n, 2, NX, NX) and ll.shape == (n,)
        np.testing.assert_allclose(mu.sum(axis=1), 1.0)
        np.testing.assert_array_equal(P, np.swapaxes(P, -1, -2))
        assert is_positive_definite(P.reshape(-1, NX, NX)).all()
    xc, Pc = combine(x, P, mu)
    assert xc.shape == (n, NX) and Pc.shape == (n, NX, NX)
    assert is_positive_definite(Pc).all()


def test_predict_and_update_do_not_mutate_inputs():
    rng = np.random.default_rng(0)
    cfg = TrackerConfig()
    truth = _targets(rng, 4)
    z = range_az_el(truth[:, 0:3], RADAR.sensor_ecef, RADAR.rot)
    R = np.broadcast_to(R3, (4, 3, 3)).copy()
    x, P, mu = initiate(z, R, RADAR, cfg)
    copies = [a.copy() for a in (x, P, mu, z, R)]
    imm_predict(x, P, mu, 5.0, cfg)
    imm_update(x, P, mu, z, R, RADAR)
    update(x[:, 0], P[:, 0], z, R, RADAR)
    for a, b in zip((x, P, mu, z, R), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_azimuth_innovation_is_wrapped():
    # A target due north: measured azimuth just west of north, predicted just east.
    site = RADAR.sensor_ecef
    north = RADAR.rot[1]
    up = RADAR.rot[2]
    target = site + 300e3 * north + 50e3 * up
    zhat = range_az_el(target, site, RADAR.rot)
    z = zhat.copy()
    z[1] = zhat[1] - 2e-3 + 2 * np.pi  # the same direction, written 2 pi away
    x = np.zeros((1, NX))
    x[0, 0:3] = target
    P = np.eye(NX)[None] * 1e6
    x1, _, nis = update(x, P, z[None], R3[None], RADAR)
    assert nis[0] < 10.0  # a 2 mrad residual, not 2 pi
    assert np.linalg.norm(x1[0, 0:3] - target) < 1e3


def test_ir_angle_only_update_shrinks_only_across_the_line_of_sight():
    """A geostationary infrared sensor's angles tighten the two directions across its
    line of sight and leave the range direction as it was."""
    sat = geodetic_to_ecef(np.array([0.0, 128.0 * DEG, 35_786e3]))
    target = geodetic_to_ecef(np.array([39.0 * DEG, 126.0 * DEG, 20e3]))
    ir = Measurement("ir", sat, boresight_frame(sat, target))
    x = np.zeros((1, NX))
    x[0, 0:3] = target
    x[0, 3:6] = [0.0, 0.0, 500.0]
    P = np.eye(NX)[None] * 1.0
    P[0, 0:3, 0:3] = np.eye(3) * 5_000.0**2
    R = np.diag([50e-6**2, 50e-6**2])[None]  # 50 microradians: ~1.9 km at 38,000 km
    z = ir.predict(x)[0]
    _, P1, _ = update(x, P, z, R, ir)
    los = (target - sat) / np.linalg.norm(target - sat)
    a = np.cross(los, [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(los, a)

    def sigma(P_, u):
        return float(np.sqrt(u @ P_[0, 0:3, 0:3] @ u))

    assert abs(sigma(P1, los) - 5_000.0) < 50.0  # along the line of sight: unchanged
    rng_m = np.linalg.norm(target - sat)
    for u in (a, b):
        assert sigma(P1, u) < 1.2 * 50e-6 * rng_m  # across: down to the sensor's accuracy
        assert sigma(P1, u) < 0.5 * sigma(P, u)
