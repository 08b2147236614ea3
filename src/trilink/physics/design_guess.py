"""First guess for the trajectory designer, and the feasibility verdict.

One boost batch flies a grid of pitch-over kicks at full burn for the request's class,
launch point and azimuth, recording the state at every possible final-stage cut-off.
A closed-form vacuum coast (:func:`trilink.physics.kepler.free_flight`) from each gives
where it would land (along- and cross-track of the launch-target great circle, Earth
rotation included by converting the inertial impact to ECEF at its time) and how high it
would peak. The (cut-off, kick) grid is then solved cell by cell for the requested range
and apogee (or minimum energy); the request's cross-track offset turns the azimuth.

The table ignores drag and J2, so it is only a start (tens of km off for an SRBM); it is
also what explains an impossible request: beyond the class's reach, or an apogee outside
what it can fly at that range (with ``EDGE_MARGIN`` of slack left to the full model).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from trilink.errors import TrajectoryInfeasible
from trilink.geo.frames import geodetic_to_ecef
from trilink.physics.boost import fly_boost
from trilink.physics.kepler import free_flight, min_energy_flight_path_angle
from trilink.physics.propagate import ellipsoid_height, inertial_to_ecef
from trilink.physics.rocket import MissileClass

Array = NDArray[np.float64]

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


def first_guess(
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
    once (six Newton steps on its bilinear interpolant, then checked); among cells whose
    solution lies inside them, the one with the earliest cut-off (least energy) wins.
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
        for _ in range(6):
            da = a11 - a10 - a01 + a00
            db = b11 - b10 - b01 + b00
            ra = a00 + s * (a10 - a00) + u * (a01 - a00) + s * u * da - g1
            rb = b00 + s * (b10 - b00) + u * (b01 - b00) + s * u * db - g2
            jas, jau = a10 - a00 + u * da, a01 - a00 + s * da
            jbs, jbu = b10 - b00 + u * db, b01 - b00 + s * db
            det = jas * jbu - jau * jbs
            s = s - (jbu * ra - jau * rb) / det
            u = u - (-jbs * ra + jas * rb) / det
        # The bilinear solution must exist: the goal within each cell's corner values,
        # and the final residual negligible against the cell's spread.
        b_stack = np.stack([b00, b10, b01, b11])
        bracket = (np.min(stack, 0) <= g1) & (g1 <= np.max(stack, 0))
        bracket &= (np.min(b_stack, 0) <= g2) & (g2 <= np.max(b_stack, 0))
        ra = a00 + s * (a10 - a00) + u * (a01 - a00) + s * u * (a11 - a10 - a01 + a00) - g1
        rb = b00 + s * (b10 - b00) + u * (b01 - b00) + s * u * (b11 - b10 - b01 + b00) - g2
        spread_b = np.max(b_stack, 0) - np.min(b_stack, 0)
        solved = (np.abs(ra) <= 1e-4 * spread + 1e-12) & (np.abs(rb) <= 1e-4 * spread_b + 1e-12)
    inside = ok & bracket & solved & (s >= -1e-9) & (s <= 1 + 1e-9) & (u >= -1e-9) & (u <= 1 + 1e-9)
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
