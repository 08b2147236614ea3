"""Ground (or ship) radar: coverage, range equation, Swerling detection, noise, false alarms.

Frames and units: the site is geodetic ``(lat, lon, height)`` [rad, rad, m]; the sensor
frame is the site's ENU frame (:func:`trilink.geo.enu_rotation`); measurements are
``[range_m, az_rad, el_rad]`` from :func:`trilink.geo.range_az_el` (azimuth clockwise from
north, wrapped to (-pi, pi]; elevation above the ellipsoid's tangent plane).

A target at a scan is a *candidate* when it is within the instrumented range, its
apparent (refracted, 4/3-Earth) elevation clears ``min_elevation_rad`` and stays below
``max_elevation_rad`` (so the Earth blocks it below the refracted horizon), and some face
holds its azimuth and apparent elevation (no faces: all azimuths). A candidate is
detected with the Swerling probability at its mean SNR from the range equation

    SNR_dB = ref_snr_db + 10 log10(rcs / ref_rcs) - 40 log10(range / ref_range)

(Skolnik, *Introduction to Radar Systems* 3rd ed., ch. 2: SNR ~ sigma / R^4 at fixed
transmitter, antenna, dwell and losses), and its report is the true measurement plus
Gaussian noise with the covariance reported beside it (see :func:`radar_sigmas`).

False alarms: a Poisson number per scan with mean ``false_alarms_per_scan``, uniform over
resolution cells: range uniform in [``false_alarm_min_range(spec)``, ``max_range_m``],
azimuth and elevation uniform over the union of the faces clipped to [min, max]
elevation. Their reported SNR is that of a noise-only threshold crossing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from trilink.geo import apparent_elevation, enu_rotation, geodetic_to_ecef, range_az_el, wrap_angle
from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections
from trilink.sensors.scan import assemble, poisson_scan_times, sample_truth, scan_times
from trilink.sensors.specs import RadarSpec
from trilink.sensors.swerling import detection_threshold, pd_swerling

Array = NDArray[np.float64]

FALSE_ALARM_MIN_RANGE_M = 10_000.0
"""Nearest range at which noise false alarms appear (a typical blind/eclipsed zone)."""

MIN_COS_EL = 0.01
"""Guard for the azimuth sigma ``angle_sigma / cos(el)`` near the zenith (el > 89.4 deg):
there azimuth is nearly undefined and its sigma is capped at 100 times the angle sigma."""


def radar_site(spec: RadarSpec) -> tuple[Array, Array, Array]:
    """Site geodetic ``[lat, lon, h]`` (3,), site ECEF (3,), and sensor frame (3, 3)."""
    lla = np.array([spec.lat_rad, spec.lon_rad, spec.height_m])
    return lla, geodetic_to_ecef(lla), enu_rotation(spec.lat_rad, spec.lon_rad)


def snr_db(spec: RadarSpec, range_m: ArrayLike, rcs_m2: ArrayLike) -> Array:
    """Mean single-look SNR [dB] from the range equation, relative to the spec's reference."""
    with np.errstate(divide="ignore"):
        return np.asarray(
            spec.ref_snr_db
            + 10.0 * np.log10(np.asarray(rcs_m2, dtype=float) / spec.ref_rcs_m2)
            - 40.0 * np.log10(np.asarray(range_m, dtype=float) / spec.ref_range_m),
            dtype=float,
        )


def radar_sigmas(spec: RadarSpec, snr_db_: ArrayLike, el_rad: ArrayLike) -> Array:
    """One-sigma ``[range_m, az_rad, el_rad]`` noise (..., 3) at an SNR and elevation.

    Range and monopulse angle accuracy scale as ``1 / sqrt(2 SNR)`` (Skolnik 3rd ed.,
    ch. 6, theoretical accuracy of radar measurements; Richards, Scheer & Holm,
    *Principles of Modern Radar* vol. I, ch. 18), so from the values at the reference SNR:
    ``sigma = max(floor, sigma_ref * sqrt(snr_ref / snr))``; the floors stand for the
    bias/quantisation limits that no SNR removes. ``angle_sigma`` is a cross-range
    (beam-space) angle, the same about both axes; an azimuth difference spans
    ``cos(el)`` times less arc, so the azimuth coordinate's sigma is
    ``sigma_angle / cos(el)`` (guarded by :data:`MIN_COS_EL`).
    """
    scale = 10.0 ** ((spec.ref_snr_db - np.asarray(snr_db_, dtype=float)) / 20.0)
    s_r = np.maximum(spec.range_sigma_floor_m, spec.range_sigma_m * scale)
    s_a = np.maximum(spec.angle_sigma_floor_rad, spec.angle_sigma_rad * scale)
    cos_el = np.maximum(np.cos(np.asarray(el_rad, dtype=float)), MIN_COS_EL)
    return np.stack(np.broadcast_arrays(s_r, s_a / cos_el, s_a), axis=-1)


