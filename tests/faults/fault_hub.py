"""A hub process that survives SIGKILL: the real HubNode, fed from its HUB_FROM_<N>
streams, with the restart protocol of :mod:`trilink.nodes.persist`.

Run as ``python fault_hub.py CONFIG.json`` (test_faults_restart.py starts, kills and
restarts it). Per batch of input: admit every message (``HubNode.on_message``), run the
due cycles, **commit** (state + outbox + stream positions, one atomic file), publish,
acknowledge. On start: restore the snapshot, publish its outbox again, and (re)create
each durable consumer at the committed position, so input is read on in stream order
(a consumer left to redeliver unacknowledged messages after ``ack_wait`` would hand
them over behind later ones, and the watermark order would be lost).

This is the service loop the lead may lift into ``trilink.nodes.live.run_hub`` (see the
final report): only the NATS calls here are new; the rest is ``persist``.

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
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from trilink.link.pki import CertPair, client_tls
from trilink.link.topology import hub_from_stream
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.live import ManualClock
from trilink.nodes.persist import HubCheckpoint, save_snapshot
from trilink.scenario import load_scenario
from trilink.scenario.simulate import simulate


def scenario(duration_s: float, seed: int | None = None):  # type: ignore[no-untyped-def]
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=sc.launches[:1], duration_s=duration_s)
    return sc, simulate(sc, seed=seed)


async def serve(cfg: dict[str, Any]) -> None:
    sc, sim = scenario(cfg["duration_s"], cfg["seed"])
    nations = [n.id for n in sc.nations]
    hub = make_hub(
        sc, Identity.simulated(sc, sim.seed), ManualClock(sim.t_start_ns), sim.t_start_ns,
        audit_path=Path(cfg["audit"]), check_clock=False,
    )  # fmt: skip
    cp = HubCheckpoint(cfg["snapshot"])
    resume = cp.resume(hub)
    tls = client_tls(Path(cfg["ca"]), CertPair(Path(cfg["cert"]), Path(cfg["key"]), ""))
    nc = await nats.connect(cfg["hub_url"], tls=tls, connect_timeout=5)
    for ob in resume.outbox:  # what the killed process may or may not have sent
        await nc.publish(ob.subject, ob.payload, headers=ob.headers or None)
    js = nc.jetstream(timeout=10)
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    offsets = dict(resume.offsets)

    async def fetch(stream: str) -> None:
        name = f"hub-{stream}"
        with contextlib.suppress(NotFoundError):
            await js.delete_consumer(stream, name)
        start = offsets.get(stream, cfg["first_seq"][stream] - 1) + 1
        await js.add_consumer(
            stream,
            ConsumerConfig(
                durable_name=name, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start, ack_policy=AckPolicy.EXPLICIT, ack_wait=300,
            ),
        )  # fmt: skip
        psub = await js.pull_subscribe_bind(durable=name, stream=stream)
        while True:
            try:
                msgs = await psub.fetch(cfg["batch"], timeout=1.0)
            except TimeoutError:
                continue
            for m in msgs:
                await queue.put((stream, m))

    fetchers = [asyncio.create_task(fetch(hub_from_stream(n))) for n in nations]
    prefixes = tuple(f"trilink.{n}." for n in nations)
    releasing = 0  # commits whose outbox carries system tracks
    while not (hub.next_cycle_ns > sim.t_end_ns and queue.empty()):
        try:
            batch = [await asyncio.wait_for(queue.get(), 1.0)]
        except TimeoutError:
            continue
        while not queue.empty() and len(batch) < cfg["batch"]:
            batch.append(queue.get_nowait())
        for stream, m in batch:
            if m.subject.startswith(prefixes):
                hub.on_message(m.subject, m.data)
            offsets[stream] = m.metadata.sequence.stream
        out = cp.commit(hub, hub.run_due(), offsets)
        releasing += any(o.subject.endswith(".tracks") for o in out)
        die = cfg["die_at_release_commit"] is not None and releasing >= cfg["die_at_release_commit"]
        if die and cfg["die_before_publish"]:
            os.kill(os.getpid(), signal.SIGKILL)  # committed; nothing published nor acked
        for ob in out:
            await nc.publish(ob.subject, ob.payload, headers=ob.headers or None)
        await nc.flush()
        if die:
            os.kill(os.getpid(), signal.SIGKILL)  # published, not acked: copies will follow
        for _, m in batch:
            await m.ack()
        progress(cfg, hub, cp, done=False)
    for t in fetchers:
        t.cancel()
    await nc.drain()
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
