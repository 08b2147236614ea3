"""Pd(SNR) for the Swerling cases against closed forms, Albersheim, and a direct simulation
of a square-law detector (complex Gaussian noise plus a fluctuating target)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import binomtest, rice

from trilink.sensors import albersheim_snr_db, detection_threshold, pd_swerling


def _simulated_pd(case: int, snr: float, pfa: float, n: int, rng: np.random.Generator) -> int:
    """Detections out of n looks, by brute force: |s + w|^2 > -ln(pfa), E|w|^2 = 1."""
    if case == 0:
        power = np.full(n, snr)
    elif case in (1, 2):  # exponential RCS: chi-square with 2 DOF
        power = rng.exponential(snr, n)
    else:  # chi-square with 4 DOF: Gamma(2, snr/2)
        power = rng.gamma(2.0, snr / 2.0, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(power) * np.exp(1j * phase)
    w = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2.0)
    return int(np.count_nonzero(np.abs(s + w) ** 2 > detection_threshold(pfa)))


@pytest.mark.parametrize("case", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("snr_db", [5.0, 10.0, 13.0, 18.0])
def test_pd_matches_a_direct_simulation_of_the_detector(case: int, snr_db: float) -> None:
    rng = np.random.default_rng(1000 * case + int(snr_db))
    pfa, n = 1e-4, 200_000
    pd = float(pd_swerling(10 ** (snr_db / 10), pfa, case))
    k = _simulated_pd(case, 10 ** (snr_db / 10), pfa, n, rng)
    # Two-sided exact binomial test at the 0.1% level: fails on a wrong formula, not by chance.
    assert binomtest(k, n, pd).pvalue > 1e-3, (case, snr_db, pd, k / n)


def test_swerling_1_is_pfa_to_the_power_one_over_one_plus_snr() -> None:
    snr = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    for pfa in (1e-3, 1e-6, 1e-8):
        expected = np.array([pfa ** (1.0 / (1.0 + s)) for s in snr])
        np.testing.assert_allclose(pd_swerling(snr, pfa, 1), expected, rtol=1e-12)
        np.testing.assert_allclose(pd_swerling(snr, pfa, 2), expected, rtol=1e-12)


@pytest.mark.parametrize("case", [0, 1, 3])
def test_pd_is_pfa_at_zero_snr_and_rises_to_one(case: int) -> None:
    snr = 10 ** (np.linspace(-30, 60, 200) / 10)
    pd = pd_swerling(snr, 1e-6, case)
    assert np.all(np.diff(pd) >= 0)
    assert np.all(np.diff(pd[pd < 0.99]) > 0)
    assert float(pd_swerling(0.0, 1e-6, case)) == pytest.approx(1e-6, rel=1e-6)
    assert pd[-1] > 0.999


@pytest.mark.parametrize("pfa", [1e-7, 1e-6, 1e-4, 1e-3])
@pytest.mark.parametrize("pd", [0.4, 0.5, 0.7, 0.9])
def test_swerling_0_agrees_with_albersheim(pfa: float, pd: float) -> None:
    # Single pulse, Pd 0.4-0.9: Albersheim is within 0.1 dB of the exact curve (measured;
    # it drifts low at smaller Pd, see albersheim_snr_db). The exact curve was also
    # checked against scipy.stats.rice (the envelope law) to 1e-12 while writing this.
    exact_db = brentq(lambda x: float(pd_swerling(10 ** (x / 10), pfa, 0)) - pd, -10.0, 30.0)
    assert exact_db == pytest.approx(float(albersheim_snr_db(pd, pfa)), abs=0.1)


def test_swerling_0_is_the_rice_envelope_exceeding_the_threshold() -> None:
    # |s + w| with E|w|^2 = 1 is Rician with sigma = 1/sqrt(2) per component and
    # nu = sqrt(SNR); an independent route to Marcum's Q.
    snr = 10 ** (np.linspace(-5, 20, 26) / 10)
    pfa = 1e-6
    sigma = 1 / np.sqrt(2)
    rice_pd = rice.sf(np.sqrt(-np.log(pfa)), np.sqrt(snr) / sigma, scale=sigma)
    np.testing.assert_allclose(pd_swerling(snr, pfa, 0), rice_pd, rtol=1e-9, atol=1e-15)


def test_textbook_point_pd_0_9_pfa_1e_6_single_pulse() -> None:
    # Skolnik's classic figure: about 13.2 dB for a steady target, Pd 0.9, Pfa 1e-6, one
    # pulse; a Swerling 1 target needs about 8 dB more (the fluctuation loss).
    s0 = brentq(lambda x: float(pd_swerling(10 ** (x / 10), 1e-6, 0)) - 0.9, 0.0, 30.0)
    s1 = brentq(lambda x: float(pd_swerling(10 ** (x / 10), 1e-6, 1)) - 0.9, 0.0, 40.0)
    assert s0 == pytest.approx(13.2, abs=0.1)
    assert s1 == pytest.approx(21.1, abs=0.2)


def test_rejects_unknown_case_and_bad_pfa() -> None:
    with pytest.raises(ValueError, match="swerling"):
        pd_swerling(10.0, 1e-6, 5)
    with pytest.raises(ValueError, match="pfa"):
        pd_swerling(10.0, 0.0, 1)
