"""DurableStreams.close ends its fetchers even when a fetch swallows the cancellation.

On Python 3.11 a timeout racing a cancel inside ``asyncio.wait_for`` can end the client's
fetch as a plain timeout instead of a cancellation; the fetcher then fetched again and
``close`` waited forever (``trilink hub --state`` hung on SIGTERM in 2 of 6 runs). The
fetch here does that on purpose, every time.
"""

from __future__ import annotations

import asyncio

from trilink.link.nats_bus import DurableStreams


class _Client:
    def jetstream(self, timeout: float) -> object:
        return object()


class _StubbornFetch:
    """A pull subscription whose fetch turns every cancellation into a timeout."""

    def __init__(self) -> None:
        self.fetches = 0

    async def fetch(self, n: int, timeout: float) -> list:
        self.fetches += 1
        try:
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            raise TimeoutError from None
        raise TimeoutError

    async def unsubscribe(self) -> None:
        return None


def test_close_ends_a_fetcher_whose_fetch_swallows_the_cancel() -> None:
    streams = DurableStreams(_Client(), ["HUB_FROM_KOR"])  # type: ignore[arg-type]
    psub = _StubbornFetch()

    async def go() -> bool:
        streams._subs.append(psub)
        streams._tasks.append(asyncio.create_task(streams._fetcher("HUB_FROM_KOR", psub)))
        await asyncio.sleep(0.05)  # the fetcher is inside a fetch
        closing = asyncio.create_task(streams.close())
        done, _ = await asyncio.wait({closing}, timeout=5.0)  # (no wait on a hung close)
        return bool(done)

    # A loop of its own, not asyncio.run: were close() to hang, run's shutdown would too.
    loop = asyncio.new_event_loop()
    try:
        closed = loop.run_until_complete(go())
    finally:
        if not closed:
            for task in asyncio.all_tasks(loop):
                task.get_coro().close()  # type: ignore[union-attr]
        loop.close()
    assert closed, "close() did not end the fetcher"
    assert not streams._tasks
    assert psub.fetches <= 2  # it stopped instead of fetching on
