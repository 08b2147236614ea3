"""Truth trajectories: what a missile really did, sampled on a fixed time grid.

A :class:`Trajectory` is the contract between physics (which makes it) and sensors,
scenario and evaluation (which read it). Positions and velocities are ECEF (metres,
metres per second), times are integer nanoseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Trajectory:
    """One missile flight from lift-off to impact, sampled every ``dt`` (T samples).

    Attributes:
        missile_id: scenario-unique name, e.g. ``"srbm-1"``.
        missile_class: ``"SRBM"``, ``"IRBM"``, ``"ICBM"``, ...
        t_ns: (T,) int64 sample times, strictly increasing; ``t_ns[0]`` is lift-off,
            ``t_ns[-1]`` impact (the sample at which the object reaches the ellipsoid).
        r_ecef_m: (T, 3) ECEF position.
        v_ecef_mps: (T, 3) ECEF velocity (relative to the rotating Earth).
        burning: (T,) bool, True while a motor is thrusting (what an infrared sensor sees).
        rcs_m2: (T,) radar cross-section presented to radars (booster stack during boost,
            the re-entry vehicle after separation).
        burnout_t_ns: time of final-stage burnout.
    """

    missile_id: str
    missile_class: str
    t_ns: NDArray[np.int64]
    r_ecef_m: NDArray[np.float64]
    v_ecef_mps: NDArray[np.float64]
    burning: NDArray[np.bool_]
    rcs_m2: NDArray[np.float64]
    burnout_t_ns: int
    meta: dict[str, float] = field(default_factory=dict)

    @property
    def launch_t_ns(self) -> int:
        return int(self.t_ns[0])

    @property
    def impact_t_ns(self) -> int:
        return int(self.t_ns[-1])

    def state_at(
        self, t_ns: NDArray[np.int64] | int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
        """Position (..., 3), velocity (..., 3) and an in-flight mask (...) at times ``t_ns``.

        Cubic Hermite interpolation between samples (uses position and velocity, so it is
        exact to O(dt^4) in position); outside [launch, impact] the mask is False and the
        values are NaN.
        """
        t = np.asarray(t_ns, dtype=np.int64)
        grid = self.t_ns
        inside = (t >= grid[0]) & (t <= grid[-1])
        i = np.clip(np.searchsorted(grid, t, side="right") - 1, 0, len(grid) - 2)
        t0, t1 = grid[i], grid[i + 1]
        h = (t1 - t0).astype(float) * 1e-9
        s = ((t - t0).astype(float) * 1e-9 / h)[..., None]
        h = h[..., None]
        p0, p1 = self.r_ecef_m[i], self.r_ecef_m[i + 1]
        m0, m1 = self.v_ecef_mps[i] * h, self.v_ecef_mps[i + 1] * h
        s2, s3 = s * s, s * s * s
        r = (
            (2 * s3 - 3 * s2 + 1) * p0
            + (s3 - 2 * s2 + s) * m0
            + (-2 * s3 + 3 * s2) * p1
            + (s3 - s2) * m1
        )
        v = (
            (6 * s2 - 6 * s) * p0
            + (3 * s2 - 4 * s + 1) * m0
            + (-6 * s2 + 6 * s) * p1
            + (3 * s2 - 2 * s) * m1
        ) / h
        r = np.where(inside[..., None], r, np.nan)
        v = np.where(inside[..., None], v, np.nan)
        return r, v, inside

    def burning_at(self, t_ns: NDArray[np.int64] | int) -> NDArray[np.bool_]:
        """Whether a motor is thrusting at times ``t_ns`` (sample-and-hold)."""
        t = np.asarray(t_ns, dtype=np.int64)
        i = np.clip(np.searchsorted(self.t_ns, t, side="right") - 1, 0, len(self.t_ns) - 1)
        inside = (t >= self.t_ns[0]) & (t <= self.t_ns[-1])
        return self.burning[i] & inside

    def rcs_at(self, t_ns: NDArray[np.int64] | int) -> NDArray[np.float64]:
        """Radar cross-section [m^2] at times ``t_ns`` (sample-and-hold)."""
        t = np.asarray(t_ns, dtype=np.int64)
        i = np.clip(np.searchsorted(self.t_ns, t, side="right") - 1, 0, len(self.t_ns) - 1)
        return self.rcs_m2[i]
