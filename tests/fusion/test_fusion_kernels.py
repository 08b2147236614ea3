"""The compiled kernels against the NumPy reference they replace (trilink.fusion.compiled).

Tolerances: where the kernel computes the same closed expressions (propagation, the
gating distance, fast-CI weights, single inputs) they agree to round-off (1e-9 relative
or better). Where an optimiser stops on a tolerance (optimal CI weights: Newton stops
once a step gains less than 1e-12 of the objective) the *objective* agrees to 1e-9
relative, and the weights to the flatness of the optimum: 1e-5 absolute here (the salvo
and the 1,000 x 3 benchmark show 1e-7).
"""

from __future__ import annotations

import numpy as np
from fusion_scenarios import View, simulate
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trilink.fusion import FusionConfig, SystemTrackTable
from trilink.fusion.align import propagate
from trilink.fusion.compiled import numpy_reference, use_kernels, warm_up
from trilink.fusion.gating import difference_distance
from trilink.fusion.intersection import covariance_intersection
from trilink.fusion.synthetic import (
    JPN,
    KOR,
    USA,
    correlated_errors,
    launch_state,
    radar_covariance,
    salvo_initial_states,
)
from trilink.geo.wgs84 import DEG
from trilink.tracking import jit

unit = st.floats(-1.0, 1.0, allow_nan=False, width=64)
log_scale = st.floats(-1.0, 4.0, allow_nan=False)


def _spd(a: np.ndarray, scales: np.ndarray) -> np.ndarray:
    d = np.diag(10.0**scales)
    return d @ (a @ a.T + 0.05 * np.eye(a.shape[-1])) @ d


def _objects(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n ballistic states (n, 6) and three nations' covariances (n, 3, 6, 6) of them."""
    rng = np.random.default_rng(seed)
    x = launch_state(
        rng.uniform(36.0, 42.0, n) * DEG,
        rng.uniform(125.0, 140.0, n) * DEG,
        rng.uniform(80e3, 800e3, n),
        rng.uniform(2000.0, 6000.0, n),
        rng.uniform(0.0, 360.0, n) * DEG,
        rng.uniform(-30.0, 30.0, n) * DEG,
    )
    P = np.stack([radar_covariance(x[:, :3], nat) for nat in (KOR, JPN, USA)], axis=1)
    return x, P


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference per row, relative to the row's largest entry."""
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return float(np.max(np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)))


def test_kernels_follow_the_tracker_switch_and_the_block_restores_them():
    assert use_kernels() == jit.ENABLED  # TRILINK_NUMBA=0 runs the NumPy reference
    with numpy_reference():
        assert not use_kernels()
    assert use_kernels() == jit.ENABLED
    SystemTrackTable()  # warms the kernels up once; later calls cost nothing
    assert warm_up() == 0.0


def test_propagation_matches_the_reference_to_round_off():
    x, P = _objects(64, 1)
    rng = np.random.default_rng(2)
    dt = rng.uniform(-30.0, 30.0, 64)  # several RK4 steps, both directions of time
    q, sig = rng.uniform(0.0, 10.0, 64), rng.uniform(0.0, 150.0, 64)
    xk, Pk = propagate(x, P[:, 0], dt, q, sig)
    with numpy_reference():
        xr, Pr = propagate(x, P[:, 0], dt, q, sig)
    assert np.max(np.abs(xk - xr)) < 1e-6  # metres on ECEF ~ 7e6 m: 1e-13 relative
    assert _rel(Pk, Pr) < 1e-10
    np.testing.assert_array_equal(Pk, np.swapaxes(Pk, -1, -2))


def test_gating_distance_matches_the_reference():
    x, P = _objects(200, 3)
    err = correlated_errors(np.swapaxes(P, 0, 1)[:2], 0.5, np.random.default_rng(4))
    xb = x + err[0] - err[1]
    d2, logdet = difference_distance(x, P[:, 0], xb, P[:, 1])
    with numpy_reference():
        d2_r, logdet_r = difference_distance(x, P[:, 0], xb, P[:, 1])
    np.testing.assert_allclose(d2, d2_r, rtol=1e-9)
    np.testing.assert_allclose(logdet, logdet_r, rtol=1e-12)
    # a sum that is not positive definite is infinitely far, as in the reference
    bad = np.diag([-1.0, 1.0, 1.0, 1.0, 1.0, 1.0])[None]
    assert difference_distance(x[:1], bad, xb[:1], bad)[0][0] == np.inf


def _objective(P: np.ndarray, criterion: str) -> np.ndarray:
    if criterion == "trace":
        return np.trace(P, axis1=-2, axis2=-1)
    return np.linalg.slogdet(P)[1]


def _compare(x, P, mask, criterion, omega):
    xk, Pk, wk = covariance_intersection(x, P, mask, criterion, omega)
    with numpy_reference():
        xr, Pr, wr = covariance_intersection(x, P, mask, criterion, omega)
    return (xk, Pk, wk), (xr, Pr, wr)


