"""Synthetic truth and detections for the tracking tests (independent of the tracker).

Truth is integrated with SciPy's DOP853 at tight tolerances (not the tracker's RK4) from
trilink.physics.gravity: a vertical rise, a pitch kick, a gravity turn with thrust along
the velocity (constant thrust, constant mass flow: ``a = a0 / (1 - k t / t_b)``), then a
ballistic flight with drag in a two-layer exponential atmosphere (not the tracker's
one-layer model) to the WGS84 surface. Radar detections are ``range_az_el`` of the truth
plus Gaussian noise of a declared R.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from trilink.geo import ecef_to_geodetic, enu_rotation, geodetic_to_ecef, range_az_el
from trilink.physics.gravity import gravity_j2, rotating_frame_acceleration
from trilink.sensors.detection import Detections

DEG = np.pi / 180.0
T0_NS = 1_700_000_000_000_000_000


def density_truth(h: float) -> float:
    """Two-layer exponential atmosphere (scale heights 8.4 km below 11 km, 6.4 km above)."""
    if h < 11_000.0:
        return 1.225 * np.exp(-h / 8_400.0)
    return 1.225 * np.exp(-11_000.0 / 8_400.0) * np.exp(-(h - 11_000.0) / 6_400.0)


@dataclass
class Flight:
    t_burn_s: float
    t_impact_s: float
    segments: list  # (t0, t1, OdeSolution)
    launch_lla: np.ndarray
    impact_lla: np.ndarray
    apogee_m: float

    def state(self, t_s: np.ndarray | float) -> np.ndarray:
        """ECEF [r, v] (..., 6) at seconds after launch."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        out = np.full((t.size, 6), np.nan)
        for t0, t1, sol in self.segments:
            m = (t >= t0) & (t <= t1)
            if m.any():
                out[m] = sol(t[m]).T
        return out.reshape((*np.shape(t_s), 6))


def fly(
    lat_deg: float = 39.0,
    lon_deg: float = 125.7,
    azimuth_deg: float = 110.0,
    kick_deg: float = 8.0,
    a0: float = 22.0,
    mass_ratio: float = 3.0,
    t_burn: float = 60.0,
    t_vertical: float = 6.0,
    beta: float = 6_000.0,
) -> Flight:
    """A single-stage flight from lift-off to impact."""
    lla0 = np.array([lat_deg * DEG, lon_deg * DEG, 0.0])
    rot = enu_rotation(lla0[0], lla0[1])
    up = rot[2]
    k = 1.0 - 1.0 / mass_ratio

    def thrust(t: float) -> float:
        return a0 / (1.0 - k * t / t_burn)

    def rhs_vertical(t, y):
        r, v = y[:3], y[3:]
        return np.r_[v, gravity_j2(r) + rotating_frame_acceleration(r, v) + thrust(t) * up]

    def rhs_turn(t, y):
        r, v = y[:3], y[3:]
        a = gravity_j2(r) + rotating_frame_acceleration(r, v) + thrust(t) * v / np.linalg.norm(v)
        return np.r_[v, a]

    def rhs_coast(t, y):
        r, v = y[:3], y[3:]
        h = ecef_to_geodetic(r)[2]
        drag = -0.5 * density_truth(h) / beta * np.linalg.norm(v) * v
        return np.r_[v, gravity_j2(r) + rotating_frame_acceleration(r, v) + drag]

    opts = {"method": "DOP853", "rtol": 1e-11, "atol": 1e-6, "dense_output": True}
    y0 = np.r_[geodetic_to_ecef(lla0), 0.1 * up]
    s1 = solve_ivp(rhs_vertical, (0.0, t_vertical), y0, **opts)
    y1 = s1.y[:, -1].copy()
    # Pitch kick: tilt the velocity by kick_deg toward the azimuth, speed unchanged.
    horiz = np.sin(azimuth_deg * DEG) * rot[0] + np.cos(azimuth_deg * DEG) * rot[1]
    speed = np.linalg.norm(y1[3:])
    y1[3:] = speed * (np.cos(kick_deg * DEG) * up + np.sin(kick_deg * DEG) * horiz)
    s2 = solve_ivp(rhs_turn, (t_vertical, t_burn), y1, **opts)

    def ground(t, y):
        return ecef_to_geodetic(y[:3])[2]

    ground.terminal = True
    ground.direction = -1
    s3 = solve_ivp(rhs_coast, (t_burn, t_burn + 4000.0), s2.y[:, -1], events=ground, **opts)
    t_imp = float(s3.t_events[0][0])
    y_imp = s3.y_events[0][0]
    ts = np.linspace(t_burn, t_imp, 2000)
    h = ecef_to_geodetic(s3.sol(ts)[:3].T)[:, 2]
    return Flight(
        t_burn, t_imp,
        [(0.0, t_vertical, s1.sol), (t_vertical, t_burn, s2.sol), (t_burn, t_imp, s3.sol)],
        lla0, ecef_to_geodetic(y_imp[:3]), float(h.max()),
    )  # fmt: skip


