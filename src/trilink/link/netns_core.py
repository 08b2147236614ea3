"""The pieces of the namespace test bed: commands, the support probes, one namespace, a WAN model.

:func:`run` runs a command (DeployError with its stderr if it fails), :func:`require_netns`
and :func:`netem_available` say what this machine can do, :class:`Namespace` is one
``ip netns`` namespace (commands and Python code inside it), and :class:`Impairment` is
what a WAN link does to packets (``CLEAN``, ``CUT``, issue 7's ``WAN``). The star built
from them is :class:`trilink.link.netns.StarNet`; everything here is importable from there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from trilink.errors import DeployError

T = TypeVar("T")
NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
NETNS_HINT = (
    "fault tests need Linux, root, iproute2 (apt-get install iproute2) and network namespaces"
)


def run(argv: Sequence[str], *, timeout_s: float = 20.0) -> str:
    """Run a command; its stdout, or DeployError with the command and its stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DeployError(" ".join(argv), f"{type(e).__name__}: {e} ({NETNS_HINT})") from None
    if proc.returncode != 0:
        raise DeployError(" ".join(argv), f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def require_netns() -> None:
    """Return if this process can create namespaces, veths and TAPs; else DeployError
    saying what is missing (never a silent skip: the fault tests fail with it)."""
    if not sys.platform.startswith("linux"):
        raise DeployError("network namespaces", f"not Linux ({sys.platform}); {NETNS_HINT}")
    if os.geteuid() != 0:
        raise DeployError("network namespaces", f"not root (euid {os.geteuid()}); {NETNS_HINT}")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise DeployError(tool, f"not on PATH; {NETNS_HINT}")
    probe = f"tlprobe-{os.getpid()}"
    try:
        run(["ip", "netns", "add", probe])
    except DeployError as e:
        raise DeployError("ip netns add", f"{e.reason}; {NETNS_HINT}") from None
    try:
        run(["ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"])
    finally:
        run(["ip", "netns", "del", probe])


@cache
def netem_available() -> bool:
    """Whether the kernel has the netem qdisc (probed once, in a throw-away namespace)."""
    probe = f"tlnetem-{os.getpid()}"
    run(["ip", "netns", "add", probe])
    try:
        run(["ip", "-n", probe, "link", "add", "n0", "type", "veth", "peer", "name", "n1"])
        run(["tc", "-n", probe, "qdisc", "add", "dev", "n0", "root", "netem", "delay", "1ms"])
        return True
    except DeployError:
        return False
    finally:
        run(["ip", "netns", "del", probe])


@dataclass(frozen=True)
class Impairment:
    """A WAN link's behaviour: one-way delay ``delay_s`` ± ``jitter_s`` (uniform), and
    independent loss probability ``loss`` (0..1) per packet, in each direction."""

    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0

    def __post_init__(self) -> None:
        if not (0.0 <= self.loss <= 1.0) or self.delay_s < 0 or not 0 <= self.jitter_s:
            raise DeployError(repr(self), "delay and jitter >= 0, loss in [0, 1]")

    def netem_args(self) -> list[str]:
        """The ``tc ... netem`` arguments for this impairment."""
        args = ["netem", "delay", f"{self.delay_s * 1e3:g}ms"]
        if self.jitter_s:
            args.append(f"{self.jitter_s * 1e3:g}ms")
        return [*args, "loss", f"{self.loss * 100:g}%"]


CLEAN = Impairment()
CUT = Impairment(loss=1.0)
WAN = Impairment(0.150, 0.020, 0.05)
"""Issue 7's faulty WAN: 150 ms ± 20 ms one way, 5 % loss."""


class Namespace:
    """One named network namespace (``ip netns``): commands and Python code inside it."""

    def __init__(self, name: str):
        self.name = name

    def ip(self, *args: str) -> str:
        return run(["ip", "-n", self.name, *args])

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run inside the namespace (``ip netns exec``, which execs: same pid)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def call(self, fn: Callable[..., T], *args: Any, timeout_s: float = 30.0) -> T:
        """``fn(*args)`` in a thread that has entered the namespace (``setns`` moves only the
        calling thread), e.g. to reach a server's loopback-only monitoring port."""
        box: dict[str, Any] = {}

        def body() -> None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(NETNS_DIR / self.name, os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        err = ctypes.get_errno()
                        raise DeployError(f"setns {self.name}", os.strerror(err))
                finally:
                    os.close(fd)
                box["value"] = fn(*args)
            except BaseException as e:  # handed to the caller's thread below
                box["error"] = e

        t = threading.Thread(target=body, name=f"netns-{self.name}", daemon=True)
        t.start()
        t.join(timeout_s)
        if t.is_alive():
            raise DeployError(f"netns {self.name}", f"call did not return in {timeout_s} s")
        if "error" in box:
            raise box["error"]
        return box["value"]

    def delete(self) -> None:
        with contextlib.suppress(DeployError):
            run(["ip", "netns", "del", self.name])
