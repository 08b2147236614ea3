"""The compiled (numba) kernels equal the NumPy reference implementations.

States come from a real tracking run on a synthetic SRBM (boost, mid-course, re-entry
rows; known and unknown burnout heights), so every branch of the flights is exercised.
Tolerances: 1e-9 relative on positions and times; covariance entries 1e-9 of
``sqrt(P_ii P_jj)`` (entries near zero differ by rounding only).
"""

from __future__ import annotations

import numpy as np
import pytest
from tracking_synth import Radar, fly, observe

from trilink.geo import range_az_el
from trilink.tracking import association as assoc
from trilink.tracking import filters, imm, jit
from trilink.tracking.config import TrackerConfig
from trilink.tracking.filters import Measurement
from trilink.tracking.imm import model_rows
from trilink.tracking.prediction import predict_points, predict_points_reference
from trilink.tracking.tracker import track_all

KOR = Radar("KOR-GP1", "KOR", 36.8, 127.6)
CFG = TrackerConfig()


def test_numba_kernels_are_enabled():
    """Without numba every function silently runs its reference; this suite would then
    compare the reference with itself. numba is a dependency: it must be there."""
    import numba  # noqa: F401

    assert jit.ENABLED and jit.use_kernels()


@pytest.fixture(scope="module")
def hist():
    rng = np.random.default_rng(21)
    det, _ = observe(fly(), KOR, rng)
    return track_all([det], "KOR", predictions=False)


def _close(a, b, rtol=1e-9):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    np.testing.assert_allclose(a[ok], b[ok], rtol=rtol, atol=0.0)


def _close_cov(a, b, tol=1e-9):
    sd = np.sqrt(np.abs(np.diagonal(b, axis1=-2, axis2=-1)))
    scale = sd[..., :, None] * sd[..., None, :] + 1e-300
    assert np.max(np.abs(a - b) / scale) < tol


def _rows(hist, n):
    conf = np.flatnonzero(hist.status == "confirmed")
    return conf[np.linspace(0, conf.size - 1, n).round().astype(int)]


def test_predict_points_kernel_equals_reference(hist):
    sel = _rows(hist, 16)
    boosting = hist.phase[sel] == "boost"
    assert boosting.any() and (hist.phase[sel] == "reentry").any()
    burnout = np.where(np.arange(sel.size) % 2 == 0, np.nan, 25_000.0)  # unknown / known
    args = (hist.x[sel], hist.P[sel], hist.t_ns[sel], boosting, burnout, CFG)
    a, b = predict_points(*args), predict_points_reference(*args)
    for name in ("impact", "launch"):
        pa, pb = getattr(a, name), getattr(b, name)
        assert np.array_equal(pa.valid, pb.valid) and pb.valid.sum() >= 10
        v = pb.valid
        for f in ("lat_rad", "lon_rad", "semi_major_m", "semi_minor_m", "t_sigma_s"):
            _close(getattr(pa, f)[v], getattr(pb, f)[v])
        _close_cov(pa.cov_en_m2[v], pb.cov_en_m2[v])
        assert np.max(np.abs(pa.t_ns[v] - pb.t_ns[v])) <= 1_000  # ns
        # bearings, where the ellipse has one (mod pi)
        ecc = v & (pb.semi_major_m > 1.2 * pb.semi_minor_m)
        d = np.angle(np.exp(2j * (pa.orientation_rad[ecc] - pb.orientation_rad[ecc])))
        assert np.max(np.abs(d), initial=0.0) < 1e-7
    _close(a.apogee_m, b.apogee_m)
    _close(a.apogee_sigma_m, b.apogee_sigma_m, rtol=1e-7)


def test_predict_points_6d_input_and_empty(hist):
    """The hub passes (K, 6) fused states; K = 0 is allowed."""
    sel = _rows(hist, 3)
    args = (hist.x[sel, :6], hist.P[sel, :6, :6], hist.t_ns[sel], np.zeros(3, bool))
    a = predict_points(*args, np.full(3, np.nan), CFG)
    b = predict_points_reference(*args, np.full(3, np.nan), CFG)
    _close(a.impact.lat_rad, b.impact.lat_rad)
    empty = predict_points(np.zeros((0, 6)), np.zeros((0, 6, 6)), [], [], [], CFG)
    assert empty.impact.lat_rad.shape == (0,)


