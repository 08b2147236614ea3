"""Scenario files: nations, sensors, launches and links as data, validated at the edge.

Public API::

    load_scenario(path_or_name) -> Scenario       # a path, or a built-in name ("korea-japan")
    parse_scenario(toml_dict, source) -> Scenario
    builtin_names() -> list[str]
    simulate(scenario, *, seed=None, progress=None) -> SimulationResult

The file format is in ``docs/scenario.md``.
"""

from trilink.scenario.loader import builtin_names, builtin_path, load_scenario, parse_scenario
from trilink.scenario.model import LaunchSite, LaunchSpec, Link, Nation, Scenario
from trilink.scenario.simulate import SimulationResult, simulate

__all__ = [
    "LaunchSite",
    "LaunchSpec",
    "Link",
    "Nation",
    "Scenario",
    "SimulationResult",
    "builtin_names",
    "builtin_path",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
