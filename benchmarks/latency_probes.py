"""What ``bench_link_latency`` reads from the host while a run goes on (Linux /proc): the
whole machine's idle and stolen CPU, each process's run-queue wait (schedstat), each
nats-server's CPU, and the unread bytes in the loopback sockets between the processes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from trilink.nodes.up import LocalCoalition


def machine_cpu() -> tuple[float, float]:
    """(idle, stolen) CPU seconds of the whole machine so far (/proc/stat). Idle, not
    busy: a tickless kernel measures idle time exactly, while user and system time are
    sampled at each tick and miss processes that wake and sleep between ticks."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    return (f[3] + f[4]) / tick, f[7] / tick


def run_delay(pids: dict[int, str]) -> dict[str, float]:
    """Seconds each process's threads have spent runnable but waiting for a CPU so far
    (``/proc/<pid>/task/*/schedstat``, second field): the scheduler's queueing."""
    out = {}
    for pid, name in pids.items():
        total = 0
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{pid}/task").iterdir():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    total += int((task / "schedstat").read_text().split()[1])
        out[name] = total / 1e9
    return out


def server_cpu(coal: LocalCoalition) -> dict[str, float]:
    """CPU seconds (user + system) each nats-server has used so far, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for name, srv in coal.servers.items():
        try:
            fields = Path(f"/proc/{srv.pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            out[name] = float("nan")
    return out


class SocketSampler:
    """Bytes waiting in each loopback TCP socket's receive queue (``/proc/net/tcp``),
    sampled every ``period_s`` in a thread: data the kernel holds because the process
    owning the socket has not read it yet — that process is behind, whatever its CPU
    says. Sockets are named after their owner and peer (psutil, once, after connect)."""

    def __init__(self, pids: dict[int, str], period_s: float):
        import threading

        import psutil

        self.period_s = period_s
        owner: dict[tuple[int, int], str] = {}
        for pid, name in pids.items():
            with contextlib.suppress(psutil.Error):
                for c in psutil.Process(pid).net_connections(kind="tcp4"):
                    if c.raddr:
                        owner[(c.laddr.port, c.raddr.port)] = name
        self.labels = {
            key: f"{who} <- {owner.get((key[1], key[0]), '?')}" for key, who in owner.items()
        }
        self.samples: dict[str, list[int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            with contextlib.suppress(OSError):
                lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
            acc: dict[str, int] = {}
            for line in lines:
                f = line.split()
                key = (int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16))
                label = self.labels.get(key)
                if label is not None:
                    acc[label] = acc.get(label, 0) + int(f[4].split(":")[1], 16)
            for label, rx in acc.items():
                self.samples.setdefault(label, []).append(rx)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, tuple[float, float, float]]:
        """{owner <- peer: (p50, p99, max) bytes waiting}, busiest first."""
        self._stop.set()
        self._thread.join()
        out = {
            k: (float(np.median(v)), float(np.quantile(v, 0.99)), float(max(v)))
            for k, v in self.samples.items()
            if max(v) > 0
        }
        return dict(sorted(out.items(), key=lambda kv: -kv[1][1]))
