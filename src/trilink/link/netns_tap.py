"""The user-space WAN emulator: the ``tap`` backend of :class:`trilink.link.netns.StarNet`.

Where the kernel has no ``sch_netem``, each WAN link is two TAP devices bridged by this
module run as a process (``python -m trilink.link.netns_tap PAIRS SEED``), which applies
an :class:`~trilink.link.netns_core.Impairment` to every Ethernet frame: delay uniform in
``D ± J`` per frame (frames may overtake one another, as under netem's jitter) and
independent loss ``L``. :class:`TapEmulator` starts it, sets each link's impairment and
reads its counters over JSON lines on the process's stdin and stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import random
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trilink.errors import DeployError
from trilink.link.netns_core import CLEAN, NETNS_HINT, Impairment

TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000


def _open_tap(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


async def _emulate(pairs: list[tuple[str, str]], seed: int) -> None:
    """Forward frames between each pair of TAPs under that link's impairment. Control:
    JSON lines on stdin ({"link": i, "delay_s", "jitter_s", "loss"} or {"stats": true}),
    one answer line each on stdout; exits when stdin closes (its owner is gone)."""
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    fds = [(_open_tap(a), _open_tap(b)) for a, b in pairs]
    imp = [CLEAN for _ in pairs]
    stats = [{"forwarded": 0, "dropped": 0, "write_errors": 0} for _ in pairs]

    def write(i: int, fd: int, frame: bytes) -> None:
        try:
            os.write(fd, frame)
            stats[i]["forwarded"] += 1
        except OSError:  # the interface is down or gone: the frame is lost, as on a wire
            stats[i]["write_errors"] += 1

    def pump(i: int, src: int, dst: int) -> None:
        while True:
            try:
                frame = os.read(src, 65536)
            except BlockingIOError:
                return
            except OSError:
                loop.remove_reader(src)
                return
            m = imp[i]
            if m.loss and rng.random() < m.loss:
                stats[i]["dropped"] += 1
                continue
            delay = m.delay_s + (rng.uniform(-m.jitter_s, m.jitter_s) if m.jitter_s else 0.0)
            if delay <= 0:
                write(i, dst, frame)
            else:
                loop.call_later(delay, write, i, dst, frame)

    for i, (a, b) in enumerate(fds):
        loop.add_reader(a, pump, i, a, b)
        loop.add_reader(b, pump, i, b, a)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(json.dumps({"ready": True}), flush=True)
    while line := await reader.readline():
        req = json.loads(line)
        if req.get("stats"):
            print(json.dumps({"stats": stats}), flush=True)
            continue
        imp[int(req["link"])] = Impairment(req["delay_s"], req["jitter_s"], req["loss"])
        print(json.dumps({"ok": True}), flush=True)


class TapEmulator:
    """The forwarder process for the ``tap`` backend: it creates the TAPs (which vanish
    with it) and applies each link's :class:`Impairment` on request."""

    def __init__(self, pairs: Sequence[tuple[str, str]], seed: int = 7):
        if not Path("/dev/net/tun").exists():
            raise DeployError("/dev/net/tun", f"missing: the tap backend needs TUN; {NETNS_HINT}")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trilink.link.netns_tap",
                json.dumps([list(p) for p in pairs]),
                str(seed),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        self._ask(None)

    def _ask(self, req: dict[str, Any] | None) -> dict[str, Any]:
        with self._lock:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            try:
                if req is not None:
                    self._proc.stdin.write(json.dumps(req) + "\n")
                    self._proc.stdin.flush()
                line = self._proc.stdout.readline()
            except OSError:
                line = ""
            if not line:
                err = self._proc.stderr.read() if self._proc.stderr else ""
                raise DeployError("tap emulator", f"exited: {err.strip()[-2000:]}")
            return dict(json.loads(line))

    def set(self, link: int, imp: Impairment) -> None:
        self._ask(
            {"link": link, "delay_s": imp.delay_s, "jitter_s": imp.jitter_s, "loss": imp.loss}
        )

    def stats(self) -> list[dict[str, int]]:
        return list(self._ask({"stats": True})["stats"])

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self._proc.stdin is not None
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)


if __name__ == "__main__":  # the forwarder process (see TapEmulator)
    asyncio.run(_emulate([(a, b) for a, b in json.loads(sys.argv[1])], int(sys.argv[2])))