def face_counts(spec: RadarSpec, az_rad: ArrayLike, el_rad: ArrayLike) -> NDArray[np.intp]:
    """How many faces hold each (az, el) (...), ignoring the min/max elevation limits."""
    az, el = np.broadcast_arrays(np.asarray(az_rad, dtype=float), np.asarray(el_rad, dtype=float))
    n = np.zeros(az.shape, dtype=np.intp)
    for f in spec.faces:  # a handful of faces: the loop is over faces, not targets
        n += (np.abs(wrap_angle(az - f.boresight_az_rad)) <= f.half_width_az_rad) & (
            np.abs(el - f.tilt_rad) <= f.half_width_el_rad
        )
    return n


def in_coverage(spec: RadarSpec, az_rad: ArrayLike, el_rad: ArrayLike) -> NDArray[np.bool_]:
    """True where (az, el) lies within the elevation limits and some face (or no faces)."""
    el = np.asarray(el_rad, dtype=float)
    ok = (el >= spec.min_elevation_rad) & (el <= spec.max_elevation_rad)
    if spec.faces:
        ok &= face_counts(spec, az_rad, el) > 0
    return np.asarray(ok)


def false_alarm_min_range(spec: RadarSpec) -> float:
    """Nearest range of false alarms [m]: 10 km, or half the instrumented range if less."""
    return min(FALSE_ALARM_MIN_RANGE_M, 0.5 * spec.max_range_m)


def _face_boxes(spec: RadarSpec) -> Array:
    """Rows ``[az_centre, half_width_az, el_lo, el_hi]`` of each face clipped to the limits."""
    if not spec.faces:
        return np.array([[0.0, np.pi, spec.min_elevation_rad, spec.max_elevation_rad]])
    boxes = np.array(
        [
            [
                f.boresight_az_rad,
                min(f.half_width_az_rad, np.pi),
                max(f.tilt_rad - f.half_width_el_rad, spec.min_elevation_rad),
                min(f.tilt_rad + f.half_width_el_rad, spec.max_elevation_rad),
            ]
            for f in spec.faces
        ]
    )
    return boxes


def coverage_area_rad2(spec: RadarSpec) -> float:
    """Area [rad^2] of the covered (az, el) region: the union of the clipped faces.

    Exact: split the azimuth circle at every face edge; on each piece the covering faces
    are fixed and the union of their elevation intervals is measured directly.
    """
    boxes = _face_boxes(spec)
    edges = [-np.pi, np.pi]
    for c, w, _, _ in boxes:
        edges += [float(wrap_angle(c - w)), float(wrap_angle(c + w))]
    cuts = np.unique(np.array(edges))
    area = 0.0
    for lo, hi in itertools.pairwise(cuts):
        mid = 0.5 * (lo + hi)
        inside = np.abs(wrap_angle(mid - boxes[:, 0])) < boxes[:, 1]
        spans = sorted((e0, e1) for e0, e1 in boxes[inside, 2:] if e1 > e0)
        covered, top = 0.0, -np.inf
        for e0, e1 in spans:  # union of intervals, sorted by start
            covered += max(0.0, e1 - max(e0, top))
            top = max(top, e1)
        area += (hi - lo) * covered
    return area


def false_alarm_density(spec: RadarSpec) -> float:
    """Mean false alarms per scan per unit measurement volume [1 / (m rad^2)].

    The clutter density a tracker needs (e.g. for PDA or track scores), in the same
    ``[range, az, el]`` coordinates as the reports: false alarms are uniform there.
    """
    volume = (spec.max_range_m - false_alarm_min_range(spec)) * coverage_area_rad2(spec)
    return spec.false_alarms_per_scan / volume if volume > 0.0 else 0.0


