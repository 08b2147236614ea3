"""The positive-definiteness check agrees with numpy's eigenvalues of the correlation matrix;
the fast paths (unrolled Cholesky, per-type finite check) agree with their reference forms."""

from __future__ import annotations

import math

import msgspec
import msgspec.inspect as mi
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import DecodeError
from trilink.link.golden import signed_examples
from trilink.link.validate import (
    _FINITE,
    PD_TOLERANCE,
    _finite_checker,
    _first_failure,
    _nonfinite_path,
    _reference_failure,
    check_covariance,
    validate,
)
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


@settings(max_examples=300)
@given(
    st.lists(st.floats(-3, 3), min_size=36, max_size=36),
    st.floats(-1.5, 1.5),
    st.lists(st.floats(-4, 12), min_size=6, max_size=6),
)
def test_unrolled_cholesky_gives_the_same_floats_as_the_loops(entries, shift, log_sd):
    a = np.array(entries).reshape(6, 6)
    sd = 10.0 ** np.array(log_sd)
    c = pack_covariance((a @ a.T + shift * np.eye(6)) * np.outer(sd, sd))
    for tol in (PD_TOLERANCE, 0.0, 0.5, 0.9, 0.999):  # fail at different rows: same pivot
        assert _first_failure(c, tol) == _reference_failure(c, tol)


@pytest.mark.parametrize("i", range(6))
@pytest.mark.parametrize("v", [0.0, -1.0, math.nan])
def test_unrolled_variance_check_names_the_same_element(i, v):
    p = np.eye(6)
    p[i, i] = v
    c = pack_covariance(p)
    got = _first_failure(c, PD_TOLERANCE)
    assert got is not None and got[:2] == ("variance", i)
    assert repr(got) == repr(_reference_failure(c, PD_TOLERANCE))


FINITE_CASES = [
    ("track_report", "state_ecef", 3),
    ("track_report", "covariance_ecef", 20),
    ("track_report", "launch.ellipse.sigma_major_m", None),
    ("track_report", "launch.lon_deg", None),
    ("system_track", "apogee_height_m", None),
    ("system_track", "impact.t_sigma_s", None),
    ("launch_event", "launch.lat_deg", None),
    ("warning", "time_to_impact_s", None),
    ("warning", "impact_polygon", (2, 1)),
    ("heartbeat", "uptime_s", None),
]


@pytest.mark.parametrize(("kind", "path", "index"), FINITE_CASES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_fast_finite_check_finds_what_the_walk_finds(kind, path, index, bad):
    msg = signed_examples()[kind]
    assert _FINITE.get(type(msg), _finite_checker(mi.type_info(type(msg))))(msg)
    assert _nonfinite_path(msg) is None
    broken = _set(msg, path.split("."), index, bad)
    with pytest.raises(DecodeError) as err:
        validate(broken)
    where = path + ("" if index is None else "".join(f"[{i}]" for i in np.atleast_1d(index)))
    assert err.value.field == where and "finite" in err.value.reason


def _set(obj, names, index, value):
    """A copy of the Struct ``obj`` with the field at ``names`` (then ``index``) replaced."""
    head = getattr(obj, names[0])
    if len(names) > 1:
        new = _set(head, names[1:], index, value)
    elif index is None:
        new = value
    elif isinstance(index, tuple):
        row = list(head[index[0]])
        row[index[1]] = value
        new = tuple(tuple(r) if i != index[0] else tuple(row) for i, r in enumerate(head))
    else:
        new = tuple(value if i == index else v for i, v in enumerate(head))
    return msgspec.structs.replace(obj, **{names[0]: new})
