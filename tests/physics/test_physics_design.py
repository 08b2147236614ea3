"""Trajectory design: designed flights land where asked, peak where asked, and agree
with textbook ballistics; impossible requests are refused with a reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trilink.errors import TrajectoryInfeasible
from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.physics import (
    MISSILE_CLASSES,
    FlightRequest,
    Trajectory,
    design_flight,
    design_flights,
)
from trilink.physics.flight import fly, to_trajectory
from trilink.physics.kepler import min_energy_time_of_flight
from trilink.physics.propagate import ecef_to_inertial

D = math.radians
KM = 1e3
SUNAN = (D(39.20), D(125.67))  # launch areas from shared/FACTS.md
SOHAE = (D(39.66), D(124.71))
T0 = 1_700_000_000_000_000_000

CASES = {
    # name: (launch, class, request)
    "srbm-300-min": (SUNAN, "SRBM", {"azimuth_rad": D(85), "range_m": 300 * KM}),
    "srbm-600-min": (SUNAN, "SRBM", {"azimuth_rad": D(70), "range_m": 600 * KM}),
    "srbm-lofted": (
        SUNAN,
        "SRBM",
        {"azimuth_rad": D(90), "range_m": 350 * KM, "apogee_m": 250 * KM},
    ),
    "srbm-depressed": (
        SUNAN,
        "SRBM",
        {"azimuth_rad": D(90), "range_m": 450 * KM, "apogee_m": 90 * KM},
    ),
    "irbm-4500-min": (SUNAN, "IRBM", {"azimuth_rad": D(75), "range_m": 4500 * KM}),
    "irbm-4500-970": (
        SUNAN,
        "IRBM",
        {"azimuth_rad": D(75), "range_m": 4600 * KM, "apogee_m": 970 * KM},
    ),
    "icbm-lofted": (
        SOHAE,
        "ICBM",
        {"impact_lat_rad": D(40.5), "impact_lon_rad": D(137.0), "apogee_m": 6000 * KM},
    ),
    "icbm-12000-min": (SUNAN, "ICBM", {"azimuth_rad": D(30), "range_m": 12000 * KM}),
}


@pytest.fixture(scope="module")
def flights() -> dict[str, Trajectory]:
    return {
        name: design_flight(*launch, missile_class=cls, launch_t_ns=T0, missile_id=name, **req)
        for name, (launch, cls, req) in CASES.items()
    }


def _requested_point(launch: tuple[float, float], req: dict[str, float]) -> tuple[float, float]:
    if "impact_lat_rad" in req:
        return req["impact_lat_rad"], req["impact_lon_rad"]
    lat, lon = geodesic_direct(*launch, req["azimuth_rad"], req["range_m"])
    return float(lat), float(lon)


def _dense_apogee(traj: Trajectory) -> float:
    """Highest geodetic height from the trajectory itself, sampled every 0.05 s."""
    t = np.arange(traj.t_ns[0], traj.t_ns[-1], 50_000_000, dtype=np.int64)
    r, _, _ = traj.state_at(t)
    return float(ecef_to_geodetic(r)[:, 2].max())


@pytest.mark.parametrize("name", list(CASES))
def test_designed_flight_lands_within_1_km_and_peaks_within_1_percent(
    name: str, flights: dict[str, Trajectory]
) -> None:
    launch, _, req = CASES[name]
    traj = flights[name]
    end = ecef_to_geodetic(traj.r_ecef_m[-1])
    want = _requested_point(launch, req)
    miss, _, _ = geodesic_inverse(want[0], want[1], end[0], end[1])
    assert float(miss) < 1 * KM
    assert abs(end[2]) < 1.0  # the last sample is on the ellipsoid
    if "apogee_m" in req:
        assert _dense_apogee(traj) == pytest.approx(req["apogee_m"], rel=0.01)
    assert traj.meta["apogee_m"] == pytest.approx(_dense_apogee(traj), rel=1e-4)


@pytest.mark.parametrize("name", list(CASES))
def test_trajectory_contract(name: str, flights: dict[str, Trajectory]) -> None:
    traj = flights[name]
    cls = MISSILE_CLASSES[CASES[name][1]]
    steps = np.diff(traj.t_ns)
    assert traj.t_ns[0] == T0 and traj.t_ns.dtype == np.int64
    assert np.all(steps[:-1] == 500_000_000) and 0 < steps[-1] <= 500_000_000
    assert traj.r_ecef_m.shape == traj.v_ecef_mps.shape == (len(traj.t_ns), 3)
    assert traj.burning[0] and not traj.burning[-1]
    assert np.all(np.diff(traj.burning.astype(int)) <= 0)  # burns once, then coasts
    n_burn = int(traj.burning.sum())
    assert (n_burn - 1) * 0.5 < traj.meta["burnout_time_s"] <= n_burn * 0.5 + 1e-9
    assert np.all(traj.rcs_m2[traj.burning] == cls.rcs_boost_m2)
    assert np.all(traj.rcs_m2[~traj.burning] == cls.rcs_rv_m2)
    assert np.linalg.norm(traj.v_ecef_mps[0]) < 1e-6  # at rest on the pad
    for key in ("apogee_m", "range_m", "flight_time_s", "burnout_time_s", "max_speed_mps",
                "impact_lat_rad", "impact_lon_rad", "launch_lat_rad", "launch_lon_rad"):  # fmt: skip
        assert math.isfinite(traj.meta[key]), key
    assert traj.meta["flight_time_s"] == pytest.approx((traj.t_ns[-1] - T0) * 1e-9, abs=1e-6)


def test_public_class_figures(flights: dict[str, Trajectory]) -> None:
    # Shared/FACTS.md: IRBM over Japan ~4,500 km, ~1,000 km apogee, ~20 minutes; lofted ICBM
    # ~1,000 km range, several thousand km apogee, an hour or more.
    irbm = flights["irbm-4500-min"].meta
    assert 800 * KM < irbm["apogee_m"] < 1_300 * KM
    assert 18 * 60 < irbm["flight_time_s"] < 28 * 60
    icbm = flights["icbm-lofted"].meta
    assert 55 * 60 < icbm["flight_time_s"] < 80 * 60
    srbm = flights["srbm-300-min"].meta
    assert 4 * 60 < srbm["flight_time_s"] < 8 * 60


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [
        ("srbm-300-min", 0.03),
        ("srbm-600-min", 0.03),
        ("irbm-4500-min", 0.01),
        ("icbm-12000-min", 0.01),
    ],
)
def test_minimum_energy_flight_time_matches_the_textbook(
    name: str, tolerance: float, flights: dict[str, Trajectory]
) -> None:
    # From the burnout point to the impact point (inertial frame), the coast should take
    # the minimum-energy time of the spherical, non-rotating, vacuum textbook (Lagrange's
    # equation with a = s/2). What separates them is physics the textbook leaves out:
    # re-entry drag adds time (measured +0.4 to +2.3 %, most for the SRBM, whose whole
    # flight is in the upper atmosphere), J2 a few 0.01 %.
    traj = flights[name]
    m = traj.meta
    r_bo, v_bo, _ = traj.state_at(np.array([traj.burnout_t_ns]))
    rb, _ = ecef_to_inertial(m["burnout_time_s"], r_bo[0], v_bo[0])
    ri, _ = ecef_to_inertial(m["flight_time_s"], traj.r_ecef_m[-1], traj.v_ecef_mps[-1])
    psi = math.acos(rb @ ri / (np.linalg.norm(rb) * np.linalg.norm(ri)))
    book = float(min_energy_time_of_flight(np.linalg.norm(rb), np.linalg.norm(ri), psi))
    flown = m["flight_time_s"] - m["burnout_time_s"]
    assert flown >= book * (1 - 0.005)  # drag never makes the coast shorter than vacuum
    assert flown == pytest.approx(book, rel=tolerance)


@pytest.mark.parametrize("name", ["srbm-300-min", "icbm-lofted", "irbm-4500-min"])
def test_state_at_interpolation_is_accurate_at_the_design_step(
    name: str, flights: dict[str, Trajectory]
) -> None:
    # The 0.5 s samples interpolated by Trajectory.state_at, against the integrator's own
    # dense output (Hermite arcs between its nodes) sampled every 0.02 s.
    traj = flights[name]
    launch, cls_name, _ = CASES[name]
    cls = MISSILE_CLASSES[cls_name]
    m = traj.meta
    flight = fly(
        cls, *launch, np.array([[m["launch_azimuth_rad"], m["kick_rad"], m["last_burn_s"]]])
    )
    fine = to_trajectory(flight, 0, cls, missile_id="fine", launch_t_ns=T0, dt_s=0.02, meta={})
    assert np.array_equal(fine.r_ecef_m[-1], traj.r_ecef_m[-1])  # the same flight
    r, v, inside = traj.state_at(fine.t_ns)
    assert inside.all()
    dr = np.linalg.norm(r - fine.r_ecef_m, axis=1)
    dv = np.linalg.norm(v - fine.v_ecef_mps, axis=1)
    # The one 0.5 s interval holding the thrust cut-off (a jump in acceleration) is
    # interpolated across the kink: < 1 m, < 8 m/s there; elsewhere < 0.5 m, < 1 m/s
    # (the worst is the peak-drag second of an ICBM re-entry; boost and vacuum are < 1 cm).
    cut = (fine.t_ns - T0) // 500_000_000 == (traj.burnout_t_ns - T0) // 500_000_000
    stage_edges = np.cumsum([s.burn_s for s in cls.stages])[:-1]
    edge = np.isin((fine.t_ns - T0) // 500_000_000, (stage_edges * 2).astype(int))
    assert dr[cut].max() < 1.0 and dv[cut].max() < 8.0
    ok = ~cut & ~edge
    assert dr[ok].max() < 0.5 and dv[ok].max() < 1.0
    assert np.median(dr) < 0.01


def test_impact_point_and_bearing_requests_agree() -> None:
    a = design_flight(*SUNAN, azimuth_rad=D(80), range_m=500 * KM)
    lat, lon = geodesic_direct(*SUNAN, D(80), 500 * KM)
    b = design_flight(*SUNAN, impact_lat_rad=float(lat), impact_lon_rad=float(lon))
    assert np.allclose(a.r_ecef_m[-1], b.r_ecef_m[-1], atol=1.0)
    assert a.meta["range_m"] == pytest.approx(500 * KM, abs=1 * KM)


def test_earth_rotation_is_aimed_for() -> None:
    # The lofted ICBM flies an hour: the target moves ~1,200 km (inertially) meanwhile.
    # A flight aimed along the geodesic azimuth, ignoring rotation, would miss by far;
    # the design's launch azimuth differs from the geodesic one accordingly.
    _, cls, req = CASES["icbm-lofted"]
    traj = design_flight(*SOHAE, missile_class=cls, **req)
    _, az_geo, _ = geodesic_inverse(*SOHAE, req["impact_lat_rad"], req["impact_lon_rad"])
    assert abs(traj.meta["launch_azimuth_rad"] - float(az_geo)) > D(1.0)


@pytest.mark.parametrize(
    ("cls", "req", "words"),
    [
        ("SRBM", {"range_m": 3000 * KM}, "beyond"),
        ("IRBM", {"range_m": 11000 * KM}, "beyond"),
        ("SRBM", {"range_m": 400 * KM, "apogee_m": 20 * KM}, "too low"),
        ("ICBM", {"range_m": 1000 * KM, "apogee_m": 20000 * KM}, "higher than"),
        ("IRBM", {"range_m": 1000 * KM, "apogee_m": 9000 * KM}, "higher than"),
        ("ICBM", {"range_m": 500 * KM}, "too short"),
        ("SRBM", {"range_m": 790 * KM, "apogee_m": 151 * KM}, "more energy"),
    ],
)
def test_impossible_requests_raise_with_a_reason(
    cls: str, req: dict[str, float], words: str
) -> None:
    with pytest.raises(TrajectoryInfeasible) as err:
        design_flight(*SUNAN, missile_class=cls, azimuth_rad=D(90), **req)
    assert words in err.value.reason
    assert "\n" not in err.value.reason


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"azimuth_rad": 1.0},
        {"impact_lat_rad": 0.7, "impact_lon_rad": 2.3, "range_m": 1e5},
        {"azimuth_rad": 1.0, "range_m": 1e5, "missile_class": "SLBM"},
        {"azimuth_rad": 1.0, "range_m": 1e5, "apogee_m": -5.0},
        {"azimuth_rad": 1.0, "range_m": 30_000e3},
        {"azimuth_rad": 1.0, "range_m": 1e5, "dt_s": 0.0},
    ],
)
def test_malformed_requests_raise_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        design_flight(*SUNAN, **kwargs)  # type: ignore[arg-type]


def test_batch_design_matches_one_by_one(flights: dict[str, Trajectory]) -> None:
    names = ["srbm-300-min", "srbm-lofted", "icbm-lofted", "irbm-4500-min"]
    reqs = [
        FlightRequest(
            *CASES[n][0], missile_class=CASES[n][1], launch_t_ns=T0, missile_id=n, **CASES[n][2]
        )
        for n in names
    ]
    batch = design_flights(reqs)
    for name, traj in zip(names, batch, strict=True):
        alone = flights[name]
        assert traj.missile_id == name
        assert len(traj.t_ns) == len(alone.t_ns)
        # Same design up to floating-point order in the batched arrays (Newton stops
        # within its tolerances either way).
        assert np.linalg.norm(traj.r_ecef_m[-1] - alone.r_ecef_m[-1]) < 50.0
        assert traj.meta["apogee_m"] == pytest.approx(alone.meta["apogee_m"], rel=2e-3)


def test_too_flat_a_minimum_energy_shot_is_refused() -> None:
    # Westward, against Earth's rotation, a 100 km minimum-energy SRBM shot would need a
    # flatter boost than an 89 deg pitch-over gives.
    with pytest.raises(TrajectoryInfeasible, match="cannot fly as flat"):
        design_flight(*SUNAN, azimuth_rad=D(270), range_m=100 * KM)


def test_batch_names_the_launch_that_cannot_fly() -> None:
    reqs = [
        FlightRequest(*SUNAN, azimuth_rad=D(90), range_m=300 * KM, missile_id="fine"),
        FlightRequest(*SUNAN, azimuth_rad=D(90), range_m=3000 * KM, missile_id="too-far"),
    ]
    with pytest.raises(TrajectoryInfeasible, match=r"^too-far: range 3000 km is beyond"):
        design_flights(reqs)


@pytest.mark.parametrize(
    ("label", "cls", "range_km", "apogee_km", "minutes"),
    [
        ("Hwasong-15, 2017-11-29", "ICBM", 950, 4475, 53),
        ("Hwasong-18, 2023-07-12", "ICBM", 1001, 6648, 74),
        ("Hwasong-19, 2024-10-31", "ICBM", 1001, 7687, 86),
        ("Hwasong-12, 2022-10-04", "IRBM", 4600, 970, 22),
    ],
)
def test_flight_times_of_publicly_reported_launches(
    label: str, cls: str, range_km: float, apogee_km: float, minutes: float
) -> None:
    # Range and apogee as reported (Japan MoD / KCNA); the flight time then follows from
    # physics, almost whatever the missile. Reported times are rounded to the minute and
    # launch sites are approximate, so +-3 min.
    traj = design_flight(
        *SUNAN, missile_class=cls, azimuth_rad=D(95), range_m=range_km * KM, apogee_m=apogee_km * KM
    )
    assert traj.meta["flight_time_s"] / 60.0 == pytest.approx(minutes, abs=3.0), label


def test_a_launch_time_shift_only_shifts_the_flight_so_the_cache_may_reuse_it() -> None:
    # The physics must not depend on the absolute time (J2 is axisymmetric, the Earth
    # turns uniformly, US76 is static): designed afresh at two launch times a day and a
    # half apart, the Earth-fixed flights agree, and the memoised design shifted to the
    # second time is the same flight.
    from trilink.physics.design import clear_design_cache

    _, cls, req = CASES["srbm-lofted"]
    t1 = T0 + 129_600_123_456_789
    clear_design_cache()
    first = design_flight(*SUNAN, missile_class=cls, launch_t_ns=T0, missile_id="a", **req)
    clear_design_cache()
    fresh = design_flight(*SUNAN, missile_class=cls, launch_t_ns=t1, missile_id="b", **req)
    cached = design_flight(*SUNAN, missile_class=cls, launch_t_ns=T0, missile_id="c", **req)
    assert np.array_equal(first.t_ns - T0, fresh.t_ns - t1)
    assert np.abs(first.r_ecef_m - fresh.r_ecef_m).max() < 1e-3  # 1 mm
    assert np.abs(first.v_ecef_mps - fresh.v_ecef_mps).max() < 1e-6
    assert np.abs(cached.r_ecef_m - first.r_ecef_m).max() < 1e-3
    assert np.array_equal(cached.t_ns, first.t_ns)
    assert cached.burnout_t_ns - T0 == fresh.burnout_t_ns - t1
    assert (cached.missile_id, fresh.missile_id) == ("c", "b")
    assert cached.meta == first.meta
    # A hit hands out arrays of its own: writing to one flight leaves the cache intact.
    cached.r_ecef_m[:] = 0.0
    again = design_flight(*SUNAN, missile_class=cls, launch_t_ns=t1, missile_id="d", **req)
    assert np.array_equal(again.r_ecef_m, fresh.r_ecef_m)


def test_the_cache_keys_on_everything_else_that_shapes_the_flight() -> None:
    from trilink.physics.design import clear_design_cache

    clear_design_cache()
    a = design_flight(*SUNAN, azimuth_rad=D(85), range_m=300 * KM)
    b = design_flight(*SUNAN, azimuth_rad=D(85), range_m=301 * KM)
    c = design_flight(*SUNAN, azimuth_rad=D(85), range_m=300 * KM, dt_s=0.25)
    assert b.meta["range_m"] - a.meta["range_m"] == pytest.approx(1 * KM, abs=0.3 * KM)
    assert len(c.t_ns) > 1.9 * len(a.t_ns)
