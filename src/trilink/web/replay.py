"""Replay a recorded run (``messages.tlog``) to the web pages, in scaled real time.

The recording holds every publish of the run with its time (``trilink run --record``).
:class:`ReplayFeed` keeps the hub's releases (``trilink.hub.out.*``) and publishes them,
bytes unchanged, onto a private :class:`trilink.link.InMemoryBus` at their recorded
times: ``wall = start + (t_record - t_first) / speed``. A :class:`BusFeed` on that bus,
whose clock is the replay clock, builds the pictures exactly as in a live run, so the
receive times (and the latencies the timeline shows) are the recorded ones, to within the
event loop's scheduling delay times ``speed``.

Signatures are verified when a keyring is given: replay changes no byte, so a recording
that was altered after the run shows up as refusals on the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from trilink.errors import DecodeError
from trilink.link import InMemoryBus, Keyring
from trilink.link.recordlog import LogRecord, read_log
from trilink.link.subjects import ROOT
from trilink.web.feed import BusFeed, Watch
from trilink.web.picture import PartnerPicture
from trilink.web.views import View

NS = 1_000_000_000
_HUB_OUT = f"{ROOT}.hub.out."


def hub_releases(records: list[LogRecord]) -> list[LogRecord]:
    """The records the hub released to partners, in time order (stable)."""
    out = [r for r in records if r.subject.startswith(_HUB_OUT) and r.subject.count(".") == 4]
    return sorted(out, key=lambda r: r.t_ns)


def partners_in(records: list[LogRecord]) -> list[str]:
    """Partners that received anything: the ``<P>`` of ``trilink.hub.out.<P>.<topic>``."""
    return sorted({r.subject.split(".")[3] for r in hub_releases(records)})


class ReplayFeed:
    """A :class:`PictureFeed` that plays a recording back at ``speed`` times real time."""

    def __init__(
        self,
        path: Path | str,
        speed: float = 1.0,
        *,
        keyring: Keyring | None = None,
        partners: list[str] | None = None,
        skip_to_first_s: float | None = 5.0,
    ):
        """``skip_to_first_s``: start that many seconds (of recorded time) before the hub's
        first release instead of at the start of the recording (None: from the start)."""
        if not speed > 0:
            raise ValueError(f"replay speed must be > 0, got {speed}")
        self.path = Path(path)
        try:
            records = list(read_log(self.path, strict=False))
        except OSError as e:
            raise DecodeError("$", f"cannot read {self.path}: {e.strerror}") from None
        self.records = hub_releases(records)
        if not self.records:
            raise DecodeError("$", f"{self.path} holds no hub releases (trilink.hub.out.*)")
        found = partners_in(self.records)
        self.partners = tuple(partners or found)
        t_first = self.records[0].t_ns
        t_start = min(r.t_ns for r in records)
        if skip_to_first_s is not None:
            t_start = max(t_start, t_first - int(skip_to_first_s * NS))
        self.t_start_ns = t_start
        self.t_end_ns = self.records[-1].t_ns
        self.speed = float(speed)
        self.bus = InMemoryBus()
        self._inner = BusFeed(self.bus, self.partners, keyring, clock=self.now_ns, speed=speed)
        self.verified = self._inner.verified
        self._mark: tuple[int, float] | None = None  # (record time, monotonic wall time)
        self._task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        self.published = 0

    # --- clock ------------------------------------------------------------------------
    def now_ns(self) -> int:
        """Replayed time: the time of the record last published, advanced at ``speed`` by
        the wall time since. On schedule this is the recording's time that the wall clock
        has reached; when a burst of records makes the player fall behind, it is still
        the recorded time of the message being taken in, so receive times (and the
        timeline's latencies) stay the recorded ones."""
        if self._mark is None:
            return self.t_start_ns
        t_rec, wall = self._mark
        return t_rec + int((time.monotonic() - wall) * self.speed * NS)

    # --- the PictureFeed protocol -----------------------------------------------------
    def snapshot(self, partner: str) -> View:
        return self._inner.snapshot(partner)

    def watch(self, partner: str) -> Watch:
        return self._inner.watch(partner)

    def unwatch(self, watch: Watch) -> None:
        self._inner.unwatch(watch)

    @property
    def pictures(self) -> dict[str, PartnerPicture]:
        return self._inner.pictures

    async def start(self) -> None:
        if self._task is not None:
            return
        await self._inner.start()
        self._mark = (self.t_start_ns, time.monotonic())
        self._task = asyncio.create_task(self._play(), name="web-replay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._inner.stop()

    async def _play(self) -> None:
        assert self._mark is not None
        wall0 = self._mark[1]
        for rec in self.records:
            if rec.t_ns < self.t_start_ns:
                continue
            delay = wall0 + (rec.t_ns - self.t_start_ns) / NS / self.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._mark = (rec.t_ns, time.monotonic())
            await self.bus.publish(rec.subject, rec.payload, rec.headers)
            self.published += 1
            await asyncio.sleep(0)  # let the feed take it in now, at its recorded time
        self.done.set()
