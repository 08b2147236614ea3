"""Detections: what one sensor reports, batched per sensor.

A :class:`Detections` batch holds N reports of one sensor. Radars measure
``[range_m, az_rad, el_rad]`` (m = 3); angle-only infrared sensors ``[az_rad, el_rad]``
(m = 2), both in the sensor frame ``rot`` of :mod:`trilink.geo.measure` (rows: the frame's
x, y, z axes in ECEF), from ``sensor_ecef_m``. Times are integer ns since the Unix epoch,
UTC.

``truth_id`` is for evaluation only (which missile produced the report, ``""`` for a false
alarm); trackers must never read it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Detections:
    sensor_id: str
    nation: str
    kind: str  # "radar" | "ir"
    sensor_ecef_m: NDArray[np.float64]  # (3,)
    rot: NDArray[np.float64]  # (3, 3) sensor frame, rows in ECEF
    t_ns: NDArray[np.int64]  # (N,)
    z: NDArray[np.float64]  # (N, m)
    R: NDArray[np.float64]  # (N, m, m) measurement covariance
    snr_db: NDArray[np.float64]  # (N,)
    truth_id: NDArray[np.str_]  # (N,) evaluation only; "" for false alarms

    def __len__(self) -> int:
        return int(self.t_ns.shape[0])

    @property
    def dim(self) -> int:
        return int(self.z.shape[-1])

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> Detections:
        """A new batch with the selected rows."""
        return Detections(
            self.sensor_id,
            self.nation,
            self.kind,
            self.sensor_ecef_m,
            self.rot,
            self.t_ns[index],
            self.z[index],
            self.R[index],
            self.snr_db[index],
            self.truth_id[index],
        )
