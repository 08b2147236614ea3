"""The constant-velocity benchmark scenario shared by trilink and Stone Soup.

One radar at a geodetic site, ``n_targets`` objects in straight-line flight at constant
velocity in the radar's local ENU frame (so in ECEF too: the map between them is a rigid
motion), scanned every ``dt_s`` for ``n_scans`` scans. Each scan has one time stamp for
all its detections (a simplification both trackers accept: a scan = one sensor, one
time). Measurements are ``[range_m, az_rad, el_rad]`` in the site's ENU frame, exactly as
:func:`trilink.geo.range_az_el` defines them (az clockwise from north), with Gaussian
noise, detection probability ``pd`` and Poisson clutter uniform in (range, az, el).

The same numbers feed both trackers: trilink gets :class:`trilink.sensors.detection.Detections`
batches in ECEF; Stone Soup gets ``Detection`` objects for its
``CartesianToElevationBearingRange`` model, which orders them [elevation, bearing, range]
with bearing counter-clockwise from east (``bearing = pi/2 - az``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.geo import enu_rotation, enu_to_aer, geodetic_to_ecef, wrap_angle
from trilink.sensors.detection import Detections

Array = NDArray[np.float64]
EPOCH_NS = 1_700_000_000 * 1_000_000_000


@dataclass(frozen=True)
class CvScenario:
    """Truth and detections of the benchmark (S scans, N targets)."""

    site_lla: Array  # (3,) [lat_rad, lon_rad, h_m]
    dt_s: float
    t_ns: NDArray[np.int64]  # (S,)
    truth_enu: Array  # (S, N, 6) [e, n, u, ve, vn, vu]
    z: list[Array]  # per scan (M_k, 3) [range, az, el]
    truth_index: list[NDArray[np.intp]]  # per scan (M_k,), -1 for clutter
    R: Array  # (3, 3)

    @property
    def n_detections(self) -> int:
        return int(sum(z.shape[0] for z in self.z))


def make_scenario(
    n_targets: int = 100,
    n_scans: int = 300,
    dt_s: float = 1.0,
    pd: float = 0.95,
    clutter_per_scan: float = 5.0,
    sigma_range_m: float = 20.0,
    sigma_angle_rad: float = 1e-3,
    seed: int = 1,
) -> CvScenario:
    rng = np.random.default_rng(seed)
    site = np.array([np.radians(36.0), np.radians(128.0), 100.0])
    rng_m = rng.uniform(80e3, 150e3, n_targets)
    az = rng.uniform(0, 2 * np.pi, n_targets)
    up = rng.uniform(2e3, 12e3, n_targets)
    heading = rng.uniform(0, 2 * np.pi, n_targets)
    speed = rng.uniform(100.0, 250.0, n_targets)
    p0 = np.column_stack([rng_m * np.sin(az), rng_m * np.cos(az), up])
    v = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), np.zeros(n_targets)])
    t_s = np.arange(n_scans) * dt_s
    pos = p0[None] + t_s[:, None, None] * v[None]
    truth = np.concatenate([pos, np.broadcast_to(v, pos.shape)], axis=-1)
    sig = np.array([sigma_range_m, sigma_angle_rad, sigma_angle_rad])
    zs, idx = [], []
    for k in range(n_scans):  # scenario set-up, not timed
        seen = np.flatnonzero(rng.random(n_targets) < pd)
        aer = enu_to_aer(pos[k, seen])
        z_t = aer + rng.normal(size=aer.shape) * sig
        n_c = rng.poisson(clutter_per_scan)
        z_c = np.column_stack(
            [
                rng.uniform(20e3, 200e3, n_c),
                rng.uniform(-np.pi, np.pi, n_c),
                rng.uniform(0, 0.15, n_c),
            ]
        )
        z = np.vstack([z_t, z_c])
        z[:, 1] = wrap_angle(z[:, 1])
        order = rng.permutation(z.shape[0])  # the trackers must not rely on order
        zs.append(z[order])
        idx.append(np.concatenate([seen, np.full(n_c, -1)])[order])
    t_ns = EPOCH_NS + np.round(t_s * 1e9).astype(np.int64)
    return CvScenario(site, dt_s, t_ns, truth, zs, idx, np.diag(sig**2))


def trilink_detections(sc: CvScenario) -> list[Detections]:
    """One :class:`Detections` batch per scan, radar frame = the site's ENU axes."""
    s_ecef = geodetic_to_ecef(sc.site_lla)
    rot = enu_rotation(sc.site_lla[0], sc.site_lla[1])
    out = []
    for k, z in enumerate(sc.z):
        m = z.shape[0]
        ids = np.where(sc.truth_index[k] >= 0, np.char.add("t", sc.truth_index[k].astype(str)), "")
        out.append(
            Detections(
                "bench-radar",
                "BENCH",
                "radar",
                s_ecef,
                rot,
                np.full(m, sc.t_ns[k]),
                z,
                np.broadcast_to(sc.R, (m, 3, 3)).copy(),
                np.full(m, 20.0),
                ids.astype(np.str_),
            )
        )
    return out


def stonesoup_measurement(z: Array) -> Array:
    """[range, az, el] rows to Stone Soup's [elevation, bearing, range] rows."""
    return np.column_stack([z[:, 2], wrap_angle(np.pi / 2 - z[:, 1]), z[:, 0]])
