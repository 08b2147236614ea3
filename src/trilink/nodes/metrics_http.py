"""The metrics endpoint of ``trilink hub --metrics-port`` and ``trilink node --metrics-port``:
``GET /metrics`` (Prometheus text exposition) and ``GET /healthz`` (200, or 503 when the
process considers itself stalled; :mod:`trilink.nodes.metrics`).

It is served by uvicorn inside the process's own event loop, and its endpoints are
coroutines: a scrape runs on the loop's thread between two of the node's steps, so the
collectors read the node's state without locks and never see it half-updated (a
threaded exporter, prometheus_client's ``start_http_server``, would race the node).

The socket is bound before the service starts (:func:`bind`), so that a port in use or
not allowed is a one-line error at start, not a log line from a server task later.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from trilink.errors import DeployError

Health = Callable[[], tuple[bool, dict[str, Any]]]


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port); DeployError
    (what, reason) if the address is not valid or not free."""
    if not 0 <= port <= 65535:
        raise DeployError("--metrics-port", f"{port} is not a TCP port (0 to 65535)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, addr = infos[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise DeployError("--metrics-host", f"{host}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise DeployError(
            "--metrics-port", f"cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    sock.setblocking(False)
    return sock


def registry_of(collector: Collector) -> CollectorRegistry:
    """A registry with ``collector`` and the process's own figures (CPU seconds, memory,
    open files, start time: read from /proc at scrape time)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def make_app(registry: CollectorRegistry, health: Health) -> Starlette:
    """The ASGI app: ``/metrics`` and ``/healthz``, both coroutines (module notes)."""

    async def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    async def healthz(request: Request) -> Response:
        stalled, doc = health()
        return JSONResponse(doc, status_code=503 if stalled else 200)

    return Starlette(routes=[Route("/metrics", metrics), Route("/healthz", healthz)])


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would take SIGTERM/SIGINT for itself (and raise them again when it
        # stops); the process's own handlers stop the service, which then stops this.
        yield


class MetricsServer:
    """The endpoint as a task of the running loop: :meth:`start`, then :meth:`stop`."""

    def __init__(self, sock: socket.socket, registry: CollectorRegistry, health: Health):
        self.sock = sock
        config = uvicorn.Config(
            make_app(registry, health),
            lifespan="off",
            access_log=False,
            log_level="warning",
            log_config=None,  # leave the process's logging as it is
        )
        self.server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host, port = self.sock.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(sockets=[self.sock]))

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self._task, 5.0)
        self.sock.close()
