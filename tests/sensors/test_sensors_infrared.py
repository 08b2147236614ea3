"""Geostationary infrared sensor: burning-only, field of regard, Earth blocking, angle noise."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2, kstest, poisson
from sensors_truth import NS, T0_NS, ir_satellite, static_target, vertical_climb

from trilink.geo import az_el, geodetic_to_ecef, wrap_angle
from trilink.geo.wgs84 import DEG, GM, OMEGA, A, B
from trilink.sensors import GEO_RADIUS_M, earth_blocks, infrared_frame, observe_infrared

KM = 1e3


def test_geostationary_radius_and_satellite_position() -> None:
    # A circular orbit of one sidereal day (Kepler's third law): 42,164 km.
    assert GEO_RADIUS_M == pytest.approx(42_164.17 * KM, abs=0.01 * KM)
    assert 2 * np.pi * np.sqrt(GEO_RADIUS_M**3 / GM) == pytest.approx(2 * np.pi / OMEGA)
    sat, rot = infrared_frame(ir_satellite())
    assert sat == pytest.approx(
        GEO_RADIUS_M * np.array([np.cos(130 * DEG), np.sin(130 * DEG), 0.0])
    )
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-15)
    aim = geodetic_to_ecef(np.array([39 * DEG, 127 * DEG, 0.0]))
    np.testing.assert_allclose(az_el(aim, sat, rot), [0.0, 0.0], atol=1e-15)  # boresight


def test_sees_the_plume_only_while_burning() -> None:
    spec = ir_satellite(revisit_s=2.0, min_plume_altitude_m=0.0)  # burning is the only rule
    trj = vertical_climb(39.0, 127.0, 1_000.0, 200.0, burn_s=60.0, missile_id="m")
    det = observe_infrared(spec, [trj], trj.launch_t_ns, trj.impact_t_ns, np.random.default_rng(1))
    tau = (det.t_ns - trj.launch_t_ns) * 1e-9
    assert len(det) in (30, 31)  # every revisit of the 60 s burn, Pd = 1
    assert tau.max() <= 60.0
    assert np.all(det.truth_id == "m")
    assert det.kind == "ir" and det.dim == 2
    assert np.all(np.isnan(det.snr_db))


def test_pd_is_the_per_revisit_detection_probability() -> None:
    spec = ir_satellite(revisit_s=1.0, pd=0.8, min_plume_altitude_m=0.0)  # every scan counts
    trj = vertical_climb(39.0, 127.0, 500.0, 3_000.0, missile_id="m")
    det = observe_infrared(spec, [trj], trj.launch_t_ns, trj.impact_t_ns, np.random.default_rng(2))
    n_scans = 3_000  # 3000 or 3001 scans in the flight with the random phase
    assert binomtest(len(det), n_scans, 0.8).pvalue > 1e-3


def test_angle_noise_matches_the_declared_covariance() -> None:
    spec = ir_satellite(revisit_s=0.05, angle_sigma_rad=30e-6)
    x = [
        geodetic_to_ecef(np.array([la * DEG, lo * DEG, h]))
        for la, lo, h in [(39, 127, 50 * KM), (41.5, 129.5, 300 * KM)]
    ]
    trjs = [static_target(xi, 400.0, burning=True, missile_id=f"s{i}") for i, xi in enumerate(x)]
    det = observe_infrared(spec, trjs, T0_NS, T0_NS + 400 * NS, np.random.default_rng(3))
    sat, rot = infrared_frame(spec)
    truth = np.array([x[int(i[1:])] for i in det.truth_id])
    err = det.z - az_el(truth, sat, rot)
    err[:, 0] = wrap_angle(err[:, 0])
    n = len(err)
    assert n > 15_000
    nees = np.einsum("ni,nij,nj->n", err, np.linalg.inv(det.R), err)
    lo, hi = chi2.ppf([0.005, 0.995], 2 * n) / n
    assert lo <= nees.mean() <= hi
    for c in range(2):
        u = err[:, c] / np.sqrt(det.R[:, c, c])
        assert chi2.ppf(0.0005, n) <= np.sum(u * u) <= chi2.ppf(0.9995, n)
        assert kstest(u, "norm").pvalue > 1e-3
    # Per axis the sigma is the stated one (azimuth within 1% of it this near boresight).
    np.testing.assert_allclose(np.sqrt(det.R[:, 1, 1]), spec.angle_sigma_rad)
    np.testing.assert_allclose(np.sqrt(det.R[:, 0, 0]), spec.angle_sigma_rad, rtol=0.01)


def test_nothing_outside_the_field_of_regard() -> None:
    spec = ir_satellite(field_of_regard_rad=1.0 * DEG)  # ~ 600 km at the stare point
    near = vertical_climb(39.0, 127.0, 1_000.0, 100.0, missile_id="near")
    far = vertical_climb(30.0, 140.0, 1_000.0, 100.0, missile_id="far")
    det = observe_infrared(spec, [near, far], T0_NS, T0_NS + 100 * NS, np.random.default_rng(4))
    assert set(det.truth_id.tolist()) == {"near"}


def _brute_force_blocked(s: np.ndarray, t: np.ndarray, n: int = 20_001) -> tuple[bool, float]:
    """Sample the open segment; blocked if any sample lies inside the ellipsoid."""
    u = np.linspace(0.0, 1.0, n)[1:-1, None]
    p = s + u * (t - s)
    f = (p[:, 0] ** 2 + p[:, 1] ** 2) / A**2 + p[:, 2] ** 2 / B**2
    return bool(f.min() < 1.0), float(f.min())


def test_earth_blocking_agrees_with_a_brute_force_walk_along_the_line() -> None:
    rng = np.random.default_rng(5)
    sat = GEO_RADIUS_M * np.array([np.cos(130 * DEG), np.sin(130 * DEG), 0.0])
    # Half over the whole globe, half in a band around the limb (81 deg of arc from the
    # sub-satellite point) where the answer depends on the height.
    lat = np.concatenate([np.arcsin(rng.uniform(-1, 1, 200)), rng.uniform(-20, 20, 200) * DEG])
    lon = (
        130 * DEG
        + np.concatenate(
            [rng.uniform(-180, 180, 200), rng.choice([-1, 1], 200) * rng.uniform(75, 105, 200)]
        )
        * DEG
    )
    h = rng.uniform(1 * KM, 2_000 * KM, 400)
    x = geodetic_to_ecef(np.stack([lat, lon, h], axis=-1))
    fast = earth_blocks(sat, x)
    checked = 0
    for k in range(len(x)):
        blocked, fmin = _brute_force_blocked(sat, x[k])
        if abs(fmin - 1.0) < 1e-6:  # grazing: the sampled walk cannot decide
            continue
        assert fast[k] == blocked, (lat[k] / DEG, lon[k] / DEG, h[k])
        checked += 1
    assert checked > 390
    assert 50 < fast.sum() < len(fast) - 50  # both outcomes well represented


def test_a_target_beyond_the_limb_is_hidden_and_one_above_it_is_seen() -> None:
    # From GEO the surface limb is 81.3 deg of arc from the sub-satellite point; a target
    # at 300 km height is visible up to 81.3 + 17.2 = 98.5 deg.
    spec = ir_satellite(aim_lat_rad=0.0, aim_lon_rad=130 * DEG, field_of_regard_rad=10 * DEG)
    hidden = geodetic_to_ecef(np.array([0.0, 230 * DEG, 300 * KM]))
    visible = geodetic_to_ecef(np.array([0.0, 225 * DEG, 300 * KM]))
    trjs = [
        static_target(hidden, 40.0, burning=True, missile_id="hidden"),
        static_target(visible, 40.0, burning=True, missile_id="visible"),
    ]
    det = observe_infrared(spec, trjs, T0_NS, T0_NS + 40 * NS, np.random.default_rng(6))
    assert set(det.truth_id.tolist()) == {"visible"}
    sat = infrared_frame(spec)[0]
    assert earth_blocks(sat, hidden) and not earth_blocks(sat, visible)


def test_false_alarms_are_poisson_and_uniform_over_the_field_of_regard() -> None:
    spec = ir_satellite(false_alarms_per_scan=1.5, revisit_s=1.0)
    n_scans = 3_000
    det = observe_infrared(spec, [], T0_NS, T0_NS + n_scans * NS - 1, np.random.default_rng(7))
    assert np.all(det.truth_id == "")
    lam = spec.false_alarms_per_scan * n_scans
    assert poisson.ppf(0.0005, lam) <= len(det) <= poisson.ppf(0.9995, lam)
    az, el = det.z.T
    cos_off = np.cos(el) * np.cos(az)  # the direction's component along the boresight (y)
    assert np.all(cos_off >= np.cos(spec.field_of_regard_rad) - 1e-12)
    c0 = np.cos(spec.field_of_regard_rad)
    assert kstest(cos_off, "uniform", args=(c0, 1 - c0)).pvalue > 1e-3  # uniform solid angle
