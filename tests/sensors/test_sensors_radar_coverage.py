"""Radar coverage: the refracted horizon, instrumented range, elevation limits and faces."""

from __future__ import annotations

import numpy as np
import pytest
from sensors_truth import NS, T0_NS, radar, static_target, vertical_climb

from trilink.geo import (
    aer_to_ecef,
    apparent_elevation,
    ecef_to_geodetic,
    geodesic_direct,
    geodetic_to_ecef,
    horizon_height,
    range_az_el,
)
from trilink.geo.horizon import gaussian_radius
from trilink.geo.wgs84 import DEG, K_REFRACTION
from trilink.physics.truth import Trajectory
from trilink.sensors import Face, RadarSpec, observe_radar, radar_site

KM = 1e3
CLIMB_MPS = 100.0
REVISIT_S = 0.1  # a detection pins the horizon crossing to CLIMB_MPS * REVISIT_S = 10 m


def _climb_at(spec: RadarSpec, d_m: float, az_deg: float, **kw: object) -> Trajectory:
    lat, lon = geodesic_direct(spec.lat_rad, spec.lon_rad, az_deg * DEG, d_m)
    return vertical_climb(float(lat) / DEG, float(lon) / DEG, CLIMB_MPS, 700.0, **kw)  # type: ignore[arg-type]


def _observe(spec: RadarSpec, trjs: list[Trajectory], seed: int = 1):
    t0 = min(t.launch_t_ns for t in trjs)
    t1 = max(t.impact_t_ns for t in trjs)
    return observe_radar(spec, trjs, t0, t1, np.random.default_rng(seed))


def test_first_detection_when_the_target_clears_the_refracted_horizon() -> None:
    spec = radar(revisit_s=REVISIT_S)
    distances_km = (300.0, 600.0, 900.0)
    trjs = [
        _climb_at(spec, d * KM, az, missile_id=f"d{d:.0f}")
        for d, az in zip(distances_km, (10.0, 130.0, 250.0), strict=True)
    ]
    det = _observe(spec, trjs)
    r_gauss = float(gaussian_radius(spec.lat_rad))
    for d_km, trj in zip(distances_km, trjs, strict=True):
        mine = det.t_ns[det.truth_id == trj.missile_id]
        h_first = (mine[0] - trj.launch_t_ns) * 1e-9 * CLIMB_MPS
        h_exact = float(horizon_height(d_km * KM, radius_m=r_gauss))
        h_rule = (d_km * KM) ** 2 / (2 * K_REFRACTION * r_gauss)
        # Seen within one revisit of the exact effective-Earth horizon height, to 0.2% of
        # it: the k*R model works on a sphere of the site's Gaussian radius, and the
        # geodesic distance on the ellipsoid differs from that sphere's ground range by
        # up to ~0.1% depending on azimuth (measured: +73 m at 900 km due north-north-east).
        tol = 2e-3 * h_exact
        assert h_exact - tol <= h_first <= h_exact + tol + CLIMB_MPS * REVISIT_S, d_km
        assert h_first == pytest.approx(h_rule, rel=0.01), d_km
        # Pd ~ 1 at this SNR: every scan from then on until the end of the climb.
        n_scans = (trj.impact_t_ns - mine[0]) // round(REVISIT_S * NS) + 1
        assert len(mine) in (n_scans, n_scans - 1), d_km
    # The public figures: about 5 km at 300 km and about 48 km at 900 km.
    first = {
        d: (det.t_ns[det.truth_id == t.missile_id][0] - t.launch_t_ns) * 1e-9 * CLIMB_MPS
        for d, t in zip(distances_km, trjs, strict=True)
    }
    assert first[300.0] == pytest.approx(5.3 * KM, abs=0.2 * KM)
    assert first[900.0] == pytest.approx(47.7 * KM, abs=0.5 * KM)


def test_nothing_beyond_the_instrumented_range() -> None:
    # Climbing from 100 km away up to 70 km: the slant range passes 110 km on the way.
    spec = radar(max_range_m=110 * KM, revisit_s=REVISIT_S)
    trj = _climb_at(spec, 100 * KM, 45.0)
    det = _observe(spec, [trj])
    r_true = range_az_el(trj.state_at(det.t_ns)[0], radar_site(spec)[1], radar_site(spec)[2])[:, 0]
    assert len(det) > 100
    assert r_true.max() <= spec.max_range_m
    assert r_true.max() > spec.max_range_m - CLIMB_MPS * REVISIT_S  # seen up to the limit
    # Beyond it, nothing: the climb lasts until 70 km height, far past the range limit.
    assert trj.impact_t_ns - det.t_ns[-1] > 100 * NS


