"""The national tracker end to end on synthetic SRBM flights: predictions that converge,
hand-over without a break, clutter that never confirms, the history's layout."""

from __future__ import annotations

import numpy as np
import pytest
from tracking_synth import DEG, T0_NS, Radar, fly, observe

from trilink.geo import geodesic_inverse
from trilink.sensors.detection import Detections
from trilink.tracking import NationalTracker, TrackerConfig, track_all

KOR = Radar("KOR-GP1", "KOR", 36.8, 127.6)  # sees the ascent from ~38 s
JPN = Radar("JPN-FPS5", "JPN", 38.1, 138.4, max_range_m=1_200e3)  # the descent only


@pytest.fixture(scope="module")
def flight():
    return fly()


def _ground_error_m(lat, lon, lla_true):
    s, _, _ = geodesic_inverse(lat, lon, lla_true[0], lla_true[1])
    return s


def test_impact_prediction_converges(flight):
    rng = np.random.default_rng(7)
    det, _ = observe(flight, KOR, rng)
    hist = track_all([det], "KOR")
    ids = hist.confirmed_ids()
    assert ids.size == 1
    rows = hist.rows(int(ids[0]))
    t_s = (hist.t_ns[rows] - T0_NS) * 1e-9
    imp = hist.predictions.impact
    ok = imp.valid[rows]
    err = _ground_error_m(imp.lat_rad[rows], imp.lon_rad[rows], flight.impact_lla)
    t_first = (det.t_ns.min() - T0_NS) * 1e-9

    def err_at(dt_s):
        k = np.flatnonzero(ok & (t_s >= t_first + dt_s))[0]
        return err[k]

    assert err_at(60.0) < err_at(20.0)
    assert err_at(120.0) < 2_000.0
    final = err[ok][-10:]
    assert final.max() < 2_000.0  # within a few km for an SRBM (measured: ~0.2-0.5 km)
    # The impact time converges to within its sigma (plus the drag-model mismatch).
    t_imp = (imp.t_ns[rows][ok][-10:] - T0_NS) * 1e-9
    assert np.all(np.abs(t_imp - flight.t_impact_s) < 3.0 * imp.t_sigma_s[rows][ok][-10:] + 1.0)
    # And the ellipse is honest: the last errors lie within ~3 sigma of the major axis.
    assert np.all(final < 3.5 * imp.semi_major_m[rows][ok][-10:] + 100.0)


def test_launch_point_and_apogee(flight):
    rng = np.random.default_rng(8)
    det, _ = observe(flight, KOR, rng)
    hist = track_all([det], "KOR")
    rows = hist.rows(int(hist.confirmed_ids()[0]))
    lp = hist.predictions.launch
    # Mid-course rows: flown back through re-entry air, the estimate degrades (the
    # backward flight amplifies the velocity error; see docs/tracking.md).
    ok = lp.valid[rows] & (hist.phase[rows] == "midcourse")
    last = rows[ok][-30:]
    err = _ground_error_m(lp.lat_rad[last], lp.lon_rad[last], flight.launch_lla)
    assert np.median(err) < 10_000.0  # measured ~5 km: the straight-line rise from 20 km
    assert np.all(err < 3.0 * lp.semi_major_m[last] + 1_000.0)  # inside the stated ellipse
    t_launch = (lp.t_ns[last] - T0_NS) * 1e-9
    assert np.all(np.abs(t_launch) < 3.0 * lp.t_sigma_s[last] + 2.0)
    apo = hist.predictions.apogee_m[last]
    assert np.all(np.abs(apo - flight.apogee_m) < 2_000.0)