def _imm_states(hist, n, rng):
    sel = _rows(hist, n)
    x = np.zeros((n, 2, 8))
    x[:, :, :6] = hist.x[sel][:, None]
    x[:, 1, :6] += rng.normal(size=(n, 6)) * 20.0  # the models disagree a little
    x[:, 1, 6] = 25.0
    x[:, :, 7] = 2e-4
    P = np.zeros((n, 2, 8, 8))
    P[:, :, :6, :6] = hist.P[sel][:, None]
    P[:, :, 6, 6] = 100.0
    P[:, :, 7, 7] = 1e-8
    return x, P, rng.dirichlet([1.0, 1.0], n)


def test_imm_and_filter_kernels_equal_reference(hist):
    rng = np.random.default_rng(3)
    x, P, mu = _imm_states(hist, 12, rng)
    dt = rng.uniform(0.0, 7.0, 12)
    a, b = imm.imm_predict(x, P, mu, dt, CFG), imm.imm_predict_reference(x, P, mu, dt, CFG)
    _close(a[0], b[0])
    _close_cov(a[1], b[1])
    _close(a[2], b[2])
    xp, Pp, mp = b
    m = model_rows(12, CFG)
    fa = filters.predict(xp.reshape(-1, 8), Pp.reshape(-1, 8, 8), 3.0, m)
    fb = filters.predict_reference(xp.reshape(-1, 8), Pp.reshape(-1, 8, 8), 3.0, m)
    _close(fa[0], fb[0])
    _close_cov(fa[1], fb[1])

    radar = Measurement("radar", KOR.ecef, KOR.rot)
    z = range_az_el(xp[:, 0, :3], KOR.ecef, KOR.rot) + rng.normal(size=(12, 3)) * [50, 1e-3, 1e-3]
    z[0, 1] = np.pi - 1e-4  # an azimuth across the +-pi cut: the innovation wraps
    R = np.broadcast_to(KOR.R, (12, 3, 3)).copy()
    boresight = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    ir = Measurement("ir", np.array([4.2e7, 0.0, 0.0]) @ boresight, boresight)
    zi = range_az_el(xp[:, 0, :3], ir.sensor_ecef, ir.rot)[:, 1:] + rng.normal(size=(12, 2)) * 1e-5
    Ri = np.broadcast_to(np.eye(2) * 1e-10, (12, 2, 2)).copy()
    for meas, zz, RR in ((radar, z, R), (ir, zi, Ri)):
        ua = imm.imm_update(xp, Pp, mp, zz, RR, meas)
        ub = imm.imm_update_reference(xp, Pp, mp, zz, RR, meas)
        _close(ua[0], ub[0])
        _close_cov(ua[1], ub[1])
        _close(ua[2], ub[2])
        _close(ua[3], ub[3])
        ea = filters.update(xp[:, 0], Pp[:, 0], zz, RR, meas)
        eb = filters.update_reference(xp[:, 0], Pp[:, 0], zz, RR, meas)
        _close(ea[0], eb[0])
        _close_cov(ea[1], eb[1])
        _close(ea[2], eb[2], rtol=1e-7)
        da = assoc.distances(xp.reshape(-1, 8), Pp.reshape(-1, 8, 8), zz, RR, meas)
        db = assoc.distances_reference(xp.reshape(-1, 8), Pp.reshape(-1, 8, 8), zz, RR, meas)
        _close(da[0], db[0], rtol=1e-7)
        assert np.max(np.abs(da[1] - db[1])) < 1e-7 * np.max(np.abs(db[1]))
    ca, cb = imm.combine(xp, Pp, mp), imm.combine_reference(xp, Pp, mp)
    _close(ca[0], cb[0])
    _close_cov(ca[1], cb[1])


