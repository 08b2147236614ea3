"""Running the app: :class:`WebServer` (uvicorn on the caller's event loop) and
:func:`serve_bus`, the entry point ``trilink run SCENARIO --web`` uses.

uvicorn is given a socket we bind ourselves, so port 0 works (tests ask the OS for a free
port) and the bound port is known before the first request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from trilink.link import Bus, Keyring
from trilink.web.feed import BusFeed
from trilink.web.server import create_app


class WebServer:
    """uvicorn serving ``app`` on ``host:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 8000):
        self.app = app
        self.host = host
        self._sock = socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
        )
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", ws="websockets-sansio", ws_ping_interval=20
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Serve in a task; return once the server accepts connections."""
        self._task = asyncio.create_task(self.server.serve(sockets=[self._sock]))
        while not self.server.started:
            if self._task.done():
                self._task.result()  # startup failed: raise its error here
                raise RuntimeError("web server stopped during startup")
            await asyncio.sleep(0.01)

    async def wait_closed(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._sock.close()


async def serve_bus(
    bus: Bus,
    partners: list[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    keyring: Keyring | None = None,
    clock: Callable[[], int] | None = None,
    speed: float = 1.0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve every partner's picture from the hub's releases on ``bus`` until cancelled.

    ``clock``: the run's clock (``WallClock.now_ns`` when a scenario is paced onto the
    wall clock; default: the system clock). ``keyring``: verify the hub's signatures.
    ``on_ready`` gets the base URL once the server listens.
    """
    feed = BusFeed(bus, partners, keyring, clock=clock or time.time_ns, speed=speed)
    web = WebServer(create_app(feed, partners), host, port)
    await web.start()
    if on_ready is not None:
        on_ready(web.url)
    try:
        await web.wait_closed()
    finally:
        await web.stop()
