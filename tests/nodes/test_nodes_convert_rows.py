"""The batch wire conversions equal the row-by-row ones, value for value."""

import numpy as np

from trilink.nodes.convert import (
    covariance_from_wire,
    covariance_to_wire,
    covariances_from_wire,
    quality_of,
    rows_to_wire,
    state_to_wire,
)


def test_rows_to_wire_and_back_equal_the_per_row_functions():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(7, 6, 6)) * np.array([1e3, 1e3, 1e3, 10.0, 10.0, 10.0])
    P = A @ np.swapaxes(A, -1, -2) + np.eye(6)
    P[:, 0, 1] += 1e-9  # not exactly symmetric: both paths symmetrise the same way
    x = rng.normal(size=(7, 8)) * 1e6
    states, covs, qualities = rows_to_wire(x, P)
    assert states == [state_to_wire(r) for r in x]
    assert covs == [covariance_to_wire(p) for p in P]
    assert qualities == [quality_of(p) for p in P]
    back = covariances_from_wire(covs)
    assert np.array_equal(back, np.stack([covariance_from_wire(c) for c in covs]))
