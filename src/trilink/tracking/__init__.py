"""National tracking: ballistic/boost motion models, EKF/IMM filters, association, track
management, and launch- and impact-point prediction. Arrays in, arrays out; the one
stateful object is :class:`NationalTracker`, which holds the track table.

Public API::

    track_all(detections, nation, config=None, predictions=True) -> TrackHistory
    NationalTracker(nation, config=None).process(detections)
        .tracks(predictions=True | False | track_ids) -> [TrackEstimate]
    predict_points(x, P, t_ns, boosting, burnout_height_m, config) -> Predictions
    filters.predict / filters.update / filters.cv_predict, imm.imm_predict /
        imm.imm_update (batched, pure; each with a NumPy ``*_reference`` twin)
    TrackerConfig(motion="imm" | "cv", q_accel_cv=...)

The hot paths run as numba kernels (``kernels_*.py``, switched by :mod:`.jit`).
"""

from trilink.tracking.config import TrackerConfig
from trilink.tracking.filters import Measurement, predict, update
from trilink.tracking.prediction import PointPrediction, Predictions, predict_points
from trilink.tracking.records import GroundPoint, TrackEstimate, TrackHistory
from trilink.tracking.tracker import NationalTracker, track_all

__all__ = [
    "GroundPoint",
    "Measurement",
    "NationalTracker",
    "PointPrediction",
    "Predictions",
    "TrackEstimate",
    "TrackHistory",
    "TrackerConfig",
    "predict",
    "predict_points",
    "track_all",
    "update",
]
