"""Sensor models: what radars and infrared satellites report about truth trajectories.

Pure functions of (spec, trajectories, time window, random generator) returning one
:class:`Detections` batch per sensor. ``observe_all`` gives each sensor its own
reproducible random stream. See docs/sensors.md for the models and their references.
"""

from trilink.sensors.detection import Detections
from trilink.sensors.infrared import (
    GEO_RADIUS_M,
    earth_blocks,
    infrared_frame,
    observe_infrared,
    plume_visible,
)
from trilink.sensors.observe import observe, observe_all, sensor_rng
from trilink.sensors.radar import (
    coverage_area_rad2,
    false_alarm_density,
    in_coverage,
    observe_radar,
    radar_sigmas,
    radar_site,
    snr_db,
)
from trilink.sensors.specs import (
    DEFAULT_MIN_PLUME_ALTITUDE_M,
    Face,
    InfraredSatelliteSpec,
    RadarSpec,
    SensorSpec,
)
from trilink.sensors.swerling import albersheim_snr_db, detection_threshold, pd_swerling

__all__ = [
    "DEFAULT_MIN_PLUME_ALTITUDE_M",
    "GEO_RADIUS_M",
    "Detections",
    "Face",
    "InfraredSatelliteSpec",
    "RadarSpec",
    "SensorSpec",
    "albersheim_snr_db",
    "coverage_area_rad2",
    "detection_threshold",
    "earth_blocks",
    "false_alarm_density",
    "in_coverage",
    "infrared_frame",
    "observe",
    "observe_all",
    "observe_infrared",
    "observe_radar",
    "pd_swerling",
    "plume_visible",
    "radar_sigmas",
    "radar_site",
    "sensor_rng",
    "snr_db",
]
