"""Launch-point and impact-point errors against truth, on the WGS84 ellipsoid.

A tracker's prediction is a geodetic point ``(lat_rad, lon_rad)`` with a time; the truth's
launch point is its first sample, its impact point its last (the sample at which it
reaches the ellipsoid, see :class:`trilink.physics.truth.Trajectory`). Errors are surface
distances along the geodesic, in metres, and time differences in seconds (predicted minus
true).

Two distance methods:

* ``"karney"``: :func:`trilink.geo.geodesic_inverse` (Karney 2013, geographiclib), exact to
  nanometres but a Python loop over points (~20 us each);
* ``"andoyer"`` (default): the Andoyer-Lambert first-order flattening correction to the
  great-circle distance on the parametric (reduced-latitude) sphere (Lambert, "The
  distance between two widely separated points on the surface of the Earth", J.
  Washington Acad. Sci. 32(5), 1942), vectorised. Measured against Karney on 3,000 random
  pairs between 60 S and 60 N for each span: relative error below 1.5e-6 for every span
  from 1 km to 5,000 km (0.14 m at 100 km, 1.4 m at 1,000 km). Not valid for nearly
  antipodal points, which impact errors never are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.geodesic import geodesic_inverse
from trilink.geo.measure import wrap_angle
from trilink.geo.wgs84 import A, F
from trilink.physics.truth import Trajectory

Array = NDArray[np.float64]


def surface_distance_m(
    lat1_rad: ArrayLike,
    lon1_rad: ArrayLike,
    lat2_rad: ArrayLike,
    lon2_rad: ArrayLike,
    method: str = "andoyer",
) -> Array:
    """Geodesic distance [m] between geodetic points on the WGS84 ellipsoid (broadcast)."""
    if method == "karney":
        return geodesic_inverse(lat1_rad, lon1_rad, lat2_rad, lon2_rad)[0]
    if method != "andoyer":
        raise ValueError(f"method must be 'andoyer' or 'karney', got {method!r}")
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (lat1_rad, lon1_rad, lat2_rad, lon2_rad))
    )
    b1 = np.arctan((1.0 - F) * np.tan(lat1))  # reduced latitudes
    b2 = np.arctan((1.0 - F) * np.tan(lat2))
    dlon = wrap_angle(lon2 - lon1)
    hav = np.sin((b2 - b1) / 2) ** 2 + np.cos(b1) * np.cos(b2) * np.sin(dlon / 2) ** 2
    sigma = 2.0 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))  # central angle
    p = (b1 + b2) / 2
    q = (b2 - b1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (sigma - np.sin(sigma)) * np.sin(p) ** 2 * np.cos(q) ** 2 / np.cos(sigma / 2) ** 2
        y = (sigma + np.sin(sigma)) * np.cos(p) ** 2 * np.sin(q) ** 2 / np.sin(sigma / 2) ** 2
        d = A * (sigma - F / 2.0 * (x + y))
    return np.where(sigma > 0, d, 0.0)  # coincident points: the correction is 0/0


def truth_launch_point(truth: Trajectory) -> tuple[float, float, int]:
    """Truth launch point ``(lat_rad, lon_rad, t_ns)``."""
    lla = ecef_to_geodetic(truth.r_ecef_m[0])
    return float(lla[0]), float(lla[1]), truth.launch_t_ns


def truth_impact_point(truth: Trajectory) -> tuple[float, float, int]:
    """Truth impact point ``(lat_rad, lon_rad, t_ns)``."""
    lla = ecef_to_geodetic(truth.r_ecef_m[-1])
    return float(lla[0]), float(lla[1]), truth.impact_t_ns


@dataclass(frozen=True)
class PointErrors:
    """Errors of K successive predictions of one point (launch or impact) of one missile.

    Attributes:
        t_since_launch_s: (K,) when each prediction was made, seconds after true launch.
        distance_m: (K,) geodesic miss distance.
        time_error_s: (K,) predicted minus true time of the event (NaN if not predicted).
    """

    t_since_launch_s: Array
    distance_m: Array
    time_error_s: Array

    def at(self, marks_s: ArrayLike) -> Array:
        """Error of the latest prediction made at or before each mark [s after launch]
        (NaN before the first prediction): the "+60 s, +120 s" columns of a summary."""
        marks = np.asarray(marks_s, dtype=float)
        order = np.argsort(self.t_since_launch_s, kind="stable")
        t = self.t_since_launch_s[order]
        i = np.searchsorted(t, marks, side="right") - 1
        return np.where(i >= 0, self.distance_m[order][np.maximum(i, 0)], np.nan)


def _point_errors(
    t_pred_ns: ArrayLike,
    lat_rad: ArrayLike,
    lon_rad: ArrayLike,
    event_t_ns: ArrayLike | None,
    truth_point: tuple[float, float, int],
    launch_t_ns: int,
    method: str,
) -> PointErrors:
    t = np.asarray(t_pred_ns, dtype=np.int64)
    lat0, lon0, t0 = truth_point
    dist = surface_distance_m(lat_rad, lon_rad, lat0, lon0, method=method)
    if event_t_ns is None:
        dt = np.full(t.shape, np.nan)
    else:
        dt = (np.asarray(event_t_ns, dtype=np.int64) - t0) / 1e9
    return PointErrors((t - launch_t_ns) / 1e9, np.broadcast_to(dist, t.shape).copy(), dt)


def impact_point_errors(
    t_pred_ns: ArrayLike,
    impact_lat_rad: ArrayLike,
    impact_lon_rad: ArrayLike,
    truth: Trajectory,
    impact_t_ns: ArrayLike | None = None,
    method: str = "andoyer",
) -> PointErrors:
    """Miss distance and impact-time error of predictions made at ``t_pred_ns`` (K,)."""
    return _point_errors(
        t_pred_ns,
        impact_lat_rad,
        impact_lon_rad,
        impact_t_ns,
        truth_impact_point(truth),
        truth.launch_t_ns,
        method,
    )


def launch_point_errors(
    t_pred_ns: ArrayLike,
    launch_lat_rad: ArrayLike,
    launch_lon_rad: ArrayLike,
    truth: Trajectory,
    launch_t_ns: ArrayLike | None = None,
    method: str = "andoyer",
) -> PointErrors:
    """Distance and launch-time error of launch-point estimates made at ``t_pred_ns`` (K,)."""
    return _point_errors(
        t_pred_ns,
        launch_lat_rad,
        launch_lon_rad,
        launch_t_ns,
        truth_launch_point(truth),
        truth.launch_t_ns,
        method,
    )
