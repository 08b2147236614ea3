"""A whole flight — boost, coast, impact — for N control triples, and its truth samples.

Controls (N, 3): ``[azimuth_rad, kick_rad, last_burn_s]`` (see :mod:`trilink.physics.boost`).
:func:`fly` integrates lift-off to impact in the launch-aligned inertial frame (t = 0 at
lift-off) and reports what the designer targets: impact point, apogee, and the
burnout flight-path angle against the minimum-energy one. :func:`to_trajectory` samples
one body on the fixed ``dt`` grid as a :class:`~trilink.physics.truth.Trajectory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.geodesic import geodesic_inverse
from trilink.physics.boost import BoostResult, fly_boost
from trilink.physics.kepler import min_energy_flight_path_angle
from trilink.physics.propagate import (
    CoastResult,
    coast_to_ground,
    ellipsoid_height,
    hermite,
    inertial_to_ecef,
)
from trilink.physics.rocket import MissileClass
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Flight:
    """N flights: powered and coast nodes, impact (ECEF and geodetic), apogee, burnout.

    ``gamma_excess_rad``: burnout flight-path angle minus that of the minimum-energy
    ellipse from the burnout point to the (inertial) impact point — zero on a
    minimum-energy flight, positive when lofted, negative when depressed.
    """

    controls: Array
    boost: BoostResult
    coast: CoastResult
    impact_ecef: Array
    impact_lla: Array
    apogee_m: Array
    gamma_excess_rad: Array

    @property
    def landed(self) -> NDArray[np.bool_]:
        return self.coast.hit & self.boost.on_pad_or_above


def _apogee(t: Array, r: Array, v: Array) -> Array:
    """Greatest geodetic height (N,) over node arrays (K, N[, 3]), refined between nodes.

    The highest node is found with the cheap radial height, then the two node intervals
    beside it are sampled along their cubic Hermite arcs (33 points each) and measured
    with :func:`ecef_to_geodetic`; heights are invariant under the frame's z rotation.
    """
    k_count, n = t.shape
    heights = ellipsoid_height(r.reshape(-1, 3)).reshape(k_count, n)
    top = np.argmax(heights, axis=0)
    cols = np.arange(n)
    s = np.linspace(0.0, 1.0, 33)
    best = np.full(n, -np.inf)
    for lo in (np.maximum(top - 1, 0), np.minimum(top, k_count - 2)):
        hi = lo + 1
        h = t[hi, cols] - t[lo, cols]
        with np.errstate(divide="ignore", invalid="ignore"):
            for sj in s:
                rs, _ = hermite(
                    r[lo, cols], v[lo, cols], r[hi, cols], v[hi, cols], h, np.full(n, sj)
                )
                best = np.maximum(best, ecef_to_geodetic(rs)[:, 2])
    return best


def fly_groups(
    groups: Sequence[tuple[MissileClass, ArrayLike, ArrayLike, ArrayLike]],
) -> list[Flight]:
    """Fly several batches — (class, launch lat (N,), lon (N,), controls (N, 3)) each —
    with one boost integration per class and one shared coast for all bodies.

    Bodies that have landed ride along the shared coast at zero step until the last
    one lands, so a salvo costs about as much as its longest flight.
    """
    boosts, sizes = [], []
    for cls, lat, lon, controls in groups:
        c = np.atleast_2d(np.asarray(controls, dtype=float))
        boosts.append(fly_boost(cls, lat, lon, c[:, 0], c[:, 1], c[:, 2]))
        sizes.append(len(c))
    beta = np.concatenate(
        [np.full(n, g[0].rv_beta_kg_m2) for g, n in zip(groups, sizes, strict=True)]
    )
    coast = coast_to_ground(
        np.concatenate([b.t_bo for b in boosts]),
        np.concatenate([b.r_bo for b in boosts]),
        np.concatenate([b.v_bo for b in boosts]),
        beta_kg_m2=beta,
        t_max=21_600.0,
    )
    out = []
    start = 0
    for (_, _, _, controls), boost, n in zip(groups, boosts, sizes, strict=True):
        cols = slice(start, start + n)
        start += n
        part = CoastResult(
            coast.t[:, cols], coast.r[:, cols], coast.v[:, cols],
            coast.t_hit[cols], coast.r_hit[cols], coast.v_hit[cols], coast.hit[cols],
        )  # fmt: skip
        out.append(_finish(np.atleast_2d(np.asarray(controls, dtype=float)), boost, part))
    return out


def fly(
    cls: MissileClass, launch_lat_rad: ArrayLike, launch_lon_rad: ArrayLike, controls: ArrayLike
) -> Flight:
    """Fly N control triples (N, 3) from lift-off to impact (or to 6 h, if they never land)."""
    return fly_groups([(cls, launch_lat_rad, launch_lon_rad, controls)])[0]


def _finish(c: Array, boost: BoostResult, coast: CoastResult) -> Flight:
    """Impact point, apogee and burnout flight-path excess of flown bodies."""
    impact_ecef, _ = inertial_to_ecef(coast.t_hit, coast.r_hit, coast.v_hit)
    impact_lla = ecef_to_geodetic(impact_ecef)
    t_all = np.concatenate([boost.t, coast.t])
    r_all = np.concatenate([boost.r, coast.r])
    v_all = np.concatenate([boost.v, coast.v])
    apogee = _apogee(t_all, r_all, v_all)
    rn = np.linalg.norm(boost.r_bo, axis=1)
    gamma = np.arcsin(
        np.einsum("ij,ij->i", boost.r_bo, boost.v_bo) / (rn * np.linalg.norm(boost.v_bo, axis=1))
    )
    excess = gamma - min_energy_flight_path_angle(boost.r_bo, coast.r_hit)
    return Flight(c, boost, coast, impact_ecef, impact_lla, apogee, excess)


def to_trajectory(
    flight: Flight,
    i: int,
    cls: MissileClass,
    *,
    missile_id: str,
    launch_t_ns: int,
    dt_s: float,
    meta: dict[str, float],
) -> Trajectory:
    """Sample body ``i`` of ``flight`` every ``dt_s`` from lift-off; last sample at impact.

    Between integration nodes the state is the cubic Hermite arc through the nodes'
    positions and velocities (nodes are at most 1 s apart in boost, a fraction of a
    second apart in dense air, and up to 30 s apart only in vacuum, where the arc's
    error is < 1 mm); docs/physics.md gives the measured interpolation errors.
    """
    b, c = flight.boost, flight.coast
    k_hit = int(np.argmax(c.t[:, i] >= c.t_hit[i])) if c.hit[i] else len(c.t) - 1
    t = np.concatenate([b.t[:, i], c.t[1 : k_hit + 1, i]])
    r = np.concatenate([b.r[:, i], c.r[1 : k_hit + 1, i]])
    v = np.concatenate([b.v[:, i], c.v[1 : k_hit + 1, i]])
    keep = np.concatenate([np.diff(t) > 0.0, [True]])  # drop zero-length intervals
    t, r, v = t[keep], r[keep], v[keep]
    t_end = float(t[-1])
    dt_ns = round(dt_s * 1e9)
    end_ns = round(t_end * 1e9)
    grid_ns = np.arange(0, end_ns, dt_ns, dtype=np.int64)
    grid_ns = np.append(grid_ns[grid_ns < end_ns], np.int64(end_ns))
    tg = grid_ns.astype(float) * 1e-9
    tg[-1] = t_end
    j = np.clip(np.searchsorted(t, tg, side="right") - 1, 0, len(t) - 2)
    h = t[j + 1] - t[j]
    rg, vg = hermite(r[j], v[j], r[j + 1], v[j + 1], h, (tg - t[j]) / h)
    r_ecef, v_ecef = inertial_to_ecef(tg, rg, vg)
    t_bo = float(b.t_bo[i])
    burning = tg < t_bo
    rcs = np.where(burning, cls.rcs_boost_m2, cls.rcs_rv_m2)
    return Trajectory(
        missile_id=missile_id,
        missile_class=cls.name,
        t_ns=grid_ns + np.int64(launch_t_ns),
        r_ecef_m=r_ecef,
        v_ecef_mps=v_ecef,
        burning=burning,
        rcs_m2=rcs,
        burnout_t_ns=int(launch_t_ns + round(t_bo * 1e9)),
        meta=meta,
    )


def flight_meta(
    flight: Flight, i: int, launch_lat_rad: float, launch_lon_rad: float, v_ecef_mps: Array
) -> dict[str, float]:
    """The figures every consumer asks for (SI, radians) of body ``i``.

    Speeds are Earth-relative, from the sampled ECEF velocities ``v_ecef_mps`` (T, 3).
    """
    speed = np.linalg.norm(v_ecef_mps, axis=-1)
    lat, lon = flight.impact_lla[i, 0], flight.impact_lla[i, 1]
    rng, az, _ = geodesic_inverse(launch_lat_rad, launch_lon_rad, lat, lon)
    return {
        "apogee_m": float(flight.apogee_m[i]),
        "range_m": float(rng),
        "flight_time_s": float(flight.coast.t_hit[i]),
        "burnout_time_s": float(flight.boost.t_bo[i]),
        "burnout_altitude_m": float(ellipsoid_height(flight.boost.r_bo[i : i + 1])[0]),
        "max_speed_mps": float(np.max(speed)),
        "impact_lat_rad": float(lat),
        "impact_lon_rad": float(lon),
        "launch_lat_rad": float(launch_lat_rad),
        "launch_lon_rad": float(launch_lon_rad),
        "launch_azimuth_rad": float(flight.controls[i, 0]),
        "kick_rad": float(flight.controls[i, 1]),
        "last_burn_s": float(flight.controls[i, 2]),
        "impact_azimuth_rad": float(az),
        "gamma_excess_rad": float(flight.gamma_excess_rad[i]),
        "impact_speed_mps": float(speed[-1]),
    }
