"""Track management: the compiled stale, candidate and phase tests equal their NumPy
references, and the assignment's shortcut equals the solver.

States come from a real tracking run on a synthetic SRBM (boost, mid-course, re-entry),
with tracks moved to make every rule fire at least once.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from tracking_synth import Radar, fly, observe

from trilink.geo import range_az_el
from trilink.tracking import management as mg
from trilink.tracking.association import assign
from trilink.tracking.config import TrackerConfig
from trilink.tracking.filters import Measurement
from trilink.tracking.tracker import track_all

KOR = Radar("KOR-GP1", "KOR", 36.8, 127.6)
CFG = TrackerConfig()


@pytest.fixture(scope="module")
def table():
    """An IMM table (x, P, mu) of 40 rows from a real run, whose models disagree a little."""
    rng = np.random.default_rng(31)
    det, _ = observe(fly(), KOR, rng)
    hist = track_all([det], "KOR", predictions=False)
    sel = np.linspace(0, len(hist.t_ns) - 1, 40).round().astype(int)
    n = sel.size
    x = np.zeros((n, 2, 8))
    x[:, :, :6] = hist.x[sel][:, None]
    x[:, 1, :6] += rng.normal(size=(n, 6)) * 50.0
    x[:, 1, 6] = 25.0
    x[:, :, 7] = 2e-4
    P = np.zeros((n, 2, 8, 8))
    P[:, :, :6, :6] = hist.P[sel][:, None]
    P[:, :, 6, 6] = 100.0
    P[:, :, 7, 7] = 1e-8
    return x, P, rng.dirichlet([1.0, 1.0], n), hist.t_ns[sel], hist.phase[sel]


def test_stale_kernel_equals_reference_and_every_rule_fires(table):
    x, P, mu, t_hit, _ = table
    x, P, t_hit = x.copy(), P.copy(), t_hit.copy()
    n = x.shape[0]
    confirmed = np.arange(n) % 3 != 0
    t_now = int(t_hit.max())
    t_hit[1] = t_now - int(181e9)  # confirmed, coasted too long
    t_hit[3] = t_now - int(31e9)  # tentative, timed out
    t_hit[4] = t_now - int(31e9)  # confirmed: still alive at 31 s
    P[5, :, 0, 0] = 1e9  # confirmed, sigma > 30 km
    x[7, :, 0:3] *= 0.999  # 6 km under the surface
    P[8, 0, 1, 1] = np.nan  # not finite
    a = mg.stale(x, P, mu, t_hit, confirmed, t_now, CFG)
    b = mg.stale_reference(x, P, mu, t_hit, confirmed, t_now, CFG)
    assert np.array_equal(a, b)
    assert a[[1, 3, 5, 7, 8]].all() and not a[4]
    assert 0 < a.sum() < n - 5


def test_scan_candidates_kernel_equals_reference(table):
    x, P, mu, _, _ = table
    rng = np.random.default_rng(5)
    meas = Measurement("radar", KOR.ecef, KOR.rot)
    # detections near a few tracks and one far away, at each track's predicted position
    r = x[::9, 0, :3] + rng.normal(size=(5, 3)) * 2e3
    z = range_az_el(np.vstack([r, r[:1] + 5e5]), KOR.ecef, KOR.rot)
    R = np.broadcast_to(np.diag([30.0**2, 1e-3**2, 1e-3**2]), (z.shape[0], 3, 3)).copy()
    dt = rng.uniform(0.0, 20.0, x.shape[0])
    a = mg.scan_candidates(x, P, mu, dt, z, R, meas)
    b = mg.scan_candidates_reference(x, P, mu, dt, z, R, meas)
    assert np.array_equal(a, b)
    assert a.any() and not a.all()


def test_phase_kernel_equals_reference_on_every_phase(table):
    x, _, mu, _, phase = table
    xc = (mu[:, :, None] * x).sum(axis=1)
    pb = mu[:, 1]
    a = mg.phase_codes(xc, pb)
    assert np.array_equal(a, mg.phase_codes_reference(xc, pb))
    assert set(mg.PHASES[a]) == {"boost", "midcourse", "reentry"}
    # with the tracker's own probabilities, the tracker's recorded phases
    assert set(phase) >= {"boost", "midcourse", "reentry"}


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5),
    st.integers(1, 5),
    st.floats(0.05, 0.95),
    st.integers(0, 2**32 - 1),
)
def test_assignment_shortcut_equals_the_solver(n: int, d: int, density: float, seed: int):
    rng = np.random.default_rng(seed)
    d2 = rng.uniform(0.0, 30.0, (n, d))
    gate = 30.0 * density
    cost = d2 + rng.normal(size=(n, d))
    ti, di = assign(d2, cost, gate)
    # the solver on the whole matrix, infeasible pairs priced out, as assign documents
    feasible = d2 <= gate
    ri, ci = linear_sum_assignment(np.where(feasible, cost, 1e12))
    keep = feasible[ri, ci]
    assert np.array_equal(ti, ri[keep]) and np.array_equal(di, ci[keep])


@pytest.mark.parametrize("kind", ["radar", "ir"])
def test_predict_and_gate_kernel_equals_reference(table, kind):
    x, P, mu, t_hit, _ = table
    rng = np.random.default_rng(9)
    t_trk = t_hit - rng.integers(0, 20_000_000_000, t_hit.size)
    t_now = int(t_hit.max()) + 1_000_000_000
    meas = Measurement(kind, KOR.ecef, KOR.rot)
    r = x[::9, 0, :3] + rng.normal(size=(5, 3)) * 2e3
    z = range_az_el(np.vstack([r, r[:1] + 5e5]), KOR.ecef, KOR.rot)
    R = np.broadcast_to(np.diag([30.0**2, 1e-3**2, 1e-3**2]), (z.shape[0], 3, 3)).copy()
    if kind == "ir":
        z, R = z[:, 1:].copy(), R[:, 1:, 1:].copy()
    args = (x, P, mu, t_trk, t_now, z, R, meas, CFG)
    before = [a.copy() for a in args[:4]]
    a = mg.predict_and_gate(*args)
    b = mg.predict_and_gate_reference(*args)
    assert all(np.array_equal(u, v) for u, v in zip(before, args[:4], strict=True))  # pure
    assert np.array_equal(a[0], b[0]) and 0 < a[0].size
    assert (a[0].size < x.shape[0]) == (kind == "radar")  # angles gate every track
    assert np.array_equal(a[4], b[4])
    for u, v in zip(a[1:4] + a[5:], b[1:4] + b[5:], strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-9)


def test_younger_duplicates_kernel_equals_reference(table):
    x, P, mu, _, _ = table
    x, P, mu = x[:6].copy(), P[:6].copy(), mu[:6].copy()
    # rows 4 and 5 copy rows 1 and 0 (moved by half a sigma): each copy is the younger
    sd = np.sqrt(np.diagonal(P[0, 0]))
    x[4], P[4], mu[4] = x[1], P[1], mu[1]
    x[5], P[5], mu[5] = x[0] + 0.5 * sd, P[0], mu[0]
    ids = np.array([10, 3, 11, 12, 4, 20])
    rows = np.array([0, 1, 3, 4, 5])
    a = mg.younger_duplicates(x, P, mu, rows, ids, CFG.duplicate_gate)
    b = mg.younger_duplicates_reference(x, P, mu, rows, ids, CFG.duplicate_gate)
    assert np.array_equal(a, b)
    assert a.tolist() == [False, False, False, True, True]


def test_update_and_count_kernel_equals_reference(table):
    x, P, mu, t_hit, _ = table
    x, P, mu = x[:6].copy(), P[:6].copy(), mu[:6].copy()
    mu[2] = [0.05, 0.95]  # boosting: its burnout height is taken once it has M hits
    n = 6
    counts = mg.Counts(
        nis=np.full(n, np.nan),
        t_hit=t_hit[:6].copy(),
        hits=np.array([5, 2, 2, 1, 2, 9]),
        burnout_h=np.full(n, np.nan),
        watch=np.array([[1, 0], [1, 1], [0, 1], [1, 1], [0, 0], [1, 0]], dtype=bool),
        opps=np.array([6, 3, 2, 3, 2, 9]),
        confirmed=np.array([True, False, False, False, False, True]),
    )
    meas = Measurement("radar", KOR.ecef, KOR.rot)
    rng = np.random.default_rng(2)
    r = np.vstack([x[[1, 2, 0], 0, :3] + rng.normal(size=(3, 3)) * 100.0, x[0, 0, :3] + 4e5])
    z = range_az_el(r, KOR.ecef, KOR.rot)
    R = np.broadcast_to(np.diag([30.0**2, 1e-3**2, 1e-3**2]), (4, 3, 3)).copy()
    cand = np.array([0, 1, 2, 3, 5])
    d2 = rng.uniform(0.0, 40.0, (cand.size, 4))
    d2[0, 3] = 1.0  # the far detection falls in a confirmed track's gate: not free
    ci, di = np.array([1, 2]), np.array([0, 1])  # tracks 1 and 2 take detections 0 and 1
    args = (x, P, mu, counts, cand, (ci, di), d2, z, R, meas, int(t_hit.max()), 1, CFG)
    a = mg.update_and_count(*args)
    b = mg.update_and_count_reference(*args)
    for u, v in zip(a[:3], b[:3], strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-9)
    for f in ("nis", "burnout_h"):
        np.testing.assert_allclose(getattr(a[3], f), getattr(b[3], f), rtol=1e-12)
    for f in ("t_hit", "hits", "watch", "opps", "confirmed"):
        assert np.array_equal(getattr(a[3], f), getattr(b[3], f)), f
    assert np.array_equal(a[4], b[4]) and np.array_equal(a[5], b[5])
    c, failed, free = b[3], b[4], b[5]
    assert c.confirmed.tolist() == [True, True, True, False, False, True]
    took = np.isin(np.arange(n), cand[ci]) & (b[2][:, 1] > 0.8) & (c.hits >= CFG.confirm_m)
    assert np.array_equal(np.isfinite(c.burnout_h), took) and took[2]
    assert failed.tolist() == [False, False, False, True, False, False]  # 4 opportunities
    assert c.opps.tolist() == [6, 4, 3, 4, 2, 9]  # sensor 1's watchers, the new one included
    assert np.isnan(counts.nis).all()  # inputs untouched
    assert free[2] == (not (d2[[0, 1, 2, 4], 2] <= 14.0).any())  # chi2(3) gate ~ 21.1
    assert not free[0] and not free[1] and not free[3]


@pytest.mark.parametrize("kernels", [True, False])
def test_in_place_steps_update_the_given_table_as_the_pure_ones_return_it(
    table, kernels, monkeypatch
):
    from trilink.tracking import jit

    monkeypatch.setattr(jit, "ENABLED", kernels)
    x, P, mu, t_hit, _ = table
    t_trk = t_hit - 3_000_000_000
    meas = Measurement("radar", KOR.ecef, KOR.rot)
    z = range_az_el(x[::9, 0, :3] + 500.0, KOR.ecef, KOR.rot)
    R = np.broadcast_to(np.diag([30.0**2, 1e-3**2, 1e-3**2]), (z.shape[0], 3, 3)).copy()
    t_now = int(t_hit.max())
    pure = mg.predict_and_gate(x, P, mu, t_trk, t_now, z, R, meas, CFG)
    own = [a.copy() for a in (x, P, mu, t_trk)]
    inplace = mg.predict_and_gate(*own, t_now, z, R, meas, CFG, in_place=True)
    assert all(a is b for a, b in zip(inplace[1:5], own, strict=True))
    for a, b in zip(pure, inplace, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    n = x.shape[0]
    counts = mg.Counts(
        np.full(n, np.nan), t_hit.copy(), np.full(n, 2), np.full(n, np.nan),
        np.ones((n, 1), bool), np.full(n, 3), np.zeros(n, bool),
    )  # fmt: skip
    cand, d2 = pure[0], pure[5]
    ci, di = assign(d2, pure[6], 14.0)
    assert ci.size
    args = (cand, (ci, di), d2, z, R, meas, t_now, 0, CFG)
    a = mg.update_and_count(*pure[1:4], counts, *args)
    c2 = mg.Counts(*(np.array(v) for v in dataclasses.astuple(counts)))
    b = mg.update_and_count(*inplace[1:4], c2, *args, in_place=True)
    assert b[0] is inplace[1] and b[3].hits is c2.hits
    for u, v in zip(a[:3] + a[4:], b[:3] + b[4:], strict=True):
        assert np.array_equal(u, v, equal_nan=True)
    for u, v in zip(dataclasses.astuple(a[3]), dataclasses.astuple(c2), strict=True):
        assert np.array_equal(u, v, equal_nan=True)
    assert np.array_equal(counts.hits, np.full(n, 2))  # the pure call left its input alone


def test_snapshot_kernel_equals_reference(table):
    x, P, mu, t_hit, _ = table
    t_trk = t_hit - np.arange(t_hit.size) * 100_000_000  # 0 to 3.9 s behind
    t_now = int(t_hit.max())
    a = mg.snapshot(x, P, mu, t_trk, t_now, CFG)
    b = mg.snapshot_reference(x, P, mu, t_trk, t_now, CFG)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-9, atol=1e-6)
    assert np.array_equal(a[2], b[2]) and len(set(a[2].tolist())) >= 2
