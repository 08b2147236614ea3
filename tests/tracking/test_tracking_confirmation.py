"""Confirmation needs an observed position: one radar fix followed by angles alone from
a geostationary infrared satellite must not make a confirmed track.

From geostationary orbit (~37,500 km slant range) the satellite's 25 urad angles pin a
plume to ~1 km across the line of sight and not at all along it: after a single radar
fix, the along-line-of-sight position is only the fix propagated with the initiation's
velocity prior (3.5 km/s per axis), i.e. tens of kilometres after ten seconds and
growing. A track known that poorly is exactly what the tracker deletes as lost
(``max_position_sigma_m``); it must not be confirmed (and reported) first. Found in a
Monte Carlo trial of the SRBM salvo (seed 1012): a radar false alarm followed by the
satellite's reports of a missile 1,000 km away made a confirmed track with a position
sigma of 1.2e10 m, and the hub's fused covariance became numerically singular.
"""

from __future__ import annotations

import numpy as np
import pytest
from tracking_synth import DEG, T0_NS, Radar, fly, observe

from trilink.geo import az_el, boresight_frame, geodetic_to_ecef
from trilink.sensors.detection import Detections
from trilink.sensors.infrared import GEO_RADIUS_M
from trilink.tracking import NationalTracker, TrackerConfig, jit, track_all
from trilink.tracking import management as mg
from trilink.tracking.filters import Measurement
from trilink.tracking.imm import combine

SAT_LON_DEG, AIM = 130.0, (40.0, 130.0)  # as the built-in scenario's USA-GEO-IR-1
IR_SIGMA_RAD = 25e-6
CFG = TrackerConfig()


@pytest.fixture(scope="module")
def flight():
    return fly()  # 60-s burn from 39 N 125.7 E toward 110 degrees


def infrared(flight, t_from_s: float, t_to_s: float, rng) -> Detections:
    """The satellite's reports of the burning missile every 2 s in [t_from, t_to]."""
    sat = GEO_RADIUS_M * np.array([np.cos(SAT_LON_DEG * DEG), np.sin(SAT_LON_DEG * DEG), 0.0])
    rot = boresight_frame(sat, geodetic_to_ecef(np.array([AIM[0] * DEG, AIM[1] * DEG, 0.0])))
    t_s = np.arange(t_from_s, min(t_to_s, flight.t_burn_s) + 1e-9, 2.0)
    z = az_el(flight.state(t_s)[:, :3], sat, rot) + rng.normal(0.0, IR_SIGMA_RAD, (t_s.size, 2))
    n = t_s.size
    return Detections(
        "GEO-IR", "USA", "ir", sat, rot, T0_NS + np.round(t_s * 1e9).astype(np.int64), z,
        np.broadcast_to(np.eye(2) * IR_SIGMA_RAD**2, (n, 2, 2)).copy(), np.full(n, np.nan),
        np.full(n, "m1"),
    )  # fmt: skip


RADAR = Radar("TPY2", "USA", 37.5, 127.0, sigma=(30.0, 1e-3, 1e-3))  # ~230 km from the pad


def scans(det: Detections) -> list[Detections]:
    """One batch per scan time, in time order (how a node hands them to its tracker)."""
    return [det.take(np.flatnonzero(det.t_ns == t)) for t in np.unique(det.t_ns)]


def sigma_along(P: np.ndarray, u: np.ndarray) -> float:
    return float(np.sqrt(u @ P[0:3, 0:3] @ u))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_one_radar_fix_then_angles_only_confirms_no_track(flight, seed):
    """A radar detects the missile once (30 s after launch, in boost), then the satellite
    reports its plume every 2 s from 40 s to burnout. The track takes the angles (hits
    reach M = 3 at 42 s) but its range stays unobserved: it must stay tentative, and fail
    after its N = 4 chances."""
    rng = np.random.default_rng(seed)
    fix, _ = observe(flight, RADAR, rng, t_from_s=30.0, t_to_s=30.5)  # one radar detection
    assert len(fix) == 1
    ir = infrared(flight, 40.0, 60.0, rng)
    tracker = NationalTracker("USA", CFG)
    tracker.process(fix)
    hits_seen = 0
    for scan in scans(ir):
        tracker.process(scan)
        estimates = tracker.tracks(predictions=False)
        assert all(e.status == "tentative" for e in estimates)
        for e in estimates:
            hits_seen = max(hits_seen, e.n_updates)
            # what the angles did and did not fix: ~1 km across the line of sight
            # (25 urad at ~37,500 km), tens of km along it
            los = e.x[0:3] - ir.sensor_ecef_m
            los /= np.linalg.norm(los)
            across = np.linalg.svd(np.eye(3) - np.outer(los, los))[0][:, :2]
            assert sigma_along(e.P, los) > CFG.max_position_sigma_m
            assert max(sigma_along(e.P, across[:, k]) for k in range(2)) < 5e3
    assert hits_seen >= CFG.confirm_m  # the angles did count as hits ...
    assert len(tracker) == 0  # ... and the track failed M-of-N: no range came


