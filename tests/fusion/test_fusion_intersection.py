"""Covariance intersection, fast CI, ICI and the naive sum: properties and consistency."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize_scalar
from scipy.stats import chi2

from trilink.fusion.intersection import (
    ci_weights,
    covariance_intersection,
    fast_ci_weights,
    fuse,
    independent_fusion,
    inverse_covariance_intersection,
)
from trilink.fusion.synthetic import JPN, KOR, NationModel, correlated_errors, radar_covariance
from trilink.geo.frames import geodetic_to_ecef
from trilink.geo.wgs84 import DEG

unit = st.floats(-1.0, 1.0, allow_nan=False, width=64)
log_scale = st.floats(-1.0, 4.0, allow_nan=False)  # sigmas from 0.1 to 1e4 (m or m/s)


def _spd(a: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """A well-posed but arbitrarily shaped SPD matrix from raw draws."""
    n = a.shape[-1]
    d = np.diag(10.0**scales)
    return d @ (a @ a.T + 0.05 * np.eye(n)) @ d


@st.composite
def covariance_stack(draw, k_min=2, k_max=4):
    k = draw(st.integers(k_min, k_max))
    raw = draw(arrays(float, (k, 6, 6), elements=unit))
    scales = draw(arrays(float, (k, 6), elements=log_scale))
    return np.stack([_spd(raw[i], scales[i]) for i in range(k)])


def _psd_margin(M: np.ndarray, scale: float) -> float:
    return float(np.min(np.linalg.eigvalsh(0.5 * (M + M.T)))) / scale


@settings(max_examples=60, deadline=None)
@given(covariance_stack(), st.sampled_from(["trace", "det"]))
def test_ci_is_spd_and_never_worse_than_the_best_input(P, criterion):
    x = np.zeros(P.shape[:-1])
    _, Pf, w = covariance_intersection(x[None], P[None], criterion=criterion)
    Pf, w = Pf[0], w[0]
    np.testing.assert_allclose(Pf, Pf.T, rtol=0, atol=1e-12 * np.abs(Pf).max())
    assert np.all(np.linalg.eigvalsh(Pf) > 0)
    assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    if criterion == "trace":
        assert np.trace(Pf) <= np.trace(P, axis1=1, axis2=2).min() * (1 + 1e-12)
    else:
        assert np.linalg.slogdet(Pf)[1] <= np.linalg.slogdet(P)[1].min() + 1e-9


@settings(max_examples=40, deadline=None)
@given(covariance_stack(2, 2))
def test_two_input_weights_match_a_bounded_scalar_minimiser(P):
    Ia, Ib = np.linalg.inv(P[0]), np.linalg.inv(P[1])

    def f(o):
        return np.trace(np.linalg.inv(o * Ia + (1 - o) * Ib))

    ref = minimize_scalar(f, bounds=(0, 1), method="bounded", options={"xatol": 1e-12})
    best = min(ref.fun, f(0.0), f(1.0))
    w = ci_weights(P[None])[0]
    assert f(w[0]) <= best * (1 + 1e-9)


@settings(max_examples=15, deadline=None)
@given(covariance_stack(3, 3))
def test_three_input_weights_beat_a_fine_simplex_grid(P):
    info = np.linalg.inv(P)
    g = np.linspace(0, 1, 61)
    a, b = np.meshgrid(g, g, indexing="ij")
    ok = a + b <= 1 + 1e-12
    W = np.stack([a[ok], b[ok], np.clip(1 - a[ok] - b[ok], 0, None)], axis=-1)
    grid = np.trace(np.linalg.inv(np.einsum("wk,kij->wij", W, info)), axis1=1, axis2=2)
    w = ci_weights(P[None])[0]
    assert np.trace(np.linalg.inv(np.einsum("k,kij->ij", w, info))) <= grid.min() * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 3),
    arrays(float, (18, 18), elements=unit),
    arrays(float, (18,), elements=log_scale),
    st.sampled_from(["optimal", "fast"]),
)
def test_ci_bounds_the_true_error_for_any_cross_correlation(k, raw, scales, omega):
    # Julier & Uhlmann's theorem: for every joint covariance J with diagonal blocks P_k,
    # the CI estimate's true MSE sum_jk W_j J_jk W_k^T never exceeds the CI covariance.
    n = 6 * k
    J = _spd(raw[:n, :n], scales[:n])
    P = np.stack([J[6 * i : 6 * i + 6, 6 * i : 6 * i + 6] for i in range(k)])
    _, Pf, w = covariance_intersection(np.zeros((1, k, 6)), P[None], omega=omega)
    Pf, w = Pf[0], w[0]
    W = np.concatenate([w[i] * Pf @ np.linalg.inv(P[i]) for i in range(k)], axis=1)
    mse = W @ J @ W.T
    assert _psd_margin(Pf - mse, np.abs(Pf).max()) > -1e-9


@settings(max_examples=60, deadline=None)
@given(
    arrays(float, (3, 6, 6), elements=unit),
    arrays(float, (3, 6), elements=log_scale),
)
def test_ici_bounds_the_true_error_under_common_information(raw, scales):
    # Noack et al. 2017: estimates a, b built from independent information I_a', I_b' and
    # a common part Gamma have P_a = (I_a' + Gamma)^-1 and cross-covariance P_a Gamma P_b.
    # ICI must bound the true MSE whatever Gamma is.
    info_a, info_b, gamma = (np.linalg.inv(_spd(raw[i], scales[i])) for i in range(3))
    Pa, Pb = np.linalg.inv(info_a + gamma), np.linalg.inv(info_b + gamma)
    Pab = Pa @ gamma @ Pb
    x = np.zeros((1, 2, 6))
    eye = np.eye(6)
    # The gains are recovered by fusing unit vectors: x_f = K x_a + L x_b is linear.
    K = np.stack(
        [
            inverse_covariance_intersection(np.stack([e, 0 * e])[None], np.stack([Pa, Pb])[None])[
                0
            ][0]
            for e in eye
        ],
        axis=1,
    )
    L = np.stack(
        [
            inverse_covariance_intersection(np.stack([0 * e, e])[None], np.stack([Pa, Pb])[None])[
                0
            ][0]
            for e in eye
        ],
        axis=1,
    )
    _, Pf = inverse_covariance_intersection(x, np.stack([Pa, Pb])[None])
    Pf = Pf[0]
    mse = K @ Pa @ K.T + L @ Pb @ L.T + K @ Pab @ L.T + L @ Pab.T @ K.T
    assert _psd_margin(Pf - mse, np.abs(Pf).max()) > -1e-9
    assert np.trace(Pf) <= min(np.trace(Pa), np.trace(Pb)) * (1 + 1e-9)


def test_fast_ci_weights_are_a_simplex_point_and_symmetric_for_equal_inputs():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 6))
    P = A @ A.T + np.eye(6)
    w = fast_ci_weights(np.stack([P, P, P])[None])[0]
    np.testing.assert_allclose(w, [1 / 3] * 3, atol=1e-12)
    Q = np.stack([P, 4 * P])
    w2 = fast_ci_weights(Q[None])[0]
    assert w2[0] > w2[1] and abs(w2.sum() - 1) < 1e-12


def test_masked_slots_are_ignored_and_single_inputs_pass_through():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(3, 6, 6))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(6)
    x = rng.normal(size=(3, 6))
    garbage_P = np.stack([P[0], np.full((6, 6), np.nan), P[2]])
    garbage_x = np.stack([x[0], np.full(6, 1e30), x[2]])
    mask = np.array([True, False, True])
    for method in ("ci", "ici", "naive"):
        xf, Pf = fuse(garbage_x[None], garbage_P[None], mask[None], method=method)
        xr, Pr = fuse(x[[0, 2]][None], P[[0, 2]][None], method=method)
        np.testing.assert_allclose(xf, xr, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(Pf, Pr, rtol=1e-10, atol=1e-10)
        xs, Ps = fuse(x[None], P[None], np.array([[False, True, False]]), method=method)
        np.testing.assert_allclose(xs[0], x[1], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(Ps[0], P[1], rtol=1e-9, atol=1e-9)
        xe, Pe = fuse(x[None], P[None], np.zeros((1, 3), bool), method=method)
        assert np.all(np.isnan(xe)) and np.all(np.isnan(Pe))


def _national_pairs(n: int, nations: tuple[NationModel, ...], rng: np.random.Generator):
    """Covariances (K, n, 6, 6) of n objects over the Sea of Japan seen by K nations."""
    lat = rng.uniform(37.0, 41.0, n) * DEG
    lon = rng.uniform(129.0, 136.0, n) * DEG
    h = rng.uniform(80e3, 600e3, n)
    pos = geodetic_to_ecef(np.stack([lat, lon, h], axis=-1))
    return np.stack([radar_covariance(pos, nation) for nation in nations])


def _mean_nees(method: str, P: np.ndarray, rho: float, seed: int) -> float:
    rng = np.random.default_rng(seed)
    err = correlated_errors(P, rho, rng)  # (K, n, 6) around a zero truth
    x = np.swapaxes(err, 0, 1)
    Ps = np.swapaxes(P, 0, 1)
    xf, Pf = fuse(x, Ps, method=method)
    return float(np.mean(np.einsum("ni,nij,nj->n", xf, np.linalg.inv(Pf), xf)))


def test_monte_carlo_nees_ci_consistent_naive_overconfident_under_common_errors():
    n = 2000
    P = _national_pairs(n, (KOR, JPN), np.random.default_rng(11))
    upper = chi2.ppf(0.975, 6 * n) / n
    ci = _mean_nees("ci", P, rho=0.7, seed=12)
    ici = _mean_nees("ici", P, rho=0.7, seed=12)
    naive = _mean_nees("naive", P, rho=0.7, seed=12)
    assert ci < upper
    assert ici < upper
    assert naive > upper


def test_monte_carlo_nees_three_nations():
    n = 2000
    usa = NationModel("USA", (40.9 * DEG, 140.3 * DEG, 50.0), 30.0, 600.0, 5.0, 60.0)
    P = _national_pairs(n, (KOR, JPN, usa), np.random.default_rng(21))
    upper = chi2.ppf(0.975, 6 * n) / n
    assert _mean_nees("ci", P, rho=0.8, seed=22) < upper
    assert _mean_nees("ici", P, rho=0.8, seed=22) < upper
    assert _mean_nees("naive", P, rho=0.8, seed=22) > upper


def test_naive_fusion_is_consistent_when_errors_really_are_independent():
    # The other side of the coin: the NEES test can pass the naive sum, so its failure
    # above is the correlation, not the test.
    n = 2000
    P = _national_pairs(n, (KOR, JPN), np.random.default_rng(31))
    lo, hi = chi2.ppf([0.025, 0.975], 6 * n) / n
    assert lo < _mean_nees("naive", P, rho=0.0, seed=32) < hi


def test_independent_fusion_equals_the_information_sum():
    rng = np.random.default_rng(5)
    A = rng.normal(size=(2, 6, 6))
    P = A @ np.swapaxes(A, 1, 2) + np.eye(6)
    x = rng.normal(size=(2, 6))
    xf, Pf = independent_fusion(x[None], P[None])
    info = np.linalg.inv(P)
    np.testing.assert_allclose(Pf[0], np.linalg.inv(info.sum(0)), rtol=1e-10)
    np.testing.assert_allclose(xf[0], Pf[0] @ (info[0] @ x[0] + info[1] @ x[1]), rtol=1e-10)