@dataclass(frozen=True)
class Radar:
    sensor_id: str
    nation: str
    lat_deg: float
    lon_deg: float
    max_range_m: float = 800e3
    min_el_rad: float = 0.5 * DEG
    sigma: tuple[float, float, float] = (50.0, 1.5e-3, 1.5e-3)
    period_s: float = 2.0

    @property
    def ecef(self) -> np.ndarray:
        return geodetic_to_ecef(np.array([self.lat_deg * DEG, self.lon_deg * DEG, 0.0]))

    @property
    def rot(self) -> np.ndarray:
        return enu_rotation(self.lat_deg * DEG, self.lon_deg * DEG)

    @property
    def R(self) -> np.ndarray:
        return np.diag(np.square(self.sigma))


def observe(
    flight: Flight,
    radar: Radar,
    rng: np.random.Generator,
    t_from_s: float = 0.0,
    t_to_s: float | None = None,
    clutter_per_scan: float = 0.0,
    t_offset_s: float = 0.0,
) -> tuple[Detections, np.ndarray]:
    """Detections of one flight (plus optional Poisson clutter) and the true states (N, 6)
    (NaN for false alarms). Scans every ``period_s`` from ``t_offset_s``."""
    t_to = flight.t_impact_s if t_to_s is None else t_to_s
    scans = np.arange(t_offset_s, t_to, radar.period_s)
    scans = scans[scans >= t_from_s]
    states = flight.state(np.clip(scans, 0.0, flight.t_impact_s))
    zs = range_az_el(states[:, :3], radar.ecef, radar.rot)
    vis = (
        (zs[:, 0] <= radar.max_range_m)
        & (zs[:, 2] >= radar.min_el_rad)
        & (scans <= flight.t_impact_s)
    )
    t_list, z_list, truth_list, tid = [], [], [], []
    sig = np.asarray(radar.sigma)
    for i, t in enumerate(scans):
        if vis[i]:
            t_list.append(t)
            z_list.append(zs[i] + rng.normal(0.0, sig))
            truth_list.append(states[i])
            tid.append("m1")
        for _ in range(rng.poisson(clutter_per_scan)):
            t_list.append(t)
            z_list.append(
                [rng.uniform(50e3, radar.max_range_m), rng.uniform(-np.pi, np.pi),
                 rng.uniform(radar.min_el_rad, 60 * DEG)]
            )  # fmt: skip
            truth_list.append(np.full(6, np.nan))
            tid.append("")
    n = len(t_list)
    t_ns = T0_NS + np.round(np.asarray(t_list, dtype=float) * 1e9).astype(np.int64)
    det = Detections(
        radar.sensor_id, radar.nation, "radar", radar.ecef, radar.rot, t_ns,
        np.asarray(z_list, dtype=float).reshape(n, 3), np.broadcast_to(radar.R, (n, 3, 3)).copy(),
        np.full(n, 20.0), np.asarray(tid, dtype=str),
    )  # fmt: skip
    return det, np.asarray(truth_list).reshape(n, 6)