def test_ci_on_radar_covariances_matches_the_reference():
    x, P = _objects(300, 5)
    rng = np.random.default_rng(6)
    err = correlated_errors(np.swapaxes(P, 0, 1), 0.5, rng)
    xs = x[:, None] + np.swapaxes(err, 0, 1)
    mask = rng.random((300, 3)) < 0.75  # rows of 0, 1, 2 and 3 inputs
    for criterion in ("trace", "det"):
        (xk, Pk, wk), (xr, Pr, wr) = _compare(xs, P, mask, criterion, "optimal")
        empty = ~mask.any(axis=1)
        assert np.all(np.isnan(xk[empty])) and np.all(np.isnan(Pk[empty]))
        one = mask.sum(axis=1) == 1
        np.testing.assert_array_equal(Pk[one], Pr[one])  # a single input is its own fusion
        full = ~empty
        fk, fr = _objective(Pk[full], criterion), _objective(Pr[full], criterion)
        np.testing.assert_allclose(fk, fr, rtol=1e-9)
        assert np.max(np.abs(wk - wr)) < 1e-5
        assert _rel(Pk[full], Pr[full]) < 1e-5
        assert np.max(np.abs(xk[full] - xr[full])) < 1e-3  # metres
        two = mask.sum(axis=1) == 2  # the pair search: same steps, round-off only
        assert _rel(Pk[two], Pr[two]) < 1e-9
        (xk, Pk, wk), (xr, Pr, wr) = _compare(xs, P, mask, criterion, "fast")
        assert _rel(Pk[full], Pr[full]) < 1e-9
        np.testing.assert_allclose(wk, wr, rtol=0, atol=1e-12)


@st.composite
def covariance_stack(draw, k_min=2, k_max=4):
    k = draw(st.integers(k_min, k_max))
    raw = draw(arrays(float, (k, 6, 6), elements=unit))
    scales = draw(arrays(float, (k, 6), elements=log_scale))
    return np.stack([_spd(raw[i], scales[i]) for i in range(k)])


@settings(max_examples=60, deadline=None)
@given(covariance_stack(), st.sampled_from(["trace", "det"]), st.sampled_from(["optimal", "fast"]))
def test_ci_of_arbitrary_covariances_reaches_the_reference_objective(P, criterion, omega):
    x = np.random.default_rng(0).normal(size=P.shape[:-1]) * 100.0
    (xk, Pk, wk), (xr, Pr, wr) = _compare(x[None], P[None], None, criterion, omega)
    fk, fr = _objective(Pk, criterion)[0], _objective(Pr, criterion)[0]
    scale = abs(fr) if criterion == "trace" else 1.0  # log det: an absolute tolerance
    assert abs(fk - fr) <= 1e-9 * scale
    # The mean is the CI mean of the kernel's own weights (exact CI, whatever the optimum)...
    info = np.linalg.inv(P)
    Pw = np.linalg.inv(np.einsum("k,kij->ij", wk[0], info))
    x_w = Pw @ np.einsum("k,kij,kj->i", wk[0], info, x)
    d = xk[0] - x_w
    assert d @ np.linalg.solve(Pw, d) < 1e-12
    # ... and the reference's mean where the optimum is unique (equal inputs make every
    # weight optimal, and the two may then stop at different ones).
    if np.max(np.abs(wk - wr)) < 1e-6:
        d = (xk - xr)[0]
        assert d @ np.linalg.solve(Pr[0], d) < 1e-6  # within a thousandth of a sigma
    assert np.all(wk >= 0) and abs(wk.sum() - 1.0) < 1e-12
    np.testing.assert_allclose(Pk, np.swapaxes(Pk, -1, -2), rtol=0, atol=1e-12 * np.abs(Pk).max())


def test_the_table_gives_the_same_picture_with_and_without_kernels():
    """Three nations on a salvo of three, JPN's tracker jumping to another missile: every
    number, event and contributor identical; fused states within the weights' tolerance."""
    x0 = salvo_initial_states(3, 20.0)
    views = [View(nat, f"{nat.name}{i}", i) for nat in (KOR, USA) for i in range(3)]
    views += [View(JPN, f"j{i}", i, latency_s=0.7) for i in (1, 2)]
    views += [View(JPN, "j0", lambda t: 0 if t < 30.0 else 1, latency_s=0.7)]
    times = np.arange(0.0, 60.0, 0.5)
    runs = []
    for reference in (False, True):
        table = SystemTrackTable(FusionConfig())
        if reference:
            with numpy_reference():
                runs.append(simulate(x0, views, times, table, seed=8))
        else:
            runs.append(simulate(x0, views, times, table, seed=8))
    assert any(e.kind == "decorrelate" for p in runs[0].pictures for e in p.events)
    for pk, pr in zip(runs[0].pictures, runs[1].pictures, strict=True):
        assert pk.events == pr.events and pk.contributors == pr.contributors
        np.testing.assert_array_equal(pk.number, pr.number)
        np.testing.assert_array_equal(pk.status, pr.status)
        if len(pk):
            assert _rel(pk.P, pr.P) < 1e-5
            assert np.max(np.abs(pk.x - pr.x)) < 1e-3  # metres, m/s


def test_kernel_cache_is_keyed_on_every_fusion_kernel_file():
    """numba keys a cached function on its own file only; the CI and gating kernels
    compile in the helpers of kernels_linalg.py and kernels_pair.py, so every fusion
    kernel is keyed on all the kernel files (trilink.fusion.compiled)."""
    from pathlib import Path

    from trilink.fusion import compiled, kernels_align, kernels_ci, kernels_gating
    from trilink.tracking import jit

    names = {Path(p).name for p in compiled._SOURCES}
    assert {"kernels_linalg.py", "kernels_pair.py", "kernels_ci.py", "jit.py"} <= names
    for kernel in (
        kernels_ci.fuse_groups_kernel,
        kernels_gating.distance_kernel,
        kernels_align.propagate_kernel,
    ):
        locator = kernel._cache._impl._locator
        assert locator.get_source_stamp() == compiled._STAMP == jit.digest(compiled._SOURCES)
