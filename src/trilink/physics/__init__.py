"""Flight physics: gravity, atmosphere, propagation, boost, trajectory design, truth.

The public surface others code against: :func:`design_flight`, :data:`MISSILE_CLASSES`,
:class:`MissileClass`, :class:`Stage`, :class:`Trajectory`.
"""

from trilink.physics.design import design_flight
from trilink.physics.rocket import MISSILE_CLASSES, MissileClass, Stage
from trilink.physics.truth import Trajectory

__all__ = ["MISSILE_CLASSES", "MissileClass", "Stage", "Trajectory", "design_flight"]
