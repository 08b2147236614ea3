"""What the tracker reports: one track's estimate, and the history of a whole run.

A :class:`TrackHistory` holds one row per track update (K rows, stacked arrays), so the
evaluation can select by ``track_id`` or time with masks. ``x``/``P`` are the IMM output
(moment-matched) ECEF position and velocity and their covariance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from trilink.tracking.prediction import PointPrediction, Predictions

Array = NDArray[np.float64]

TENTATIVE, CONFIRMED = "tentative", "confirmed"
PHASES = ("boost", "midcourse", "reentry")


class DetectionBatch(Protocol):
    """Any object with the fields of :class:`trilink.sensors.detection.Detections`
    (``truth_id`` may be present; the tracker never reads it)."""

    sensor_id: str
    nation: str
    kind: str
    sensor_ecef_m: NDArray[np.float64]
    rot: NDArray[np.float64]
    t_ns: NDArray[np.int64]
    z: NDArray[np.float64]
    R: NDArray[np.float64]


@dataclass(frozen=True)
class GroundPoint:
    """A predicted point on the ground with its 1-sigma ellipse and time."""

    lat_rad: float
    lon_rad: float
    semi_major_m: float
    semi_minor_m: float
    orientation_rad: float  # major axis, clockwise from north, [0, pi)
    t_ns: int
    t_sigma_s: float


def ground_points(p: PointPrediction) -> list[GroundPoint | None]:
    """The K rows of a batched prediction as GroundPoints (None where not valid)."""
    cols = zip(
        p.valid.tolist(), p.lat_rad.tolist(), p.lon_rad.tolist(), p.semi_major_m.tolist(),
        p.semi_minor_m.tolist(), p.orientation_rad.tolist(), p.t_ns.tolist(),
        p.t_sigma_s.tolist(), strict=True,
    )  # fmt: skip
    return [GroundPoint(*row[1:]) if row[0] else None for row in cols]


@dataclass(frozen=True)
class TrackEstimate:
    """One track now: state, covariance, phase and (if confirmed) its predictions."""

    track_id: int
    t_ns: int
    status: str  # "tentative" | "confirmed"
    phase: str  # "boost" | "midcourse" | "reentry"
    p_boost: float
    x: Array  # (6,) ECEF [r m, v m/s]
    P: Array  # (6, 6)
    thrust_mps2: float
    kappa_m2pkg: float
    impact: GroundPoint | None
    launch: GroundPoint | None
    apogee_m: float
    apogee_sigma_m: float
    # Detections the track has used (the one that started it included), and the ids of
    # the sensors they came from, in the order the tracker first met each sensor.
    n_updates: int = 0
    sensors: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrackHistory:
    """One row per track update (K rows).

    Attributes:
        nation: whose tracker.
        t_ns (K,) int64: time of the update (the scan time of the detection used).
        track_id (K,) int64: the nation's track number (never reused).
        sensor_id (K,) str: the sensor whose detection made the update.
        status (K,) str: ``"tentative"`` or ``"confirmed"`` after this update.
        phase (K,) str: ``"boost"``, ``"midcourse"`` or ``"reentry"``.
        p_boost (K,): IMM probability of the boost model.
        x (K, 6), P (K, 6, 6): ECEF position/velocity estimate and covariance.
        thrust_mps2 (K,), kappa_m2pkg (K,): estimated thrust acceleration and 1/beta.
        nis (K,): normalised innovation squared of the detection against the prediction.
        predictions: impact and launch points and apogee, (K,) arrays, NaN (``valid``
            False) on tentative rows.
    """

    nation: str
    t_ns: NDArray[np.int64]
    track_id: NDArray[np.int64]
    sensor_id: NDArray[np.str_]
    status: NDArray[np.str_]
    phase: NDArray[np.str_]
    p_boost: Array
    x: Array
    P: Array
    thrust_mps2: Array
    kappa_m2pkg: Array
    nis: Array
    predictions: Predictions

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    def track_ids(self) -> NDArray[np.int64]:
        return np.unique(self.track_id)

    def confirmed_ids(self) -> NDArray[np.int64]:
        return np.unique(self.track_id[self.status == CONFIRMED])

    def rows(self, track_id: int) -> NDArray[np.intp]:
        """Row indices of one track, in time order."""
        return np.flatnonzero(self.track_id == track_id)
