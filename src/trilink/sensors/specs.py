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


DEFAULT_MIN_PLUME_ALTITUDE_M = 3_000.0
"""Geodetic height [m] below which a geostationary warning sensor does not see a plume.

Missile-warning sensors look in infrared bands that water vapour absorbs (the 2.7 um
band of DSP/SBIRS: Forden, "SBIRS -- Signal and Background", Arms Control Wonk), so the
ground and the low atmosphere are hidden, and clouds hide whatever is beneath them.
About half of the atmosphere's water vapour lies below 2 km (AMS Glossary of
Meteorology, "water vapor"); low clouds have their tops below the 680 hPa level (ISCCP
cloud-top-pressure classes), 3.24 km in the US Standard Atmosphere 1976, middle clouds
below 440 hPa (6.5 km). 3 km -- the top of the low-cloud layer, above most of the water
vapour -- is the default; a scenario may set more (a middle-cloud deck, a humid summer)
or less. docs/sensors.md gives the reasoning and the references.
"""


@dataclass(frozen=True)
class InfraredSatelliteSpec:
    """A geostationary infrared early-warning sensor: angles only, burning stages only.

    ``aim_lat_rad``/``aim_lon_rad`` is the stare point (the centre of its field of regard);
    ``field_of_regard_rad`` the half-angle around it; ``angle_sigma_rad`` the one-sigma
    line-of-sight noise per axis; ``pd`` the probability of detecting a burning stage in
    the field of regard at each revisit; ``min_plume_altitude_m`` the geodetic height
    below which a plume is hidden (absorbed by water vapour, or under cloud): see
    :data:`DEFAULT_MIN_PLUME_ALTITUDE_M`.
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
    min_plume_altitude_m: float = DEFAULT_MIN_PLUME_ALTITUDE_M
    kind: str = "ir"


SensorSpec = RadarSpec | InfraredSatelliteSpec
