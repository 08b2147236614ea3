"""Shared fixtures of the fault tests: one recorded simulated run of the built-in scenario."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from trilink.nodes.simrun import RunConfig, run_simulation
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate

RECORDED_S = 100.0


@pytest.fixture(scope="session")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    """(scenario, simulation, folder): the built-in scenario's first launch for 100 s, run
    on the simulated link with ``--record``: ``messages.tlog`` holds every message,
    ``audit.jsonl`` the hub's audit chain."""
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1], duration_s=RECORDED_S)
    sim = simulate(sc)
    rec = tmp_path_factory.mktemp("recorded")
    run_simulation(sc, sim, RunConfig(record_dir=rec))
    return sc, sim, rec
