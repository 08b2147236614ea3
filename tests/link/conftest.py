"""Fixtures for the link tests: a real nats-server, and buses of both kinds.

The NATS server is Debian's ``nats-server`` binary, started on a free loopback port for
the test session. If the binary is missing or the server does not come up, the tests
that need it FAIL with the reason (never skip): the link must be tested on a real server.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from trilink.link.bus import Bus, InMemoryBus

NATS_SERVER = "/usr/bin/nats-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    proc.kill()
    _, err = proc.communicate()
    pytest.fail(f"nats-server did not listen on 127.0.0.1:{port}: {err.decode()[-2000:]}")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """URL of a nats-server started for this session (fails if it cannot be started)."""
    binary = NATS_SERVER if Path(NATS_SERVER).exists() else shutil.which("nats-server")
    if binary is None:
        pytest.fail(
            f"{NATS_SERVER} not found: install Debian's nats-server (make system-deps); "
            "the link tests need a real server"
        )
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "-p", str(port), "-a", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_listening(port, proc, timeout_s=10.0)
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


BusFactory = Callable[[], Awaitable[Bus]]


@pytest.fixture(params=["memory", "nats"])
def bus_factory(request: pytest.FixtureRequest) -> BusFactory:
    """An async factory of buses that reach each other: one shared InMemoryBus, or a new
    NATS connection to the session's server per call."""
    if request.param == "memory":
        shared = InMemoryBus()

        async def memory() -> Bus:
            return shared

        return memory
    url = request.getfixturevalue("nats_url")

    async def nats() -> Bus:
        from trilink.link.nats_bus import NatsBus

        return await NatsBus.connect(url)

    return nats


def _run(coro: Awaitable[object], timeout_s: float = 20.0) -> object:
    async def bounded() -> object:
        return await asyncio.wait_for(coro, timeout_s)

    return asyncio.run(bounded())


@pytest.fixture
def arun() -> Callable[..., object]:
    """``arun(coro)`` runs a coroutine to completion with a deadline (tests never hang)."""
    return _run
