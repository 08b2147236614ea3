"""Flight physics: gravity, atmosphere, propagation, boost, trajectory design, truth.

The public surface others code against: :func:`design_flight` (one flight),
:func:`design_flights` with :class:`FlightRequest` (many at once, faster per flight),
:data:`MISSILE_CLASSES`, :class:`MissileClass`, :class:`Stage`, :class:`Trajectory`.
"""

from trilink.physics.design import FlightRequest, design_flight, design_flights
from trilink.physics.rocket import MISSILE_CLASSES, MissileClass, Stage
from trilink.physics.truth import Trajectory

__all__ = [
    "MISSILE_CLASSES",
    "FlightRequest",
    "MissileClass",
    "Stage",
    "Trajectory",
    "design_flight",
    "design_flights",
]
