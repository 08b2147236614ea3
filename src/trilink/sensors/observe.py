"""Observe a set of trajectories with a set of sensors, each on its own random stream.

Each sensor draws from a generator seeded by ``SeedSequence([seed, *words])`` where the
words are a stable digest (BLAKE2b) of the sensor id: the same scenario and seed give
the same detections on any machine and Python process (unlike ``hash()``, which is
salted per process), and adding, removing or reordering sensors does not change what
the others see.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from trilink.physics.truth import Trajectory
from trilink.sensors.detection import Detections
from trilink.sensors.infrared import observe_infrared
from trilink.sensors.radar import observe_radar
from trilink.sensors.specs import InfraredSatelliteSpec, RadarSpec, SensorSpec


def sensor_rng(seed: int, sensor_id: str) -> np.random.Generator:
    """The sensor's own generator: independent across ids, reproducible across runs."""
    digest = hashlib.blake2b(sensor_id.encode("utf-8"), digest_size=16).digest()
    words = np.frombuffer(digest, dtype="<u4").tolist()
    return np.random.default_rng(np.random.SeedSequence([int(seed), *words]))


def observe(
    spec: SensorSpec,
    trajectories: Sequence[Trajectory],
    t_start_ns: int,
    t_end_ns: int,
    rng: np.random.Generator,
) -> Detections:
    """All reports of one sensor in [t_start, t_end], dispatched on the spec's type."""
    if isinstance(spec, RadarSpec):
        return observe_radar(spec, trajectories, t_start_ns, t_end_ns, rng)
    if isinstance(spec, InfraredSatelliteSpec):
        return observe_infrared(spec, trajectories, t_start_ns, t_end_ns, rng)
    raise TypeError(f"no sensor model for {type(spec).__name__}")


def observe_all(
    specs: Sequence[SensorSpec],
    trajectories: Sequence[Trajectory],
    t_start_ns: int,
    t_end_ns: int,
    seed: int,
) -> list[Detections]:
    """One batch per sensor, in the order of ``specs``; sensor ids must be unique."""
    ids = [s.sensor_id for s in specs]
    if len(set(ids)) != len(ids):
        raise ValueError(f"sensor ids must be unique: {ids}")
    return [
        observe(s, trajectories, t_start_ns, t_end_ns, sensor_rng(seed, s.sensor_id)) for s in specs
    ]
