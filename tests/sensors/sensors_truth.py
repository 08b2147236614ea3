"""Synthetic truth for the sensor tests, independent of the physics room's flight design.

- :func:`vertical_climb`: a point rising straight up the local normal at constant speed,
  so its geodetic height at time t is exactly ``speed * t``.
- :func:`ballistic_arc`: an unpowered J2 flight in ECEF (gravity, Coriolis, centrifugal)
  integrated with fixed-step RK4 from a launch point, speed and flight-path angle.
- :func:`static_target`: a point held at a fixed ECEF position (zero velocity).
- :func:`radar` / :func:`ir_satellite`: sensor specs with test defaults, any field overridable.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from trilink.geo import ecef_to_geodetic, enu_rotation, geodetic_to_ecef
from trilink.geo.wgs84 import DEG
from trilink.physics.gravity import ecef_acceleration
from trilink.physics.truth import Trajectory
from trilink.sensors import InfraredSatelliteSpec, RadarSpec

NS = 1_000_000_000
T0_NS = 1_700_000_000 * NS  # an arbitrary UTC epoch (Nov 2023)


def _grid(duration_s: float, dt_s: float, t0_ns: int) -> np.ndarray:
    n = round(duration_s / dt_s) + 1
    return t0_ns + np.round(np.arange(n) * dt_s * NS).astype(np.int64)


def vertical_climb(
    lat_deg: float,
    lon_deg: float,
    speed_mps: float,
    duration_s: float,
    *,
    missile_id: str = "climb",
    rcs_m2: float = 1.0,
    burn_s: float | None = None,
    dt_s: float = 1.0,
    t0_ns: int = T0_NS,
) -> Trajectory:
    """Straight up the ellipsoid normal from the ground, ``burning`` until ``burn_s``."""
    t = _grid(duration_s, dt_s, t0_ns)
    tau = (t - t0_ns) * 1e-9
    base = geodetic_to_ecef(np.array([lat_deg * DEG, lon_deg * DEG, 0.0]))
    up = enu_rotation(lat_deg * DEG, lon_deg * DEG)[2]
    r = base + tau[:, None] * speed_mps * up
    v = np.broadcast_to(speed_mps * up, r.shape).copy()
    burn = duration_s if burn_s is None else burn_s
    burning = tau <= burn
    return Trajectory(
        missile_id=missile_id,
        missile_class="TEST",
        t_ns=t,
        r_ecef_m=r,
        v_ecef_mps=v,
        burning=burning,
        rcs_m2=np.full(t.shape, rcs_m2),
        burnout_t_ns=int(t0_ns + round(burn * NS)),
    )


def static_target(
    r_ecef_m: np.ndarray,
    duration_s: float,
    *,
    missile_id: str = "static",
    rcs_m2: float = 1.0,
    burning: bool = False,
    dt_s: float = 1.0,
    t0_ns: int = T0_NS,
) -> Trajectory:
    """A point that stays at ``r_ecef_m`` for ``duration_s``."""
    t = _grid(duration_s, dt_s, t0_ns)
    r = np.broadcast_to(np.asarray(r_ecef_m, dtype=float), (t.size, 3)).copy()
    return Trajectory(
        missile_id=missile_id,
        missile_class="TEST",
        t_ns=t,
        r_ecef_m=r,
        v_ecef_mps=np.zeros_like(r),
        burning=np.full(t.shape, burning),
        rcs_m2=np.full(t.shape, rcs_m2),
        burnout_t_ns=int(t[-1]) if burning else int(t[0]),
    )


def ballistic_arc(
    lat_deg: float,
    lon_deg: float,
    azimuth_deg: float,
    speed_mps: float,
    gamma_deg: float,
    *,
    missile_id: str = "arc",
    rcs_m2: float = 0.1,
    burn_s: float = 0.0,
    dt_s: float = 1.0,
    t0_ns: int = T0_NS,
) -> Trajectory:
    """Unpowered flight from the ground until it falls back through the ellipsoid.

    ``burning`` is True for the first ``burn_s`` seconds only as a label (no thrust is
    integrated): enough to exercise the infrared sensor's burning-only rule.
    """
    lat, lon = lat_deg * DEG, lon_deg * DEG
    rot = enu_rotation(lat, lon)
    az, g = azimuth_deg * DEG, gamma_deg * DEG
    v_enu = speed_mps * np.array([np.sin(az) * np.cos(g), np.cos(az) * np.cos(g), np.sin(g)])
    r = geodetic_to_ecef(np.array([lat, lon, 0.0]))
    v = rot.T @ v_enu
    rs, vs = [r], [v]

    def f(r: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return v, ecef_acceleration(r, v)

    h = dt_s
    while True:
        k1 = f(r, v)
        k2 = f(r + 0.5 * h * k1[0], v + 0.5 * h * k1[1])
        k3 = f(r + 0.5 * h * k2[0], v + 0.5 * h * k2[1])
        k4 = f(r + h * k3[0], v + h * k3[1])
        r = r + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        rs.append(r)
        vs.append(v)
        if ecef_to_geodetic(r)[2] < 0.0 or len(rs) > 200_000:
            break
    t = t0_ns + np.round(np.arange(len(rs)) * dt_s * NS).astype(np.int64)
    tau = (t - t0_ns) * 1e-9
    return Trajectory(
        missile_id=missile_id,
        missile_class="TEST",
        t_ns=t,
        r_ecef_m=np.array(rs),
        v_ecef_mps=np.array(vs),
        burning=tau <= burn_s,
        rcs_m2=np.full(t.shape, rcs_m2),
        burnout_t_ns=int(t0_ns + round(burn_s * NS)),
    )


def radar(**overrides: object) -> RadarSpec:
    """A full-coverage radar at 37 N 127.5 E with a very high SNR and no false alarms."""
    base = RadarSpec(
        sensor_id="radar-test",
        nation="KOR",
        lat_rad=37.0 * DEG,
        lon_rad=127.5 * DEG,
        height_m=0.0,
        faces=(),
        min_elevation_rad=0.0,
        max_elevation_rad=90.0 * DEG,
        max_range_m=3_000e3,
        ref_range_m=1_000e3,
        ref_snr_db=60.0,
        ref_rcs_m2=1.0,
        swerling=0,
        pfa=1e-6,
        range_sigma_m=50.0,
        angle_sigma_rad=2e-3,
        range_sigma_floor_m=5.0,
        angle_sigma_floor_rad=2e-4,
        revisit_s=1.0,
        false_alarms_per_scan=0.0,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]


def ir_satellite(**overrides: object) -> InfraredSatelliteSpec:
    """A geostationary sensor over 130 E staring at 39 N 127 E, Pd 1, no false alarms."""
    base = InfraredSatelliteSpec(
        sensor_id="ir-test",
        nation="USA",
        sub_lon_rad=130.0 * DEG,
        aim_lat_rad=39.0 * DEG,
        aim_lon_rad=127.0 * DEG,
        field_of_regard_rad=4.0 * DEG,
        angle_sigma_rad=20e-6,
        revisit_s=2.0,
        pd=1.0,
        false_alarms_per_scan=0.0,
    )
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]
