"""Simulate a scenario: design every flight, then let every sensor look at them.

Truth comes from :func:`trilink.physics.design_flight` (one call per launch, so each
flight hits its requested impact point and apogee); what the sensors report comes from
:func:`trilink.sensors.observe_all` over ``[start, end]``. Both are looked up on their
modules at call time, which keeps this module importable on its own and lets tests
substitute them.

The run ends at ``start + duration_s`` when the scenario says so, otherwise
:data:`END_MARGIN_S` after the last impact (so sensors report the last fall and a few
scans of clutter after it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trilink import physics, sensors
from trilink.errors import ScenarioError, TrajectoryInfeasible
from trilink.physics.truth import Trajectory
from trilink.scenario.model import LaunchSpec, Scenario
from trilink.sensors.detection import Detections

END_MARGIN_S = 60.0
FLIGHT_DT_S = 0.5  # truth sample step: Hermite interpolation between samples is exact
# to O(dt^4) in position, far below any sensor's noise at this step.

Progress = Callable[[str, int, int], None]
"""``progress(what, done, total)``: called before each step and once at the end."""


@dataclass(frozen=True)
class SimulationResult:
    """Truth and detections of one run. ``detections`` has one batch per sensor."""

    scenario: Scenario
    trajectories: tuple[Trajectory, ...]
    detections: tuple[Detections, ...]
    t_start_ns: int
    t_end_ns: int
    seed: int


def design(launch: LaunchSpec) -> Trajectory:
    """The truth flight of one launch (raises TrajectoryInfeasible)."""
    return physics.design_flight(
        launch.launch_lat_rad,
        launch.launch_lon_rad,
        impact_lat_rad=launch.impact_lat_rad,
        impact_lon_rad=launch.impact_lon_rad,
        azimuth_rad=launch.azimuth_rad,
        range_m=launch.range_m,
        apogee_m=launch.apogee_m,
        missile_class=launch.missile_class,
        launch_t_ns=launch.launch_t_ns,
        missile_id=launch.id,
        dt_s=FLIGHT_DT_S,
    )


def end_time_ns(scenario: Scenario, trajectories: tuple[Trajectory, ...]) -> int:
    """When the run stops: the declared duration, or the last impact plus a margin."""
    if scenario.duration_s is not None:
        return scenario.start_t_ns + round(scenario.duration_s * 1e9)
    last = max((t.impact_t_ns for t in trajectories), default=scenario.start_t_ns)
    return last + round(END_MARGIN_S * 1e9)


def simulate(
    scenario: Scenario, *, seed: int | None = None, progress: Progress | None = None
) -> SimulationResult:
    """Fly every launch and observe it with every sensor.

    ``seed`` overrides the scenario's. Flights the missile class cannot fly are all
    reported at once as a ScenarioError with paths ``launches[i]``.
    """
    run_seed = scenario.seed if seed is None else seed
    total = len(scenario.launches) + 1
    trajectories: list[Trajectory] = []
    problems: list[tuple[str, str]] = []
    for i, launch in enumerate(scenario.launches):
        if progress:
            progress(f"flight {launch.id}", i, total)
        try:
            trajectories.append(design(launch))
        except TrajectoryInfeasible as exc:
            problems.append((f"launches[{i}]", f"{launch.id}: {exc.reason}"))
    if problems:
        raise ScenarioError(scenario.source, problems)

    flights = tuple(trajectories)
    t_end = end_time_ns(scenario, flights)
    if progress:
        progress(f"{len(scenario.sensors)} sensors", total - 1, total)
    detections = sensors.observe_all(
        list(scenario.sensors), list(flights), scenario.start_t_ns, t_end, run_seed
    )
    if progress:
        progress("done", total, total)
    return SimulationResult(
        scenario=scenario,
        trajectories=flights,
        detections=tuple(detections),
        t_start_ns=scenario.start_t_ns,
        t_end_ns=t_end,
        seed=run_seed,
    )


def first_detections(result: SimulationResult) -> dict[str, dict[str, tuple[int, str]]]:
    """For each missile and nation: the time (UTC ns) and sensor of its first report.

    Reads ``truth_id``, so it is for evaluation and summaries only, never for trackers.
    """
    first: dict[str, dict[str, tuple[int, str]]] = {t.missile_id: {} for t in result.trajectories}
    for det in result.detections:
        for missile_id, seen in first.items():
            mask = det.truth_id == missile_id
            if not mask.any():
                continue
            t = int(det.t_ns[mask].min())
            if det.nation not in seen or t < seen[det.nation][0]:
                seen[det.nation] = (t, det.sensor_id)
    return first