@pytest.mark.parametrize("min_el_deg", [2.0, 10.0])
def test_nothing_below_the_minimum_elevation(min_el_deg: float) -> None:
    spec = radar(min_elevation_rad=min_el_deg * DEG, revisit_s=REVISIT_S)
    trj = _climb_at(spec, 300 * KM, 0.0)
    det = _observe(spec, [trj])
    site_lla = radar_site(spec)[0]
    el = apparent_elevation(site_lla, trj.state_at(det.t_ns)[0])
    assert el.min() >= min_el_deg * DEG
    # ... and seen as soon as it rises above it (the climb gains ~0.02 deg per scan here).
    assert el.min() < min_el_deg * DEG + 0.05 * DEG
    earlier = trj.state_at(np.array([det.t_ns[0] - round(REVISIT_S * NS)]))[0]
    assert apparent_elevation(site_lla, earlier)[0] < min_el_deg * DEG


def test_nothing_above_the_maximum_elevation() -> None:
    spec = radar(max_elevation_rad=60.0 * DEG, revisit_s=REVISIT_S)
    trj = _climb_at(spec, 20 * KM, 0.0)  # rises to 70 km: elevation well past 60 deg
    det = _observe(spec, [trj])
    el = apparent_elevation(radar_site(spec)[0], trj.state_at(det.t_ns)[0])
    assert len(det) > 50
    assert el.max() <= 60.0 * DEG
    assert trj.impact_t_ns - det.t_ns[-1] > 100 * NS


def _ring_of_targets(spec: RadarSpec, el_deg: float, n: int = 36) -> list[Trajectory]:
    """Static targets every 360/n degrees of azimuth at a fixed elevation, 400 km away."""
    site_lla = radar_site(spec)[0]
    out = []
    for k in range(n):
        x = aer_to_ecef(np.array([400 * KM, (k + 0.5) * 360.0 / n * DEG, el_deg * DEG]), site_lla)
        out.append(static_target(x, 20.0, missile_id=f"az{k:02d}"))
    return out


def test_a_face_sees_only_its_sector_and_a_face_pointing_away_sees_nothing() -> None:
    north = Face(
        boresight_az_rad=0.0,
        tilt_rad=20 * DEG,
        half_width_az_rad=60 * DEG,
        half_width_el_rad=20 * DEG,
    )
    spec = radar(faces=(north,))
    ring = _ring_of_targets(spec, 15.0)
    det = _observe(spec, ring)
    seen = set(det.truth_id.tolist())
    expected = {f"az{k:02d}" for k in range(36) if min((k + 0.5) * 10, 360 - (k + 0.5) * 10) <= 60}
    assert seen == expected
    # All twelve targets of the sector are seen in every one of the 21 scans.
    assert len(det) in (20 * len(expected), 21 * len(expected))

    # Targets only in the southern half: a north face sees nothing at all.
    south_only = [t for k, t in enumerate(ring) if 12 <= k < 24]
    assert len(_observe(spec, south_only)) == 0


def test_face_elevation_limits_and_several_faces() -> None:
    low = Face(
        boresight_az_rad=90 * DEG,
        tilt_rad=10 * DEG,
        half_width_az_rad=42 * DEG,
        half_width_el_rad=8 * DEG,
    )
    high = Face(
        boresight_az_rad=270 * DEG,
        tilt_rad=45 * DEG,
        half_width_az_rad=42 * DEG,
        half_width_el_rad=20 * DEG,
    )
    spec = radar(faces=(low, high))
    at_15 = _observe(spec, _ring_of_targets(spec, 15.0))
    at_40 = _observe(spec, _ring_of_targets(spec, 40.0))
    az15 = {int(s[2:]) * 10 + 5 for s in set(at_15.truth_id.tolist())}
    az40 = {int(s[2:]) * 10 + 5 for s in set(at_40.truth_id.tolist())}
    assert az15 == {a for a in range(5, 360, 10) if abs(a - 90) <= 42}  # only the low face
    assert az40 == {a for a in range(5, 360, 10) if abs(a - 270) <= 42}  # only the high face


def test_targets_behind_the_earth_are_never_seen_even_in_range() -> None:
    spec = radar(max_range_m=5_000 * KM)
    lat, lon = geodesic_direct(spec.lat_rad, spec.lon_rad, 90 * DEG, 2_000 * KM)
    x = geodetic_to_ecef(np.array([float(lat), float(lon), 100 * KM]))  # needs ~240 km
    assert len(_observe(spec, [static_target(x, 30.0)])) == 0
    x_high = geodetic_to_ecef(np.array([float(lat), float(lon), 300 * KM]))
    assert ecef_to_geodetic(x_high)[2] == pytest.approx(300 * KM)
    assert len(_observe(spec, [static_target(x_high, 30.0)])) in (30, 31)


def test_scans_are_revisit_apart_and_inside_the_window() -> None:
    spec = radar(revisit_s=1.5)
    trj = _climb_at(spec, 50 * KM, 0.0)
    t0, t1 = T0_NS + 100 * NS, T0_NS + 400 * NS
    det = observe_radar(spec, [trj], t0, t1, np.random.default_rng(3))
    assert det.t_ns.min() >= t0
    assert det.t_ns.max() <= t1
    assert set(np.diff(det.t_ns).tolist()) == {1_500_000_000}