def test_radar_confirmed_track_keeps_confirmed_through_angles(flight):
    """The rule costs a radar-fixed track nothing: three radar scans (30-34 s) confirm it,
    and the satellite's reports up to burnout keep updating the confirmed track."""
    rng = np.random.default_rng(4)
    fixes, _ = observe(flight, RADAR, rng, t_from_s=30.0, t_to_s=35.0)
    assert len(fixes) == 3
    hist = track_all([fixes, infrared(flight, 36.0, 60.0, rng)], "USA", CFG, predictions=False)
    assert hist.track_ids().tolist() == [1]
    assert hist.status[-2:].tolist() == ["confirmed", "confirmed"]
    ir_rows = hist.sensor_id == "GEO-IR"
    assert ir_rows.sum() >= 10 and (hist.status[ir_rows] == "confirmed").all()
    assert (mg.position_sigma(hist.P) <= CFG.max_position_sigma_m).all()


@pytest.mark.parametrize("kernels", [True, False])
def test_confirmation_rule_on_both_paths(kernels, monkeypatch):
    """:func:`.management.update_and_count` (compiled) and its NumPy reference apply the
    rule alike: three tentative tracks reach M hits on an angle-only update; the one
    whose position is known to 5 km per axis is confirmed, the two known to 30 km per
    axis (52 km overall) are not: the one at its N-th chance fails, the other waits."""
    monkeypatch.setattr(jit, "ENABLED", kernels)
    sat = GEO_RADIUS_M * np.array([np.cos(SAT_LON_DEG * DEG), np.sin(SAT_LON_DEG * DEG), 0.0])
    target = geodetic_to_ecef(np.array([39.0 * DEG, 126.0 * DEG, 20e3]))
    rot = boresight_frame(sat, target)
    x = np.zeros((3, 2, 8))
    x[:, :, 0:3] = target
    x[:, :, 5] = 500.0
    x[:, 1, 6] = 20.0
    P = np.broadcast_to(np.eye(8), (3, 2, 8, 8)).copy()
    P[:, :, 3:6, 3:6] *= 500.0**2
    for i, s in enumerate((5e3, 30e3, 30e3)):
        P[i, :, 0:3, 0:3] = np.eye(3) * s**2
    counts = mg.Counts(
        nis=np.full(3, np.nan), t_hit=np.zeros(3, np.int64), hits=np.full(3, 2),
        burnout_h=np.full(3, np.nan), watch=np.ones((3, 1), bool), opps=np.array([2, 3, 1]),
        confirmed=np.zeros(3, bool),
    )  # fmt: skip
    z = az_el(target, sat, rot)[None].repeat(3, axis=0)
    R = np.broadcast_to(np.eye(2) * IR_SIGMA_RAD**2, (3, 2, 2)).copy()
    cand = np.arange(3)
    meas = Measurement("ir", sat, rot)
    out = mg.update_and_count(
        x, P, np.full((3, 2), 0.5), counts, cand, (cand, cand), np.zeros((3, 3)), z, R, meas,
        1, 0, CFG,
    )  # fmt: skip
    c, failed = out[3], out[4]
    assert c.hits.tolist() == [3, 3, 3]
    assert c.confirmed.tolist() == [True, False, False]
    assert failed.tolist() == [False, True, False]
    sig = mg.position_sigma(combine(*out[:3])[1])
    assert sig[0] < CFG.max_position_sigma_m < sig[1]  # (the angles left the range alone)
