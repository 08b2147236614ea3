"""Track management tests of the national tracker, batched over the track table.

Which tracks to delete before a scan (:func:`stale`), which may be near a radar scan's
detections (:func:`scan_candidates`), every track's estimate at a time (:func:`snapshot`),
the candidates' time update and gating distances
in one step (:func:`predict_and_gate`), the measurement update of the assigned tracks
with the M-of-N counts (:func:`update_and_count`), which confirmed tracks duplicate an
older one (:func:`younger_duplicates`), and each estimate's flight phase
(:func:`phase_codes`). IMM tables are ``x`` (N, M, 8), ``P`` (N, M, 8, 8), ``mu`` (N, M);
estimates ``x`` (K, >= 6); ECEF, SI. Each function runs its compiled kernel
(:mod:`.kernels_tracks`) when :mod:`.jit` allows, else the NumPy ``*_reference`` twin,
which states the rule; the tests compare the two.

Rules: Blackman & Popoli (1999), ch. 6 and 7 (deletion on missed updates and on
covariance growth).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from trilink.tracking.association import (
    candidates_reference,
    distances,
    duplicate_pairs,
    gate_threshold,
)
from trilink.tracking.config import TrackerConfig
from trilink.tracking.dynamics import NX, approx_altitude
from trilink.tracking.filters import Measurement, ModelRows
from trilink.tracking.imm import MU_FLOOR, combine, imm_predict, imm_update, p_boost
from trilink.tracking.initiation import radar_to_ecef
from trilink.tracking.jit import arg, use_kernels

Array = NDArray[np.float64]

PHASES = np.array(["boost", "midcourse", "reentry"])
"""Names of the phase codes (:data:`.kernels_tracks.PHASE_BOOST` ... ``PHASE_REENTRY``)."""
REENTRY_HEIGHT_M = 100_000.0  # below this a falling object is re-entering


def stale(
    x: Array, P: Array, mu: Array, t_hit: NDArray[np.int64], confirmed: NDArray[np.bool_],
    t_ns: int, cfg: TrackerConfig,
) -> NDArray[np.bool_]:  # fmt: skip
    """Flags (N,) of tracks to delete at ``t_ns`` (see :func:`stale_reference`)."""
    if not use_kernels():
        return stale_reference(x, P, mu, t_hit, confirmed, t_ns, cfg)
    from trilink.tracking.kernels_tracks import stale_kernel

    return stale_kernel(
        arg(x), arg(P), arg(mu), t_hit, confirmed, int(t_ns), cfg.max_coast_s,
        cfg.max_position_sigma_m, cfg.tentative_timeout_s, cfg.min_altitude_m,
    )  # fmt: skip


def stale_reference(
    x: Array, P: Array, mu: Array, t_hit: NDArray[np.int64], confirmed: NDArray[np.bool_],
    t_ns: int, cfg: TrackerConfig,
) -> NDArray[np.bool_]:  # fmt: skip
    """A confirmed track dies after ``max_coast_s`` without a hit or when its position
    sigma (sqrt of the trace of the mixture's position covariance) passes
    ``max_position_sigma_m``; a tentative one after ``tentative_timeout_s`` without a
    hit; any track predicted below ``min_altitude_m`` (impacted) or whose covariance is
    no longer finite."""
    xc, Pc = combine(x, P, mu)
    age_s = (t_ns - t_hit) * 1e-9
    pos_sigma = position_sigma(Pc)
    h, _ = approx_altitude(xc[:, 0:3], gradient=False)
    dead = np.where(
        confirmed,
        (age_s > cfg.max_coast_s) | (pos_sigma > cfg.max_position_sigma_m),
        age_s > cfg.tentative_timeout_s,
    )
    return np.asarray(dead | (h < cfg.min_altitude_m) | ~np.isfinite(pos_sigma))


def position_sigma(P: Array) -> Array:
    """sqrt of the trace of the position block of covariances ``P`` (..., >= 3, >= 3) [m]:
    the one figure of how well a track's position is known, for deletion and confirmation."""
    return np.asarray(np.sqrt(np.trace(P[..., 0:3, 0:3], axis1=-2, axis2=-1)))


def scan_candidates(
    x: Array, P: Array, mu: Array, dt_s: Array, z: Array, R: Array, meas: Measurement
) -> NDArray[np.bool_]:
    """Which IMM tracks (at their own times, ``dt_s`` (N,) before the scan) may be inside
    the gate of one of a radar scan's detections ``z`` (D, 3), ``R`` (D, 3, 3): the
    generous straight-line test of :func:`.association.candidates` on the detections'
    converted positions (:func:`.initiation.radar_to_ecef`)."""
    if not use_kernels():
        return scan_candidates_reference(x, P, mu, dt_s, z, R, meas)
    from trilink.tracking.kernels_tracks import scan_candidates_kernel

    return scan_candidates_kernel(arg(x), arg(P), arg(mu), arg(dt_s), arg(z), arg(R), *meas.frame())


def scan_candidates_reference(
    x: Array, P: Array, mu: Array, dt_s: Array, z: Array, R: Array, meas: Measurement
) -> NDArray[np.bool_]:
    """:func:`scan_candidates` in NumPy."""
    det_pos = radar_to_ecef(z, R, meas, with_covariance=False)[0]
    sig_det = np.sqrt(R[:, 0, 0] + z[:, 0] ** 2 * (R[:, 1, 1] + R[:, 2, 2]))
    return candidates_reference(x, P, mu, dt_s, det_pos, sig_det)


Gated = tuple[NDArray[np.intp], Array, Array, Array, NDArray[np.int64], Array, Array]
"""(candidate rows (C,), the table's x, P, mu and t_trk after the time update, d2 (C, D),
cost (C, D))."""


def predict_and_gate(
    x: Array, P: Array, mu: Array, t_trk: NDArray[np.int64], t_ns: int, z: Array, R: Array,
    meas: Measurement, cfg: TrackerConfig, *, in_place: bool = False,
) -> Gated:  # fmt: skip
    """The first half of a scan (see :func:`predict_and_gate_reference`); one compiled
    call for the ballistic/boost IMM when :mod:`.jit` allows. With ``in_place`` the
    table's ``x``, ``P``, ``mu`` and ``t_trk`` are updated (and returned) themselves
    instead of new copies: the tracker's own table, spared four copies per scan."""
    if not use_kernels() or cfg.motion == "cv":
        return predict_and_gate_reference(x, P, mu, t_trk, t_ns, z, R, meas, cfg, in_place=in_place)
    from trilink.tracking.kernels_tracks import predict_gate_kernel

    # (in place, the arrays go to the kernel as they are, never through arg(), which
    # could hand it a copy; numba refuses a read-only one)
    if not in_place:
        x, P, mu, t_trk = arg(x).copy(), arg(P).copy(), arg(mu).copy(), t_trk.copy()
    cand, d2, cost = predict_gate_kernel(
        x, P, mu, t_trk, int(t_ns), arg(z), arg(R), *meas.frame(), meas.kind == "radar",
        cfg.ballistic_mean_s, cfg.boost_mean_s, cfg.q_accel_ballistic, cfg.q_accel_boost,
        cfg.q_thrust_boost, cfg.q_kappa, cfg.drag_error, ModelRows.thrust_var_floor,
        cfg.h_max_s,
    )  # fmt: skip
    return cand, x, P, mu, t_trk, d2, cost


def predict_and_gate_reference(
    x: Array, P: Array, mu: Array, t_trk: NDArray[np.int64], t_ns: int, z: Array, R: Array,
    meas: Measurement, cfg: TrackerConfig, *, in_place: bool = False,
) -> Gated:  # fmt: skip
    """Only tracks that may be near a detection (:func:`scan_candidates` for a radar;
    all for angles) are predicted to the scan time (:func:`.imm.imm_predict`) and gated
    (:func:`.association.distances`); the others keep their own time, so a scan of
    another region costs nothing. Each track is gated on each model's prediction and
    keeps the smaller distance and cost: a re-ignition after a staging coast falls in
    the boost model's gate even while the IMM still trusts the ballistic one."""
    n, nm, nd = x.shape[0], x.shape[1], z.shape[0]
    if n == 0 or nd == 0:
        cand = np.zeros(0, dtype=np.intp)
    elif meas.kind == "radar":
        dt_all = np.asarray((t_ns - t_trk) * 1e-9, dtype=np.float64)
        cand = np.flatnonzero(scan_candidates(x, P, mu, dt_all, z, R, meas))
    else:
        cand = np.arange(n)
    if not in_place:
        x, P, mu, t_trk = x.copy(), P.copy(), mu.copy(), t_trk.copy()
    c = cand.size
    if c:
        dt = np.asarray((t_ns - t_trk[cand]) * 1e-9, dtype=np.float64)
        x[cand], P[cand], mu[cand] = imm_predict(x[cand], P[cand], mu[cand], dt, cfg)
        t_trk[cand] = t_ns
    xp, Pp = x[cand], P[cand]
    d2m, costm = distances(xp.reshape(c * nm, NX), Pp.reshape(c * nm, NX, NX), z, R, meas)
    d2 = d2m.reshape(c, nm, nd).min(axis=1)
    cost = costm.reshape(c, nm, nd).min(axis=1)
    return cand, x, P, mu, t_trk, d2, cost


@dataclass(frozen=True)
class Counts:
    """The per-track bookkeeping of the table (all (N,), ``watch`` (N, sensors)): last
    NIS, time of the last hit, hits, burnout height, which sensors have seen each track,
    opportunities (scans of a sensor that had seen it), confirmed."""

    nis: Array
    t_hit: NDArray[np.int64]
    hits: NDArray[np.int64]
    burnout_h: Array
    watch: NDArray[np.bool_]
    opps: NDArray[np.int64]
    confirmed: NDArray[np.bool_]


Updated = tuple[Array, Array, Array, Counts, NDArray[np.bool_], NDArray[np.bool_]]
"""(x, P, mu, counts after the scan, failed tracks (N,), detections free to start (D,))."""


def update_and_count(
    x: Array, P: Array, mu: Array, counts: Counts, cand: NDArray[np.intp],
    assigned: tuple[NDArray[np.intp], NDArray[np.intp]], d2: Array, z: Array, R: Array,
    meas: Measurement, t_ns: int, col: int, cfg: TrackerConfig, *, in_place: bool = False,
) -> Updated:  # fmt: skip
    """The second half of a scan (see :func:`update_and_count_reference`); one compiled
    call when :mod:`.jit` allows. ``in_place`` as :func:`predict_and_gate` (for ``x``,
    ``P``, ``mu`` and the arrays of ``counts``)."""
    if not use_kernels():
        return update_and_count_reference(
            x, P, mu, counts, cand, assigned, d2, z, R, meas, t_ns, col, cfg, in_place=in_place
        )
    from trilink.tracking.kernels_tracks import update_count_kernel

    ci, di = assigned
    c = counts
    tables: list[Any] = [
        x, P, mu, c.nis, c.t_hit, c.hits, c.burnout_h, c.watch, c.opps, c.confirmed
    ]  # fmt: skip
    if not in_place:  # (in place: as predict_and_gate)
        tables = [np.array(a, order="C") for a in tables]  # (copies)
        tables[:3] = [arg(a) for a in tables[:3]]
    xa, Pa, mua, nis, t_hit, hits, burnout_h, watch, opps, confirmed = tables
    failed, free = update_count_kernel(
        xa, Pa, mua, nis, t_hit, hits, burnout_h, watch, opps, confirmed, cand.astype(np.int64), cand[ci].astype(np.int64), di.astype(np.int64),
        ci.astype(np.int64), arg(d2), arg(z), arg(R), *meas.frame(), meas.kind == "radar",
        int(t_ns), int(col), cfg.confirm_m, cfg.confirm_n, cfg.max_position_sigma_m,
        gate_threshold(cfg.gate_probability, meas.dim), MU_FLOOR,
    )  # fmt: skip
    counts = Counts(nis, t_hit, hits, burnout_h, watch, opps, confirmed)
    return xa, Pa, mua, counts, failed, free


def update_and_count_reference(
    x: Array, P: Array, mu: Array, counts: Counts, cand: NDArray[np.intp],
    assigned: tuple[NDArray[np.intp], NDArray[np.intp]], d2: Array, z: Array, R: Array,
    meas: Measurement, t_ns: int, col: int, cfg: TrackerConfig, *, in_place: bool = False,
) -> Updated:  # fmt: skip
    """The assigned pairs (rows ``ci`` of the candidates ``cand``, detections ``di``)
    update their tracks (:func:`.imm.imm_update`); a track's burnout height is the
    height at its last confident (p_boost > 0.8) boost update once confirmable. M-of-N:
    a scan is an opportunity for a track only if this sensor (column ``col`` of
    ``watch``) has detected it before (a radar that never saw a target does not count
    against it); a tentative track with M hits and its position known (:func:`position_sigma`
    of its mixture within ``max_position_sigma_m``) is confirmed, one that had its N
    chances without that fails. Radar detections that no track took and that lie outside every
    confirmed candidate's gate are free to start tracks (angles start nothing)."""
    ci, di = assigned
    ti = cand[ci]
    c = counts
    if not in_place:
        x, P, mu = x.copy(), P.copy(), mu.copy()
        c = Counts(*(np.array(getattr(counts, f.name)) for f in fields(Counts)))
    if ti.size:
        xu, Pu, mu_u, _ = imm_update(x[ti], P[ti], mu[ti], z[di], R[di], meas)
        x[ti], P[ti], mu[ti] = xu, Pu, mu_u
        c.nis[ti] = d2[ci, di]
        c.t_hit[ti] = t_ns
        c.hits[ti] += 1
        boosting = (p_boost(mu_u) > 0.8) & (c.hits[ti] >= cfg.confirm_m)
        if boosting.any():
            h_now, _ = approx_altitude(xu[boosting].mean(axis=1)[:, 0:3], gradient=False)
            c.burnout_h[ti[boosting]] = h_now
    watchers = c.watch[:, col].copy()
    watchers[ti] = True
    c.watch[ti, col] = True
    c.opps[watchers] += 1
    tentative = ~c.confirmed
    # M hits confirm a track only if they have fixed its position: within the bound past
    # which a confirmed track is deleted as lost (stale). Angles alone (infrared) do not
    # fix the range, so one radar fix then angles leaves the position along the line of
    # sight to the initiation's velocity prior (3.5 km/s per axis: tens of km after ten
    # seconds); such a track is not one anybody can use, and reported it poisons fusion.
    # It stays tentative and fails after its N chances unless a range comes.
    newly = tentative & (c.hits >= cfg.confirm_m)
    if newly.any():
        sigma = position_sigma(combine(x[newly], P[newly], mu[newly])[1])
        newly[newly] = sigma <= cfg.max_position_sigma_m
    c.confirmed[:] |= newly
    failed = tentative & ~newly & (c.opps >= cfg.confirm_n)
    free = np.zeros(z.shape[0], dtype=bool)
    if meas.kind == "radar":
        gate = gate_threshold(cfg.gate_probability, meas.dim)
        near_confirmed = (d2[c.confirmed[cand]] <= gate).any(axis=0)
        free[:] = ~near_confirmed
        free[di] = False
    return x, P, mu, c, failed, free


def younger_duplicates(
    x: Array, P: Array, mu: Array, rows: NDArray[np.intp], ids: NDArray[np.int64], gate: float
) -> NDArray[np.bool_]:
    """Flags (C,) of the confirmed tracks at table ``rows`` that duplicate an older one
    among them (see :func:`younger_duplicates_reference`)."""
    if not use_kernels():
        return younger_duplicates_reference(x, P, mu, rows, ids, gate)
    from trilink.tracking.kernels_tracks import duplicates_kernel

    return duplicates_kernel(arg(x), arg(P), arg(mu), rows.astype(np.int64), ids, float(gate))


def younger_duplicates_reference(
    x: Array, P: Array, mu: Array, rows: NDArray[np.intp], ids: NDArray[np.int64], gate: float
) -> NDArray[np.bool_]:
    """Two confirmed tracks whose mixtures are closer than ``gate`` (squared Mahalanobis
    distance, :func:`.association.duplicate_pairs`) have become the same object: the
    younger (larger id) of each such pair is flagged."""
    if rows.size < 2:
        return np.zeros(rows.size, dtype=bool)
    xc, Pc = combine(x[rows], P[rows], mu[rows])
    same = duplicate_pairs(xc, Pc, gate)
    r_ids = ids[rows]
    younger = same & (r_ids[None, :] > r_ids[:, None])  # column j is younger than row i
    return np.asarray(younger.any(axis=0))


def snapshot(
    x: Array, P: Array, mu: Array, t_trk: NDArray[np.int64], t_ns: int, cfg: TrackerConfig
) -> tuple[Array, Array, NDArray[np.int8]]:
    """Every track of the table at ``t_ns`` (see :func:`snapshot_reference`); one
    compiled call for the ballistic/boost IMM when :mod:`.jit` allows."""
    if not use_kernels() or cfg.motion == "cv":
        return snapshot_reference(x, P, mu, t_trk, t_ns, cfg)
    from trilink.tracking.kernels_tracks import snapshot_kernel

    return snapshot_kernel(
        arg(x), arg(P), arg(mu), t_trk, int(t_ns), cfg.ballistic_mean_s, cfg.boost_mean_s,
        cfg.q_accel_ballistic, cfg.q_accel_boost, cfg.q_thrust_boost, cfg.q_kappa,
        cfg.drag_error, ModelRows.thrust_var_floor, cfg.h_max_s,
    )  # fmt: skip


def snapshot_reference(
    x: Array, P: Array, mu: Array, t_trk: NDArray[np.int64], t_ns: int, cfg: TrackerConfig
) -> tuple[Array, Array, NDArray[np.int8]]:
    """The tracks predicted to ``t_ns`` (:func:`.imm.imm_predict`; the table itself is
    not changed), their moment-matched estimates (N, 8), (N, 8, 8) (:func:`.imm.combine`
    with the predicted model probabilities) and phase codes (:func:`phase_codes`, from
    the table's own boost probabilities)."""
    dt = np.asarray((t_ns - t_trk) * 1e-9, dtype=np.float64)
    xc, Pc = combine(*imm_predict(x, P, mu, dt, cfg))
    return xc, Pc, phase_codes(xc, p_boost(mu))


def phase_codes(x: Array, p_boost: Array) -> NDArray[np.int8]:
    """Phase codes (K,), indices into :data:`PHASES` (see :func:`phase_codes_reference`)."""
    if not use_kernels():
        return phase_codes_reference(x, p_boost)
    from trilink.tracking.kernels_tracks import phase_kernel

    return phase_kernel(arg(x), arg(p_boost))


def phase_codes_reference(x: Array, p_boost: Array) -> NDArray[np.int8]:
    """``boost`` (0) where the boost model is more likely, else ``reentry`` (2) when
    falling (velocity against the gradient of the ellipsoid height) below 100 km, else
    ``midcourse`` (1)."""
    h, up = approx_altitude(x[:, 0:3])
    assert up is not None
    falling = np.einsum("ij,ij->i", up, x[:, 3:6]) < 0.0
    out = np.where(falling & (h < REENTRY_HEIGHT_M), 2, 1)
    return np.where(p_boost > 0.5, 0, out).astype(np.int8)


def phase_of(x: Array, p_boost: Array) -> NDArray[np.str_]:
    """The phase names (K,) of estimates x (K, >= 6) with boost probabilities (K,)."""
    return PHASES[phase_codes(x, p_boost)]
