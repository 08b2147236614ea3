"""Transport and scheduling knobs of ``bench_link_latency`` (benchmark options; the
product's defaults are the baseline): the coalition started with nats-server configs
rewritten or streams deleted, and every process in its own session (autogroup) with its
weight and, optionally, its scheduler slice.
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from bench_hub_throughput import NATIONS

from trilink.nodes.hub import HUB_ID
from trilink.nodes.up import LocalCoalition, start_local_coalition

# ---- transport knobs (benchmark options; the product's defaults are the baseline) ----


@dataclass(frozen=True)
class Knobs:
    leaf_tls: bool = True  # TLS on the leaf -> hub links (on in the product)
    streams: bool = True  # the JetStream store-and-forward streams (on in the product)
    gomaxprocs: int = 0  # GOMAXPROCS of every nats-server (0: Go's default, one per core)
    write_deadline: str = ""  # the hub server's write_deadline ("": nats-server's default)
    slice_us: int = 0  # scheduler slice of every process (0: the kernel's default)
    uvloop: bool = False  # benchmark processes on uvloop (pip install uvloop)

    def label(self) -> str:
        parts = [
            *(["leaf TLS off"] if not self.leaf_tls else []),
            *(["no JetStream streams"] if not self.streams else []),
            *([f"GOMAXPROCS={self.gomaxprocs}"] if self.gomaxprocs else []),
            *([f"hub write_deadline {self.write_deadline}"] if self.write_deadline else []),
            *([f"scheduler slice {self.slice_us} us"] if self.slice_us else []),
            *(["uvloop"] if self.uvloop else []),
        ]
        return ", ".join(parts) or "product defaults"


async def start_coalition(root: Path, knobs: Knobs) -> LocalCoalition:
    """The deployed topology (``start_local_coalition``), then the knobs that differ from
    the product: configs rewritten and the servers restarted (their JetStream state
    persists), or the streams deleted (core NATS only on every hop)."""
    from trilink.link.natsproc import topology_servers
    from trilink.link.topology import hub_config, leaf_config, render_conf

    if knobs.gomaxprocs:  # nats-server processes inherit the environment
        os.environ["GOMAXPROCS"] = str(knobs.gomaxprocs)
    coal = await start_local_coalition(root, NATIONS, "USA")
    if not knobs.leaf_tls or knobs.write_deadline:
        coal.stop()
        topo = coal.topo
        hub = hub_config(topo)
        if knobs.write_deadline:
            hub["write_deadline"] = knobs.write_deadline
        leaves = {n: leaf_config(topo, n) for n in NATIONS}
        if not knobs.leaf_tls:  # leaf logins by password instead of certificate
            hub["leafnodes"] = {
                "listen": hub["leafnodes"]["listen"],
                "authorization": {
                    "users": [
                        {"user": f"leaf-{n.lower()}", "password": "bench", "account": n}
                        for n in NATIONS
                    ]
                },
            }
            for n, conf in leaves.items():
                url = f"nats-leaf://leaf-{n.lower()}:bench@127.0.0.1:{topo.hub_leaf_port}"
                conf["leafnodes"] = {"remotes": [{"urls": [url], "account": n}]}
        (root / "hub" / "hub.conf").write_text(render_conf(hub))
        for n, conf in leaves.items():
            (root / n.lower() / f"{n.lower()}.conf").write_text(render_conf(conf))
        coal = LocalCoalition(topo, coal.pki, topology_servers(topo))
        for server in coal.servers.values():
            server.start()
        _wait_leaves(topo.hub_http_port, len(NATIONS))
    if not knobs.streams:  # sourcing streams first, then their origins
        from trilink.link.topology import (
            hub_from_stream,
            hub_to_stream,
            inbox_stream,
            outbox_stream,
        )

        hub_bus = await coal.bus_for(HUB_ID)
        node_bus = {n: await coal.bus_for(n) for n in NATIONS}
        try:
            for n in NATIONS:
                await hub_bus.client.jetstream().delete_stream(hub_from_stream(n))
                client = node_bus[n].client
                await client.jetstream().delete_stream(inbox_stream(n))
                await client.jetstream(domain="hub").delete_stream(hub_to_stream(n))
                await client.jetstream().delete_stream(outbox_stream(n))
        finally:
            for bus in [hub_bus, *node_bus.values()]:
                await bus.close()
    return coal


def _wait_leaves(http_port: int, n: int, timeout_s: float = 20.0) -> None:
    import json
    import urllib.request

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/leafz", timeout=2) as r:
                if int(json.loads(r.read())["leafnodes"]) >= n:
                    return
        time.sleep(0.05)
    raise RuntimeError(f"leaf nodes did not link to the hub in {timeout_s} s")


def stream_names(coal: LocalCoalition) -> dict[str, list[str]]:
    """The JetStream streams each server holds (from its monitoring port), for the header."""
    import json
    import urllib.request

    out = {}
    for name, srv in coal.servers.items():
        try:
            url = f"http://127.0.0.1:{srv.http_port}/jsz?streams=true&accounts=true"
            with urllib.request.urlopen(url, timeout=2) as r:
                d = json.loads(r.read())
            out[name] = sorted(
                st["name"]
                for acc in d.get("account_details") or []
                for st in acc.get("stream_detail") or []
            )
        except (OSError, ValueError, KeyError):
            out[name] = []
    return out


# ---- scheduling: every process in its own session, as a separate service would be ----


def own_session(nice: int, pid: int | None = None) -> None:
    """Put this process in its own session, hence its own scheduler autogroup, as a
    separate service would be (each nats-server already is); ``nice`` then sets that
    group's weight. With autogroups (kernel.sched_autogroup_enabled) the CPU is shared
    equally between sessions, and a per-process nice value only counts inside one."""
    if pid is None:
        with contextlib.suppress(OSError):
            os.setsid()
    if nice:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid or 'self'}/autogroup").write_text(str(nice))


def set_slice(slice_us: int) -> None:
    """Ask the scheduler for a ``slice_us`` time slice for this thread (EEVDF custom
    slice, Linux >= 6.12: ``sched_attr.sched_runtime`` of a SCHED_OTHER task). A shorter
    slice means an earlier virtual deadline, so a task that wakes up preempts the running
    one sooner instead of waiting out its slice (1.4 ms here by default). Inherited by
    the threads and processes started afterwards: every server and benchmark process."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    # struct sched_attr: size, policy (SCHED_OTHER), flags, nice, priority, runtime, ...
    attr = struct.pack("<IIqiIQQQII", 56, 0, 0, nice, 0, slice_us * 1000, 0, 0, 0, 1024)
    if libc.syscall(314, 0, ctypes.create_string_buffer(attr), 0) != 0:  # sched_setattr
        err = ctypes.get_errno()
        raise OSError(err, f"sched_setattr: {os.strerror(err)}")
