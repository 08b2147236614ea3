"""WGS84 defining and derived constants (NIMA TR8350.2, 3rd ed., tables 3.1-3.3).

All SI: metres, seconds, radians.
"""

from __future__ import annotations

import math

A = 6_378_137.0  # semi-major axis [m]
INV_F = 298.257_223_563  # inverse flattening
F = 1.0 / INV_F  # flattening
B = A * (1.0 - F)  # semi-minor axis [m]
E2 = F * (2.0 - F)  # first eccentricity squared
EP2 = E2 / (1.0 - E2)  # second eccentricity squared
GM = 3.986_004_418e14  # Earth's gravitational parameter [m^3 s^-2]
OMEGA = 7.292_115e-5  # Earth's rotation rate [rad s^-1]
J2 = 1.082_63e-3  # second zonal harmonic (unnormalised)
R_MEAN = (2.0 * A + B) / 3.0  # mean radius R1 [m]
K_REFRACTION = 4.0 / 3.0  # standard-atmosphere effective-Earth factor for radar
G0 = 9.806_65  # standard gravity [m s^-2] (for specific impulse)
DEG = math.pi / 180.0
