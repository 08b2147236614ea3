"""Helpers for the browser tests: a COP server on its own event loop in a thread, and
Debian's Chromium driven by Playwright (never a downloaded browser).

Also a small command for the README screenshot from a recorded run::

    .venv/bin/python tests/web/web_browser.py RUN_DIR docs/img/cop.png [PARTNER] [SPEED] [AT_S]
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from trilink.web import WebServer, create_app
from trilink.web.feed import PictureFeed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


class ServerThread:
    """The app served by uvicorn on a private event loop; ``call`` runs a coroutine there."""

    def __init__(self, make_feed: Callable[[], PictureFeed], partners: list[str], **app_kw: Any):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.feed: PictureFeed = self.call(_make(make_feed))
        self.app = create_app(self.feed, partners, **app_kw)
        self.web = WebServer(self.app, "127.0.0.1", 0)
        self.call(self.web.start())

    @property
    def url(self) -> str:
        return self.web.url

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.call(self.web.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


async def _make(factory: Callable[[], PictureFeed]) -> PictureFeed:
    return factory()  # built inside the loop that will run it


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def screenshot_recording(run_dir: Path, out: Path, partner: str = "JPN", speed: float = 20.0,
                         at_s: float | None = None) -> None:  # fmt: skip
    """Replay a recorded run and photograph ``partner``'s page ``at_s`` seconds after the
    recording's start (None: a few seconds after the first threat warning)."""
    from playwright.sync_api import sync_playwright

    from trilink.link import Keyring
    from trilink.link.recordlog import read_log
    from trilink.web import ReplayFeed

    log = run_dir / "messages.tlog" if run_dir.is_dir() else run_dir
    keys = log.parent / "keyring.json"
    keyring = Keyring.load(keys) if keys.is_file() else None
    srv = ServerThread(lambda: ReplayFeed(log, speed, keyring=keyring), [partner])
    try:
        with sync_playwright() as pw:
            browser = launch(pw)
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.goto(f"{srv.url}/p/{partner}")
            if at_s is None:
                page.wait_for_selector("#banner .warning.severe", timeout=600_000)
                time.sleep(40 / speed)  # let the picture develop a little past the alert
            else:
                feed = srv.feed
                t_rec0 = min(r.t_ns for r in read_log(log))
                while feed.now_ns() < t_rec0 + at_s * 1e9:
                    time.sleep(0.05)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        srv.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    screenshot_recording(
        Path(args[0]),
        Path(args[1]),
        args[2] if len(args) > 2 else "JPN",
        float(args[3]) if len(args) > 3 else 20.0,
        float(args[4]) if len(args) > 4 else None,
    )
