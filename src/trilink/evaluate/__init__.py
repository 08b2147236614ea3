"""Evaluation against truth: assignment, RMSE, NEES, launch/impact-point errors, OSPA and
GOSPA, SIAP measures, timeliness, and the posterior Cramer-Rao lower bound.

Every function takes plain arrays (a :class:`TrackEstimates` table of K rows, truth
:class:`~trilink.physics.truth.Trajectory` objects, detections) and never a tracker's
internals. Each estimate is compared with the truth at the estimate's own time. Formulas
and references: docs/evaluation.md and each module's docstring.
"""

from trilink.evaluate.accuracy import (
    RmseSeries,
    average_nees,
    fraction_inside,
    nees,
    nees_band,
    nees_of_estimates,
    rmse,
    rmse_by_truth,
    rmse_over_time,
    state_errors,
)
from trilink.evaluate.assignment import Assignment, assign_to_truth, position_distances
from trilink.evaluate.estimates import TrackEstimates, latest_on_grid, truth_states
from trilink.evaluate.ospa import (
    Gospa,
    SetErrorSeries,
    gospa,
    gospa_from_distances,
    ospa,
    ospa_from_distances,
    set_errors_over_time,
)
from trilink.evaluate.pcrlb import (
    Pcrlb,
    ballistic_jacobian,
    bound_ratio,
    detection_times,
    information_recursion,
    pcrlb_ballistic,
    propagate_with_stm,
)
from trilink.evaluate.prediction import (
    PointErrors,
    impact_point_errors,
    launch_point_errors,
    surface_distance_m,
    truth_impact_point,
    truth_launch_point,
)
from trilink.evaluate.siap import Siap, siap
from trilink.evaluate.timeliness import (
    Timeliness,
    first_confirmed_times,
    first_detection_times,
    timeliness_table,
)

__all__ = [
    "Assignment",
    "Gospa",
    "Pcrlb",
    "PointErrors",
    "RmseSeries",
    "SetErrorSeries",
    "Siap",
    "Timeliness",
    "TrackEstimates",
    "assign_to_truth",
    "average_nees",
    "ballistic_jacobian",
    "bound_ratio",
    "detection_times",
    "first_confirmed_times",
    "first_detection_times",
    "fraction_inside",
    "gospa",
    "gospa_from_distances",
    "impact_point_errors",
    "information_recursion",
    "latest_on_grid",
    "launch_point_errors",
    "nees",
    "nees_band",
    "nees_of_estimates",
    "ospa",
    "ospa_from_distances",
    "pcrlb_ballistic",
    "position_distances",
    "propagate_with_stm",
    "rmse",
    "rmse_by_truth",
    "rmse_over_time",
    "set_errors_over_time",
    "siap",
    "state_errors",
    "surface_distance_m",
    "timeliness_table",
    "truth_impact_point",
    "truth_launch_point",
    "truth_states",
]
