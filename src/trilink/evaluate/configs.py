"""The link configurations a Monte Carlo evaluation compares, as scenario transforms.

What a partner sees is decided by the releasability policy (:mod:`trilink.policy`), so
each configuration is the same scenario with a different policy, or with no link at all:

* ``alone`` — every nation has only its own sensors and tracker: no hub, nothing sent
  (``RunConfig(link=False)``); the scenario is unchanged.
* ``bilateral`` — each partner linked to the U.S. only, as before the trilateral link
  went live in December 2023 (FACTS.md: under the 2014 arrangement Korea's and Japan's
  data passed only through the U.S., after the provider approved each release, too late
  to warn): the scenario's own policy with every release from one partner to another
  removed. Korea's and Japan's data reach the U.S. (and return to their owner); the U.S.
  releases its own data to both. A system track Japan receives is then fused from U.S.
  (and Japanese) reports only (the hub's subset fusion), so Japan gets nothing only
  Korea saw.
* ``trilateral`` — the scenario's policy as written (in the built-in scenario every
  nation releases tracks, launch events and warnings to the other two).

Each transform is a pure function ``Scenario -> Scenario``
(:func:`dataclasses.replace`); :func:`configure` also says whether the run has a link.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trilink.policy.rules import ANY
from trilink.scenario.model import Scenario, thaw

ALONE, BILATERAL, TRILATERAL = "alone", "bilateral", "trilateral"


@dataclass(frozen=True)
class LinkConfig:
    """One configuration: its name, whether the hub runs, and its policy transform."""

    name: str
    link: bool
    transform: Callable[[Scenario], Scenario]
    description: str


def bilateral_policy(policy: Mapping[str, Any], hub: str, nations: Sequence[str]) -> dict:
    """``policy`` with every partner-to-partner release removed.

    A rule of a partner keeps only the hub among its recipients (``"*"`` recipients
    become the hub); a rule whose source is ``"*"`` is split into one rule per nation
    so that the hub's share stays as written. Rules left with no recipient are dropped;
    kinds, redactions and ``always_redact`` are kept as they were.
    """
    table = thaw(policy)
    rules: list[dict] = []
    for rule in table.get("rules", []):
        sources = list(nations) if rule.get("source") == ANY else [rule.get("source")]
        for source in sources:
            to = list(rule.get("to", []))
            if source != hub:
                to = [hub] if (ANY in to or hub in to) else []
            if to:
                rules.append({**rule, "source": source, "to": to})
    table["rules"] = rules
    return table


def _bilateral(scenario: Scenario) -> Scenario:
    policy = bilateral_policy(scenario.policy, scenario.hub.id, [n.id for n in scenario.nations])
    return dataclasses.replace(scenario, policy=policy)


def _unchanged(scenario: Scenario) -> Scenario:
    return scenario


CONFIGS: dict[str, LinkConfig] = {
    ALONE: LinkConfig(ALONE, False, _unchanged, "each nation alone: its own sensors only"),
    BILATERAL: LinkConfig(
        BILATERAL, True, _bilateral, "each partner linked to the U.S. only (pre-2023)"
    ),
    TRILATERAL: LinkConfig(TRILATERAL, True, _unchanged, "the scenario's policy: everyone shares"),
}
"""The configurations by name, in the order a report shows them."""


def parse_configs(text: str) -> tuple[str, ...]:
    """``"alone,trilateral"`` -> names, in :data:`CONFIGS` order; raises ValueError
    naming an unknown one."""
    wanted = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CONFIGS]
    if unknown or not wanted:
        raise ValueError(f"unknown configuration(s) {unknown}; choose from {list(CONFIGS)}")
    return tuple(c for c in CONFIGS if c in wanted)


def configure(scenario: Scenario, name: str) -> tuple[Scenario, bool]:
    """The scenario as configuration ``name`` runs it, and whether the link is up."""
    if name not in CONFIGS:
        raise ValueError(f"unknown configuration {name!r}; choose from {list(CONFIGS)}")
    cfg = CONFIGS[name]
    return cfg.transform(scenario), cfg.link
