"""A stand-in for ``trilink.physics.design_flight`` for tests of the scenario plumbing:
a smooth arc (not a ballistic solution) from the launch point to the requested target,
sampled like a real Trajectory, so that sensors and writers have something to see."""

from __future__ import annotations

import numpy as np

from trilink.errors import TrajectoryInfeasible
from trilink.geo import geodesic_direct, geodesic_inverse, geodetic_to_ecef
from trilink.physics.truth import Trajectory

CALLS: list[dict] = []


def fake_design_flight(
    launch_lat_rad: float,
    launch_lon_rad: float,
    *,
    impact_lat_rad: float | None = None,
    impact_lon_rad: float | None = None,
    azimuth_rad: float | None = None,
    range_m: float | None = None,
    apogee_m: float | None = None,
    missile_class: str = "SRBM",
    launch_t_ns: int = 0,
    missile_id: str = "m1",
    dt_s: float = 0.5,
) -> Trajectory:
    CALLS.append(dict(locals()))
    if impact_lat_rad is not None:
        assert impact_lon_rad is not None and azimuth_rad is None and range_m is None
        dist, az, _ = geodesic_inverse(
            launch_lat_rad, launch_lon_rad, impact_lat_rad, impact_lon_rad
        )
        range_m, azimuth_rad = float(dist), float(az)
    assert azimuth_rad is not None and range_m is not None
    if apogee_m is not None and apogee_m > 10 * range_m:
        raise TrajectoryInfeasible(
            f"apogee {apogee_m / 1e3:.0f} km is beyond a {missile_class}'s energy"
        )
    height = apogee_m if apogee_m is not None else range_m / 4
    flight_s = 60.0 + range_m / 1500.0
    n = int(flight_s / dt_s) + 1
    s = np.linspace(0.0, 1.0, n)
    lat, lon = geodesic_direct(launch_lat_rad, launch_lon_rad, azimuth_rad, s * range_m)
    r = geodetic_to_ecef(np.stack([lat, lon, 4 * height * s * (1 - s)], axis=-1))
    t_s = s * flight_s
    v = np.gradient(r, t_s, axis=0)
    t_ns = launch_t_ns + np.round(t_s * 1e9).astype(np.int64)
    burning = t_s < 60.0
    return Trajectory(
        missile_id=missile_id,
        missile_class=missile_class,
        t_ns=t_ns,
        r_ecef_m=r,
        v_ecef_mps=v,
        burning=burning,
        rcs_m2=np.where(burning, 1.0, 0.1),
        burnout_t_ns=int(launch_t_ns + 60e9),
    )
