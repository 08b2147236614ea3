"""Releasability rules: who may receive which kind of message built from whose data.

Each nation controls its own data. A rule is that nation's word:

    [[policy.rules]]
    source = "KOR"                       # whose data this rule governs
    kinds = ["SystemTrack", "LaunchEvent"]  # message kinds ("*" for all)
    to = ["USA", "JPN"]                  # partners who may receive it
    redact = ["contributors.sensors"]    # fields removed before it leaves the hub

Semantics (default deny):

- A message may go to partner P only if, for *every* nation S whose data it carries, some
  rule of S covers the message's kind and names P. A nation's own data always returns to
  it.
- The fields removed are the union of the ``redact`` lists of every rule that let the
  message through for any of its sources, plus the policy-wide ``always_redact`` list.
- A redaction path is a dotted field path through structs and lists of structs
  (``contributors.sensors`` clears ``sensors`` in every element of ``contributors``).

This module is data and pure decisions; :mod:`trilink.policy.release` applies them to
messages, :mod:`trilink.policy.audit` records them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trilink.errors import PolicyError

ANY = "*"


@dataclass(frozen=True)
class Rule:
    source: str
    kinds: frozenset[str]
    to: frozenset[str]
    redact: tuple[str, ...] = ()

    def covers(self, kind: str, source: str, partner: str) -> bool:
        return (
            (self.source == source or self.source == ANY)
            and (ANY in self.kinds or kind in self.kinds)
            and (ANY in self.to or partner in self.to)
        )


@dataclass(frozen=True)
class Decision:
    """The outcome of one release question: allowed or not, why, and what to remove."""

    allowed: bool
    reason: str
    redact: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    always_redact: tuple[str, ...] = ()

    def decide(self, kind: str, sources: Iterable[str], partner: str) -> Decision:
        """May a message of ``kind`` carrying data of ``sources`` go to ``partner``?"""
        srcs = sorted(set(sources))
        if not srcs:
            return Decision(False, "message carries no source nation: default deny")
        redact: list[str] = list(self.always_redact)
        for src in srcs:
            if src == partner:
                continue  # a nation's own data always returns to it
            matching = [r for r in self.rules if r.covers(kind, src, partner)]
            if not matching:
                return Decision(False, f"no rule of {src} releases {kind} to {partner}")
            for r in matching:
                redact.extend(r.redact)
        allowed_by = ",".join(s for s in srcs if s != partner) or partner
        return Decision(True, f"released by {allowed_by}", tuple(dict.fromkeys(redact)))

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, path: str = "policy") -> Policy:
        """Build a policy from its TOML table, raising PolicyError naming the field."""
        if table is None:
            return cls(rules=())
        known = {"default", "rules", "always_redact"}
        for key in table:
            if key not in known:
                raise PolicyError(f"{path}.{key}", f"unknown key (expected one of {sorted(known)})")
        if table.get("default", "deny") != "deny":
            raise PolicyError(f"{path}.default", "only 'deny' is supported: releases are explicit")
        always = _strings(table.get("always_redact", []), f"{path}.always_redact")
        raw_rules = table.get("rules", [])
        if not isinstance(raw_rules, list):
            raise PolicyError(f"{path}.rules", "must be an array of tables")
        rules = []
        for i, raw in enumerate(raw_rules):
            p = f"{path}.rules[{i}]"
            if not isinstance(raw, Mapping):
                raise PolicyError(p, "must be a table")
            for key in raw:
                if key not in {"source", "kinds", "to", "redact"}:
                    raise PolicyError(
                        f"{p}.{key}", "unknown key (expected source, kinds, to, redact)"
                    )
            for key in ("source", "kinds", "to"):
                if key not in raw:
                    raise PolicyError(f"{p}.{key}", "required")
            source = raw["source"]
            if not isinstance(source, str) or not source:
                raise PolicyError(f"{p}.source", "must be a nation id or '*'")
            rules.append(
                Rule(
                    source=source,
                    kinds=frozenset(_strings(raw["kinds"], f"{p}.kinds", nonempty=True)),
                    to=frozenset(_strings(raw["to"], f"{p}.to", nonempty=True)),
                    redact=tuple(_strings(raw.get("redact", []), f"{p}.redact")),
                )
            )
        return cls(rules=tuple(rules), always_redact=tuple(always))


def _strings(value: Any, path: str, nonempty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(path, "must be an array of non-empty strings")
    if nonempty and not value:
        raise PolicyError(path, "must not be empty")
    return list(value)
