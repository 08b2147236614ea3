"""A hub process that survives SIGKILL: the product's durable hub service
(:func:`trilink.nodes.live_durable.run_durable_hub`: the real HubNode reading its HUB_FROM_<N>
streams through durable consumers, with the restart protocol of
:mod:`trilink.nodes.persist`), on the as-fast-as-possible clock, with kill points.

Run as ``python fault_hub.py CONFIG.json`` (test_faults_restart.py starts, kills and
restarts it). It commits after every batch (``every_s`` 0), so the kill points fall
exactly between the steps of the protocol: commit, publish, acknowledge.

Config keys: hub_url, ca, cert, key, snapshot, audit, progress, duration_s, seed,
first_seq {stream: first sequence to read}, die_at_release_commit (kill itself at the
n-th commit that carries system tracks; null: never), die_before_publish (or after),
batch (max messages per commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trilink.link.nats_bus import DurableStreams, NatsBus
from trilink.link.pki import CertPair, client_tls
from trilink.link.topology import hub_from_stream
from trilink.nodes.base import Outbound
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.hub import HubNode
from trilink.nodes.live import ManualClock
from trilink.nodes.live_durable import DurableStats, run_durable_hub
from trilink.nodes.persist import HubCheckpoint, Resume, save_snapshot
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate


def scenario(duration_s: float, seed: int | None = None):
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1], duration_s=duration_s)
    return sc, simulate(sc, seed=seed)


class KillingCheckpoint(HubCheckpoint):
    """Kills its own process at the n-th commit carrying system tracks: right after the
    commit (nothing published nor acknowledged), or after the publish (:class:`KillingBus`:
    published, not acknowledged, so the successor re-sends copies)."""

    def __init__(self, path: str, at: int | None, before_publish: bool):
        super().__init__(path)
        self.at, self.before_publish = at, before_publish
        self.releasing = 0
        self.armed = False

    def commit(
        self, hub: HubNode, out: Sequence[Outbound], offsets: Mapping[str, int] | None = None
    ) -> list[Outbound]:
        sent = super().commit(hub, out, offsets)
        self.releasing += any(o.subject.endswith(".tracks") for o in sent)
        if self.at is not None and self.releasing >= self.at:
            if self.before_publish:
                os.kill(os.getpid(), signal.SIGKILL)
            self.armed = True
        return sent


class KillingBus(NatsBus):
    """The service flushes right after publishing a commit's messages: die there if armed."""

    checkpoint: KillingCheckpoint

    async def flush(self) -> None:
        await super().flush()
        if self.checkpoint.armed:
            os.kill(os.getpid(), signal.SIGKILL)


async def serve(cfg: dict[str, Any]) -> None:
    sc, sim = scenario(cfg["duration_s"], cfg["seed"])
    nations = [n.id for n in sc.nations]
    hub = make_hub(
        sc, Identity.simulated(sc, sim.seed), ManualClock(sim.t_start_ns), sim.t_start_ns,
        audit_path=Path(cfg["audit"]), check_clock=False,
    )  # fmt: skip
    cp = KillingCheckpoint(cfg["snapshot"], cfg["die_at_release_commit"], cfg["die_before_publish"])
    resume = cp.resume(hub)
    if not resume.restored:  # a first start reads from where the test began
        resume = Resume(offsets={s: first - 1 for s, first in cfg["first_seq"].items()})
    tls = client_tls(Path(cfg["ca"]), CertPair(Path(cfg["cert"]), Path(cfg["key"]), ""))
    plain = await NatsBus.connect(cfg["hub_url"], tls=tls, connect_timeout=5)
    bus = KillingBus(plain.client, errors=plain.errors)
    bus.checkpoint = cp
    inputs = DurableStreams(bus.client, [hub_from_stream(n) for n in nations], fetch=cfg["batch"])
    stop = asyncio.Event()
    stats = DurableStats()

    async def watch() -> None:
        """Progress for the test; stop once past the end and the input has gone quiet."""
        quiet, last = 0, -1
        while True:
            progress(cfg, hub, cp, done=False)
            if hub.next_cycle_ns > sim.t_end_ns:
                quiet = quiet + 1 if stats.received == last else 0
                if quiet >= 20:  # 1 s
                    stop.set()
                    return
            last = stats.received
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    await run_durable_hub(
        hub, bus, inputs, cp, resume, stop=stop, every_s=0.0, batch=cfg["batch"], stats=stats
    )
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await plain.close()
    progress(cfg, hub, cp, done=True)
    hub.audit.close()


def progress(cfg: dict[str, Any], hub: Any, cp: HubCheckpoint, *, done: bool) -> None:
    save_snapshot(
        cfg["progress"],
        {
            "done": done, "commits": cp.commits, "cycles": hub.cycles, "pid": os.getpid(),
            "next_seq": hub.link.stamper.next_seq, "next_number": hub.table.next_number,
            "audit_count": hub.audit.count, "deadletters": dict(hub.link.deadletters.by_reason),
        },
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(serve(json.loads(Path(sys.argv[1]).read_text())))
