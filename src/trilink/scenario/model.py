"""The loaded scenario: frozen values in SI units and radians.

A scenario file speaks degrees, kilometres and seconds after the start; the loader
(:mod:`trilink.scenario.loader`) converts at that edge into these dataclasses, so nothing
downstream ever sees a degree. Times are integer nanoseconds since the Unix epoch, UTC.
Sensors are the :mod:`trilink.sensors.specs` dataclasses themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from trilink.sensors.specs import SensorSpec

HUB_ROLE = "hub"
PARTNER_ROLE = "partner"
NATION_ROLES = (HUB_ROLE, PARTNER_ROLE)


@dataclass(frozen=True)
class Nation:
    """A member of the coalition: ``id`` (e.g. ``"KOR"``) names its node and subjects."""

    id: str
    name: str
    role: str  # "hub" | "partner"


@dataclass(frozen=True)
class LaunchSite:
    """A named launch area (its coordinates are scenario data, never code constants)."""

    id: str
    lat_rad: float
    lon_rad: float


@dataclass(frozen=True)
class LaunchSpec:
    """One missile launch, as the physics room's ``design_flight`` wants it.

    Exactly one of (``impact_lat_rad``, ``impact_lon_rad``) and (``azimuth_rad``,
    ``range_m``) is set; ``apogee_m`` is ``None`` for a minimum-energy flight.
    ``launch_t_ns`` is absolute (UTC ns), i.e. the scenario start plus ``time_s``.
    """

    id: str
    missile_class: str
    launch_lat_rad: float
    launch_lon_rad: float
    launch_t_ns: int
    impact_lat_rad: float | None = None
    impact_lon_rad: float | None = None
    azimuth_rad: float | None = None
    range_m: float | None = None
    apogee_m: float | None = None
    site: str | None = None

    @property
    def aimed_at_point(self) -> bool:
        return self.impact_lat_rad is not None


@dataclass(frozen=True)
class Link:
    """A (bidirectional) link between a partner's node and the hub."""

    a: str
    b: str

    def joins(self, nation: str) -> bool:
        return nation in (self.a, self.b)


def _freeze(table: Any) -> Any:
    """A read-only deep copy of a TOML table: tables become read-only mappings.

    Arrays stay ``list`` (copied), the type TOML readers check for, so the policy room
    reads ``Scenario.policy`` exactly as it reads a freshly parsed file.
    """
    if isinstance(table, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in table.items()})
    if isinstance(table, list | tuple):
        return [_freeze(v) for v in table]
    return table


def thaw(table: Any) -> Any:
    """The inverse of the freezing: a plain (mutable, picklable, JSON-ready) deep copy of
    a frozen TOML table such as ``Scenario.policy``."""
    if isinstance(table, Mapping):
        return {k: thaw(v) for k, v in table.items()}
    if isinstance(table, list | tuple):
        return [thaw(v) for v in table]
    return table


@dataclass(frozen=True)
class Scenario:
    """Everything a run needs: who, with which sensors, sees which launches, linked how.

    ``duration_s`` ``None`` means "until the last impact plus a margin" (decided by
    :func:`trilink.scenario.simulate.simulate`, which knows the flight times).
    ``policy`` is the ``[policy]`` table as parsed (read-only mappings), for
    :meth:`trilink.policy.Policy.from_table`; the loader has already checked that it
    builds and names only declared nations.
    ``source`` is how the scenario was named (a path or a built-in name), for messages.
    """

    name: str
    description: str
    start_t_ns: int
    seed: int
    duration_s: float | None
    nations: tuple[Nation, ...]
    sensors: tuple[SensorSpec, ...]
    launch_sites: tuple[LaunchSite, ...]
    launches: tuple[LaunchSpec, ...]
    links: tuple[Link, ...]
    policy: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", _freeze(dict(self.policy)))

    @property
    def hub(self) -> Nation:
        return next(n for n in self.nations if n.role == HUB_ROLE)

    @property
    def partners(self) -> tuple[Nation, ...]:
        return tuple(n for n in self.nations if n.role == PARTNER_ROLE)

    def nation(self, nation_id: str) -> Nation:
        for n in self.nations:
            if n.id == nation_id:
                return n
        raise KeyError(nation_id)

    def sensors_of(self, nation_id: str) -> tuple[SensorSpec, ...]:
        return tuple(s for s in self.sensors if s.nation == nation_id)

    def linked(self, a: str, b: str) -> bool:
        """Whether nations ``a`` and ``b`` have a direct link."""
        return any(link.joins(a) and link.joins(b) for link in self.links)
