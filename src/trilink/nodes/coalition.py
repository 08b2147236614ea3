"""Build the coalition's nodes from a scenario: one place, so that the simulated run and
the live runs (one process on any bus, or one process per node on NATS) are made alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.link import Keyring
from trilink.nodes.base import simulation_keys
from trilink.nodes.clock import Clock
from trilink.nodes.hub import HUB_ID, HubNode, Warner
from trilink.nodes.national import NationalNode
from trilink.policy import AuditLog, Policy
from trilink.scenario.model import Scenario


@dataclass(frozen=True)
class Identity:
    """Signing keys of every node of a coalition (private keys only where held)."""

    keys: dict[str, Ed25519PrivateKey]
    keyring: Keyring

    @classmethod
    def simulated(cls, scenario: Scenario, seed: int) -> Identity:
        ids = [n.id for n in scenario.nations] + [HUB_ID]
        keys = simulation_keys(ids, seed)
        return cls(keys, Keyring.of_private(keys))


def scenario_policy(scenario: Scenario) -> Policy:
    return Policy.from_table(dict(scenario.policy) if scenario.policy else None)


def make_national(
    scenario: Scenario, nation: str, identity: Identity, clock: Clock, *, check_clock: bool = True,
    deadletter_path: Path | None = None,
) -> NationalNode:  # fmt: skip
    return NationalNode(
        nation, identity.keys[nation], identity.keyring, clock,
        hub_nation=scenario.hub.id, check_clock=check_clock, deadletter_path=deadletter_path,
    )  # fmt: skip


def make_hub(
    scenario: Scenario,
    identity: Identity,
    clock: Clock,
    start_ns: int,
    *,
    cycle_s: float = 0.5,
    audit_path: Path | None = None,
    warner_factory: Callable[[Scenario], Warner] | None = None,
    check_clock: bool = True,
    source_timeout_s: float | None = None,
    deadletter_path: Path | None = None,
) -> HubNode:
    nations = [n.id for n in scenario.nations]
    return HubNode(
        identity.keys[HUB_ID], identity.keyring, clock,
        partners=nations, sources=nations, policy=scenario_policy(scenario),
        start_ns=start_ns, cycle_s=cycle_s, audit=AuditLog(audit_path),
        warner=warner_factory(scenario) if warner_factory else None,
        check_clock=check_clock, source_timeout_s=source_timeout_s,
        deadletter_path=deadletter_path,
    )  # fmt: skip
