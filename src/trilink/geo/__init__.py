"""Geodesy on WGS84: frames, geodesics, refracted line of sight, measurement models.

Shapes are (..., 3) with components last; SI units and radians throughout.
"""

from trilink.geo.frames import (
    aer_to_ecef,
    aer_to_enu,
    earth_rotation_angle,
    ecef_to_aer,
    ecef_to_eci,
    ecef_to_enu,
    ecef_to_geodetic,
    ecef_vector_to_enu,
    eci_to_ecef,
    enu_rotation,
    enu_to_aer,
    enu_to_ecef,
    enu_vector_to_ecef,
    geodetic_to_ecef,
)
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.geo.horizon import (
    apparent_elevation,
    gaussian_radius,
    horizon_height,
    in_line_of_sight,
)
from trilink.geo.measure import (
    az_el,
    az_el_jacobian,
    boresight_frame,
    range_az_el,
    range_az_el_jacobian,
    wrap_angle,
)

__all__ = [
    "aer_to_ecef",
    "aer_to_enu",
    "apparent_elevation",
    "az_el",
    "az_el_jacobian",
    "boresight_frame",
    "earth_rotation_angle",
    "ecef_to_aer",
    "ecef_to_eci",
    "ecef_to_enu",
    "ecef_to_geodetic",
    "ecef_vector_to_enu",
    "eci_to_ecef",
    "enu_rotation",
    "enu_to_aer",
    "enu_to_ecef",
    "enu_vector_to_ecef",
    "gaussian_radius",
    "geodesic_direct",
    "geodesic_inverse",
    "geodetic_to_ecef",
    "horizon_height",
    "in_line_of_sight",
    "range_az_el",
    "range_az_el_jacobian",
    "wrap_angle",
]
