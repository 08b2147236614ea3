"""Fixtures of the deploy tests (helpers in deploy_fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_fixtures import Running, start_topology


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A running hub + USA/KOR/JPN leaves with every stream provisioned (module-wide)."""
    running = start_topology(tmp_path_factory.mktemp("topo"))
    yield running
    running.stop()


@pytest.fixture
def fresh_topology(tmp_path: Path) -> Iterator[Running]:
    """Like ``topology`` but for one test (for tests that stop and restart servers)."""
    running = start_topology(tmp_path)
    yield running
    running.stop()
