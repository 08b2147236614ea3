"""Sensor descriptions: plain, frozen data read from scenario files.

Angles are radians and distances metres here; scenario files speak degrees and
kilometres, and the scenario loader converts at the edge. Nothing in this module is a
real radar's classified parameter: every number comes from the scenario.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Face:
    """One array face: boresight azimuth and tilt, and its field-of-view half-angles.

    A target is inside the face when its azimuth off boresight is within
    ``half_width_az_rad`` and its elevation off the face's tilt within
    ``half_width_el_rad`` (an electronically scanned array's coverage, simplified to a
    rectangle in azimuth/elevation).
    """

    boresight_az_rad: float
    tilt_rad: float
    half_width_az_rad: float
    half_width_el_rad: float


@dataclass(frozen=True)
class RadarSpec:
    """A ground (or ship) radar.

    Detection follows the radar range equation: ``SNR = ref_snr_db + 10 log10(rcs /
    ref_rcs_m2) - 40 log10(range / ref_range_m)``; Pd from SNR for the Swerling model
    (0-4) at probability of false alarm ``pfa``; angle and range noise grow as
    ``1 / sqrt(SNR)`` from their values at ``ref_snr_db``, never below the floors.
    ``faces`` empty means full 360-degree coverage.
    """

    sensor_id: str
    nation: str
    lat_rad: float
    lon_rad: float
    height_m: float
    faces: tuple[Face, ...]
    min_elevation_rad: float
    max_elevation_rad: float
    max_range_m: float
    ref_range_m: float
    ref_snr_db: float
    ref_rcs_m2: float
    swerling: int
    pfa: float
    range_sigma_m: float
    angle_sigma_rad: float
    range_sigma_floor_m: float
    angle_sigma_floor_rad: float
    revisit_s: float
    false_alarms_per_scan: float
    kind: str = "radar"


@dataclass(frozen=True)
class InfraredSatelliteSpec:
    """A geostationary infrared early-warning sensor: angles only, burning stages only.

    ``aim_lat_rad``/``aim_lon_rad`` is the stare point (the centre of its field of regard);
    ``field_of_regard_rad`` the half-angle around it; ``angle_sigma_rad`` the one-sigma
    line-of-sight noise per axis; ``pd`` the probability of detecting a burning stage in
    the field of regard at each revisit.
    """

    sensor_id: str
    nation: str
    sub_lon_rad: float
    aim_lat_rad: float
    aim_lon_rad: float
    field_of_regard_rad: float
    angle_sigma_rad: float
    revisit_s: float
    pd: float
    false_alarms_per_scan: float
    kind: str = "ir"


SensorSpec = RadarSpec | InfraredSatelliteSpec
