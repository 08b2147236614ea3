"""Subject names: who publishes what, where (the ICD, section "Subjects").

Node ids are upper case (``KOR``) and fixed words lower case (``tracks``, ``hub``), so a
node id can never be mistaken for a fixed word. NATS rules: tokens separated by ``.``;
in a pattern ``*`` matches exactly one token and ``>`` (last token only) one or more.

============================================  ===========  ==========================
subject                                       publisher    kinds
============================================  ===========  ==========================
``trilink.<NODE>.tracks``                     NODE         track_report, heartbeat
``trilink.<NODE>.status``                     NODE         heartbeat
``trilink.<NODE>.rejects``                    NODE         reject
``trilink.<NODE>.warnings``                   NODE         warning (its own alerts)
``trilink.hub.out.<NODE>.tracks``             HUB          system_track, heartbeat
``trilink.hub.out.<NODE>.events``             HUB          launch_event
``trilink.hub.out.<NODE>.warnings``           HUB          warning
``trilink.hub.out.<NODE>.status``             HUB          heartbeat
``trilink.hub.out.<NODE>.rejects``            HUB          reject
``trilink.deadletter.<NODE>``                 NODE         DeadLetter JSON (not signed)
============================================  ===========  ==========================

A heartbeat may also travel on a tracks subject: as the last item of the bundle of a
tick's (a cycle's) tracks, one signature covers both, and the watermark it carries
cannot arrive ahead of the tracks it vouches for (ICD section 14).
"""

from __future__ import annotations

import functools
import re

from trilink.errors import BusError

ROOT = "trilink"
HUB = "HUB"
"""The hub's node id: the only publisher of ``trilink.hub.out.*``."""

NODE_TOPICS: dict[str, frozenset[str]] = {
    "tracks": frozenset({"track_report", "heartbeat"}),
    "status": frozenset({"heartbeat"}),
    "rejects": frozenset({"reject"}),
    "warnings": frozenset({"warning"}),
}
HUB_OUT_TOPICS: dict[str, frozenset[str]] = {
    "tracks": frozenset({"system_track", "heartbeat"}),
    "events": frozenset({"launch_event"}),
    "warnings": frozenset({"warning"}),
    "status": frozenset({"heartbeat"}),
    "rejects": frozenset({"reject"}),
}
_NODE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
_TOKEN = re.compile(r"^[^\s.*>]+$")


def _node(node: str) -> str:
    if not _NODE.match(node):
        raise BusError(node, "a node id is 2-16 upper-case letters, digits or '_'")
    return node


def node_subject(node: str, topic: str) -> str:
    """``trilink.<node>.<topic>``: what a node publishes (toward the hub)."""
    if topic not in NODE_TOPICS:
        raise BusError(topic, f"unknown node topic (one of {sorted(NODE_TOPICS)})")
    return f"{ROOT}.{_node(node)}.{topic}"


def hub_out(partner: str, topic: str) -> str:
    """``trilink.hub.out.<partner>.<topic>``: what the hub releases to one partner."""
    if topic not in HUB_OUT_TOPICS:
        raise BusError(topic, f"unknown hub topic (one of {sorted(HUB_OUT_TOPICS)})")
    return f"{ROOT}.hub.out.{_node(partner)}.{topic}"


def tracks(node: str) -> str:
    return node_subject(node, "tracks")


def status(node: str) -> str:
    return node_subject(node, "status")


def deadletter(node: str) -> str:
    return f"{ROOT}.deadletter.{_node(node)}"


def node_inbox_pattern(partner: str) -> str:
    """Everything the hub releases to ``partner``: ``trilink.hub.out.<partner>.>``."""
    return f"{ROOT}.hub.out.{_node(partner)}.>"


def node_outbox_pattern(node: str) -> str:
    """Everything a node publishes toward the hub: ``trilink.<node>.>``."""
    return f"{ROOT}.{_node(node)}.>"


ALL_NATIONAL_TRACKS = f"{ROOT}.*.tracks"
"""The hub's subscription to every national TrackReport (does not match hub.out.*)."""


def expected(subject: str, hub: str = HUB) -> tuple[str, frozenset[str]] | None:
    """(publisher node id, kinds allowed) for a trilink subject, else None."""
    t = subject.split(".")
    if len(t) == 3 and t[0] == ROOT and _NODE.match(t[1]) and t[2] in NODE_TOPICS:
        return t[1], NODE_TOPICS[t[2]]
    if (
        len(t) == 5
        and t[:3] == [ROOT, "hub", "out"]
        and _NODE.match(t[3])
        and t[4] in HUB_OUT_TOPICS
    ):
        return hub, HUB_OUT_TOPICS[t[4]]
    return None


def check_subject(subject: str) -> str:
    """A subject to publish on: non-empty tokens, no wildcards or white space."""
    if not subject or not all(_TOKEN.match(tok) for tok in subject.split(".")):
        raise BusError(subject, "not a valid subject (dot-separated tokens, no wildcards)")
    return subject


def check_pattern(pattern: str) -> str:
    """A subscription pattern: tokens, ``*`` tokens, ``>`` only as the last token."""
    toks = pattern.split(".") if pattern else [""]
    for i, tok in enumerate(toks):
        if tok == "*" or (tok == ">" and i == len(toks) - 1):
            continue
        if not _TOKEN.match(tok):
            raise BusError(pattern, "not a valid pattern ('*' = one token, '>' = the rest)")
    return pattern


@functools.lru_cache(maxsize=4096)
def matches(pattern: str, subject: str) -> bool:
    """NATS wildcard matching of a (checked) pattern against a (checked) subject.

    Remembered (a run asks the same few pairs for every message it routes: the
    simulated link ~23,000 times per SRBM-salvo trial)."""
    p, s = pattern.split("."), subject.split(".")
    for i, tok in enumerate(p):
        if tok == ">":
            return len(s) > i
        if i >= len(s) or (tok != "*" and tok != s[i]):
            return False
    return len(p) == len(s)
