"""Start, check and stop real ``nats-server`` processes (Debian's 2.9 binary).

Used by the deploy tests and by ``trilink up``. A server is ready when its monitoring endpoint
``/healthz`` answers 200, which in 2.9 means the client listener and JetStream are up;
only then may streams be provisioned. (Without monitoring, when its client port accepts
a TCP connection.)

Ports are chosen by the caller, before the config is written, by binding port 0 and
releasing it (:func:`free_ports`): the config must name fixed ports because a restarted
hub has to come back where its leaves look for it (``listen: -1`` would move it). The
small window in which another process could take a released port is acceptable for tests
and local runs; a deployment uses its fixed ports.

Stopping sends SIGTERM (nats-server flushes JetStream and closes links), then SIGKILL
after a grace period. A server that dies or never comes up raises DeployError carrying
the tail of its log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from trilink.errors import DeployError
from trilink.link.topology import HUB_SERVER, LeafPorts, Topology, domain_of

NATS_SERVER = "/usr/bin/nats-server"
ENV_BINARY = "TRILINK_NATS_SERVER"
"""Environment variable naming another nats-server binary."""


def nats_server_binary() -> str:
    """Path of the nats-server binary; DeployError saying how to get one if there is none."""
    configured = os.environ.get(ENV_BINARY)
    for candidate in (configured, NATS_SERVER, shutil.which("nats-server")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise DeployError(
        "nats-server",
        f"binary not found ({ENV_BINARY}={configured!r}, {NATS_SERVER}, PATH): "
        "install it with `apt-get install -y nats-server`",
    )


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports that were free a moment ago (bind 0, read, release)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def check_config(path: Path) -> str:
    """Run ``nats-server -t -c path``; its message if valid, else DeployError with it."""
    proc = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise DeployError(str(path), f"nats-server rejects the config: {out}")
    return out


class NatsServer:
    """One nats-server process on a config file. A context manager: ``with NatsServer(..)``.

    ``client_port`` (and ``http_port`` if the config enables monitoring) are the ports
    the config names, used to decide readiness. The log goes to ``log_path`` (default
    beside the config), kept across restarts.
    """

    def __init__(
        self,
        config: Path,
        *,
        client_port: int,
        http_port: int | None = None,
        host: str = "127.0.0.1",
        name: str | None = None,
        log_path: Path | None = None,
        ready_timeout_s: float = 15.0,
    ):
        self.config = Path(config)
        self.client_port = client_port
        self.http_port = http_port
        self.host = host
        self.name = name or self.config.stem
        self.log_path = log_path or self.config.with_suffix(".log")
        self.ready_timeout_s = ready_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def start(self) -> NatsServer:
        """Start the process and wait until it is ready; DeployError if it is not."""
        if self.running:
            return self
        binary = nats_server_binary()
        with open(self.log_path, "ab") as log:
            log.write(f"---- trilink: starting {self.name} ----\n".encode())
            self._proc = subprocess.Popen(
                [binary, "-c", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C to the caller does not hit it first
            )
        try:
            self._wait_ready()
        except DeployError:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise DeployError(self.name, f"nats-server exited early:\n{self.log_tail()}")
            # /healthz answers once the client listener and JetStream are up. A bare TCP
            # probe is the fallback only: on a TLS port it makes the server log a
            # handshake error.
            if self._healthy() if self.http_port is not None else self._port_open():
                return
            time.sleep(0.02)
        raise DeployError(
            self.name,
            f"not ready after {self.ready_timeout_s} s (client port {self.client_port}):\n"
            f"{self.log_tail()}",
        )

    def _port_open(self) -> bool:
        try:
            with socket.create_connection((self.host, self.client_port), timeout=0.2):
                return True
        except OSError:
            return False

    def _healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=0.5) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL at once: a crash, not a shutdown (for fault tests)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self) -> NatsServer:
        self.stop()
        return self.start()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def local_topology(nations: Sequence[str], hub_nation: str, root: Path) -> Topology:
    """A topology on loopback with every port freshly chosen (tests, ``trilink up``)."""
    ports = free_ports(3 + 2 * len(nations))
    leaf = {n: LeafPorts(ports[3 + 2 * i], ports[4 + 2 * i]) for i, n in enumerate(nations)}
    return Topology(
        nations=tuple(nations),
        hub_nation=hub_nation,
        root=Path(root).resolve(),
        hub_client_port=ports[0],
        hub_leaf_port=ports[1],
        hub_http_port=ports[2],
        leaf_ports=leaf,
    )


def topology_servers(topo: Topology, out: Path | None = None) -> dict[str, NatsServer]:
    """A (not yet started) :class:`NatsServer` per server of ``topo``, hub first, reading
    the configs written by :func:`~trilink.link.topology.write_topology` under ``out``
    (default ``topo.root``)."""
    out = Path(out) if out is not None else topo.root
    servers = {
        HUB_SERVER: NatsServer(
            out / HUB_SERVER / f"{HUB_SERVER}.conf",
            client_port=topo.hub_client_port,
            http_port=topo.hub_http_port,
            host=topo.hub_host if topo.hub_host != "0.0.0.0" else "127.0.0.1",
        )
    }
    for n in topo.nations:
        d = domain_of(n)
        p = topo.leaf_ports[n]
        servers[d] = NatsServer(
            out / d / f"{d}.conf",
            client_port=p.client_port,
            http_port=p.http_port,
            host=topo.leaf_host if topo.leaf_host != "0.0.0.0" else "127.0.0.1",
        )
    return servers
