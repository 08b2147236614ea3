"""The COP web server: one page per partner, live over a WebSocket (starlette + uvicorn).

Routes (``docs/web.md`` has the message shapes):

====================================  ==================================================
``GET /``                             the partners, as links to their pages
``GET /p/{partner}``                  the partner's page (map, banner, tracks, timeline)
``WS  /ws/{partner}``                 snapshot, then deltas and clock ticks (JSON text)
``GET /api/partners``                 ``{"partners": [...]}``
``GET /api/snapshot/{partner}``       the partner's picture now (the WebSocket's first frame)
``GET /healthz``                      liveness, feed clock, connected pages
``GET /static/...``                   our page's HTML/JS/CSS
``GET /vendor/...``                   Leaflet and topojson-client from ``node_modules``
``GET /data/countries-50m.json``      Natural Earth TopoJSON (npm ``world-atlas``)
``GET /data/territory/{partner}``     the partner's land, 12-nm sea and 200-nm zone
====================================  ==================================================

Each WebSocket reads only its partner's :class:`~trilink.web.feed.Watch`, and each
partner's picture only that partner's subjects: a page cannot show what was not
released to its partner.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from trilink.web.assets import STATIC_DIR, Assets, find_assets
from trilink.web.feed import PictureFeed, Watch
from trilink.web.views import View, ms

CLOSE_RESTART = 1012  # RFC 6455 registry: "Service Restart"; the page reconnects
MAX_BATCH = 500
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_json = msgspec.json.Encoder()


@dataclass(eq=False)
class _Connection:
    partner: str
    pump: asyncio.Task[None]
    kicked: bool = False


@dataclass
class Connections:
    """The open WebSockets; :meth:`kick` closes them from the server side."""

    open: list[_Connection] = field(default_factory=list)

    def count(self, partner: str | None = None) -> int:
        return sum(1 for c in self.open if partner is None or c.partner == partner)

    def kick(self, partner: str | None = None) -> int:
        """Close every page of ``partner`` (None: all) with 1012 Service Restart."""
        n = 0
        for c in list(self.open):
            if partner is None or c.partner == partner:
                c.kicked = True
                c.pump.cancel()
                n += 1
        return n


class _SecurityHeaders:
    """CSP (scripts only from this origin; no inline script), nosniff, no referrer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    feed: PictureFeed,
    partners: list[str] | tuple[str, ...],
    *,
    assets: Assets | None = None,
    tick_s: float = 1.0,
) -> Starlette:
    """The web app for ``partners`` over ``feed``; the app's lifespan starts and stops it.

    ``app.state.connections`` (:class:`Connections`) lists the open pages and can close
    them (the reconnect test does).
    """
    known = tuple(p for p in partners if p in feed.partners)
    if not known:
        raise ValueError(f"none of {list(partners)} is served by the feed {feed.partners}")
    resolved = assets if assets is not None else find_assets()
    connections = Connections()
    page = (STATIC_DIR / "cop.html").read_text()

    def partner_of(request: Request) -> str | None:
        p = request.path_params["partner"]
        return p if p in known else None

    async def index(request: Request) -> Response:
        items = "\n".join(
            f'<li><a href="/p/{html.escape(p)}">{html.escape(p)}</a></li>' for p in known
        )
        body = (STATIC_DIR / "index.html").read_text().replace("{{PARTNERS}}", items)
        return HTMLResponse(body)

    async def partner_page(request: Request) -> Response:
        p = partner_of(request)
        if p is None:
            return JSONResponse({"error": "unknown partner"}, status_code=404)
        return HTMLResponse(page.replace("{{PARTNER}}", html.escape(p)))

    async def api_partners(request: Request) -> Response:
        return JSONResponse({"partners": list(known)})

    async def api_snapshot(request: Request) -> Response:
        p = partner_of(request)
        if p is None:
            return JSONResponse({"error": "unknown partner"}, status_code=404)
        return Response(_json.encode(feed.snapshot(p)), media_type="application/json")

    async def healthz(request: Request) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "partners": list(known),
                "now_ms": ms(feed.now_ns()),
                "pages": {p: connections.count(p) for p in known},
                "verified": feed.verified,
            }
        )

    async def vendor(request: Request) -> Response:
        path = resolved.vendor(request.path_params["path"])
        return _file(path, cache_s=3600)

    async def map_data(request: Request) -> Response:
        return _file(resolved.map_file(request.path_params["name"]), cache_s=3600)

    async def territory(request: Request) -> Response:
        p = partner_of(request)
        if p is None:
            return JSONResponse({"error": "unknown partner"}, status_code=404)
        return JSONResponse(resolved.territory(p))

    async def ws_picture(websocket: WebSocket) -> None:
        p = websocket.path_params["partner"]
        if p not in known:
            await websocket.close(code=1008)  # before accept: the handshake gets 403
            return
        await websocket.accept()
        watch = feed.watch(p)
        pump = asyncio.create_task(_pump(websocket, watch, feed, tick_s))
        reader = asyncio.create_task(_read_until_closed(websocket))
        conn = _Connection(p, pump)
        connections.open.append(conn)
        try:
            await asyncio.wait({pump, reader}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (pump, reader):
                t.cancel()
            for t in (pump, reader):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t  # a send to a page that left raises: nothing more to do
            feed.unwatch(watch)
            connections.open.remove(conn)
            if conn.kicked:
                with contextlib.suppress(Exception):
                    await websocket.close(code=CLOSE_RESTART)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await feed.start()
        try:
            yield
        finally:
            connections.kick()
            await feed.stop()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/p/{partner}", partner_page),
            Route("/api/partners", api_partners),
            Route("/api/snapshot/{partner}", api_snapshot),
            Route("/healthz", healthz),
            Route("/vendor/{path:path}", vendor),
            Route("/data/territory/{partner}", territory),
            Route("/data/{name}", map_data),
            WebSocketRoute("/ws/{partner}", ws_picture),
            Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(GZipMiddleware, minimum_size=1024), Middleware(_SecurityHeaders)],
        lifespan=lifespan,
    )
    app.state.connections = connections
    app.state.feed = feed
    app.state.partners = known
    return app


def _file(path: Any, cache_s: int) -> Response:
    if path is None or not path.is_file():
        return JSONResponse({"error": "not found"}, status_code=404)
    return FileResponse(path, headers={"cache-control": f"public, max-age={cache_s}"})


async def _send(websocket: WebSocket, obj: View) -> None:
    await websocket.send_text(_json.encode(obj).decode())


async def _pump(websocket: WebSocket, watch: Watch, feed: PictureFeed, tick_s: float) -> None:
    """Snapshot first, then every delta (batched), and a clock tick when idle."""
    await _send(websocket, watch.snapshot)
    while True:
        try:
            item = await asyncio.wait_for(watch.next(), timeout=tick_s)
        except TimeoutError:
            await _send(websocket, {"type": "clock", "now_ms": ms(feed.now_ns()),
                                    "speed": feed.speed})  # fmt: skip
            continue
        if item["type"] == "snapshot":  # the page fell too far behind: start it afresh
            await _send(websocket, item)
            continue
        items = [item, *watch.drain(MAX_BATCH - 1)]
        await _send(websocket, {"type": "deltas", "now_ms": ms(feed.now_ns()), "items": items})


async def _read_until_closed(websocket: WebSocket) -> None:
    """Pages send nothing we act on; reading is how a close from the page is noticed."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
