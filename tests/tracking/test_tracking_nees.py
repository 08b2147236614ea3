"""Honest covariances: the average NEES of 50 seeded Monte Carlo runs lies in its 95%
chi-square band during the ballistic phase (one radar ~600 km from an SRBM mid-course).

The IMM filter is run on the 50 runs as one batch of 50 tracks (the batching under test
too). Truth comes from an independent integrator (tracking_synth.fly, DOP853).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2
from tracking_synth import DEG, Radar, fly

from trilink.geo import ecef_to_geodetic, geodesic_direct, range_az_el
from trilink.tracking.config import TrackerConfig
from trilink.tracking.filters import Measurement
from trilink.tracking.imm import combine, imm_predict, imm_update
from trilink.tracking.initiation import initiate

RUNS = 50


def test_average_nees_inside_chi2_band_during_ballistic_phase():
    flight = fly()
    lla_mid = ecef_to_geodetic(flight.state(200.0)[:3])
    lat, lon = geodesic_direct(lla_mid[0], lla_mid[1], 150.0 * DEG, 600e3)
    radar = Radar("R", "X", float(lat) / DEG, float(lon) / DEG, sigma=(30.0, 1e-3, 1e-3))
    meas = Measurement("radar", radar.ecef, radar.rot)
    cfg = TrackerConfig()
    t = np.arange(80.0, 250.0, 2.0)  # burnout at 60 s; above ~80 km throughout
    truth = flight.state(t)
    z_true = range_az_el(truth[:, 0:3], radar.ecef, radar.rot)
    assert z_true[:, 0].min() > 500e3 and z_true[:, 2].min() > 0.0  # realistic geometry
    rng = np.random.default_rng(20240601)
    sig = np.asarray(radar.sigma)
    R = np.broadcast_to(radar.R, (RUNS, 3, 3)).copy()
    x, P, mu = initiate(z_true[0] + rng.normal(0, sig, (RUNS, 3)), R, meas, cfg)
    nees = []
    for k in range(1, t.size):
        x, P, mu = imm_predict(x, P, mu, t[k] - t[k - 1], cfg)
        x, P, mu, _ = imm_update(x, P, mu, z_true[k] + rng.normal(0, sig, (RUNS, 3)), R, meas)
        xc, Pc = combine(x, P, mu)
        e = xc[:, 0:6] - truth[k]
        nees.append(
            np.einsum("ri,ri->r", e, np.linalg.solve(Pc[:, 0:6, 0:6], e[..., None])[..., 0])
        )
    # Skip the first 20 s: the zero-mean velocity prior of initiation is not a draw
    # from the truth's distribution, and it takes a few scans to forget.
    avg = np.asarray(nees)[10:].mean(axis=1)  # (T,) average over runs at each time
    lo, hi = chi2.ppf([0.025, 0.975], 6 * RUNS) / RUNS
    # Over the whole window and, at >= 85 % of the times, at each time.
    assert lo < avg.mean() < hi, (avg.mean(), lo, hi)
    assert np.mean((avg > lo) & (avg < hi)) >= 0.85, avg