def test_track_management_kernels_equal_reference(hist):
    rng = np.random.default_rng(4)
    x, P, mu = _imm_states(hist, 10, rng)
    dt = rng.uniform(0.0, 30.0, 10)
    det_pos = x[::3, 0, :3] + rng.normal(size=(4, 3)) * 3e3
    sig = rng.uniform(100.0, 2_000.0, 4)
    sig_det = np.r_[sig[:2], 1.0, 1.0]
    a = assoc.candidates_reference(x, P, mu, dt, det_pos, sig_det)
    from trilink.tracking.kernels_tracks import candidates_kernel

    assert np.array_equal(candidates_kernel(x, P, mu, dt, det_pos, sig_det), a)
    assert a.any() and not a.all()
    # duplicates: a track and a slightly moved copy are the same; the others are not
    xc, Pc = imm.combine_reference(x, P, mu)
    xc = np.concatenate([xc, xc[:1] + 0.5 * np.sqrt(np.diagonal(Pc[0]))])
    Pc = np.concatenate([Pc, Pc[:1]])
    same = assoc.duplicate_pairs(xc, Pc, CFG.duplicate_gate)
    assert np.array_equal(same, assoc.duplicate_pairs_reference(xc, Pc, CFG.duplicate_gate))
    assert same[0, -1] and same[-1, 0] and not np.diag(same).any()


def test_cv_predict_kernel_equals_reference_and_closed_form():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 8)) * 1e4
    A = rng.normal(size=(6, 8, 8))
    P = A @ np.swapaxes(A, -1, -2) + np.eye(8)
    dt = rng.uniform(0.1, 5.0, 6)
    a, b = filters.cv_predict(x, P, dt, 2.0), filters.cv_predict_reference(x, P, dt, 2.0)
    _close(a[0], b[0])
    _close_cov(a[1], b[1])
    # one row by hand: F = [[I, dt I], [0, I]], Q = q [[dt^3/3, dt^2/2], [dt^2/2, dt]] I
    h, q = dt[0], 2.0
    F = np.eye(8)
    F[0:3, 3:6] = h * np.eye(3)
    Q = np.zeros((8, 8))
    Q[0:3, 0:3] = q * h**3 / 3 * np.eye(3)
    Q[0:3, 3:6] = Q[3:6, 0:3] = q * h**2 / 2 * np.eye(3)
    Q[3:6, 3:6] = q * h * np.eye(3)
    np.testing.assert_allclose(a[0][0], F @ x[0], rtol=1e-12)
    np.testing.assert_allclose(a[1][0], F @ P[0] @ F.T + Q, rtol=1e-9, atol=1e-9)


def test_tracker_end_to_end_equal_on_both_paths(monkeypatch):
    """A whole run (a flight in clutter, predictions of every confirmed update) gives the
    same rows, track numbers and statuses with the kernels as with the NumPy path."""
    rng = np.random.default_rng(22)
    det, _ = observe(fly(), KOR, rng, t_to_s=200.0, clutter_per_scan=2.0)
    a = track_all([det], "KOR")
    monkeypatch.setattr(jit, "ENABLED", False)
    b = track_all([det], "KOR")
    assert np.array_equal(a.track_id, b.track_id) and np.array_equal(a.status, b.status)
    assert np.array_equal(a.phase, b.phase)
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-6)
    _close_cov(a.P, b.P)
    for name in ("impact", "launch"):  # (values of invalid rows are not compared)
        pa, pb = getattr(a.predictions, name), getattr(b.predictions, name)
        assert np.array_equal(pa.valid, pb.valid) and pb.valid.sum() > 50
        _close(pa.lat_rad[pb.valid], pb.lat_rad[pb.valid])
        _close(pa.lon_rad[pb.valid], pb.lon_rad[pb.valid])


def test_kernel_cache_is_keyed_on_every_kernel_source():
    """numba keys a cached function on its own file only; the kernels inline helpers from
    the other kernel files and compile in constants, so they are keyed on all of them."""
    from pathlib import Path

    from trilink.tracking import kernels_prediction

    names = {Path(p).name for p in jit._SOURCES}
    assert {"kernels_dynamics.py", "kernels_prediction.py", "kernels_filters.py"} <= names
    assert {"dynamics.py", "wgs84.py"} <= names
    locator = kernels_prediction.predict_kernel._cache._impl._locator
    assert locator.get_source_stamp() == jit._STAMP == jit.digest(jit._SOURCES)
