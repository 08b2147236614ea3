"""Radar statistics: noise against the declared covariance, Pd against Swerling, false alarms
against Poisson. Seeded Monte Carlo; every bound is a 99% (or 99.9%) band, so a wrong
model fails and a right one passes with these seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2, kstest, poisson
from sensors_truth import NS, T0_NS, radar, static_target

from trilink.geo import aer_to_ecef, range_az_el, wrap_angle
from trilink.geo.wgs84 import DEG
from trilink.physics.truth import Trajectory
from trilink.sensors import (
    Face,
    RadarSpec,
    coverage_area_rad2,
    false_alarm_density,
    in_coverage,
    observe_radar,
    pd_swerling,
    radar_sigmas,
    radar_site,
)
from trilink.sensors.radar import false_alarm_min_range
from trilink.sensors.swerling import detection_threshold

KM = 1e3


def _targets_at(
    spec: RadarSpec, aers: list[tuple[float, float, float]], duration_s: float
) -> list[Trajectory]:
    site_lla = radar_site(spec)[0]
    return [
        static_target(aer_to_ecef(np.array([r, az, el]), site_lla), duration_s, missile_id=f"t{i}")
        for i, (r, az, el) in enumerate(aers)
    ]


def _truth_measurement(spec: RadarSpec, trjs: list[Trajectory], det) -> np.ndarray:
    _, site, rot = radar_site(spec)
    index = {t.missile_id: t for t in trjs}
    x = np.array([index[i].r_ecef_m[0] for i in det.truth_id])
    return range_az_el(x, site, rot)


# Targets spanning the noise model: near (range sigma on its floor), at the reference SNR,
# far (sigmas 2.2x the reference), and elevations where 1/cos(el) matters.
NOISE_SPEC = radar(ref_snr_db=20.0, revisit_s=0.1, swerling=1)
NOISE_TARGETS = [
    (300 * KM, 20 * DEG, 5 * DEG),
    (1_000 * KM, -100 * DEG, 30 * DEG),
    (1_500 * KM, 170 * DEG, 70 * DEG),
    (800 * KM, -179.9 * DEG, 10 * DEG),  # azimuth near the (-pi, pi] cut
]


@pytest.fixture(scope="module")
def noisy() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    trjs = _targets_at(NOISE_SPEC, NOISE_TARGETS, 300.0)
    det = observe_radar(NOISE_SPEC, trjs, T0_NS, T0_NS + 300 * NS, np.random.default_rng(7))
    h = _truth_measurement(NOISE_SPEC, trjs, det)
    err = det.z - h
    err[:, 1] = wrap_angle(err[:, 1])
    ids = np.array([int(i[1:]) for i in det.truth_id])
    return err, det.R, det.snr_db, ids


def test_noise_is_consistent_with_the_declared_covariance(noisy) -> None:
    err, cov, _, ids = noisy
    nees = np.einsum("ni,nij,nj->n", err, np.linalg.inv(cov), err)
    n = len(nees)
    assert n > 5_000
    lo, hi = chi2.ppf([0.005, 0.995], 3 * n) / n
    assert lo <= nees.mean() <= hi
    for k in range(len(NOISE_TARGETS)):  # per target, i.e. per SNR and elevation
        e = nees[ids == k]
        lo, hi = chi2.ppf([0.0005, 0.9995], 3 * e.size) / e.size
        assert lo <= e.mean() <= hi, k


def test_each_component_is_gaussian_with_the_declared_variance(noisy) -> None:
    err, cov, _, ids = noisy
    for k in range(len(NOISE_TARGETS)):
        sel = ids == k
        for c in range(3):
            u = err[sel, c] / np.sqrt(cov[sel, c, c])
            lo, hi = chi2.ppf([0.0005, 0.9995], u.size)
            assert lo <= np.sum(u * u) <= hi, (k, c)
            assert abs(u.mean()) < 3.3 / np.sqrt(u.size), (k, c)  # unbiased
            assert kstest(u, "norm").pvalue > 1e-3, (k, c)
    # R is diagonal: the three errors are uncorrelated in the samples too.
    off = np.corrcoef(err.T / np.sqrt(np.diagonal(cov, axis1=1, axis2=2)).T)
    assert np.all(np.abs(off[np.triu_indices(3, 1)]) < 4 / np.sqrt(len(err)))


def test_snr_and_sigmas_follow_the_stated_laws(noisy) -> None:
    _, cov, snr, ids = noisy
    spec = NOISE_SPEC
    for k, (r, _, el) in enumerate(NOISE_TARGETS):
        sel = ids == k
        snr_k = 20.0 - 40.0 * np.log10(r / spec.ref_range_m)  # rcs = ref_rcs
        np.testing.assert_allclose(snr[sel], snr_k, atol=1e-6)
        scale = 10 ** ((spec.ref_snr_db - snr_k) / 20)  # sqrt(snr_ref / snr)
        s_r = max(spec.range_sigma_floor_m, spec.range_sigma_m * scale)
        s_a = max(spec.angle_sigma_floor_rad, spec.angle_sigma_rad * scale)
        # Elevation of the true point, geometric, as the radar measures it.
        np.testing.assert_allclose(np.sqrt(cov[sel, 0, 0]), s_r, rtol=1e-12)
        np.testing.assert_allclose(np.sqrt(cov[sel, 2, 2]), s_a, rtol=1e-12)
        np.testing.assert_allclose(np.sqrt(cov[sel, 1, 1]), s_a / np.cos(el), rtol=1e-3)
    # The near target's range sigma sits on its floor; the far one's is above reference.
    assert np.sqrt(cov[ids == 0, 0, 0]).max() == spec.range_sigma_floor_m
    assert np.sqrt(cov[ids == 2, 0, 0]).min() > 2 * spec.range_sigma_m


def test_cross_range_angle_error_is_the_same_about_both_axes(noisy) -> None:
    # Azimuth error times cos(el) is an angle across the beam, like the elevation error.
    err, _, _, ids = noisy
    sel = ids == 2  # at 70 degrees elevation cos(el) = 0.34
    el = NOISE_TARGETS[2][2]
    ratio = np.var(err[sel, 1] * np.cos(el)) / np.var(err[sel, 2])
    lo, hi = [1 / 1.15, 1.15]  # F(n, n) at n ~ 3000 has a 99.9% band narrower than this
    assert lo < ratio < hi


@pytest.mark.parametrize("swerling", [0, 1, 2, 3, 4])
def test_detection_rate_matches_the_swerling_pd(swerling: int) -> None:
    spec = radar(ref_snr_db=12.0, revisit_s=0.05, swerling=swerling, pfa=1e-6)
    # At the reference range the mean SNR is 12 dB: Pd from 0.24 (Swerling 1) to 0.7 (0).
    trjs = _targets_at(spec, [(1_000 * KM, 45 * DEG, 20 * DEG)], 200.0)
    det = observe_radar(spec, trjs, T0_NS, T0_NS + 200 * NS, np.random.default_rng(11 + swerling))
    n_scans = 200 * 20  # scans inside [launch, impact] (4000 or 4001 with the random phase)
    snr = 10 ** (det.snr_db[0] / 10) if len(det) else 10**1.2
    assert snr == pytest.approx(10**1.2, rel=1e-6)
    pd = float(pd_swerling(snr, spec.pfa, swerling))
    assert binomtest(len(det), n_scans, pd).pvalue > 1e-3
    if swerling in (1, 2):
        assert pd == pytest.approx(spec.pfa ** (1 / (1 + snr)), rel=1e-12)


def _fa_window(spec: RadarSpec, n_scans: int) -> tuple[int, int]:
    return T0_NS, T0_NS + n_scans * round(spec.revisit_s * NS) - 1  # exactly n_scans scans


def _per_scan_counts(spec: RadarSpec, t_ns: np.ndarray, t0: int, n_scans: int) -> np.ndarray:
    rev = round(spec.revisit_s * NS)
    phase = (t_ns.min() - t0) % rev
    k = (t_ns - t0 - phase) / rev
    assert np.all(k == np.round(k))  # every alarm falls on the scan grid
    return np.bincount(k.astype(int), minlength=n_scans)


def test_false_alarms_are_poisson_per_scan_and_inside_full_coverage() -> None:
    spec = radar(false_alarms_per_scan=2.5, min_elevation_rad=1 * DEG, max_elevation_rad=80 * DEG)
    n_scans = 4_000
    t0, t1 = _fa_window(spec, n_scans)
    det = observe_radar(spec, [], t0, t1, np.random.default_rng(5))
    assert np.all(det.truth_id == "")
    counts = _per_scan_counts(spec, det.t_ns, t0, n_scans)
    lam = spec.false_alarms_per_scan
    assert counts.size == n_scans
    assert poisson.ppf(0.0005, lam * n_scans) <= counts.sum() <= poisson.ppf(0.9995, lam * n_scans)
    # Index of dispersion: sum (c - lam)^2 / lam ~ chi2(S) for Poisson counts.
    d = np.sum((counts - lam) ** 2) / lam
    assert chi2.ppf(0.0005, n_scans) <= d <= chi2.ppf(0.9995, n_scans)
    # Histogram against the Poisson pmf (cells 0..6 and 7+).
    obs = np.bincount(np.minimum(counts, 7), minlength=8)
    p = np.append(poisson.pmf(np.arange(7), lam), poisson.sf(6, lam))
    stat = np.sum((obs - n_scans * p) ** 2 / (n_scans * p))
    assert stat < chi2.ppf(0.999, 7)

    r, az, el = det.z.T
    assert np.all(in_coverage(spec, az, el))
    assert np.all((r >= false_alarm_min_range(spec)) & (r <= spec.max_range_m))
    assert (
        kstest(
            r,
            "uniform",
            args=(false_alarm_min_range(spec), spec.max_range_m - false_alarm_min_range(spec)),
        ).pvalue
        > 1e-3
    )
    assert kstest(az, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3
    assert kstest(el, "uniform", args=(1 * DEG, 79 * DEG)).pvalue > 1e-3
    # A noise crossing: power above the threshold, exceedance exponential (memoryless).
    excess = 10 ** (det.snr_db / 10) - detection_threshold(spec.pfa)
    assert excess.min() >= 0
    assert kstest(excess, "expon").pvalue > 1e-3
    # Their covariance is the radar's at that SNR.
    np.testing.assert_allclose(
        np.sqrt(np.diagonal(det.R, axis1=1, axis2=2)), radar_sigmas(spec, det.snr_db, el)
    )


def test_false_alarms_are_uniform_over_the_union_of_overlapping_faces() -> None:
    a = Face(0.0, 20 * DEG, 60 * DEG, 20 * DEG)
    b = Face(90 * DEG, 20 * DEG, 60 * DEG, 20 * DEG)
    spec = radar(faces=(a, b), false_alarms_per_scan=4.0)
    t0, t1 = _fa_window(spec, 2_000)
    det = observe_radar(spec, [], t0, t1, np.random.default_rng(9))
    _, az, el = det.z.T
    assert np.all(in_coverage(spec, az, el))
    # Union: az -60..150 deg, el 0..40 deg; the overlap az 30..60 is 1/7 of it and must
    # hold 1/7 of the alarms (not 2/7, as naive per-face sampling would give).
    assert kstest(az, "uniform", args=(-60 * DEG, 210 * DEG)).pvalue > 1e-3
    assert kstest(el, "uniform", args=(0.0, 40 * DEG)).pvalue > 1e-3
    in_overlap = np.count_nonzero((az > 30 * DEG) & (az < 60 * DEG))
    assert binomtest(in_overlap, len(az), 1 / 7).pvalue > 1e-3


def test_false_alarms_mix_with_targets_without_betraying_themselves_by_order() -> None:
    spec = radar(false_alarms_per_scan=3.0, revisit_s=1.0)
    trjs = _targets_at(spec, [(500 * KM, 0.0, 10 * DEG)], 100.0)
    det = observe_radar(spec, trjs, T0_NS, T0_NS + 100 * NS, np.random.default_rng(2))
    assert np.all(np.diff(det.t_ns) >= 0)
    same_t = np.diff(det.t_ns) == 0
    assert np.all(np.diff(det.z[:, 0])[same_t] >= 0)  # within a scan: by range
    assert (det.truth_id == "t0").sum() in (100, 101)


def test_snr_follows_the_target_rcs() -> None:
    spec = radar(ref_snr_db=30.0)
    site_lla = radar_site(spec)[0]
    x = aer_to_ecef(np.array([2_000 * KM, 10 * DEG, 20 * DEG]), site_lla)
    det = observe_radar(
        spec,
        [static_target(x, 10.0, rcs_m2=10.0)],
        T0_NS,
        T0_NS + 10 * NS,
        np.random.default_rng(0),
    )
    # +10 dB for ten times the reference RCS, -12.04 dB for twice the reference range.
    np.testing.assert_allclose(det.snr_db, 30.0 + 10.0 - 40.0 * np.log10(2.0), atol=1e-6)


def test_coverage_area_of_faces_against_a_fine_grid() -> None:
    # Midpoint grid of 1/8 degree over the elevation band in play: a cell is misjudged
    # only where a face edge crosses it, so the grid is good to (edge length x cell side).
    side = np.pi / 1440
    az = np.arange(-np.pi, np.pi, side) + side / 2
    el = np.arange(0.0, 1.25, side) + side / 2
    aa, ee = np.meshgrid(az, el)
    rng = np.random.default_rng(12)
    for _ in range(6):
        faces = tuple(
            Face(
                rng.uniform(-np.pi, np.pi),
                rng.uniform(0, 0.6),
                rng.uniform(0.2, 1.5),
                rng.uniform(0.1, 0.6),
            )
            for _ in range(rng.integers(1, 4))
        )
        spec = radar(faces=faces, min_elevation_rad=0.05, max_elevation_rad=1.2)
        grid = np.count_nonzero(in_coverage(spec, aa, ee)) * side * side
        edges = sum(4 * f.half_width_az_rad + 4 * f.half_width_el_rad for f in faces)
        assert coverage_area_rad2(spec) == pytest.approx(grid, abs=0.5 * edges * side)
        assert abs(coverage_area_rad2(spec) - grid) < 0.01 * grid
    full = radar(min_elevation_rad=0.0, max_elevation_rad=np.pi / 2)
    assert coverage_area_rad2(full) == pytest.approx(np.pi**2)
    assert false_alarm_density(radar(false_alarms_per_scan=2.0)) == pytest.approx(
        2.0 / ((3_000 * KM - 10 * KM) * np.pi**2)
    )


def test_a_target_with_no_radar_cross_section_is_never_reported() -> None:
    spec = radar()
    x = aer_to_ecef(np.array([500 * KM, 0.0, 20 * DEG]), radar_site(spec)[0])
    det = observe_radar(
        spec,
        [static_target(x, 100.0, rcs_m2=0.0)],
        T0_NS,
        T0_NS + 100 * NS,
        np.random.default_rng(0),
    )
    assert len(det) == 0
