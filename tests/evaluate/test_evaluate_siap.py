"""SIAP measures on hand-built cases, and OSPA/GOSPA over time on the same tables."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.evaluate import set_errors_over_time, siap

S = 1_000_000_000


def grid(t0, n, dt_s=1.0):
    return t0 + np.arange(n, dtype=np.int64) * int(dt_s * S)


def test_one_track_per_truth_is_perfect(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 20)
    b = cv("b", (0, 5e4, 0), (0, 100, 0), 0, 20)
    est = cat(on(a, 1, np.arange(0, 21), offset=(3, 4, 0)), on(b, 2, np.arange(0, 21)))
    s = siap(est, [a, b], grid(t0, 21), gate_m=1000, max_age_ns=S // 2)
    assert s.completeness_overall == 1.0
    assert s.ambiguity_overall == 1.0
    assert s.spuriousness_overall == 0.0
    assert s.position_accuracy_overall_m == pytest.approx(2.5)  # (5 + 0) / 2
    assert s.velocity_accuracy_overall_mps == pytest.approx(0.0)
    assert s.track_number_changes.tolist() == [0, 0]
    assert s.longest_track_segment == pytest.approx(1.0)
    assert s.rate_of_track_number_changes == 0.0
    np.testing.assert_allclose(s.completeness, 1.0)


def test_track_swap_is_a_track_number_change(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 20)
    est = cat(on(a, "T1", np.arange(0, 11)), on(a, "T2", np.arange(11, 21)))
    s = siap(est, [a], grid(t0, 21), gate_m=1000, max_age_ns=S // 2)
    assert s.track_number_changes.tolist() == [1]
    assert s.time_tracked_s[0] == pytest.approx(19.0)  # the 10-11 s interval has no common track
    assert s.rate_of_track_number_changes == pytest.approx(1 / 19)
    assert s.longest_segment_s[0] == pytest.approx(10.0)
    assert s.longest_track_segment == pytest.approx(10.0 / 20.0)
    assert s.ambiguity_overall == 1.0


def test_two_tracks_on_one_truth_are_ambiguous(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 10)
    est = cat(on(a, 1, np.arange(0, 11)), on(a, 2, np.arange(0, 11), offset=(0, 50, 0)))
    s = siap(est, [a], grid(t0, 11), gate_m=1000, max_age_ns=S // 2)
    assert s.ambiguity_overall == pytest.approx(2.0)
    assert s.completeness_overall == 1.0
    assert s.spuriousness_overall == 0.0
    assert s.position_accuracy_overall_m == pytest.approx(25.0)
    # Both tracks cover the whole flight: the greedy cover needs one, no change.
    assert s.track_number_changes.tolist() == [0]


def test_spurious_track_and_missed_truth(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 10)
    b = cv("b", (0, 5e4, 0), (100, 0, 0), 0, 10)
    ghost = on(a, 9, np.arange(0, 11), offset=(0, -2e5, 0))  # far from every truth
    est = cat(on(a, 1, np.arange(0, 11)), ghost)
    s = siap(est, [a, b], grid(t0, 11), gate_m=1000, max_age_ns=S // 2)
    assert s.spuriousness_overall == pytest.approx(0.5)
    assert s.completeness_overall == pytest.approx(0.5)
    assert s.longest_segment_s.tolist() == [10.0, 0.0]
    assert s.longest_track_segment == pytest.approx(0.5)


def test_same_track_returning_after_a_gap_is_not_a_change(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 20)
    est = cat(on(a, 1, np.arange(0, 8)), on(a, 1, np.arange(12, 21)))
    s = siap(est, [a], grid(t0, 21), gate_m=1000, max_age_ns=S // 2)
    assert s.track_number_changes.tolist() == [0]
    assert s.completeness_overall == pytest.approx(17 / 21)
    # After the gap a *different* track is a change.
    est2 = cat(on(a, 1, np.arange(0, 8)), on(a, 2, np.arange(12, 21)))
    assert (
        siap(est2, [a], grid(t0, 21), gate_m=1000, max_age_ns=S // 2).track_number_changes[0] == 1
    )


def test_unaligned_estimate_times_compare_with_truth_at_their_own_time(cv, on, t0):
    a = cv("a", (0, 0, 0), (1000, 0, 0), 0, 20)
    # Estimates 0.3 s before each grid time: exact at their own time, 300 m off if moved.
    est = on(a, 1, np.arange(0, 20) + 0.7)
    s = siap(est, [a], grid(t0, 20, 1.0)[1:], gate_m=100, max_age_ns=S)
    assert s.completeness_overall == 1.0
    assert s.position_accuracy_overall_m == pytest.approx(0.0, abs=1e-6)


def test_confirmed_only_ignores_tentative_tracks(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 10)
    est = cat(on(a, 1, np.arange(0, 11)), on(a, 2, np.arange(0, 11), confirmed=False))
    assert siap(est, [a], grid(t0, 11), gate_m=1e3, max_age_ns=S // 2).ambiguity_overall == 1.0
    s_all = siap(est, [a], grid(t0, 11), gate_m=1e3, max_age_ns=S // 2, confirmed_only=False)
    assert s_all.ambiguity_overall == 2.0


def test_set_errors_over_time(cv, on, cat, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 10)
    b = cv("b", (0, 5e4, 0), (0, 100, 0), 0, 10)
    # b is tracked only from 5 s; a's track is 3-4-0 off; one false track throughout.
    est = cat(
        on(a, 1, np.arange(0, 11), offset=(3, 4, 0)),
        on(b, 2, np.arange(5, 11)),
        on(a, 3, np.arange(0, 11), offset=(0, 9e4, 0)),
    )
    c = 100.0
    r = set_errors_over_time(est, [a, b], grid(t0, 11), c=c, p=2, max_age_ns=S // 2)
    # Early: 2 truths, 2 tracks; OSPA pairs b with the false track at the cutoff.
    early = np.sqrt((25 + c**2) / 2)
    late = np.sqrt((25 + 0 + c**2) / 3)  # 3 tracks: one surplus at c
    np.testing.assert_allclose(r.ospa_m[:5], early)
    np.testing.assert_allclose(r.ospa_m[5:], late)
    np.testing.assert_allclose(r.gospa_m[:5], np.sqrt(25 + c**2 / 2 + c**2 / 2))
    np.testing.assert_allclose(r.missed, [c**2 / 2] * 5 + [0.0] * 6)
    np.testing.assert_allclose(r.false, c**2 / 2)
    assert r.n_truth.tolist() == [2] * 11
    assert r.n_tracks.tolist() == [2] * 5 + [3] * 6


def test_empty_tables_and_no_truths(cv, on, t0):
    a = cv("a", (0, 0, 0), (100, 0, 0), 0, 10)
    none = on(a, 1, [])
    g = grid(t0, 11)
    s = siap(none, [a], g, gate_m=100, max_age_ns=S)
    assert s.completeness_overall == 0.0 and np.isnan(s.spuriousness_overall)
    r = set_errors_over_time(none, [a], g, c=100, p=2, max_age_ns=S)
    np.testing.assert_allclose(r.ospa_m, 100.0)  # one missed object costs c
    est = on(a, 1, np.arange(11))
    s2 = siap(est, [], g, gate_m=100, max_age_ns=S)
    assert s2.spuriousness_overall == 1.0 and np.isnan(s2.completeness_overall)
    np.testing.assert_allclose(set_errors_over_time(est, [], g, c=50, max_age_ns=S).ospa_m, 50.0)
