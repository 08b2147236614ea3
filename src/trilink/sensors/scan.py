"""What every sensor model shares: scan times, truth sampled at them, assembling a batch.

A sensor revisits its whole coverage every ``revisit_s``. Its scan times are
``t_start + phase + k * revisit`` for k = 0, 1, ... up to ``t_end`` (inclusive), with a
phase drawn uniformly in [0, revisit) from the sensor's own random stream, so that
sensors of a scenario do not all look at the same instants and a run is reproducible
from its seed. Within one scan every target is measured at the scan time (an
electronically steered array visits its beams within milliseconds; we neglect that
spread, which is well below a revisit).

Truth is sampled only at the scans inside each flight, and all targets are stacked into
one flat batch of P points so that the geometry downstream is one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections

NS = 1_000_000_000


def scan_times(
    t_start_ns: int, t_end_ns: int, revisit_s: float, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Scan times (S,) int64 ns in [t_start, t_end], revisit apart, random phase."""
    revisit_ns = round(revisit_s * NS)
    if revisit_ns <= 0:
        raise ValueError(f"revisit must be positive, got {revisit_s} s")
    phase_ns = int(rng.integers(0, revisit_ns))
    span = int(t_end_ns) - int(t_start_ns) - phase_ns
    if span < 0:
        return np.zeros(0, dtype=np.int64)
    n = span // revisit_ns + 1
    return int(t_start_ns) + phase_ns + revisit_ns * np.arange(n, dtype=np.int64)


@dataclass(frozen=True)
class TruthSamples:
    """Truth of all targets at the scans that fall inside their flights, stacked (P,)."""

    t_ns: NDArray[np.int64]  # (P,)
    r_ecef_m: NDArray[np.float64]  # (P, 3)
    target: NDArray[np.intp]  # (P,) index into the trajectory sequence
    truth_id: NDArray[np.str_]  # (P,)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> TruthSamples:
        return TruthSamples(
            self.t_ns[index], self.r_ecef_m[index], self.target[index], self.truth_id[index]
        )


def sample_truth(trajectories: Sequence[Trajectory], t_scan_ns: NDArray[np.int64]) -> TruthSamples:
    """Positions of every target at every scan time inside its flight.

    One call of :meth:`Trajectory.state_at` per trajectory on a (S_i,) array of times:
    the loop is over targets (a handful), never over scans.
    """
    ts, rs, idx, ids = [], [], [], []
    for i, trj in enumerate(trajectories):
        lo = np.searchsorted(t_scan_ns, trj.launch_t_ns, side="left")
        hi = np.searchsorted(t_scan_ns, trj.impact_t_ns, side="right")
        if hi <= lo:
            continue
        t = t_scan_ns[lo:hi]
        r, _, _ = trj.state_at(t)
        ts.append(t)
        rs.append(r)
        idx.append(np.full(t.shape, i, dtype=np.intp))
        ids.append(np.full(t.shape, trj.missile_id))  # dtype U<len> from the id itself
    if not ts:
        return TruthSamples(
            np.zeros(0, np.int64), np.zeros((0, 3)), np.zeros(0, np.intp), np.zeros(0, np.str_)
        )
    return TruthSamples(
        np.concatenate(ts), np.concatenate(rs), np.concatenate(idx), np.concatenate(ids)
    )


def poisson_scan_times(
    t_scan_ns: NDArray[np.int64], mean_per_scan: float, rng: np.random.Generator
) -> NDArray[np.int64]:
    """Times of false alarms: a Poisson(mean) count at each scan, repeated per alarm."""
    if mean_per_scan <= 0.0 or t_scan_ns.size == 0:
        return np.zeros(0, dtype=np.int64)
    counts = rng.poisson(mean_per_scan, size=t_scan_ns.shape)
    return np.repeat(t_scan_ns, counts)


def assemble(
    sensor_id: str,
    nation: str,
    kind: str,
    sensor_ecef_m: NDArray[np.float64],
    rot: NDArray[np.float64],
    parts: Sequence[
        tuple[
            NDArray[np.int64],
            NDArray[np.float64],
            NDArray[np.float64],
            NDArray[np.float64],
            NDArray[np.str_],
        ]
    ],
    dim: int,
) -> Detections:
    """Concatenate (t, z, sigma, snr_db, truth_id) parts into one sorted batch.

    ``R`` is the diagonal of the sigmas squared. Sorted by time, then by the first
    measurement component: within a scan the order says nothing about which reports are
    false alarms (a tracker must not be able to learn that from the order).
    """
    t = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    z = np.concatenate([p[1] for p in parts]) if parts else np.zeros((0, dim))
    sig = np.concatenate([p[2] for p in parts]) if parts else np.zeros((0, dim))
    snr = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
    tid = np.concatenate([p[4] for p in parts]) if parts else np.zeros(0, np.str_)
    order = np.lexsort((z[:, 0], t)) if t.size else np.zeros(0, np.intp)
    n = t.size
    cov = np.zeros((n, dim, dim))
    cov[:, np.arange(dim), np.arange(dim)] = sig**2
    return Detections(
        sensor_id=sensor_id,
        nation=nation,
        kind=kind,
        sensor_ecef_m=np.asarray(sensor_ecef_m, dtype=float),
        rot=np.asarray(rot, dtype=float),
        t_ns=t.astype(np.int64)[order],
        z=z[order],
        R=cov[order],
        snr_db=snr[order],
        truth_id=tid.astype(np.str_)[order],
    )
