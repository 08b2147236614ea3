"""Geostationary infrared early-warning sensor: angles only, burning stages only.

The satellite sits over the equator at longitude ``sub_lon_rad``, at the geostationary
radius 42,164 km from the Earth's centre, fixed in ECEF. Its sensor frame
(:func:`trilink.geo.boresight_frame`) has its y axis on the line from the satellite to the
stare point ``(aim_lat, aim_lon, 0)``; a report is ``[az_rad, el_rad]`` in that frame
(:func:`trilink.geo.az_el`), small angles near the boresight.

At each revisit a target is seen with probability ``pd`` when all of these hold:

- a motor is burning (:meth:`Trajectory.burning_at`): the sensor sees the hot plume, not
  the cold body;
- the missile's geodetic height is at least ``min_plume_altitude_m`` (see
  :func:`plume_visible`): warning bands are absorbed by water vapour, and clouds hide
  the plume, until it has climbed out of the lower atmosphere;
- it lies within ``field_of_regard_rad`` of the boresight;
- the Earth does not block the line from the satellite (see :func:`earth_blocks`).

Noise is Gaussian, ``angle_sigma_rad`` per cross-line-of-sight axis; as for the radar the
azimuth coordinate's sigma is ``angle_sigma / cos(el)`` (el is within a few degrees of 0
here, so the factor is below 1.01). ``snr_db`` is NaN: the model has no radiometry (it
is a Pd and an angle accuracy), and NaN says so instead of inventing a number.

False alarms: a Poisson number per revisit with mean ``false_alarms_per_scan``, with
directions uniform over the solid angle of the field of regard.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo import az_el, boresight_frame, ecef_to_geodetic, geodetic_to_ecef, wrap_angle
from trilink.geo.wgs84 import GM, OMEGA, A, B
from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections
from trilink.sensors.radar import MIN_COS_EL
from trilink.sensors.scan import assemble, poisson_scan_times, sample_truth, scan_times
from trilink.sensors.specs import InfraredSatelliteSpec

Array = NDArray[np.float64]

GEO_RADIUS_M = (GM / OMEGA**2) ** (1.0 / 3.0)
"""Geostationary orbit radius from the Earth's centre: (GM / omega^2)^(1/3) = 42,164.17 km
(a circular orbit whose period is one sidereal day)."""


def infrared_frame(spec: InfraredSatelliteSpec) -> tuple[Array, Array]:
    """Satellite ECEF (3,) and its boresight sensor frame (3, 3)."""
    sat = GEO_RADIUS_M * np.array([np.cos(spec.sub_lon_rad), np.sin(spec.sub_lon_rad), 0.0])
    aim = geodetic_to_ecef(np.array([spec.aim_lat_rad, spec.aim_lon_rad, 0.0]))
    return sat, boresight_frame(sat, aim)


def earth_blocks(observer_ecef: ArrayLike, target_ecef: ArrayLike) -> NDArray[np.bool_]:
    """True where the straight segment observer -> target passes through the ellipsoid.

    Exact for the WGS84 ellipsoid: scaling z by a/b maps the ellipsoid onto the sphere of
    radius a and keeps segments segments, so the test is whether the closest point of
    the scaled segment to the centre lies strictly between its ends and inside the
    sphere. A target below the ellipsoid counts as blocked. Shapes (..., 3) -> (...).
    """
    stretch = np.array([1.0, 1.0, A / B])
    s = np.asarray(observer_ecef, dtype=float) * stretch
    t = np.asarray(target_ecef, dtype=float) * stretch
    d = t - s
    dd = np.einsum("...i,...i->...", d, d)
    u = -np.einsum("...i,...i->...", s, d) / np.where(dd > 0.0, dd, 1.0)
    closest = s + np.clip(u, 0.0, 1.0)[..., None] * d
    inside = np.einsum("...i,...i->...", closest, closest) < A * A
    below = np.einsum("...i,...i->...", t, t) < A * A
    return np.asarray((inside & (u > 0.0) & (u < 1.0)) | below)


def plume_visible(spec: InfraredSatelliteSpec, x_ecef: ArrayLike) -> NDArray[np.bool_]:
    """Whether a plume at ECEF ``x_ecef`` (..., 3) has risen high enough to be seen (...).

    The sensor's bands are the ones water vapour absorbs (DSP/SBIRS look near 2.7 um so
    that sunlight reflected from the ground and clouds does not reach them), so a plume
    in the moist lower atmosphere, or under a cloud deck, is hidden; a single height
    threshold stands for that gradual clearing (docs/sensors.md gives the sources).
    """
    height = ecef_to_geodetic(x_ecef)[..., 2]
    return np.asarray(height >= spec.min_plume_altitude_m)


def off_boresight(rot: Array, sat: Array, x_ecef: ArrayLike) -> Array:
    """Angle [rad] between the boresight (frame y axis) and the lines of sight (...)."""
    los = np.asarray(x_ecef, dtype=float) - sat
    cos_a = (los @ rot[1]) / np.linalg.norm(los, axis=-1)
    return np.asarray(np.arccos(np.clip(cos_a, -1.0, 1.0)))


def _false_alarm_angles(spec: InfraredSatelliteSpec, n: int, rng: np.random.Generator) -> Array:
    """``n`` [az, el] directions uniform over the spherical cap of the field of regard."""
    cos_t = 1.0 - rng.uniform(size=n) * (1.0 - np.cos(spec.field_of_regard_rad))
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    lx, ly, lz = sin_t * np.cos(phi), cos_t, sin_t * np.sin(phi)  # y is the boresight
    return np.stack([np.arctan2(lx, ly), np.arctan2(lz, np.hypot(lx, ly))], axis=-1)


def _sigmas(spec: InfraredSatelliteSpec, el: Array) -> Array:
    s = np.full(el.shape, spec.angle_sigma_rad)
    return np.stack([s / np.maximum(np.cos(el), MIN_COS_EL), s], axis=-1)


def observe_infrared(
    spec: InfraredSatelliteSpec,
    trajectories: Sequence[Trajectory],
    t_start_ns: int,
    t_end_ns: int,
    rng: np.random.Generator,
) -> Detections:
    """Every report the satellite makes in [t_start, t_end]: plumes and false alarms."""
    sat, rot = infrared_frame(spec)
    t_scan = scan_times(t_start_ns, t_end_ns, spec.revisit_s, rng)
    truth = sample_truth(trajectories, t_scan)

    burning = np.zeros(len(truth.t_ns), dtype=bool)
    for i in np.unique(truth.target):
        sel = truth.target == i
        burning[sel] = trajectories[int(i)].burning_at(truth.t_ns[sel])
    truth = truth.take(burning & plume_visible(spec, truth.r_ecef_m))
    seen = (off_boresight(rot, sat, truth.r_ecef_m) <= spec.field_of_regard_rad) & ~earth_blocks(
        sat, truth.r_ecef_m
    )
    truth = truth.take(seen)
    truth = truth.take(rng.uniform(size=len(truth.t_ns)) < spec.pd)

    meas = az_el(truth.r_ecef_m, sat, rot)
    sig = _sigmas(spec, meas[:, 1])
    z = meas + sig * rng.standard_normal(meas.shape)
    z[:, 0] = wrap_angle(z[:, 0])
    parts = [(truth.t_ns, z, sig, np.full(len(z), np.nan), truth.truth_id)]

    t_fa = poisson_scan_times(t_scan, spec.false_alarms_per_scan, rng)
    if t_fa.size:
        z_fa = _false_alarm_angles(spec, t_fa.size, rng)
        parts.append(
            (
                t_fa,
                z_fa,
                _sigmas(spec, z_fa[:, 1]),
                np.full(t_fa.size, np.nan),
                np.zeros(t_fa.size, dtype=np.str_),
            )
        )
    return assemble(spec.sensor_id, spec.nation, "ir", sat, rot, parts, 2)
