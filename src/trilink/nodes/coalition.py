"""Build the coalition's nodes from a scenario: one place, so that the simulated run and
the live runs (one process on any bus, or one process per node on NATS) are made alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.fusion import FusionConfig
from trilink.link import Keyring
from trilink.link.signing import private_key_from_seed
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

    @classmethod
    def load(cls, directory: Path, node: str) -> Identity:
        """One node's private key (``<NODE>.key``: 64 hex digits of its Ed25519 seed) and
        the coalition keyring (``keyring.json``), as ``trilink keys init`` wrote them."""
        from trilink.errors import DeployError

        key_file = directory / f"{node}.key"
        ring_file = directory / "keyring.json"
        for f in (key_file, ring_file):
            if not f.is_file():
                raise DeployError(str(f), "missing: run `trilink keys init SCENARIO --out DIR`")
        try:
            key = private_key_from_seed(bytes.fromhex(key_file.read_text().strip()))
        except ValueError as exc:
            raise DeployError(str(key_file), f"not a 32-byte hex seed: {exc}") from None
        return cls({node: key}, Keyring.load(ring_file))


def write_identities(directory: Path, node_ids: list[str]) -> Path:
    """Fresh random Ed25519 keys for every node (files 0600) and the public keyring."""
    directory.mkdir(parents=True, exist_ok=True)
    keys = {}
    for node in node_ids:
        seed = os.urandom(32)
        keys[node] = private_key_from_seed(seed)
        f = directory / f"{node}.key"
        f.write_text(seed.hex() + "\n")
        f.chmod(0o600)
    ring = directory / "keyring.json"
    ring.write_text(json.dumps(Keyring.of_private(keys).to_hex(), indent=2) + "\n")
    return ring


def scenario_policy(scenario: Scenario) -> Policy:
    return Policy.from_table(dict(scenario.policy) if scenario.policy else None)


def make_national(
    scenario: Scenario, nation: str, identity: Identity, clock: Clock, *, check_clock: bool = True,
    deadletter_path: Path | None = None, start_seq: int = 0,
) -> NationalNode:  # fmt: skip
    return NationalNode(
        nation, identity.keys[nation], identity.keyring, clock,
        hub_nation=scenario.hub.id, check_clock=check_clock, deadletter_path=deadletter_path,
        start_seq=start_seq,
    )  # fmt: skip


HUB_FUSION = FusionConfig(stale_after_s=2.5, silent_after_s=2.0)
"""The hub's fusion settings. National nodes report a track only when a measurement
updated it (radar revisits of 1-2 s), so a report older than 2.5 s is a track the radars
have lost; aligning it further with a drag-free model spoiled re-entry fusion (measured on
the built-in SRBM salvo: re-entry RMSE 159 m with the 6 s default, 30 m with 2.5 s)."""


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
    fusion_config: FusionConfig | None = None,
    start_seq: int = 0,
    fast_path: bool = False,
) -> HubNode:
    nations = [n.id for n in scenario.nations]
    return HubNode(
        identity.keys[HUB_ID], identity.keyring, clock,
        partners=nations, sources=nations, policy=scenario_policy(scenario),
        start_ns=start_ns, cycle_s=cycle_s, audit=AuditLog(audit_path),
        warner=warner_factory(scenario) if warner_factory else None,
        check_clock=check_clock, source_timeout_s=source_timeout_s,
        deadletter_path=deadletter_path, fusion_config=fusion_config or HUB_FUSION, start_seq=start_seq,
        fast_path=fast_path,
    )  # fmt: skip


def write_keyring(directory: Path, identity: Identity) -> Path:
    """The public keys of a run (``keyring.json``), so a recording can be verified later."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "keyring.json"
    path.write_text(json.dumps(identity.keyring.to_hex(), indent=2) + "\n")
    return path
