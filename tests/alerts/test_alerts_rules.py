"""Impact ellipses and the warning rules for one partner."""

from __future__ import annotations

import math

import numpy as np
import pytest
from alerts_fixtures import D, great_circle_deg, threat_at
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.alerts.ellipse import (
    K95,
    covariance_from_ellipse,
    ellipse_from_covariance,
    ellipse_ring,
    k_for_probability,
    probability_for_k,
)
from trilink.alerts.projection import aeqd_forward
from trilink.alerts.rules import ImpactPrediction, ThreatInput, WarningRules, assess
from trilink.alerts.territory import load_territory
from trilink.geo.geodesic import geodesic_inverse

KM = 1e3


@pytest.fixture(scope="module")
def jpn():
    return load_territory("JPN")


def test_k95_is_the_chi_square_two_dof_quantile():
    # chi2.ppf(0.95, 2) = 5.991464547 (tables); k = sqrt of it.
    assert K95 == pytest.approx(math.sqrt(5.991464547), rel=1e-9)
    assert probability_for_k(3.0) == pytest.approx(0.988891, abs=1e-6)
    assert k_for_probability(probability_for_k(1.7)) == pytest.approx(1.7)


def test_ellipse_from_covariance_known_cases():
    a, b, th = ellipse_from_covariance(np.diag([100.0**2, 400.0**2]))  # long axis north
    assert (a, b) == pytest.approx((400.0, 100.0)) and th == pytest.approx(0.0, abs=1e-12)
    a, b, th = ellipse_from_covariance(np.diag([400.0**2, 100.0**2]))  # long axis east
    assert th == pytest.approx(math.pi / 2)
    # Long axis towards the north-east: equal variances plus positive correlation.
    a, b, th = ellipse_from_covariance(np.array([[5.0, 3.0], [3.0, 5.0]]))
    assert (a, b) == pytest.approx((math.sqrt(8.0), math.sqrt(2.0)))
    assert th == pytest.approx(math.pi / 4)


@settings(max_examples=80, deadline=None)
@given(a=st.floats(1.0, 1e5), ratio=st.floats(0.01, 0.99), th=st.floats(0.0, math.pi - 1e-6))
def test_covariance_round_trip(a, ratio, th):
    cov = covariance_from_ellipse(a, a * ratio, th)
    assert np.allclose(cov, cov.T)
    a2, b2, th2 = ellipse_from_covariance(cov)
    assert a2 == pytest.approx(a, rel=1e-6) and b2 == pytest.approx(a * ratio, rel=1e-6)
    assert min(abs(th2 - th), math.pi - abs(th2 - th)) < 1e-5


def test_ellipse_ring_geometry_on_the_ellipsoid():
    lat0, lon0, a, b, th = D(40.0), D(135.0), 30e3, 10e3, D(60.0)
    ring = ellipse_ring(lat0, lon0, a, b, th, k=K95, n=72)
    assert ring.shape == (73, 2) and np.array_equal(ring[0], ring[-1])
    s, az, _ = geodesic_inverse(lat0, lon0, ring[0, 0], ring[0, 1])
    assert s == pytest.approx(K95 * a, abs=1e-3) and az == pytest.approx(th, abs=1e-9)
    s, az, _ = geodesic_inverse(lat0, lon0, ring[18, 0], ring[18, 1])  # quarter turn on
    assert s == pytest.approx(K95 * b, abs=1e-3)
    # Counter-clockwise seen from above: positive signed area in the (east, north) plane.
    xy = aeqd_forward(ring, (lat0, lon0))
    area = 0.5 * np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1])
    assert area == pytest.approx(math.pi * K95**2 * a * b, rel=2e-3)


def test_95_percent_ring_holds_95_percent_of_gaussian_samples():
    from shapely import contains_xy
    from shapely.geometry import Polygon

    rng = np.random.default_rng(5)
    cov = covariance_from_ellipse(20e3, 8e3, D(30.0))
    samples = rng.multivariate_normal([0.0, 0.0], cov, size=40_000)
    ring = ellipse_ring(D(40.0), D(135.0), 20e3, 8e3, D(30.0), k=K95, n=180)
    inside = contains_xy(
        Polygon(aeqd_forward(ring, (D(40.0), D(135.0)))), samples[:, 0], samples[:, 1]
    )
    # Binomial sd at p = 0.95, n = 40,000 is 0.0011: 4 sd.
    assert inside.mean() == pytest.approx(0.95, abs=0.0045)


