"""Assignment, RMSE and NEES (with its chi-square band)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from trilink.evaluate import (
    TrackEstimates,
    assign_to_truth,
    average_nees,
    fraction_inside,
    latest_on_grid,
    nees,
    nees_band,
    nees_of_estimates,
    rmse,
    rmse_by_truth,
    rmse_over_time,
)

S = 1_000_000_000


# ---- assignment -----------------------------------------------------------------------


def test_one_to_one_keeps_the_closer_of_two_tracks(cv, on, cat):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 5)
    est = cat(on(a, 1, [0, 1, 2], offset=(30, 0, 0)), on(a, 2, [0, 1, 2], offset=(10, 0, 0)))
    asg = assign_to_truth(est, [a], gate_m=100)
    assert asg.truth_index.tolist() == [-1, -1, -1, 0, 0, 0]
    np.testing.assert_allclose(asg.distance_m[3:], 10.0)
    many = assign_to_truth(est, [a], gate_m=100, one_to_one=False)
    assert many.truth_index.tolist() == [0] * 6


def test_one_to_one_is_optimal_not_greedy(cv, cat, on):
    # Track 1 is nearest truth b (0.9 km) but optimal pairs it with a (1 km) so that
    # track 2 can take b (8.1 km < gate) instead of being left out.
    a = cv("a", (0, 0, 0), (0, 0, 0), 0, 2)
    b = cv("b", (1900, 0, 0), (0, 0, 0), 0, 2)
    est = cat(on(a, 1, [1], offset=(1000, 0, 0)), on(a, 2, [1], offset=(10000, 0, 0)))
    asg = assign_to_truth(est, [a, b], gate_m=9000)
    assert asg.truth_index.tolist() == [0, 1]
    np.testing.assert_allclose(asg.distance_m, [1000, 8100])


def test_gate_and_out_of_flight(cv, on):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 5)
    est = on(a, 1, [1, 2], offset=(500, 0, 0))
    assert assign_to_truth(est, [a], gate_m=499).truth_index.tolist() == [-1, -1]
    # An estimate after impact has no truth to be assigned to.
    late = TrackEstimates.from_arrays([a.impact_t_ns + S], [1], np.zeros((1, 6)))
    assert assign_to_truth(late, [a], gate_m=1e9).truth_index.tolist() == [-1]


def test_window_groups_unaligned_times(cv, on, cat):
    # Two tracks on one truth at times 0.1 s apart: exact-time steps keep both, a 1 s
    # window makes them one step and keeps only the better one.
    a = cv("a", (0, 0, 0), (1000, 0, 0), 0, 5)
    est = cat(on(a, 1, [1.0], offset=(5, 0, 0)), on(a, 2, [1.1], offset=(1, 0, 0)))
    assert assign_to_truth(est, [a], gate_m=100).truth_index.tolist() == [0, 0]
    joint = assign_to_truth(est, [a], gate_m=100, window_ns=S)
    assert joint.truth_index.tolist() == [-1, 0]
    # Compared with the truth at 1.1 s, not 1.0 s: 1 m, not 101 m.
    assert joint.distance_m[1] == pytest.approx(1.0)


def test_latest_on_grid_holds_within_max_age():
    t = np.array([10, 20, 30, 12, 25], dtype=np.int64)
    trk = np.array([0, 0, 0, 1, 1])
    rows = latest_on_grid(t, trk, 2, [5, 10, 19, 26, 40], max_age_ns=10)
    assert rows.tolist() == [[-1, -1], [0, -1], [0, 3], [1, 4], [-1, -1]]


# ---- RMSE -----------------------------------------------------------------------------


def test_rmse_known_errors(cv, on, cat):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 10)
    b = cv("b", (0, 1e5, 0), (100, 0, 0), 0, 10)
    est = cat(on(a, 1, np.arange(10), offset=(3, 4, 0)), on(b, 2, np.arange(10), offset=(0, 0, 12)))
    asg = assign_to_truth(est, [a, b], gate_m=100)
    series = rmse_over_time(est, asg, bin_ns=2 * S)
    np.testing.assert_allclose(series.position_m, np.sqrt((25 + 144) / 2))
    np.testing.assert_allclose(series.velocity_mps, 0.0, atol=1e-9)
    assert series.count.tolist() == [4] * 5
    assert series.position_overall_m == pytest.approx(np.sqrt((25 + 144) / 2))
    pos, vel = rmse_by_truth(est, asg)
    np.testing.assert_allclose(pos, [5.0, 12.0])
    np.testing.assert_allclose(vel, [0.0, 0.0], atol=1e-9)


def test_rmse_ignores_missing_rows():
    e = np.array([[[3.0, 4.0, 0.0], [np.nan] * 3], [[0.0, 0.0, 1.0], [6.0, 8.0, 0.0]]])
    np.testing.assert_allclose(rmse(e, axis=0), [np.sqrt(13.0), 10.0])
    assert float(rmse(e)) == pytest.approx(np.sqrt((25 + 1 + 100) / 3))


# ---- NEES -----------------------------------------------------------------------------


def test_nees_closed_forms():
    assert float(nees([1.0, 2.0, 2.0], np.eye(3))) == pytest.approx(9.0)
    p = np.diag([4.0, 9.0])
    assert float(nees([2.0, 3.0], p)) == pytest.approx(2.0)
    p2 = np.array([[2.0, 1.0], [1.0, 2.0]])  # inverse = [[2, -1], [-1, 2]] / 3
    assert float(nees([1.0, 1.0], p2)) == pytest.approx(2.0 / 3.0)
    bad = np.array([[1.0, 2.0], [2.0, 1.0]])  # indefinite: NaN, and its neighbours survive
    out = nees(np.ones((2, 2)), np.stack([bad, np.eye(2)]))
    assert np.isnan(out[0]) and out[1] == pytest.approx(2.0)


def test_nees_band_matches_chi_square():
    lo, hi = nees_band(6, 50)
    assert lo == pytest.approx(chi2.ppf(0.025, 300) / 50)
    assert hi == pytest.approx(chi2.ppf(0.975, 300) / 50)
    # Textbook values (Bar-Shalom et al. 2001, sec. 5.4.2): 6 dof, 50 runs -> [5.08, 7.00].
    assert (lo, hi) == (pytest.approx(5.08, abs=0.01), pytest.approx(7.00, abs=0.01))


def test_nees_monte_carlo_consistent_and_not(cv, t0):
    """Seeded Monte Carlo: honest covariances keep the average NEES inside its band about
    95% of the time; covariances twice too large or too small do not."""
    rng = np.random.default_rng(3)
    runs, steps = 50, 200
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, steps)
    t = t0 + np.arange(steps, dtype=np.int64) * S
    m = rng.normal(size=(6, 6))
    p_true = m @ m.T + 6 * np.eye(6)
    chol = np.linalg.cholesky(p_true)
    r, v, _ = a.state_at(t)
    truth = np.concatenate([r, v], -1)
    err = rng.normal(size=(runs, steps, 6)) @ chol.T
    band = nees_band(6, runs)
    for scale, expect_inside in [(1.0, True), (2.0, False), (0.5, False)]:
        eps = np.empty((runs, steps))
        for k in range(runs):
            est = TrackEstimates.from_arrays(
                t, np.zeros(steps), truth + err[k], np.broadcast_to(scale * p_true, (steps, 6, 6))
            )
            eps[k] = nees_of_estimates(est, assign_to_truth(est, [a], gate_m=1e3))
        share = fraction_inside(average_nees(eps), band)
        if expect_inside:
            assert 0.88 <= share <= 1.0
        else:
            assert share < 0.05
    pos = nees_of_estimates(est, assign_to_truth(est, [a], gate_m=1e3), "position")
    assert pos.shape == (steps,) and np.all(np.isfinite(pos))
