"""First detection / first confirmed track times, and launch/impact-point errors."""

from __future__ import annotations

import numpy as np
import pytest

from trilink.evaluate import (
    first_confirmed_times,
    first_detection_times,
    impact_point_errors,
    launch_point_errors,
    surface_distance_m,
    timeliness_table,
    truth_impact_point,
)
from trilink.geo import ecef_to_geodetic, geodesic_direct, geodetic_to_ecef
from trilink.sensors.detection import Detections

S = 1_000_000_000


def batch(nation, t_ns, truth_id):
    n = len(t_ns)
    return Detections(
        f"{nation}-radar",
        nation,
        "radar",
        np.zeros(3),
        np.eye(3),
        np.asarray(t_ns, dtype=np.int64),
        np.zeros((n, 3)),
        np.tile(np.eye(3), (n, 1, 1)),
        np.zeros(n),
        np.asarray(truth_id, dtype=np.str_),
    )


def test_first_detection_per_nation_and_missile(t0):
    dets = [
        batch("KOR", [t0 + 5 * S, t0 + 3 * S, t0 + 1 * S, t0 + 4 * S], ["m1", "m1", "", "m2"]),
        batch("KOR", [t0 + 2 * S], ["m1"]),  # a second Korean radar saw m1 earlier
        batch("JPN", [t0 + 9 * S, t0 + 7 * S], ["m1", ""]),
    ]
    first = first_detection_times(dets)
    assert first == {
        ("KOR", "m1"): t0 + 2 * S,
        ("KOR", "m2"): t0 + 4 * S,
        ("JPN", "m1"): t0 + 9 * S,
    }


def test_first_confirmed_and_table(cv, on, cat, t0):
    m1 = cv("m1", (0, 0, 0), (100, 0, 0), 0, 30)
    m2 = cv("m2", (0, 1e5, 0), (100, 0, 0), 10, 30)
    kor = cat(
        on(m1, 1, [4, 5, 6], confirmed=False),  # tentative: not counted
        on(m1, 1, [7, 8, 9]),
        on(m1, 5, [2], offset=(0, 5e4, 0)),  # confirmed but on nothing
    )
    jpn = cat(on(m2, 7, [15, 16]))
    assert first_confirmed_times(kor, [m1, m2], gate_m=1e3) == {"m1": t0 + 7 * S}
    dets = [batch("KOR", [t0 + 3 * S], ["m1"]), batch("JPN", [t0 + 12 * S], ["m2"])]
    rows = timeliness_table(dets, {"KOR": kor, "JPN": jpn}, [m1, m2], gate_m=1e3)
    table = {
        (r.nation, r.missile_id): (r.detection_latency_s, r.confirmation_latency_s) for r in rows
    }
    assert table[("KOR", "m1")] == (pytest.approx(3.0), pytest.approx(7.0))
    assert np.isnan(table[("KOR", "m2")][0]) and np.isnan(table[("KOR", "m2")][1])
    assert table[("JPN", "m2")] == (pytest.approx(2.0), pytest.approx(5.0))  # launch at +10 s
    assert np.isnan(table[("JPN", "m1")][0])
    assert [r.nation for r in rows] == ["JPN", "JPN", "KOR", "KOR"]


def test_andoyer_distance_against_karney():
    rng = np.random.default_rng(7)
    lat1 = rng.uniform(-1.0, 1.0, 200)
    lon1 = rng.uniform(-3.1, 3.1, 200)
    az = rng.uniform(0, 2 * np.pi, 200)
    for span in (1e3, 1e5, 3e6):
        d = rng.uniform(0.0, span, 200)
        lat2, lon2 = geodesic_direct(lat1, lon1, az, d)
        fast = surface_distance_m(lat1, lon1, lat2, lon2)
        exact = surface_distance_m(lat1, lon1, lat2, lon2, method="karney")
        # geodesic_direct is Vincenty's vectorised solution: within 0.1 mm of Karney's.
        np.testing.assert_allclose(exact, d, rtol=1e-12, atol=1e-4)
        np.testing.assert_allclose(fast, d, rtol=2e-6, atol=1e-4)
    assert surface_distance_m(0.5, 1.0, 0.5, 1.0) == 0.0
    with pytest.raises(ValueError):
        surface_distance_m(0, 0, 0, 0, method="vincenty")


def test_impact_and_launch_point_errors(cv, t0):
    lla0 = np.array([0.68, 2.19, 0.0])
    lla1 = np.array([0.70, 2.35, 0.0])
    r0, r1 = geodetic_to_ecef(lla0), geodetic_to_ecef(lla1)
    truth = cv("m", r0, (r1 - r0) / 300.0, 0, 300)
    lat_i, lon_i, t_imp = truth_impact_point(truth)
    assert ecef_to_geodetic(truth.r_ecef_m[-1])[0] == pytest.approx(lat_i)
    assert (lat_i, lon_i) == (pytest.approx(lla1[0]), pytest.approx(lla1[1]))
    # Predictions 20 km, 5 km, 1 km away, made 60, 120, 180 s after launch.
    miss = np.array([20e3, 5e3, 1e3])
    lat_p, lon_p = geodesic_direct(lat_i, lon_i, 1.0, miss)
    t_pred = t0 + np.array([60, 120, 180]) * S
    err = impact_point_errors(
        t_pred, lat_p, lon_p, truth, impact_t_ns=t_imp + np.array([4, -2, 1]) * S
    )
    np.testing.assert_allclose(err.distance_m, miss, rtol=2e-6)
    np.testing.assert_allclose(err.t_since_launch_s, [60, 120, 180])
    np.testing.assert_allclose(err.time_error_s, [4, -2, 1])
    np.testing.assert_allclose(err.at([30, 60, 119, 200]), [np.nan, 20e3, 20e3, 1e3], rtol=2e-6)
    lp = launch_point_errors(t_pred, lla0[0], lla0[1], truth)
    np.testing.assert_allclose(lp.distance_m, 0.0, atol=1e-6)
    assert np.all(np.isnan(lp.time_error_s))
