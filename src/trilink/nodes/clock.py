"""Clocks: the one place services learn what time it is.

Time on the wire and in services is integer nanoseconds since the Unix epoch, UTC. A
:class:`SimClock` is advanced by the simulation runtime (as fast as the CPU allows); a
:class:`WallClock` reads the system clock, optionally offset and sped up so that a live
run can replay a scenario whose start time is not now.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep_until(self, t_ns: int) -> None: ...


class SimClock:
    """Simulated time; only the runtime moves it, and only forward."""

    def __init__(self, start_ns: int):
        self._t = int(start_ns)

    def now_ns(self) -> int:
        return self._t

    def advance_to(self, t_ns: int) -> None:
        if t_ns < self._t:
            raise ValueError(f"simulated time cannot run backwards ({t_ns} < {self._t})")
        self._t = int(t_ns)

    async def sleep_until(self, t_ns: int) -> None:
        self.advance_to(max(self._t, t_ns))


class WallClock:
    """Scenario time mapped onto the wall clock: ``scenario = start + speed * (wall - t0)``."""

    def __init__(
        self,
        scenario_start_ns: int | None = None,
        speed: float = 1.0,
        wall_start_ns: int | None = None,
    ):
        # wall_start_ns: the wall time at which the scenario starts; processes given the
        # same value share one scenario clock (``trilink up`` hands it to every node).
        self._wall0 = time.time_ns() if wall_start_ns is None else int(wall_start_ns)
        self._start = self._wall0 if scenario_start_ns is None else int(scenario_start_ns)
        self._speed = float(speed)

    def now_ns(self) -> int:
        return self._start + int((time.time_ns() - self._wall0) * self._speed)

    async def sleep_until(self, t_ns: int) -> None:
        delay_s = (t_ns - self.now_ns()) / 1e9 / self._speed
        if delay_s > 0:
            await asyncio.sleep(delay_s)
