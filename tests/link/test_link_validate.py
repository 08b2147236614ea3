"""The positive-definiteness check agrees with numpy's eigenvalues of the correlation matrix."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import DecodeError
from trilink.link.validate import PD_TOLERANCE, check_covariance
from trilink.messages import pack_covariance


def accepted(p: np.ndarray) -> bool:
    try:
        check_covariance(pack_covariance(p), "covariance_ecef")
    except DecodeError:
        return False
    return True


@settings(max_examples=400)
@given(
    st.lists(st.floats(-3, 3), min_size=36, max_size=36),
    st.floats(-1.5, 1.5),
    st.lists(st.floats(-4, 12), min_size=6, max_size=6),
)
def test_agrees_with_numpy_eigenvalues(entries, shift, log_sd):
    a = np.array(entries).reshape(6, 6)
    c = a @ a.T + shift * np.eye(6)  # shift < 0 can make it indefinite
    sd = 10.0 ** np.array(log_sd)  # variances over 32 orders of magnitude
    p = c * np.outer(sd, sd)
    diag = np.diag(c)
    if np.any(diag <= 0):
        assert not accepted(p)
        return
    lam = np.linalg.eigvalsh(c / np.sqrt(np.outer(diag, diag))).min()
    if abs(lam) < 1e-9:  # too close to the boundary for either to be the authority
        return
    assert accepted(p) == (lam > 0), lam


@pytest.mark.parametrize("rho", [0.9, 0.999, 0.99999, 0.9999999])
def test_strong_but_genuine_correlation_is_accepted(rho):
    p = np.diag([1e8, 1e8, 1e8, 1e2, 1e2, 1e2])
    for i in range(3):
        p[i, i + 3] = p[i + 3, i] = rho * 1e4 * 10
    assert accepted(p)


def test_tolerance_is_relative_to_the_unit_diagonal_matrix():
    p = np.eye(6)
    p[0, 1] = p[1, 0] = np.sqrt(1 - PD_TOLERANCE / 2)  # pivot 1 - rho^2 below tolerance
    assert not accepted(p)
    assert not accepted(p * 1e12) and not accepted(p * 1e-12)