def test_track_continues_across_handover(flight):
    """Korea sees the ascent, Japan the descent; one nation owning both radars keeps one
    track number through the hand-over (the two radars overlap for a while and then
    only Japan's sees it)."""
    rng = np.random.default_rng(9)
    kor, _ = observe(flight, KOR, rng, t_to_s=240.0)
    jpn, _ = observe(flight, JPN, rng, t_offset_s=0.7)
    jpn = Detections(
        jpn.sensor_id, "KOR", jpn.kind, jpn.sensor_ecef_m, jpn.rot, jpn.t_ns, jpn.z, jpn.R,
        jpn.snr_db, jpn.truth_id,
    )  # fmt: skip
    assert (kor.t_ns.max() > jpn.t_ns.min()) and (jpn.t_ns.max() > kor.t_ns.max())
    hist = track_all([kor, jpn], "KOR")
    ids = hist.confirmed_ids()
    assert ids.size == 1, ids
    rows = hist.rows(int(ids[0]))
    sensors = hist.sensor_id[rows]
    assert {"KOR-GP1", "JPN-FPS5"} <= set(sensors)
    # Updated by Japan's radar to the end of the flight, no gap of more than two revisits.
    assert hist.t_ns[rows].max() == jpn.t_ns.max()
    assert np.diff(hist.t_ns[rows]).max() <= 2 * 2.0e9


def test_false_alarms_never_confirm():
    """Clutter only: 300 scans of one radar with Poisson false alarms (5 per scan)."""
    rng = np.random.default_rng(10)
    n_scans, rate = 300, 5.0
    counts = rng.poisson(rate, n_scans)
    n = int(counts.sum())
    t_ns = T0_NS + np.repeat(np.arange(n_scans) * 2_000_000_000, counts)
    z = np.stack(
        [
            rng.uniform(50e3, 800e3, n),
            rng.uniform(-np.pi, np.pi, n),
            rng.uniform(0.5 * DEG, 60 * DEG, n),
        ],
        -1,
    )
    det = Detections(
        KOR.sensor_id, "KOR", "radar", KOR.ecef, KOR.rot, t_ns, z,
        np.broadcast_to(KOR.R, (n, 3, 3)).copy(), np.zeros(n), np.full(n, ""),
    )  # fmt: skip
    tracker = NationalTracker("KOR")
    tracker.record = True
    tracker.process(det)
    hist = tracker.history(predictions=False)
    assert hist.confirmed_ids().size == 0
    assert len(tracker) < 50  # tentative tracks die: the table does not grow without bound


def test_target_in_clutter_gives_one_confirmed_track(flight):
    rng = np.random.default_rng(11)
    det, _ = observe(flight, KOR, rng, clutter_per_scan=3.0)
    hist = track_all([det], "KOR", predictions=False)
    assert hist.confirmed_ids().size == 1


def test_history_layout_and_snapshot(flight):
    rng = np.random.default_rng(12)
    det, _ = observe(flight, KOR, rng, t_to_s=150.0)
    hist = track_all([det], "KOR", config=TrackerConfig())
    k = len(hist)
    assert k > 0
    assert hist.t_ns.shape == (k,) and hist.t_ns.dtype == np.int64
    assert hist.x.shape == (k, 6) and hist.P.shape == (k, 6, 6)
    assert set(hist.status) <= {"tentative", "confirmed"}
    assert set(hist.phase) <= {"boost", "midcourse", "reentry"}
    assert np.all(np.diff(hist.t_ns) >= 0)
    tent = hist.status == "tentative"
    assert not hist.predictions.impact.valid[tent].any()
    assert hist.predictions.impact.valid[~tent].any()
    # The live API: feed the same detections to a tracker, then take a snapshot.
    tracker = NationalTracker("KOR")
    tracker.process(det)
    snap = tracker.tracks()
    conf = [s for s in snap if s.status == "confirmed"]
    assert len(conf) == 1 and conf[0].impact is not None and conf[0].launch is not None
    assert conf[0].x.shape == (6,) and conf[0].P.shape == (6, 6)
    err = _ground_error_m(conf[0].impact.lat_rad, conf[0].impact.lon_rad, flight.impact_lla)
    assert err < 5.0 * conf[0].impact.semi_major_m + 1_000.0


def test_boost_phase_is_recognised(flight):
    rng = np.random.default_rng(13)
    det, _ = observe(flight, KOR, rng)
    hist = track_all([det], "KOR", predictions=False)
    rows = hist.rows(int(hist.confirmed_ids()[0]))
    t_s = (hist.t_ns[rows] - T0_NS) * 1e-9
    boost = hist.p_boost[rows]
    assert np.median(boost[(t_s > 48) & (t_s < 60)]) > 0.5  # burning (burnout at 60 s)
    assert np.all(boost[t_s > 80] < 0.5)  # coasting
