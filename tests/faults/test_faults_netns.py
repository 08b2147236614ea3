"""The namespace test bed itself (trilink.link.netns): it can be built here, its WAN
really delays, drops and cuts, a leaf reaches the hub and nothing else, and it cleans up.

Round trips are TCP connects to a closed port on the hub's address: the RST comes back
after one round trip, so no server is needed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest

from trilink.errors import DeployError
from trilink.link import netns
from trilink.link.netns import CLEAN, CUT, WAN, Impairment, StarNet, require_netns


def test_this_machine_can_build_namespaces() -> None:
    try:
        require_netns()
    except DeployError as e:
        pytest.fail(f"the fault tests cannot run here: {e}")
    print(f"\nWAN backend here: {'netem' if netns.netem_available() else 'tap forwarder'}")


def test_netem_arguments_say_what_the_issue_asks() -> None:
    assert WAN.netem_args() == ["netem", "delay", "150ms", "20ms", "loss", "5%"]
    assert CUT.netem_args() == ["netem", "delay", "0ms", "loss", "100%"]
    with pytest.raises(DeployError):
        Impairment(loss=1.5)
    with pytest.raises(DeployError):
        Impairment(delay_s=-0.1)


def test_missing_privileges_or_tools_fail_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(DeployError, match="not root"):
        require_netns()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(DeployError, match=r"not on PATH.*iproute2"):
        require_netns()


def probe(addr: str, timeout_s: float = 1.0) -> float | str:
    """Seconds to a refused connect (one round trip), or why it failed."""
    s = socket.socket()
    s.settimeout(timeout_s)
    t0 = time.monotonic()
    try:
        s.connect((addr, 9))
        return "connected"
    except ConnectionRefusedError:
        return time.monotonic() - t0
    except TimeoutError:
        return "timeout"
    except OSError as e:
        return os.strerror(e.errno) if e.errno else str(e)
    finally:
        s.close()


def test_wan_delays_drops_and_cuts_and_a_leaf_reaches_only_the_hub() -> None:
    with StarNet(["KOR", "JPN"]) as net:
        kor = net.leaves["KOR"]
        clean = kor.call(probe, net.hub_addr)
        assert isinstance(clean, float) and clean < 0.05
        for other in (net.link_addr("JPN"), net.mgmt_addr("JPN"), net.mgmt_addr()):
            assert kor.call(probe, other) == "Network is unreachable", other
        assert isinstance(probe(net.mgmt_addr("KOR")), float)  # the root namespace's path

        net.impair("KOR", WAN)
        rtts = [kor.call(probe, net.hub_addr, 5.0) for _ in range(12)]
        fast = min(r for r in rtts if isinstance(r, float))
        assert fast >= 2 * 0.130, rtts  # two crossings of at least 150 - 20 ms
        net.cut("KOR")
        assert kor.call(probe, net.hub_addr) == "timeout"
        assert isinstance(net.leaves["JPN"].call(probe, net.hub_addr), float)  # JPN unaffected
        net.impair("KOR", CLEAN)
        assert isinstance(kor.call(probe, net.hub_addr), float)
        stats = net.link_stats()
        assert stats[0]["dropped"] > 0 and stats[0]["forwarded"] > 0
        names = [net.hub.name, *(ns.name for ns in net.leaves.values())]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(n in listed for n in names), listed
