"""OSPA and GOSPA against hand-computed cases and their metric properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.evaluate import gospa, gospa_from_distances, ospa, ospa_from_distances


def pts(*xs):
    return np.array(xs, dtype=float).reshape(len(xs), -1)


# ---- hand-computed cases -------------------------------------------------------------


def test_single_pair_inside_cutoff():
    assert ospa(pts(0.0), pts(1.0), c=10, p=2) == pytest.approx(1.0)
    g = gospa(pts(0.0), pts(1.0), c=10, p=2)
    assert g.distance == pytest.approx(1.0)
    assert (g.localisation, g.missed, g.false) == (pytest.approx(1.0), 0.0, 0.0)


def test_cardinality_mismatch_p1():
    # m=1 estimate, n=2 truths: OSPA = (1 + c (n-m)) / n = (1 + 5) / 2; GOSPA = 1 + c/2.
    assert ospa(pts(0.0, 10.0), pts(1.0), c=5, p=1) == pytest.approx(3.0)
    g = gospa(pts(0.0, 10.0), pts(1.0), c=5, p=1)
    assert g.distance == pytest.approx(3.5)
    assert (g.localisation, g.missed, g.false) == (pytest.approx(1.0), 2.5, 0.0)
    assert (g.n_assigned, g.n_missed, g.n_false) == (1, 1, 0)


def test_two_dimensional_pairs():
    x = pts((0, 0), (10, 0))
    y = pts((0, 1), (10, 3))
    assert ospa(x, y, c=100, p=2) == pytest.approx(math.sqrt((1 + 9) / 2))
    assert gospa(x, y, c=100, p=2).distance == pytest.approx(math.sqrt(10))


def test_optimal_not_greedy_assignment():
    # Greedy nearest-first pairs 1.9-1 (0.9) then 0-10 (10): 10.9. Optimal: 1 + 8.1 = 9.1.
    assert ospa(pts(0.0, 1.9), pts(1.0, 10.0), c=100, p=1) == pytest.approx(9.1 / 2)


def test_pair_beyond_cutoff_is_missed_plus_false():
    g = gospa(pts(0.0), pts(100.0), c=10, p=2)
    assert g.distance == pytest.approx(10.0)  # (c^p/2 + c^p/2)^(1/p) = c
    assert (g.localisation, g.missed, g.false) == (0.0, 50.0, 50.0)
    assert ospa(pts(0.0), pts(100.0), c=10, p=2) == pytest.approx(10.0)


def test_empty_sets():
    empty = np.empty((0, 3))
    one = pts((1, 2, 3))
    assert ospa(empty, empty, c=5) == 0.0
    assert ospa(one, empty, c=5) == pytest.approx(5.0)
    assert ospa(empty, one, c=5) == pytest.approx(5.0)
    g = gospa(one, empty, c=5, p=2)
    assert g.distance == pytest.approx(math.sqrt(25 / 2))
    assert (g.n_missed, g.n_false) == (1, 0)
    assert gospa(empty, one, c=5, p=2).n_false == 1
    assert gospa(empty, empty, c=5).distance == 0.0


def test_non_finite_distance_costs_the_cutoff():
    d = np.array([[np.inf, 1.0], [np.nan, 2.0]])
    # rows: truths; the only finite column takes one truth, the other pays c.
    assert ospa_from_distances(d, c=4, p=1) == pytest.approx((1.0 + 4.0) / 2)
    assert gospa_from_distances(d, c=4, p=1).distance == pytest.approx(1.0 + 2.0 + 2.0)


def test_rejects_bad_parameters():
    with pytest.raises(ValueError):
        ospa(pts(0.0), pts(1.0), c=0.0)
    with pytest.raises(ValueError):
        ospa(pts(0.0), pts(1.0), c=1.0, p=0.5)
    with pytest.raises(ValueError):
        gospa(pts(0.0), pts(1.0), c=1.0, alpha=3.0)


# ---- properties ------------------------------------------------------------------------

coord = st.floats(-20, 20, allow_nan=False, allow_infinity=False)
point_sets = st.lists(st.tuples(coord, coord), min_size=0, max_size=4).map(
    lambda xs: np.array(xs, dtype=float).reshape(-1, 2)
)
params = st.sampled_from([(5.0, 1.0), (10.0, 2.0), (3.0, 3.0)])


@settings(max_examples=150, deadline=None)
@given(point_sets, params)
def test_zero_for_identical_sets(x, cp):
    c, p = cp
    assert ospa(x, x, c, p) == pytest.approx(0.0, abs=1e-9)
    assert gospa(x, x, c, p).distance == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(point_sets, point_sets, params)
def test_symmetric_and_bounded(x, y, cp):
    c, p = cp
    d = ospa(x, y, c, p)
    assert d == pytest.approx(ospa(y, x, c, p), abs=1e-9)
    assert 0.0 <= d <= c + 1e-9
    g, gr = gospa(x, y, c, p), gospa(y, x, c, p)
    assert g.distance == pytest.approx(gr.distance, abs=1e-9)
    assert g.missed == pytest.approx(gr.false) and g.false == pytest.approx(gr.missed)


@settings(max_examples=200, deadline=None)
@given(point_sets, point_sets, point_sets, params)
def test_triangle_inequality(x, y, z, cp):
    c, p = cp
    assert ospa(x, z, c, p) <= ospa(x, y, c, p) + ospa(y, z, c, p) + 1e-9
    assert (
        gospa(x, z, c, p).distance <= gospa(x, y, c, p).distance + gospa(y, z, c, p).distance + 1e-9
    )


@settings(max_examples=150, deadline=None)
@given(point_sets, point_sets, params)
def test_gospa_decomposition_adds_up(x, y, cp):
    c, p = cp
    g = gospa(x, y, c, p)
    assert g.localisation + g.missed + g.false == pytest.approx(g.distance**p, rel=1e-9, abs=1e-9)
    assert g.n_assigned + g.n_missed == len(x)
    assert g.n_assigned + g.n_false == len(y)
    assert g.localisation <= g.n_assigned * c**p + 1e-9


@settings(max_examples=100, deadline=None)
@given(point_sets, st.integers(1, 4), params)
def test_cardinality_penalty(x, k, cp):
    """k extra estimates farther than c from everything cost exactly c^p per object."""
    c, p = cp
    far = np.column_stack([np.full(k, 1e4) + 10 * c * np.arange(k), np.zeros(k)])
    y = np.vstack([x, far])
    n = len(y)
    assert ospa(x, y, c, p) == pytest.approx((c**p * k / n) ** (1 / p), rel=1e-9)
    g = gospa(x, y, c, p)
    assert g.distance == pytest.approx((c**p / 2 * k) ** (1 / p), rel=1e-9)
    assert g.n_false == k and g.localisation == pytest.approx(0.0, abs=1e-9)