def test_impact_inside_japans_waters_is_a_likely_threat(jpn):
    a = assess(threat_at((40.0, 135.0)), jpn)
    assert a.level == "threat" and a.threat_impact and not a.overflight
    assert a.impact_place == "zone" and a.nominal_place == "zone" and a.certainty == "Likely"
    assert a.time_to_impact_s == pytest.approx(300.0)


def test_ellipse_that_only_grazes_the_zone_is_a_possible_threat(jpn):
    # Find a nominal point outside the zone whose 95 % ellipse still reaches it.
    for lon in np.arange(133.0, 128.0, -0.1):
        t = threat_at((37.6, float(lon)), a_m=40e3, b_m=40e3)
        a = assess(t, jpn)
        if a.nominal_place == "outside":
            break
    assert a.nominal_place == "outside"
    assert a.level == "threat" and a.certainty == "Possible"


def test_far_impact_is_only_a_launch(jpn):
    a = assess(threat_at((35.0, 123.0)), jpn)  # Yellow Sea, west of Korea
    assert a.level == "launch" and not a.threat_impact
    assert a.distance_to_zone_m > 50 * KM


def test_overflight_alone_raises_a_threat(jpn):
    track = great_circle_deg((39.7, 124.7), (38.0, 165.0))
    t = threat_at((38.0, 165.0), ground_track_deg=track)  # falls far out in the Pacific
    a = assess(t, jpn)
    assert a.overflight and not a.threat_impact and a.level == "threat"
    assert a.certainty == "Likely"


def test_hysteresis_holds_a_threat_until_the_3_sigma_ellipse_is_50_km_clear(jpn):
    rules = WarningRules()
    # Walk the impact point west from inside the zone; look for the three regimes.
    seen = {}
    for lon in np.arange(134.0, 124.0, -0.05):
        t = threat_at((37.0, float(lon)), a_m=8e3, b_m=8e3)
        fresh = assess(t, jpn, rules)
        held = assess(t, jpn, rules, previously_threatened=True)
        if fresh.level == "threat":
            seen.setdefault("raised", lon)
            assert held.level == "threat" and not held.held
        elif held.level == "threat":
            seen.setdefault("held", lon)
            assert held.held and 0.0 <= held.distance_to_zone_m <= rules.far_distance_m
        else:
            seen.setdefault("released", lon)
            assert held.distance_to_zone_m > rules.far_distance_m
    assert seen["raised"] > seen["held"] > seen["released"]


def test_fallen_or_unconfirmed_missiles_have_no_level(jpn):
    assert assess(threat_at((40.0, 135.0), status="impacted"), jpn).level == "none"
    t = threat_at((40.0, 135.0))
    unconfirmed = ThreatInput(track_id=t.track_id, t_ns=t.t_ns, confirmed=False, impact=t.impact)
    assert assess(unconfirmed, jpn).level == "none"


def test_no_prediction_and_no_overflight_is_a_launch(jpn):
    t = ThreatInput(track_id="T9", t_ns=0, phase="boost")
    a = assess(t, jpn)
    assert a.level == "launch" and math.isnan(a.time_to_impact_s)


def test_inputs_are_validated_and_frozen():
    with pytest.raises(ValueError, match="status"):
        ThreatInput(track_id="x", t_ns=0, status="flying")
    with pytest.raises(ValueError, match="semi_major"):
        ImpactPrediction(0.0, 0.0, 0, 1.0, 10.0, 20.0, 0.0)
    track = np.radians([[39.0, 127.0], [40.0, 130.0]])
    t = ThreatInput(track_id="x", t_ns=0, ground_track_rad=track)
    track[0, 0] = 0.0  # the caller's array changes; the frozen value does not
    assert t.ground_track_rad[0, 0] == pytest.approx(D(39.0))
    with pytest.raises(ValueError):
        t.ground_track_rad[0, 0] = 1.0
