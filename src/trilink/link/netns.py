"""Network namespaces as test hosts, joined by emulated WAN links (Linux, root; fault tests).

:class:`StarNet` builds the live topology's shape from namespaces on this machine: a hub
namespace and one namespace per leaf, each leaf joined to the hub by its own
point-to-point link that can be delayed, made lossy or cut (:class:`Impairment`), and
every namespace also joined to the root namespace by a clean *management* veth so that
the test's own clients reach the servers without crossing an impaired link::

      root namespace (the test: hub process, national nodes, partners)
        │ mgmt veth 10.<100+s>.0.0/30   │ 10.<100+s>.1.0/30      │ 10.<100+s>.2.0/30
      ┌─┴──────────────────┐     ┌──────┴───────┐         ┌──────┴───────┐
      │ hub ns             │     │ leaf ns KOR  │         │ leaf ns JPN  │
      │ lo 10.<150+s>.0.1  │◄────┤ 10.<150+s>.1.2│        │ 10.<150+s>.2.2│
      │                    │ WAN └──────────────┘         └──────┬───────┘
      │                    │◄──────────────────────────────────────┘ WAN
      └────────────────────┘

Leaves dial the hub's address on its loopback (``hub_addr``), routed over their own WAN
link only; no namespace has a default route, and the root namespace does not forward,
so a leaf has no way to the hub but its impaired link, and no way anywhere else at all.
``s`` is a slot (0-31) claimed by creating ``tlf<s>-hub``, so parallel runs do not clash.

Two ways to emulate a WAN link, chosen by :func:`netem_available` (or ``backend=``):

- ``netem``: a veth pair with a ``tc qdisc ... netem delay D J loss L`` on each end (each
  end shapes its egress, so both directions see delay, jitter and loss);
- ``tap``: where the kernel has no ``sch_netem`` (many CI and micro-VM kernels), two TAP
  devices bridged by a small user-space forwarder (``python -m trilink.link.netns``) that
  applies the same model to every Ethernet frame: delay uniform in ``D ± J`` per frame
  (frames may overtake one another, as under netem's jitter), independent loss ``L``.

Either way a cut is ``loss 100 %``: packets vanish, as when a cable is cut far away, and
TCP (and NATS above it) must notice by itself. Every failure raises
:class:`~trilink.errors.DeployError` naming the command and what to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import os
import random
import re
import shutil
import struct
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
TUNSETIFF = 0x400454CA
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
MAX_SLOTS = 32
_HINT = "fault tests need Linux, root, iproute2 (apt-get install iproute2) and network namespaces"


def run(argv: Sequence[str], *, timeout_s: float = 20.0) -> str:
    """Run a command; its stdout, or DeployError with the command and its stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DeployError(" ".join(argv), f"{type(e).__name__}: {e} ({_HINT})") from None
    if proc.returncode != 0:
        raise DeployError(" ".join(argv), f"{proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def require_netns() -> None:
    """Return if this process can create namespaces, veths and TAPs; else DeployError
    saying what is missing (never a silent skip: the fault tests fail with it)."""
    if not sys.platform.startswith("linux"):
        raise DeployError("network namespaces", f"not Linux ({sys.platform}); {_HINT}")
    if os.geteuid() != 0:
        raise DeployError("network namespaces", f"not root (euid {os.geteuid()}); {_HINT}")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise DeployError(tool, f"not on PATH; {_HINT}")
    probe = f"tlprobe-{os.getpid()}"
    try:
        run(["ip", "netns", "add", probe])
    except DeployError as e:
        raise DeployError("ip netns add", f"{e.reason}; {_HINT}") from None
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


# ---- the user-space WAN emulator (the ``tap`` backend) ----------------------------------


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
            raise DeployError("/dev/net/tun", f"missing: the tap backend needs TUN; {_HINT}")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trilink.link.netns",
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


# ---- the star ---------------------------------------------------------------------------


def _claim_slot() -> int:
    """The first free slot: creating ``tlf<s>-hub`` is the lock. A slot whose owner died
    (its pid file names a dead process) is cleaned and reused."""
    for s in range(MAX_SLOTS):
        owner = NETNS_DIR / f"tlf{s}-hub.owner"
        if (NETNS_DIR / f"tlf{s}-hub").exists():
            try:
                alive = Path(f"/proc/{int(owner.read_text())}").exists()
            except (OSError, ValueError):
                alive = True  # no owner file yet: someone is creating it right now
            if alive:
                continue
            _destroy_slot(s)
        try:
            run(["ip", "netns", "add", f"tlf{s}-hub"])
        except DeployError:
            continue  # lost a race for it
        owner.write_text(str(os.getpid()))
        return s
    raise DeployError("ip netns", f"all {MAX_SLOTS} fault-test slots are in use")


def _destroy_slot(s: int) -> None:
    for p in NETNS_DIR.glob(f"tlf{s}-*"):
        if p.suffix == ".owner":
            p.unlink(missing_ok=True)
        else:
            Namespace(p.name).delete()
    for link in Path("/sys/class/net").glob(f"tlf{s}m*"):
        with contextlib.suppress(DeployError):
            run(["ip", "link", "del", link.name])


class StarNet:
    """A hub namespace and one namespace per leaf, each leaf on its own impairable link
    to the hub; all reachable from the root namespace by management veths (see module).

    ``backend``: ``"netem"``, ``"tap"``, or ``"auto"`` (netem if the kernel has it).
    Use as a context manager; :meth:`close` deletes everything it made.
    """

    def __init__(self, leaves: Sequence[str], *, backend: str = "auto", seed: int = 7):
        require_netns()
        self.backend = ("netem" if netem_available() else "tap") if backend == "auto" else backend
        if self.backend not in ("netem", "tap"):
            raise DeployError(backend, "backend is netem, tap or auto")
        self.leaf_names = tuple(leaves)
        self.slot = _claim_slot()
        s = self.slot
        self.hub = Namespace(f"tlf{s}-hub")
        self.leaves = {n: Namespace(f"tlf{s}-{n.lower()}") for n in leaves}
        self.hub_addr = f"10.{150 + s}.0.1"
        self._emulator: TapEmulator | None = None
        try:
            self._build(seed)
        except BaseException:
            self.close()
            raise

    def mgmt_addr(self, leaf: str | None = None) -> str:
        """The address of the hub namespace (None) or of ``leaf``'s, from the root namespace."""
        k = 0 if leaf is None else 1 + self.leaf_names.index(leaf)
        return f"10.{100 + self.slot}.{k}.2"

    def link_addr(self, leaf: str) -> str:
        """``leaf``'s address on its WAN link (its source address toward the hub)."""
        return f"10.{150 + self.slot}.{1 + self.leaf_names.index(leaf)}.2"

    def _build(self, seed: int) -> None:
        s, hub = self.slot, self.hub
        hub.ip("link", "set", "lo", "up")
        hub.ip("addr", "add", f"{self.hub_addr}/32", "dev", "lo")
        self._mgmt(0, hub)
        pairs = [(f"tlf{s}h{k}", f"tlf{s}l{k}") for k in range(1, len(self.leaf_names) + 1)]
        if self.backend == "tap":
            self._emulator = TapEmulator(pairs, seed)
        for k, (leaf, (h_if, l_if)) in enumerate(zip(self.leaf_names, pairs, strict=True), 1):
            ns = self.leaves[leaf]
            run(["ip", "netns", "add", ns.name])
            ns.ip("link", "set", "lo", "up")
            self._mgmt(k, ns)
            if self.backend == "tap":
                run(["ip", "link", "set", h_if, "netns", hub.name])
                run(["ip", "link", "set", l_if, "netns", ns.name])
            else:
                run(["ip", "-n", hub.name, "link", "add", h_if, "type", "veth",
                     "peer", "name", l_if, "netns", ns.name])  # fmt: skip
            hub.ip("addr", "add", f"10.{150 + s}.{k}.1/30", "dev", h_if)
            ns.ip("addr", "add", f"10.{150 + s}.{k}.2/30", "dev", l_if)
            hub.ip("link", "set", h_if, "up")
            ns.ip("link", "set", l_if, "up")
            ns.ip("route", "add", f"{self.hub_addr}/32", "via", f"10.{150 + s}.{k}.1")

    def _mgmt(self, k: int, ns: Namespace) -> None:
        root_if, ns_if, net = (
            f"tlf{self.slot}m{k}",
            f"tlf{self.slot}n{k}",
            f"10.{100 + self.slot}.{k}",
        )
        run(["ip", "link", "add", root_if, "type", "veth", "peer", "name", ns_if, "netns", ns.name])
        run(["ip", "addr", "add", f"{net}.1/30", "dev", root_if])
        run(["ip", "link", "set", root_if, "up"])
        ns.ip("addr", "add", f"{net}.2/30", "dev", ns_if)
        ns.ip("link", "set", ns_if, "up")

    def impair(self, leaf: str, imp: Impairment) -> None:
        """Apply ``imp`` to both directions of ``leaf``'s link to the hub (replacing any)."""
        k = 1 + self.leaf_names.index(leaf)
        if self._emulator is not None:
            self._emulator.set(k - 1, imp)
            return
        for ns, dev in (
            (self.hub, f"tlf{self.slot}h{k}"),
            (self.leaves[leaf], f"tlf{self.slot}l{k}"),
        ):
            run(["tc", "-n", ns.name, "qdisc", "replace", "dev", dev, "root", *imp.netem_args()])

    def impair_all(self, imp: Impairment) -> None:
        for leaf in self.leaf_names:
            self.impair(leaf, imp)

    def cut(self, leaf: str) -> None:
        """Every packet on ``leaf``'s link is lost from now on (both directions)."""
        self.impair(leaf, CUT)

    def link_stats(self) -> list[dict[str, int]]:
        """Per leaf link (both directions together): packets ``forwarded`` and ``dropped``
        by the impairment — from the forwarder, or from ``tc -s qdisc`` under netem."""
        if self._emulator is not None:
            return self._emulator.stats()
        out = []
        for k, leaf in enumerate(self.leaf_names, 1):
            total = {"forwarded": 0, "dropped": 0}
            ends = ((self.hub, f"tlf{self.slot}h{k}"), (self.leaves[leaf], f"tlf{self.slot}l{k}"))
            for ns, dev in ends:
                text = run(["tc", "-n", ns.name, "-s", "qdisc", "show", "dev", dev])
                m = re.search(r"Sent \d+ bytes (\d+) pkt \(dropped (\d+)", text)
                if m:
                    total["forwarded"] += int(m[1])
                    total["dropped"] += int(m[2])
            out.append(total)
        return out

    def close(self) -> None:
        if self._emulator is not None:
            self._emulator.close()
        _destroy_slot(self.slot)

    def __enter__(self) -> StarNet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":  # the tap backend's forwarder process (see TapEmulator)
    asyncio.run(_emulate([(a, b) for a, b in json.loads(sys.argv[1])], int(sys.argv[2])))
