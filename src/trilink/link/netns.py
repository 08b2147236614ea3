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
  devices bridged by a small user-space forwarder (``python -m trilink.link.netns_tap``) that
  applies the same model to every Ethernet frame: delay uniform in ``D ± J`` per frame
  (frames may overtake one another, as under netem's jitter), independent loss ``L``.

Either way a cut is ``loss 100 %``: packets vanish, as when a cable is cut far away, and
TCP (and NATS above it) must notice by itself. Every failure raises
:class:`~trilink.errors.DeployError` naming the command and what to do.

The parts live next door: commands, probes, :class:`Namespace` and :class:`Impairment` in
:mod:`trilink.link.netns_core`, the forwarder in :mod:`trilink.link.netns_tap`; their
public names are importable from here too.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from trilink.errors import DeployError
from trilink.link.netns_core import (
    CLEAN,
    CLONE_NEWNET,
    CUT,
    NETNS_DIR,
    NETNS_HINT,
    WAN,
    Impairment,
    Namespace,
    netem_available,
    require_netns,
    run,
)
from trilink.link.netns_tap import IFF_NO_PI, IFF_TAP, TUNSETIFF, TapEmulator

__all__ = [
    "CLEAN",
    "CLONE_NEWNET",
    "CUT",
    "IFF_NO_PI",
    "IFF_TAP",
    "MAX_SLOTS",
    "NETNS_DIR",
    "NETNS_HINT",
    "TUNSETIFF",
    "WAN",
    "Impairment",
    "Namespace",
    "StarNet",
    "TapEmulator",
    "netem_available",
    "require_netns",
    "run",
]

MAX_SLOTS = 32


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
