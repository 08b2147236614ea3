"""Monte Carlo trials of what the link is worth: one seeded trial, and many in parallel.

A trial is one configuration (:mod:`trilink.evaluate.configs`) of one perturbed copy of
a scenario under one seed:

* the seed is the sensors' seed (measurement noise, detection draws, false alarms:
  :func:`trilink.scenario.simulate`);
* the same seed draws the launch perturbations (:func:`perturb`): a launch-time shift
  uniform in ``[-launch_time_s, +launch_time_s]``, a launch point uniform over a disc of
  radius ``site_spread_m`` (geodesic offset), an azimuth shift uniform in
  ``[-azimuth_spread_rad, +azimuth_spread_rad]``.

Trials of different configurations under the same seed therefore fly the same missiles
past the same noise (common random numbers), so the warning seconds gained by a link are
differences of paired trials, not of two noisy means. With ``warnings`` (the default)
the warning rules run in every configuration: linked at the hub, alone in each national
node over its own tracks (``NationalNode.own_warner``), so the first threat alert is
measured alone too.

:func:`run_trial` returns a :class:`TrialResult` of plain dicts and float32 arrays
(picklable, ~20 kB for the SRBM salvo) for the summary (:mod:`trilink.evaluate.mc_summary`)
and the report (:mod:`trilink.evaluate.report`). :func:`run_trials` runs many over local
processes (:class:`concurrent.futures.ProcessPoolExecutor`) or a Dask cluster
(``dask.distributed``, the optional ``dask`` extra).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trilink.evaluate import mc_extract as mx
from trilink.evaluate.configs import CONFIGS, configure
from trilink.evaluate.mc_probe import attach, probe_of
from trilink.evaluate.timeline import build_timeline
from trilink.geo.frames import ecef_to_geodetic
from trilink.geo.geodesic import geodesic_direct, geodesic_inverse
from trilink.link.signing import trust_own_signatures
from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.scenario.model import Scenario, thaw
from trilink.scenario.simulate import simulate

NS = 1_000_000_000
GROUND_TRACK_POINTS = 64
_JITTER_STREAM = 0x6A6974  # separates the perturbation stream from the sensors' stream


@dataclass(frozen=True)
class Jitter:
    """Per-trial launch perturbations (SI and radians; see the module docstring)."""

    launch_time_s: float = 0.0
    site_spread_m: float = 0.0
    azimuth_spread_rad: float = 0.0

    def to_json(self) -> dict[str, float]:
        return {
            "launch_time_s": self.launch_time_s,
            "site_spread_km": self.site_spread_m / 1e3,
            "azimuth_spread_deg": math.degrees(self.azimuth_spread_rad),
        }


def perturb(scenario: Scenario, seed: int, jitter: Jitter) -> Scenario:
    """The scenario with every launch perturbed by ``jitter`` under ``seed``.

    Four uniforms are drawn per launch whatever the jitter, so a launch's draws do not
    depend on which spreads are on. A launch aimed at a point keeps its aim point when
    only its site moves; with an azimuth spread it becomes an azimuth-and-range launch
    (the true geodesic azimuth and range from the new site, then the shift).
    """
    rng = np.random.default_rng([seed, _JITTER_STREAM])
    u = rng.uniform(size=(len(scenario.launches), 4))
    out = []
    for launch, (ut, ur, ub, ua) in zip(scenario.launches, u, strict=True):
        dt_ns = round((2 * ut - 1) * jitter.launch_time_s * NS)
        lat, lon = launch.launch_lat_rad, launch.launch_lon_rad
        if jitter.site_spread_m > 0:
            lat_a, lon_a = geodesic_direct(
                lat, lon, 2 * math.pi * ub, jitter.site_spread_m * math.sqrt(ur)
            )
            lat, lon = float(lat_a), float(lon_a)
        changes: dict[str, Any] = {
            "launch_t_ns": launch.launch_t_ns + dt_ns, "launch_lat_rad": lat, "launch_lon_rad": lon,
        }  # fmt: skip
        if jitter.azimuth_spread_rad > 0:
            if launch.impact_lat_rad is not None and launch.impact_lon_rad is not None:
                rng_m, az, _ = geodesic_inverse(
                    lat, lon, launch.impact_lat_rad, launch.impact_lon_rad
                )
                changes |= {
                    "range_m": float(rng_m), "azimuth_rad": float(az),
                    "impact_lat_rad": None, "impact_lon_rad": None,
                }  # fmt: skip
            base = float(changes.get("azimuth_rad", launch.azimuth_rad or 0.0))
            changes["azimuth_rad"] = base + (2 * ua - 1) * jitter.azimuth_spread_rad
        out.append(dataclasses.replace(launch, **changes))
    return dataclasses.replace(scenario, launches=tuple(out))


@dataclass(frozen=True)
class TrialResult:
    """One trial's measures (plain values; arrays are float32).

    ``missiles[id]``: class, launch time (UTC ns), flight time, launch and impact point
    (degrees), a ground track (N, 2) [lat, lon] degrees.
    ``partners[nation][missile id]``: the five first-times (s after launch, NaN never)
    and the error series of :func:`trilink.evaluate.mc_extract.point_errors`.
    ``siap[nation]["own"|"link"]``: :func:`~trilink.evaluate.mc_extract.continuity`.
    ``latency_ms[nation][class or "all"]``: {ms: count} of received SystemTracks.
    ``extra["link"]``: the simulated link's one-way latency and its jitter (s).
    ``wall_s`` and ``extra["cpu_s"]``: the trial's wall and CPU time (the CPU time of
    the whole process: exact in a process worker, shared on a threaded Dask worker).
    """

    scenario: str
    config: str
    seed: int
    jitter: dict[str, float]
    missiles: dict[str, dict[str, Any]]
    partners: dict[str, dict[str, dict[str, Any]]]
    siap: dict[str, dict[str, dict[str, Any]]]
    latency_ms: dict[str, dict[str, dict[int, int]]]
    messages: int = 0
    bytes: int = 0
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def trial_to_json(value: Any) -> Any:
    """A TrialResult (or any part of one) as JSON values: arrays become lists, NaN and
    infinities become None, keys become strings. Equal trials give equal JSON."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: trial_to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): trial_to_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return trial_to_json(value.tolist())
    if isinstance(value, list | tuple):
        return [trial_to_json(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _warner_factory() -> Callable[[Scenario], Any] | None:
    try:
        from trilink.nodes.warnings import make_warner
    except ImportError:  # the hub's warning rules are optional for an evaluation
        return None
    return make_warner


def _missile_info(traj: Any) -> dict[str, Any]:
    lla = ecef_to_geodetic(traj.r_ecef_m)
    idx = np.unique(np.linspace(0, len(traj.t_ns) - 1, GROUND_TRACK_POINTS).round().astype(int))
    return {
        "class": traj.missile_class,
        "launch_t_ns": traj.launch_t_ns,
        "flight_s": (traj.impact_t_ns - traj.launch_t_ns) / NS,
        "launch_deg": (math.degrees(lla[0, 0]), math.degrees(lla[0, 1])),
        "impact_deg": (math.degrees(lla[-1, 0]), math.degrees(lla[-1, 1])),
        "apogee_km": float(np.max(lla[:, 2]) / 1e3),
        "ground_track_deg": np.degrees(lla[idx, :2]).astype(np.float32),
    }


def run_trial(
    scenario: Scenario,
    config_name: str,
    seed: int,
    jitter: Jitter = Jitter(),
    *,
    warnings: bool = True,
    run_config: RunConfig | None = None,
) -> TrialResult:
    """Perturb, configure, simulate and run one trial; measure it against truth."""
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    sc, link = configure(perturb(scenario, seed, jitter), config_name)
    sim = simulate(sc, seed=seed)
    cfg = dataclasses.replace(run_config or RunConfig(), link=link, record_dir=None)
    # The warning rules: linked, the hub's; alone, each node's over its own tracks, so that
    # the first threat alert is measured in every configuration.
    factory = _warner_factory() if warnings else None
    # Every node of the trial runs here: a signature made here is known good without the
    # curve arithmetic (trust_own_signatures); the same messages are admitted.
    with trust_own_signatures():
        result = run_simulation(sc, sim, cfg, warner_factory=factory, on_node=attach)
    truths = sim.trajectories
    timeline = build_timeline(
        truths,
        sim.detections,
        {n: node.events for n, node in result.nodes.items()},  # type: ignore[misc]
    )
    t_first = min(t.launch_t_ns for t in truths)
    t_last = min(max(t.impact_t_ns for t in truths), sim.t_end_ns)
    classes = [t.missile_class for t in truths]
    partners: dict[str, dict[str, dict[str, Any]]] = {}
    siap: dict[str, dict[str, dict[str, Any]]] = {}
    latency: dict[str, dict[str, dict[int, int]]] = {}
    for nation, node in result.nodes.items():
        probe = probe_of(node)
        own, rec = probe.own(), probe.received()
        own_m = mx.assign_missiles(own.x, own.t_ns, truths, mx.ASSOCIATION_GATE_M)
        rec_m = mx.assign_missiles(rec.x, rec.t_ns, truths, mx.ASSOCIATION_GATE_M)
        per: dict[str, dict[str, Any]] = {}
        for j, traj in enumerate(truths):
            span_s = (min(traj.impact_t_ns, sim.t_end_ns) - traj.launch_t_ns) / NS
            errs = mx.point_errors(
                own.take(own_m == j), rec.take(rec_m == j), traj, mx.mark_grid(span_s)
            )
            per[traj.missile_id] = {**mx.times(timeline, nation, traj), **errs}
        partners[nation] = per
        siap[nation] = {"own": mx.continuity(own, truths, t_first, t_last)}
        if link:
            siap[nation]["link"] = mx.continuity(rec, truths, t_first, t_last)
        latency[nation] = mx.latency_histogram(rec, rec_m, classes)
    return TrialResult(
        scenario=scenario.name,
        config=config_name,
        seed=int(seed),
        jitter=jitter.to_json(),
        missiles={t.missile_id: _missile_info(t) for t in truths},
        partners=partners,
        siap=siap,
        latency_ms=latency,
        messages=result.messages,
        bytes=result.bytes,
        wall_s=time.perf_counter() - t_wall,
        extra={
            "cpu_s": time.process_time() - t_cpu,
            "link": {"latency_s": cfg.latency_s, "latency_jitter_s": cfg.latency_jitter_s},
        },
    )


# --- many trials -------------------------------------------------------------------------


def scenario_payload(scenario: Scenario) -> dict[str, Any]:
    """The scenario's fields as picklable values (its policy table is a read-only mapping
    proxy, which pickle refuses); :func:`scenario_from_payload` rebuilds it."""
    fields = {f.name: getattr(scenario, f.name) for f in dataclasses.fields(scenario)}
    fields["policy"] = thaw(scenario.policy)
    return fields


def scenario_from_payload(payload: Mapping[str, Any]) -> Scenario:
    return Scenario(**payload)


@dataclass(frozen=True)
class TrialTask:
    """Everything a worker needs for one trial (picklable)."""

    scenario: dict[str, Any]
    config: str
    seed: int
    jitter: Jitter
    warnings: bool = True
    run_config: RunConfig | None = None


def run_task(task: TrialTask) -> TrialResult:
    """The worker's entry point (module level, so processes and Dask can import it)."""
    return run_trial(
        scenario_from_payload(task.scenario), task.config, task.seed, task.jitter,
        warnings=task.warnings, run_config=task.run_config,
    )  # fmt: skip


Progress = Callable[[int, int], None]
"""``progress(done, total)`` after each finished trial."""


def run_trials(
    scenario: Scenario,
    configs: Sequence[str],
    seeds: Sequence[int],
    jitter: Jitter = Jitter(),
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    warnings: bool = True,
    run_config: RunConfig | None = None,
) -> list[TrialResult]:
    """Every configuration under every seed: on ``jobs`` local processes (default: one
    per core; 1 runs here, in this process) or on the Dask scheduler at ``scheduler``.
    Results come back ordered by seed, then configuration."""
    for c in configs:
        configure(scenario, c)  # an unknown name fails here, before any work starts
    payload = scenario_payload(scenario)
    tasks = [
        TrialTask(payload, c, int(s), jitter, warnings, run_config) for s in seeds for c in configs
    ]
    if scheduler is not None:
        results = _run_dask(tasks, scheduler, progress)
    elif (jobs or os.cpu_count() or 1) <= 1 or len(tasks) <= 1:
        results = []
        for k, task in enumerate(tasks):
            results.append(run_task(task))
            if progress:
                progress(k + 1, len(tasks))
    else:
        results = _run_pool(tasks, jobs or os.cpu_count() or 1, progress)
    order = {c: i for i, c in enumerate(CONFIGS)}
    return sorted(results, key=lambda r: (r.seed, order.get(r.config, len(order))))


def _run_pool(tasks: list[TrialTask], jobs: int, progress: Progress | None) -> list[TrialResult]:
    # "spawn": a clean interpreter per worker; forking a parent that runs threads (the
    # progress display, a Dask client) can copy a held lock into the child.
    ctx = multiprocessing.get_context("spawn")
    out: list[TrialResult] = []
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx) as pool:
        futures = [pool.submit(run_task, t) for t in tasks]
        for fut in as_completed(futures):
            out.append(fut.result())
            if progress:
                progress(len(out), len(tasks))
    return out


def _run_dask(tasks: list[TrialTask], address: str, progress: Progress | None) -> list[TrialResult]:
    try:
        from distributed import Client
        from distributed import as_completed as dask_completed
    except ImportError as exc:  # the optional extra
        raise RuntimeError(
            "--scheduler needs dask.distributed: pip install 'trilink[dask]'"
        ) from exc
    out: list[TrialResult] = []
    with Client(address) as client:
        futures = client.map(run_task, tasks, pure=False)
        for fut in dask_completed(futures):
            out.append(fut.result())
            if progress:
                progress(len(out), len(tasks))
    return out
