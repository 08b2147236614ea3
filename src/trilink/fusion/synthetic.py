"""Synthetic national tracks on ballistic arcs, for the fusion tests and benchmark.

Truth comes from the alignment propagator itself (J2 + rotating frame, RK4), so the
only errors are the ones added here. National track errors are drawn to match each
nation's reported covariance exactly, with a *common* part shared by all nations:

    e_k = e_c + e_k',   e_c ~ N(0, rho S),   e_k' ~ N(0, P_k - rho S),
    S = (sum_k P_k^-1)^-1  (S <= P_k for every k, so P_k - rho S stays PSD),

so each national track is individually consistent (error covariance P_k) while the
cross-covariance between nations is rho S, unknown to the fuser. That models what the
hub faces: trackers that share a motion model, process noise and cueing.

National covariances look like radar tracks: tight along the line of sight from the
nation's radar, loose across it, with position-velocity correlation. Nothing here is
used by the hub at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.fusion.align import propagate_state
from trilink.fusion.batch import NationalTrackBatch
from trilink.geo.frames import enu_vector_to_ecef, geodetic_to_ecef
from trilink.geo.wgs84 import DEG

Array = NDArray[np.float64]


@dataclass(frozen=True)
class NationModel:
    """How one nation's tracks look: radar site and 1-sigma track accuracy.

    Attributes:
        name: source nation code.
        site_lla: radar (lat_rad, lon_rad, h_m), fixes the line of sight.
        sigma_range_m, sigma_cross_m: position 1-sigma along / across the line of sight.
        sigma_vrange_mps, sigma_vcross_mps: the same for velocity.
        rho_pv: correlation of position and velocity errors along each axis.
    """

    name: str
    site_lla: tuple[float, float, float]
    sigma_range_m: float = 60.0
    sigma_cross_m: float = 400.0
    sigma_vrange_mps: float = 8.0
    sigma_vcross_mps: float = 40.0
    rho_pv: float = 0.6


KOR = NationModel("KOR", (36.5 * DEG, 127.8 * DEG, 100.0))
JPN = NationModel("JPN", (38.1 * DEG, 138.4 * DEG, 200.0), 80.0, 300.0, 10.0, 30.0)
# AN/TPY-2 in forward-based mode at Kyogamisaki (shared/FACTS.md), X band: sharper.
USA = NationModel("USA", (35.77 * DEG, 135.22 * DEG, 100.0), 40.0, 250.0, 6.0, 25.0)


def launch_state(
    lat_rad: ArrayLike,
    lon_rad: ArrayLike,
    h_m: ArrayLike,
    speed_mps: ArrayLike,
    azimuth_rad: ArrayLike,
    elevation_rad: ArrayLike,
) -> Array:
    """ECEF states (..., 6) at a point with a velocity given by speed, azimuth, elevation."""
    lla = np.stack(np.broadcast_arrays(lat_rad, lon_rad, h_m), axis=-1).astype(float)
    az, el, sp = np.broadcast_arrays(azimuth_rad, elevation_rad, speed_mps)
    enu = np.stack([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)], axis=-1)
    v = enu_vector_to_ecef(enu * np.asarray(sp, float)[..., None], lla)
    return np.concatenate([geodetic_to_ecef(lla), v], axis=-1)


def arcs(x0: ArrayLike, dt_s: ArrayLike, max_step_s: float = 1.0) -> Array:
    """States (T, N, 6): each initial state x0 (N, 6) carried to offsets dt_s (T,) [s].

    Offsets are walked in ascending order from 0, each leg propagated from the previous,
    so T samples cost one trajectory's integration.
    """
    x = np.array(x0, dtype=float, ndmin=2)
    dt = np.asarray(dt_s, dtype=float)
    order = np.argsort(dt)
    out = np.empty((dt.size, *x.shape))
    t_prev = 0.0
    for i in order.tolist():
        x = propagate_state(x, np.full(len(x), dt[i] - t_prev), max_step_s)
        t_prev = float(dt[i])
        out[i] = x
    return out


def radar_covariance(pos: ArrayLike, nation: NationModel) -> Array:
    """Track covariances (N, 6, 6) at ECEF positions (N, 3), shaped by the line of sight."""
    pos = np.array(pos, dtype=float, ndmin=2)
    site = geodetic_to_ecef(np.asarray(nation.site_lla, float))
    los = pos - site
    u = los / np.linalg.norm(los, axis=-1, keepdims=True)
    # Any two unit vectors orthogonal to the line of sight complete the frame.
    helper = np.where(np.abs(u[:, 2:3]) < 0.9, [0.0, 0.0, 1.0], [1.0, 0.0, 0.0])
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    e2 = np.cross(u, e1)
    R = np.stack([u, e1, e2], axis=-1)  # columns: LOS frame axes in ECEF
    sp = np.array([nation.sigma_range_m, nation.sigma_cross_m, nation.sigma_cross_m])
    sv = np.array([nation.sigma_vrange_mps, nation.sigma_vcross_mps, nation.sigma_vcross_mps])
    local = np.zeros((6, 6))
    local[:3, :3] = np.diag(sp**2)
    local[3:, 3:] = np.diag(sv**2)
    local[:3, 3:] = local[3:, :3] = np.diag(nation.rho_pv * sp * sv)
    T = np.zeros((len(pos), 6, 6))
    T[:, :3, :3] = R
    T[:, 3:, 3:] = R
    return T @ local @ np.swapaxes(T, -1, -2)


def correlated_errors(P: ArrayLike, rho: float, rng: np.random.Generator) -> Array:
    """Errors (K, N, 6) for K estimates of N objects with covariances P (K, N, 6, 6).

    Each estimate's error has covariance P_k exactly; the common part rho S is shared by
    all K (module docstring). rho = 0 gives independent errors.
    """
    P = np.asarray(P, dtype=float)
    k = P.shape[0]
    info = np.linalg.inv(P)
    S = np.linalg.inv(info.sum(axis=0))
    S = 0.5 * (S + np.swapaxes(S, -1, -2))
    common = _draw(rho * S, rng)
    own = np.stack([_draw(P[i] - rho * S, rng) for i in range(k)])
    return common[None] + own


def _draw(C: Array, rng: np.random.Generator) -> Array:
    """One Gaussian draw (N, 6) per covariance C (N, 6, 6), which may be singular."""
    w, v = np.linalg.eigh(0.5 * (C + np.swapaxes(C, -1, -2)))
    z = rng.standard_normal(C.shape[:-1]) * np.sqrt(np.clip(w, 0.0, None))
    return np.einsum("nij,nj->ni", v, z)


def national_batch(
    nation: NationModel | str,
    local_ids: ArrayLike,
    t_ns: ArrayLike,
    x_est: ArrayLike,
    P: ArrayLike,
    phase: str = "ballistic",
) -> NationalTrackBatch:
    """A batch of one nation's reports (N rows) from estimated states and covariances."""
    name = nation if isinstance(nation, str) else nation.name
    ids = np.asarray(local_ids, dtype=str)
    n = ids.size
    return NationalTrackBatch(
        source=np.full(n, name),
        local_id=ids,
        t_ns=np.broadcast_to(np.asarray(t_ns, np.int64), (n,)),
        x=np.asarray(x_est, float).reshape(n, 6),
        P=np.asarray(P, float).reshape(n, 6, 6),
        phase=np.full(n, phase),
    )


def salvo_initial_states(
    n: int,
    spacing_s: float,
    lat_rad: float = 39.2 * DEG,
    lon_rad: float = 127.5 * DEG,
) -> Array:
    """States (n, 6) at t = 0 of n missiles flying one arc ``spacing_s`` apart.

    The lead missile passes 120 km altitude at 3.4 km/s, 35 degrees above the horizon,
    heading east-south-east (towards the Sea of Japan) at t = 0; missile i is on the same
    arc, i * spacing_s behind it.
    """
    lead = launch_state(lat_rad, lon_rad, 120e3, 3400.0, 100.0 * DEG, 35.0 * DEG)
    return arcs(lead[None], -spacing_s * np.arange(n))[:, 0]