def sample_coverage_angles(
    spec: RadarSpec, n: int, rng: np.random.Generator
) -> tuple[Array, Array]:
    """``n`` (az, el) pairs uniform over the union of the faces within the elevation limits.

    Draw a face with probability proportional to its (clipped) area, a point uniform in
    it, and keep it with probability 1 / (number of faces holding it): the accepted points
    are then uniform over the union even where faces overlap. Rejected draws are redrawn
    in vectorised rounds (a round keeps at least half the points unless faces overlap
    heavily).
    """
    boxes = _face_boxes(spec)
    area = 2.0 * boxes[:, 1] * np.maximum(boxes[:, 3] - boxes[:, 2], 0.0)
    if n == 0 or area.sum() <= 0.0:
        return np.zeros(0), np.zeros(0)
    p = area / area.sum()
    az, el = np.empty(n), np.empty(n)
    todo = np.arange(n)
    while todo.size:
        k = rng.choice(len(boxes), size=todo.size, p=p)
        b = boxes[k]
        a = wrap_angle(b[:, 0] + b[:, 1] * rng.uniform(-1.0, 1.0, todo.size))
        e = rng.uniform(b[:, 2], b[:, 3])
        keep = rng.uniform(size=todo.size) * (face_counts(spec, a, e) if spec.faces else 1) <= 1.0
        az[todo[keep]], el[todo[keep]] = a[keep], e[keep]
        todo = todo[~keep]
    return az, el


def observe_radar(
    spec: RadarSpec,
    trajectories: Sequence[Trajectory],
    t_start_ns: int,
    t_end_ns: int,
    rng: np.random.Generator,
) -> Detections:
    """Every report the radar makes in [t_start, t_end]: targets and false alarms, by time."""
    site_lla, site, rot = radar_site(spec)
    t_scan = scan_times(t_start_ns, t_end_ns, spec.revisit_s, rng)
    truth = sample_truth(trajectories, t_scan)

    # Cheap range gate first, so the geodetic work of the refracted elevation is done
    # only for targets the radar could possibly see.
    rng_m = np.linalg.norm(truth.r_ecef_m - site, axis=-1)
    truth = truth.take((rng_m <= spec.max_range_m) & (rng_m > 0.0))
    meas = range_az_el(truth.r_ecef_m, site, rot)
    el_app = apparent_elevation(site_lla, truth.r_ecef_m)
    cand = in_coverage(spec, meas[:, 1], el_app)
    truth, meas = truth.take(cand), meas[cand]

    rcs = np.empty(len(truth.t_ns))
    for i in np.unique(truth.target):
        sel = truth.target == i
        rcs[sel] = trajectories[int(i)].rcs_at(truth.t_ns[sel])
    snr = snr_db(spec, meas[:, 0], rcs)
    pd = pd_swerling(10.0 ** (snr / 10.0), spec.pfa, spec.swerling)
    # A zero RCS (snr = -inf) is no target at all, not a noise crossing with an infinite sigma.
    hit = (rng.uniform(size=pd.shape) < pd) & np.isfinite(snr)
    truth, meas, snr = truth.take(hit), meas[hit], snr[hit]

    sig = radar_sigmas(spec, snr, meas[:, 2])
    z = meas + sig * rng.standard_normal(meas.shape)
    z[:, 1] = wrap_angle(z[:, 1])
    parts = [(truth.t_ns, z, sig, snr, truth.truth_id)]

    t_fa = poisson_scan_times(t_scan, spec.false_alarms_per_scan, rng)
    if t_fa.size:
        n = t_fa.size
        r_fa = rng.uniform(false_alarm_min_range(spec), spec.max_range_m, n)
        az_fa, el_fa = sample_coverage_angles(spec, n, rng)
        # A noise-only crossing: exponential power, conditioned on exceeding the
        # threshold T, is T + Exp(1) (memoryless).
        snr_fa = 10.0 * np.log10(detection_threshold(spec.pfa) + rng.standard_exponential(n))
        z_fa = np.stack([r_fa, az_fa, el_fa], axis=-1)
        parts.append(
            (t_fa, z_fa, radar_sigmas(spec, snr_fa, el_fa), snr_fa, np.zeros(n, dtype=np.str_))
        )
    return assemble(spec.sensor_id, spec.nation, "radar", site, rot, parts, 3)
