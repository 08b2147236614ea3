"""What the live commands (``trilink hub``, ``node``, ``up``, ``keys init``, ``replay``)
share: the one-line error with exit code 2, loading the scenario (and simulating it), the
node's signing identity, the wall time the scenario starts at, and the metrics endpoint's
options of the long-running services (``hub``, ``node``)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from trilink.errors import DeployError, ScenarioError

if TYPE_CHECKING:  # the commands import the heavy modules when they run, not at --help
    from trilink.nodes.coalition import Identity
    from trilink.nodes.metrics import HubCollector, NationalCollector
    from trilink.nodes.metrics_http import MetricsServer
    from trilink.scenario.model import Scenario
    from trilink.scenario.simulate import SimulationResult

err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print ``message`` on stderr as one plain line; the exit (code 2) to raise."""
    err.print(message, markup=False, highlight=False)
    return typer.Exit(2)


def load(scenario: str) -> Scenario:
    """The scenario (file or built-in name); exit 2 with its problems if it does not load."""
    from trilink.scenario import load_scenario

    try:
        return load_scenario(scenario)
    except ScenarioError as exc:
        raise fail(str(exc)) from None


def load_and_simulate(scenario: str, seed: int | None) -> tuple[Scenario, SimulationResult]:
    """The scenario and its simulation (``seed`` None: the scenario's own)."""
    from trilink.scenario.simulate import simulate

    sc = load(scenario)
    try:
        return sc, simulate(sc, seed=seed)
    except ScenarioError as exc:
        raise fail(str(exc)) from None


def identity(keys: Path | None, scenario: Scenario, seed: int, node: str) -> Identity:
    """``node``'s signing identity: its key from ``keys`` (``trilink keys init``), or, with
    no directory, the simulation keys every process derives alike from the seed (demo)."""
    from trilink.nodes.coalition import Identity

    if keys is None:
        err.print(
            f"{node}: signing with simulation keys derived from the scenario seed (demo only; use --keys DIR)"
        )
        return Identity.simulated(scenario, seed)
    try:
        return Identity.load(keys, node)
    except DeployError as exc:
        raise fail(f"{exc.what}: {exc.reason}") from None


def start_wall_ns(start_at: float | None) -> int:
    """The wall time (Unix ns) at which the scenario starts: ``--start-at``, or 2 s from
    now for a process started alone."""
    return int((start_at if start_at is not None else time.time() + 2.0) * 1e9)


def fresh_start_seq() -> int:
    """The first sequence number of a process that starts afresh: the wall clock in
    microseconds, which has always moved on past every number a previous run of the same
    node sent (a partner's replay guard refuses a number it has seen)."""
    return time.time_ns() // 1000


def metrics_port_option() -> Any:
    return typer.Option(
        None,
        "--metrics-port",
        help="Serve GET /metrics (Prometheus) and GET /healthz (200, or 503 when stalled) on "
        "this TCP port (0: any free port, printed at start); see docs/operations.md, "
        '"Metrics and health".',
    )


def metrics_host_option() -> Any:
    return typer.Option(
        "127.0.0.1",
        "--metrics-host",
        help="Address the metrics endpoint listens on (0.0.0.0: every interface).",
    )


def bind_metrics(host: str, port: int | None) -> socket.socket | None:
    """The metrics endpoint's socket, bound now so that a bad or busy port is a one-line
    error (exit 2) before the service starts; None without ``--metrics-port``."""
    if port is None:
        return None
    from trilink.nodes.metrics_http import bind

    try:
        return bind(host, port)
    except DeployError as exc:
        raise fail(str(exc)) from None


def start_metrics(
    sock: socket.socket | None, collector: HubCollector | NationalCollector
) -> MetricsServer | None:
    """Serve ``collector`` (and its health) on ``sock`` in the running loop; say where."""
    if sock is None:
        return None
    from trilink.nodes.metrics_http import MetricsServer, registry_of

    server = MetricsServer(sock, registry_of(collector), collector.health)
    server.start()
    err.print(
        f"metrics on {server.url}/metrics and {server.url}/healthz", markup=False, highlight=False
    )
    return server
