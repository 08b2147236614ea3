"""Trajectory design: the pitch programme and cut-off that hit a point with an apogee.

Given a launch point, an impact point (or an azimuth and a ground range) and optionally
an apogee, :func:`design_flight` finds the three controls of the boost —
launch azimuth, pitch-over kick angle, final-stage burn time (thrust termination) — so
that the full flight (J2 gravity, US76 drag, rotating Earth) lands within
``MISS_TOLERANCE_M`` of the requested point and peaks within ``APOGEE_TOLERANCE`` of the
requested apogee. Without an apogee the third condition is *minimum energy*: the coast
ellipse from burnout to impact is the minimum-energy ellipse through those two points
(burnout flight-path angle bisecting the local vertical and the chord; for equal radii
gamma = (pi - Psi) / 4, Bate, Mueller & White §6.2), i.e. the least burnout energy for
the range.

Earth rotation is handled by flying in the inertial frame: the impact residual is
measured in ECEF at the impact time, so the solver aims where the target will be.

Two stages, both vectorised over candidates:
1. First guess: one boost batch over a grid of kick angles at full burn records the
   state at every possible cut-off; a closed-form vacuum coast (:mod:`kepler`) from each
   gives range, cross-range and apogee; interpolation picks (kick, cut-off), and the
   azimuth is turned by the cross-range. The same table decides infeasibility.
2. Newton on the full model: each iteration flies the nominal and three perturbed
   control triples in one batch (finite-difference Jacobian), typically 2-3 iterations.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from numpy.typing import NDArray

from trilink.errors import TrajectoryInfeasible
from trilink.geo.frames import ecef_to_enu, ecef_to_geodetic, geodetic_to_ecef
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.physics.boost import fly_boost
from trilink.physics.flight import Flight, flight_meta, fly, to_trajectory
from trilink.physics.kepler import free_flight, min_energy_flight_path_angle
from trilink.physics.propagate import ellipsoid_height, inertial_to_ecef
from trilink.physics.rocket import MISSILE_CLASSES, MissileClass
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]

MISS_TOLERANCE_M = 200.0  # Newton stops here; the contract is 1 km
APOGEE_TOLERANCE = 1e-3  # relative; the contract is 1 %
GAMMA_TOLERANCE_RAD = 2e-4  # minimum energy: ~0.01 deg off the optimum costs < 1e-7 in energy
MAX_NEWTON = 12
KICK_MAX_RAD = math.radians(89.0)
KICK_MIN_RAD = 1e-5
EDGE_MARGIN = 0.10
# Kick angles of the first-guess table: log-spaced, so that near-vertical (lofted) and
# near-horizontal (depressed) programmes are both resolved; one batch flies them all.
_KICK_GRID_DEG = np.geomspace(0.02, 89.0, 64)


def _unit(x: Array) -> Array:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _last_ignition_s(cls: MissileClass) -> float:
    return sum(s.burn_s for s in cls.stages[:-1])


def _first_guess(
    cls: MissileClass,
    lat0: float,
    lon0: float,
    target_lla: Array,
    azimuth: float,
    apogee_m: float | None,
) -> tuple[float, float, float]:
    """(azimuth, kick, last burn) from the boost table and closed-form coasts.

    Raises TrajectoryInfeasible when no table entry brackets the request.
    """
    kicks = np.radians(_KICK_GRID_DEG)
    last_full = cls.stages[-1].burn_s
    b = fly_boost(cls, lat0, lon0, azimuth, kicks, last_full)
    nodes = slice(b.last_phase_start, None)
    t_cut, r_cut, v_cut = b.t[nodes], b.r[nodes], b.v[nodes]  # (K, J[, 3])
    burn = t_cut - _last_ignition_s(cls)
    k_count, j_count = t_cut.shape
    target_ecef = geodetic_to_ecef(target_lla)
    ff = free_flight(r_cut.reshape(-1, 3), v_cut.reshape(-1, 3), np.linalg.norm(target_ecef))
    imp, _ = inertial_to_ecef(t_cut.reshape(-1) + ff.tof_s, ff.r_impact, np.zeros_like(ff.r_impact))
    # Along-track and cross-track angles of each impact about the launch->target circle.
    lu = _unit(geodetic_to_ecef([lat0, lon0, 0.0]))
    tu = _unit(target_ecef)
    nrm = _unit(np.cross(lu, tu))
    iu = _unit(imp)
    along = np.arctan2(np.cross(lu, iu) @ nrm, iu @ lu).reshape(k_count, j_count)
    cross = np.arcsin(np.clip(iu @ nrm, -1, 1)).reshape(k_count, j_count)
    apo = np.maximum(ellipsoid_height(ff.r_apogee), ellipsoid_height(r_cut.reshape(-1, 3)))
    apo = apo.reshape(k_count, j_count)
    gam = np.arcsin(np.einsum("ij,ij->i", _unit(r_cut.reshape(-1, 3)), _unit(v_cut.reshape(-1, 3))))
    excess = (gam - min_energy_flight_path_angle(r_cut.reshape(-1, 3), ff.r_impact)).reshape(
        k_count, j_count
    )
    usable = (
        ff.valid.reshape(k_count, j_count)
        & b.on_pad_or_above[None, :]
        & (burn >= cls.min_last_burn_s - 1e-9)
        & (ellipsoid_height(r_cut.reshape(-1, 3)).reshape(k_count, j_count) > 0.0)
    )

    along = np.where(usable & (ff.psi_rad.reshape(k_count, j_count) < 0.9 * np.pi), along, np.nan)
    phi_t = float(np.arctan2(np.linalg.norm(np.cross(lu, tu)), lu @ tu))
    q = (excess, 0.0) if apogee_m is None else (np.log(np.maximum(apo, 1.0)), math.log(apogee_m))
    found = _solve_cells(along, q[0], phi_t, q[1])
    if found is not None:
        k, j, s, u = found
    else:
        k, j, s, u = _nearest_on_contour(cls.name, along, apo, burn, phi_t, apogee_m)
    lerp = lambda x: float(  # noqa: E731
        (1 - s) * (1 - u) * x[k, j]
        + s * (1 - u) * x[k + 1, j]
        + (1 - s) * u * x[k, j + 1]
        + s * u * x[k + 1, j + 1]
    )
    kick = float(np.exp(np.log(kicks[j]) + u * (np.log(kicks[j + 1]) - np.log(kicks[j]))))
    az = azimuth + lerp(cross) / max(math.sin(phi_t), 1e-3)
    return az, float(np.clip(kick, KICK_MIN_RAD, KICK_MAX_RAD)), lerp(burn)


def _solve_cells(
    f1: Array, f2: Array, g1: float, g2: float
) -> tuple[int, int, float, float] | None:
    """The table cell (k, j) and fractions (s, u) where the bilinear map hits (g1, g2).

    ``f1``, ``f2`` (K, J) sampled on the (cut-off, kick) grid; every cell is solved at
    once (three Newton steps on its bilinear interpolant); among cells whose solution
    lies inside them, the one with the earliest cut-off (least energy) wins.
    """
    corners = [(f[:-1, :-1], f[1:, :-1], f[:-1, 1:], f[1:, 1:]) for f in (f1, f2)]
    (a00, a10, a01, a11), (b00, b10, b01, b11) = corners
    ok = np.isfinite(a00 + a10 + a01 + a11 + b00 + b10 + b01 + b11)
    stack = np.stack([a00, a10, a01, a11])
    with np.errstate(invalid="ignore"):
        spread = np.max(stack, 0) - np.min(stack, 0)
    ok &= spread < 0.5  # no cell across the +-pi seam of the along-track angle
    s = np.full(a00.shape, 0.5)
    u = np.full(a00.shape, 0.5)
    with np.errstate(all="ignore"):
        for _ in range(4):
            da = a11 - a10 - a01 + a00
            db = b11 - b10 - b01 + b00
            ra = a00 + s * (a10 - a00) + u * (a01 - a00) + s * u * da - g1
            rb = b00 + s * (b10 - b00) + u * (b01 - b00) + s * u * db - g2
            jas, jau = a10 - a00 + u * da, a01 - a00 + s * da
            jbs, jbu = b10 - b00 + u * db, b01 - b00 + s * db
            det = jas * jbu - jau * jbs
            s = s - (jbu * ra - jau * rb) / det
            u = u - (-jbs * ra + jas * rb) / det
    inside = ok & (s >= -1e-9) & (s <= 1 + 1e-9) & (u >= -1e-9) & (u <= 1 + 1e-9)
    if not inside.any():
        return None
    ks, js = np.nonzero(inside)
    best = int(np.argmin(ks + s[ks, js]))
    k, j = int(ks[best]), int(js[best])
    return k, j, float(np.clip(s[k, j], 0, 1)), float(np.clip(u[k, j], 0, 1))


def _nearest_on_contour(
    name: str, along: Array, apo: Array, burn: Array, phi_t: float, apogee_m: float | None
) -> tuple[int, int, float, float]:
    """No exact table solution: explain why (TrajectoryInfeasible), or, within
    ``EDGE_MARGIN`` of the table's reach, return the closest point on the range contour.
    """
    rng_km = phi_t * 6371.0
    reach = np.nanmax(along) if np.isfinite(along).any() else -np.inf
    if reach < phi_t:
        raise TrajectoryInfeasible(
            f"range {rng_km:.0f} km is beyond the {name} class (about {max(reach, 0) * 6371.0:.0f} km at most)"
        )
    d = along - phi_t
    k_idx, j_idx = np.nonzero(np.isfinite(d[:-1] + d[1:]) & (np.sign(d[:-1]) != np.sign(d[1:])))
    if len(k_idx) == 0:
        raise TrajectoryInfeasible(
            f"range {rng_km:.0f} km is too short for any {name} pitch programme"
        )
    s = d[k_idx, j_idx] / (d[k_idx, j_idx] - d[k_idx + 1, j_idx])
    apo_c = apo[k_idx, j_idx] + s * (apo[k_idx + 1, j_idx] - apo[k_idx, j_idx])
    if apogee_m is None:
        pick = int(np.argmin(burn[k_idx, j_idx] + s))
    else:
        lo, hi = float(apo_c.min()), float(apo_c.max())
        # The table's coasts are vacuum conics: within EDGE_MARGIN of its edge, let the
        # full model decide (Newton raises if it cannot meet the request either).
        if apogee_m > hi * (1.0 + EDGE_MARGIN):
            raise TrajectoryInfeasible(
                f"apogee {apogee_m / 1e3:.0f} km is higher than the {name} class can reach at "
                f"range {rng_km:.0f} km"
            )
        if apogee_m < lo * (1.0 - EDGE_MARGIN):
            raise TrajectoryInfeasible(
                f"apogee {apogee_m / 1e3:.0f} km is too low for range {rng_km:.0f} km with the "
                f"{name} class (about {lo / 1e3:.0f} km at least)"
            )
        pick = int(np.argmin(np.abs(apo_c - apogee_m)))
    return int(k_idx[pick]), int(j_idx[pick]), float(s[pick]), 0.0


def _residuals(flight: Flight, target_lla: Array, apogee_m: float | None) -> Array:
    """(N, 3): impact miss east and north [km], then apogee error [%] or gamma excess [deg].

    The miss is the azimuthal-equidistant offset of the impact about the target (great-
    circle distance along the bearing), one-to-one over the globe: a raw ENU east/north
    would also vanish at the target's antipode.
    """
    enu = ecef_to_enu(flight.impact_ecef, target_lla)
    horiz = np.hypot(enu[:, 0], enu[:, 1])
    radius = np.linalg.norm(geodetic_to_ecef(target_lla))
    arc = radius * np.arctan2(horiz, radius + enu[:, 2])
    scale = np.where(horiz > 0.0, arc / np.maximum(horiz, 1e-300), 1.0)
    third = (
        np.degrees(flight.gamma_excess_rad)
        if apogee_m is None
        else 100.0 * (flight.apogee_m - apogee_m) / apogee_m
    )
    out = np.column_stack([scale * enu[:, 0] / 1e3, scale * enu[:, 1] / 1e3, third])
    return np.where(flight.landed[:, None], out, np.nan)


def _converged(res: Array, apogee_m: float | None) -> bool:
    miss_km = math.hypot(res[0], res[1])
    third_ok = (
        abs(res[2]) < math.degrees(GAMMA_TOLERANCE_RAD)
        if apogee_m is None
        else abs(res[2]) < 100.0 * APOGEE_TOLERANCE
    )
    return bool(miss_km * 1e3 < MISS_TOLERANCE_M and third_ok)


def _solve(
    cls: MissileClass,
    lat0: float,
    lon0: float,
    target_lla: Array,
    apogee_m: float | None,
    c0: Array,
) -> tuple[Flight, int]:
    """Newton iterations with a batched finite-difference Jacobian; returns (flight, iterations)."""
    last_lo, last_hi = cls.min_last_burn_s, cls.stages[-1].burn_s
    c = c0.copy()
    what = "minimum energy" if apogee_m is None else f"apogee {apogee_m / 1e3:.0f} km"
    for it in range(1, MAX_NEWTON + 1):
        steps = np.array([2e-5, max(1e-3 * c[1], 2e-6), 0.02])
        signs = np.array([1.0, 1.0, -1.0 if c[2] > last_hi - 0.05 else 1.0])
        batch = np.vstack([c, c + np.diag(steps * signs)])
        flight = fly(cls, lat0, lon0, batch)
        res = _residuals(flight, target_lla, apogee_m)
        if not np.isfinite(res[0]).all():
            raise TrajectoryInfeasible(
                f"the {cls.name} class does not reach the ground on this flight ({what})"
            )
        if _converged(res[0], apogee_m):
            return flight, it
        jac = ((res[1:] - res[0]) / (steps * signs)[:, None]).T
        try:
            delta = -np.linalg.solve(jac, res[0])
        except np.linalg.LinAlgError:
            break
        # Keep each step within the region where the linearisation holds.
        limits = np.array([0.2, max(0.5 * c[1], 0.02), 0.25 * last_hi])
        delta *= min(1.0, float(np.min(limits / np.maximum(np.abs(delta), 1e-300))))
        new = c + delta
        new[1] = np.clip(new[1], KICK_MIN_RAD, KICK_MAX_RAD)
        new[2] = np.clip(new[2], last_lo, last_hi)
        if it >= 3 and np.allclose(new, c, rtol=0.0, atol=1e-9):
            break
        c = new
    pinned = c[2] >= last_hi - 1e-6
    if pinned:
        raise TrajectoryInfeasible(
            f"the flight needs more energy than the {cls.name} class has ({what})"
        )
    raise TrajectoryInfeasible(
        f"no {cls.name} pitch programme meets the request ({what}); the design did not converge"
    )


def design_flight(
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
    """Design and fly a missile from a launch point to an impact point.

    Give either ``impact_lat_rad``/``impact_lon_rad`` or ``azimuth_rad``/``range_m``
    (geodesic on WGS84). ``apogee_m`` (geodetic height of the highest point) asks for a
    lofted or depressed flight; without it the flight is minimum-energy.

    Returns the truth :class:`Trajectory` sampled every ``dt_s`` from lift-off at
    ``launch_t_ns``, its last sample at impact (h = 0). Raises ``TrajectoryInfeasible``
    (one-line reason) when the class cannot fly it, ``ValueError`` for malformed input.
    """
    key = missile_class.upper()
    if key not in MISSILE_CLASSES:
        raise ValueError(
            f"unknown missile class {missile_class!r} (known: {', '.join(MISSILE_CLASSES)})"
        )
    cls = MISSILE_CLASSES[key]
    if not (math.isfinite(dt_s) and 0.0 < dt_s <= 10.0):
        raise ValueError(f"dt_s must be in (0, 10] s, got {dt_s}")
    if not (abs(launch_lat_rad) <= math.pi / 2 and math.isfinite(launch_lon_rad)):
        raise ValueError("launch latitude must be within +-90 deg and longitude finite")
    by_point = impact_lat_rad is not None or impact_lon_rad is not None
    by_bearing = azimuth_rad is not None or range_m is not None
    if by_point == by_bearing:
        raise ValueError(
            "give either the impact point or an azimuth and a range, not both or neither"
        )
    if by_point:
        if impact_lat_rad is None or impact_lon_rad is None:
            raise ValueError("the impact point needs both latitude and longitude")
        if not (abs(impact_lat_rad) <= math.pi / 2 and math.isfinite(impact_lon_rad)):
            raise ValueError("impact latitude must be within +-90 deg and longitude finite")
        rng, az, _ = geodesic_inverse(
            launch_lat_rad, launch_lon_rad, impact_lat_rad, impact_lon_rad
        )
        lat1, lon1, range_req, az_req = impact_lat_rad, impact_lon_rad, float(rng), float(az)
    else:
        if azimuth_rad is None or range_m is None:
            raise ValueError("a bearing needs both an azimuth and a range")
        if not (math.isfinite(azimuth_rad) and math.isfinite(range_m)):
            raise ValueError("azimuth and range must be finite")
        range_req, az_req = float(range_m), float(azimuth_rad)
        la, lo = geodesic_direct(launch_lat_rad, launch_lon_rad, az_req, range_req)
        lat1, lon1 = float(la), float(lo)
    if not 1_000.0 <= range_req <= 19_000_000.0:
        raise ValueError(f"range must be between 1 km and 19,000 km, got {range_req / 1e3:.1f} km")
    if apogee_m is not None and not (math.isfinite(apogee_m) and apogee_m > 0.0):
        raise ValueError(f"apogee must be a positive height, got {apogee_m}")
    target = np.array([lat1, lon1, 0.0])

    c0 = np.array(_first_guess(cls, launch_lat_rad, launch_lon_rad, target, az_req, apogee_m))
    flight, iterations = _solve(cls, launch_lat_rad, launch_lon_rad, target, apogee_m, c0)
    traj = to_trajectory(
        flight, 0, cls, missile_id=missile_id, launch_t_ns=launch_t_ns, dt_s=dt_s, meta={}
    )
    meta = flight_meta(flight, 0, launch_lat_rad, launch_lon_rad, traj.v_ecef_mps)
    miss = np.linalg.norm(ecef_to_enu(flight.impact_ecef[0], target)[:2])
    meta |= {
        "requested_impact_lat_rad": lat1,
        "requested_impact_lon_rad": lon1,
        "requested_range_m": range_req,
        "requested_apogee_m": float("nan") if apogee_m is None else float(apogee_m),
        "miss_m": float(miss),
        "min_energy": 1.0 if apogee_m is None else 0.0,
        "design_iterations": float(iterations),
        "impact_height_m": float(ecef_to_geodetic(traj.r_ecef_m[-1])[2]),
    }
    return dataclasses.replace(traj, meta=meta)
