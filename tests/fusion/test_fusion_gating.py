"""Track-to-track gating and assignment."""

from __future__ import annotations

from itertools import permutations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.fusion.gating import (
    assign,
    candidate_pairs,
    difference_distance,
    gated_pairs,
    position_trace,
    self_gated_pairs,
)


def _covs(rng: np.random.Generator, n: int, sigma_m: float) -> np.ndarray:
    A = rng.normal(size=(n, 6, 6)) * np.array([sigma_m] * 3 + [sigma_m / 20] * 3)[:, None]
    return A @ np.swapaxes(A, 1, 2) / 6 + np.diag([1.0] * 3 + [0.01] * 3)


def test_difference_distance_is_the_mahalanobis_distance_under_summed_covariance():
    rng = np.random.default_rng(1)
    Pa, Pb = _covs(rng, 5, 300.0), _covs(rng, 5, 500.0)
    xa, xb = rng.normal(size=(5, 6)) * 100, rng.normal(size=(5, 6)) * 100
    d2, logdet = difference_distance(xa, Pa, xb, Pb)
    for i in range(5):
        d = xa[i] - xb[i]
        S = Pa[i] + Pb[i]
        assert np.isclose(d2[i], d @ np.linalg.inv(S) @ d, rtol=1e-10)
        assert np.isclose(logdet[i], np.log(np.linalg.det(S)), rtol=1e-10)


def test_true_pairs_pass_the_gate_at_the_chi_square_rate():
    rng = np.random.default_rng(2)
    n = 4000
    Pa, Pb = _covs(rng, n, 300.0), _covs(rng, n, 800.0)
    truth = rng.normal(size=(n, 6)) * 1e5
    ea = np.einsum("nij,nj->ni", np.linalg.cholesky(Pa), rng.standard_normal((n, 6)))
    eb = np.einsum("nij,nj->ni", np.linalg.cholesky(Pb), rng.standard_normal((n, 6)))
    d2, _ = difference_distance(truth + ea, Pa, truth + eb, Pb)
    assert abs(np.mean(d2 < 16.81) - 0.99) < 0.006  # chi2(6).ppf(0.99) = 16.81


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(70, 160))
def test_kd_tree_candidates_never_lose_a_gated_pair(seed, n):
    # n*n > 4096 forces the k-d tree path; compare with the brute-force exact gate.
    rng = np.random.default_rng(seed)
    Pa, Pb = _covs(rng, n, 2000.0), _covs(rng, n, 3000.0)
    Pb[:5] *= 400.0  # a few coasting tracks with huge covariances
    xa = rng.uniform(-1, 1, size=(n, 6)) * np.array([5e4] * 3 + [50] * 3)
    xb = xa[rng.permutation(n)] + rng.normal(size=(n, 6)) * np.array([3e3] * 3 + [30] * 3)
    gate = 27.86
    ia, ib, _, _ = gated_pairs(xa, Pa, xb, Pb, gate)
    ga, gb = (g.ravel() for g in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
    full, _ = difference_distance(xa[ga], Pa[ga], xb[gb], Pb[gb])
    expected = set(zip(ga[full < gate].tolist(), gb[full < gate].tolist(), strict=True))
    assert set(zip(ia.tolist(), ib.tolist(), strict=True)) == expected
    ca, _ = candidate_pairs(xa[:, :3], position_trace(Pa), xb[:, :3], position_trace(Pb), gate)
    assert len(ca) <= n * n


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 5), st.floats(0.2, 1.0))
def test_assignment_is_the_best_maximum_matching(seed, na, nb, density):
    rng = np.random.default_rng(seed)
    listed = rng.uniform(size=(na, nb)) < density
    cost = rng.uniform(0, 30, size=(na, nb))
    ia, ib = np.nonzero(listed)
    ma, mb = assign(ia, ib, cost[ia, ib], na, nb)
    assert len(set(ma.tolist())) == len(ma) and len(set(mb.tolist())) == len(mb)
    assert np.all(listed[ma, mb])
    # Brute force: the most pairs, then the least total cost.
    best = (0, 0.0)
    for perm in permutations(range(max(na, nb))):
        pairs = [(i, j) for i, j in zip(range(na), perm, strict=False) if j < nb and listed[i, j]]
        score = (len(pairs), -sum(cost[i, j] for i, j in pairs))
        best = max(best, score)
    assert len(ma) == best[0]
    assert np.isclose(cost[ma, mb].sum(), -best[1])


def test_assignment_of_nothing_is_empty():
    ma, mb = assign(np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0), 3, 4)
    assert ma.size == 0 and mb.size == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(20, 150))
def test_self_pairs_match_brute_force(seed, n):
    rng = np.random.default_rng(seed)
    P = _covs(rng, n, 2000.0)
    P[: n // 8] *= 300.0  # coasting tracks
    x = rng.uniform(-1, 1, size=(n, 6)) * np.array([3e4] * 3 + [50] * 3)
    gate = 27.86
    ia, ib, _ = self_gated_pairs(x, P, gate)
    assert np.all(ia < ib)
    ga, gb = np.triu_indices(n, k=1)
    full, _ = difference_distance(x[ga], P[ga], x[gb], P[gb])
    expected = set(zip(ga[full < gate].tolist(), gb[full < gate].tolist(), strict=True))
    got = list(zip(ia.tolist(), ib.tolist(), strict=True))
    assert len(got) == len(set(got)) and set(got) == expected
