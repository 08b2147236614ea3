"""The infrared satellite sees a plume only once it has climbed above min_plume_altitude_m.

Warning bands are absorbed by water vapour and clouds hide what is under them, so a
geostationary warning sensor first sees a missile a few kilometres up, not at lift-off
(docs/sensors.md). Checked on synthetic truth (exact heights), on the boundary of the
geodetic height itself, and on a flight the physics room designs.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq
from sensors_truth import NS, T0_NS, ir_satellite, static_target, vertical_climb

from trilink.geo import ecef_to_geodetic, geodetic_to_ecef
from trilink.geo.wgs84 import DEG
from trilink.physics import design_flight
from trilink.physics.truth import Trajectory
from trilink.sensors import DEFAULT_MIN_PLUME_ALTITUDE_M, observe_infrared, plume_visible

KM = 1e3
WONSAN = (39.17 * DEG, 127.48 * DEG)  # the built-in scenario's SRBM launch site


def test_the_default_is_a_few_kilometres() -> None:
    assert DEFAULT_MIN_PLUME_ALTITUDE_M == 3_000.0
    assert ir_satellite().min_plume_altitude_m == DEFAULT_MIN_PLUME_ALTITUDE_M


@pytest.mark.parametrize("lat_deg", [0.0, 39.0, 60.0, 89.9])
def test_plume_visible_is_a_geodetic_height_threshold(lat_deg: float) -> None:
    spec = ir_satellite(min_plume_altitude_m=3 * KM)
    h = np.array([[0.0, 2_999.0], [3_000.0, 3_001.0], [9_000.0, -10.0]])
    x = geodetic_to_ecef(np.stack([np.full(h.shape, lat_deg * DEG), np.full(h.shape, 1.0), h], -1))
    np.testing.assert_array_equal(
        plume_visible(spec, x), [[False, False], [True, True], [True, False]]
    )


def test_a_burning_target_just_below_the_height_is_hidden_one_just_above_is_seen() -> None:
    spec = ir_satellite(min_plume_altitude_m=5 * KM, revisit_s=1.0)
    low = geodetic_to_ecef(np.array([39 * DEG, 127 * DEG, 4_990.0]))
    high = geodetic_to_ecef(np.array([39.5 * DEG, 127.5 * DEG, 5_010.0]))
    trjs = [
        static_target(low, 60.0, burning=True, missile_id="low"),
        static_target(high, 60.0, burning=True, missile_id="high"),
    ]
    det = observe_infrared(spec, trjs, T0_NS, T0_NS + 60 * NS, np.random.default_rng(11))
    assert len(det) in (60, 61)  # every revisit of the high one, Pd = 1
    assert set(det.truth_id.tolist()) == {"high"}


@pytest.mark.parametrize("min_alt_m", [0.0, 1_000.0, 3_000.0, 8_000.0])
def test_a_climb_is_seen_from_the_revisit_after_it_crosses_the_height(min_alt_m: float) -> None:
    # Straight up at 100 m/s: the geodetic height is exactly 100 m/s * t.
    speed, revisit = 100.0, 0.1
    spec = ir_satellite(min_plume_altitude_m=min_alt_m, revisit_s=revisit)
    trj = vertical_climb(39.0, 127.0, speed, 150.0, missile_id="m")
    det = observe_infrared(spec, [trj], trj.launch_t_ns, trj.impact_t_ns, np.random.default_rng(12))
    height = speed * (det.t_ns - trj.launch_t_ns) * 1e-9
    assert height.min() >= min_alt_m - 1e-6  # nothing below
    assert height.min() < min_alt_m + speed * revisit  # the first revisit above
    gaps = np.diff(det.t_ns) * 1e-9
    np.testing.assert_allclose(gaps, revisit, atol=1e-6)  # then every revisit (Pd = 1)


def _crossing_ns(trj: Trajectory, height_m: float) -> int:
    """When the flight first climbs through ``height_m`` (to a microsecond)."""

    def above(t_s: float) -> float:
        t = np.array([trj.launch_t_ns + round(t_s * 1e9)])
        return float(ecef_to_geodetic(trj.state_at(t)[0][0])[2]) - height_m

    burn_s = (trj.burnout_t_ns - trj.launch_t_ns) * 1e-9
    return trj.launch_t_ns + round(brentq(above, 0.0, burn_s, xtol=1e-6) * 1e9)


@pytest.fixture(scope="module")
def srbm() -> Trajectory:
    """The built-in salvo's first flight: Wonsan to 40.0 N 132.0 E, minimum energy."""
    return design_flight(
        *WONSAN,
        impact_lat_rad=40.0 * DEG,
        impact_lon_rad=132.0 * DEG,
        missile_class="SRBM",
        launch_t_ns=T0_NS,
        missile_id="srbm",
        dt_s=0.5,
    )


@pytest.mark.parametrize("min_alt_m", [1_000.0, DEFAULT_MIN_PLUME_ALTITUDE_M, 5_000.0, 10_000.0])
def test_first_detection_of_a_designed_srbm_is_within_a_revisit_of_crossing_the_height(
    srbm: Trajectory, min_alt_m: float
) -> None:
    revisit = 2.0
    spec = ir_satellite(min_plume_altitude_m=min_alt_m, revisit_s=revisit)
    t_cross = _crossing_ns(srbm, min_alt_m)
    assert srbm.launch_t_ns < t_cross < srbm.burnout_t_ns
    for seed in range(8):  # eight scan phases
        det = observe_infrared(
            spec, [srbm], srbm.launch_t_ns, srbm.impact_t_ns, np.random.default_rng(seed)
        )
        first = int(det.t_ns.min())
        assert t_cross <= first < t_cross + revisit * NS, (seed, (first - t_cross) / NS)


def test_without_the_height_the_srbm_is_seen_at_lift_off(srbm: Trajectory) -> None:
    """The old behaviour, for contrast: min_plume_altitude_m = 0 sees the launch pad."""
    spec = ir_satellite(min_plume_altitude_m=0.0, revisit_s=2.0)
    det = observe_infrared(
        spec, [srbm], srbm.launch_t_ns, srbm.impact_t_ns, np.random.default_rng(3)
    )
    assert srbm.launch_t_ns <= int(det.t_ns.min()) < srbm.launch_t_ns + 2 * NS
