"""Hostile input to a running hub (``HubNode.on_message``): each kind the issue names is
refused with its reason and field, written to the hub's dead-letter file, counted (and the
count goes out in the hub's heartbeat), and the hub keeps going: the next good report is
admitted and fused.

Authentic-but-wrong messages are signed with the sender's real key, so what refuses them
is the content check, not the signature.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import msgspec
import pytest

from trilink.link import Stamper, decode, encode, iter_payload_messages, read_deadletters
from trilink.link.deadletter import decode_deadletter
from trilink.link.golden import unsigned_examples
from trilink.messages import Heartbeat, TrackReport
from trilink.nodes.clock import SimClock
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.hub import HubNode
from trilink.scenario import load_scenario

S = 1_000_000_000
T = (time.time_ns() // S) * S
BODY = msgspec.structs.replace(unsigned_examples()["track_report"], measured_ns=T, launch=None)
assert isinstance(BODY, TrackReport)
TRACKS = "trilink.KOR.tracks"


@pytest.fixture
def hub(tmp_path: Path) -> HubNode:
    sc = load_scenario("korea-japan")
    identity = Identity.simulated(sc, 11)
    node = make_hub(sc, identity, SimClock(T), T, deadletter_path=tmp_path / "hub.dead.jsonl")
    node.test_keys = identity.keys  # type: ignore[attr-defined]
    return node


def _raw(payload: bytes, path: tuple[str | int, ...], value: object) -> bytes:
    obj = msgspec.msgpack.decode(payload)
    node = obj
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return msgspec.msgpack.encode(obj)


def _covariance_not_pd() -> tuple[float, ...]:
    c = list(BODY.covariance_ecef)
    c[1] = 2.0 * math.sqrt(c[0] * c[6])  # P01 = 2 sigma_x sigma_y: |correlation| 2 > 1
    return tuple(c)


def test_every_kind_of_bad_input_is_refused_dead_lettered_counted_and_the_hub_goes_on(
    hub: HubNode, tmp_path: Path
) -> None:
    keys = hub.test_keys  # type: ignore[attr-defined]
    kor = Stamper("KOR", keys["KOR"], start_seq=100)
    good = kor.seal(BODY, T)
    cases: list[tuple[str, bytes, str, str, str]] = [
        # (what, payload, subject, reason, field)
        ("malformed", b"\x93\x01\x02", TRACKS, "invalid", "$"),
        ("truncated", good[: len(good) // 2], TRACKS, "invalid", "$"),
        ("oversized", good + b"\x00" * 70_000, TRACKS, "oversize", "$"),
        ("NaN", _raw(good, ("state_ecef", 2), math.nan), TRACKS, "invalid", "state_ecef[2]"),
        ("Inf", _raw(good, ("covariance_ecef", 0), math.inf), TRACKS, "invalid", "covariance_ecef[0]"),
        ("not positive definite",
         kor.seal(msgspec.structs.replace(BODY, covariance_ecef=_covariance_not_pd()), T),
         TRACKS, "invalid", "covariance_ecef"),
        ("unknown source", Stamper("PRK", keys["KOR"]).seal(BODY, T), TRACKS,
         "unknown_source", "source"),
        ("signed by another node", Stamper("KOR", keys["JPN"], start_seq=500).seal(BODY, T),
         TRACKS, "bad_signature", "signature"),
        ("altered after signing", _raw(kor.seal(BODY, T), ("n_updates",), 99), TRACKS,
         "bad_signature", "signature"),
        ("replayed", good, TRACKS, "replayed", "seq"),
        ("future-dated", kor.seal(BODY, T + 60 * S), TRACKS, "clock_skew", "sent_ns"),
        ("measured in the future",
         kor.seal(msgspec.structs.replace(BODY, measured_ns=T + 60 * S), T),
         TRACKS, "clock_skew", "measured_ns"),
        ("two hours old", kor.seal(BODY, T - 7200 * S), TRACKS, "clock_skew", "sent_ns"),
        ("on another nation's subject", kor.seal(BODY, T), "trilink.JPN.tracks",
         "subject_mismatch", "source"),
    ]  # fmt: skip
    hub.on_message(TRACKS, good)
    assert hub.reports_in == 1
    for what, payload, subject, reason, field in cases:
        before = hub.link.deadletters.total
        out = hub.on_message(subject, payload)
        assert hub.link.deadletters.total == before + 1, what
        letter = hub.link.deadletters.recent[-1]
        # ... and published, once, for operators (ICD section 9)
        assert [o.subject for o in out] == ["trilink.deadletter.HUB"], what
        assert decode_deadletter(out[0].payload) == letter, what
        assert (letter.reason, letter.field) == (reason, field), (what, letter.detail)
        assert letter.detail and letter.subject == subject, what
        n = hub.reports_in
        hub.on_message(TRACKS, kor.seal(BODY, T))  # and the hub takes the next good one
        assert hub.reports_in == n + 1, f"the hub stopped admitting after {what}"

    on_disk = list(read_deadletters(tmp_path / "hub.dead.jsonl"))
    assert [(d.reason, d.field) for d in on_disk] == [(c[3], c[4]) for c in cases]
    assert [d.raw for d in on_disk][:2] == [cases[0][1], cases[1][1]]  # the bytes, kept
    assert hub.link.deadletters.total == len(cases)

    out = hub.cycle(T + S)  # the good reports are fused; the heartbeat reports the count
    # One per partner: alone on its status subject, or closing its tracks bundle.
    msgs = [m for o in out for m in iter_payload_messages(o.payload)]
    beats = [m for m in msgs if isinstance(m, Heartbeat)]
    assert len(beats) == 3
    assert {b.deadletters for b in beats} == {len(cases)}  # type: ignore[union-attr]
    assert hub.table.to_dict()["national"]["source"].count("KOR") >= 1


def test_a_flood_of_garbage_does_not_stop_the_hub(hub: HubNode) -> None:
    kor = Stamper("KOR", hub.test_keys["KOR"])  # type: ignore[attr-defined]
    for i in range(2000):
        hub.on_message(TRACKS, bytes([i % 256]) * (i % 97))
    hub.on_message(TRACKS, kor.seal(BODY, T))
    assert hub.reports_in == 1 and hub.link.deadletters.total == 2000
    assert set(hub.link.deadletters.by_reason) == {"invalid"}
    assert encode(decode(kor.seal(BODY, T)))  # the link itself is untouched
