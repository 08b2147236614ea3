"""Every decoder and the scenario loader under hostile input (hypothesis, a few hundred
examples each): a value or the documented exception, never anything else; and the
receive path never raises and dead-letters every refusal with a reason.

The larger run (10^6 inputs) is benchmarks/bench_fuzz.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzzing import JSONS, LETTERS, LOG, PACKED, TOML, mutated, structural, toml_docs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trilink.errors import DecodeError, ScenarioError
from trilink.link import DeadLetterLog, Decoder, Keyring, Receiver, ReplayGuard
from trilink.link.deadletter import DeadLetter, decode_deadletter, read_deadletters
from trilink.link.golden import T0_NS, golden_key
from trilink.link.recordlog import LogRecord, iter_records
from trilink.messages import Message, RejectReason
from trilink.scenario import Scenario, load_scenario, parse_scenario

KNOWN = ("KOR", "JPN", "USA", "HUB")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REASONS = set(RejectReason.__args__)  # type: ignore[attr-defined]
packed = mutated(list(PACKED.values()))


@FUZZ
@given(st.one_of(packed, structural()))
def test_msgpack_decoder_returns_a_message_or_decode_error(data: bytes) -> None:
    for decoder in (Decoder(KNOWN), Decoder()):
        try:
            msg = decoder.decode(data)
        except DecodeError as e:
            assert e.field and e.reason
        else:
            assert isinstance(msg, Message)


@FUZZ
@given(st.one_of(mutated(JSONS), st.text(max_size=300).map(str.encode)))
def test_json_decoder_returns_a_message_or_decode_error(data: bytes) -> None:
    try:
        assert isinstance(Decoder(KNOWN).decode_json(data), Message)
    except DecodeError as e:
        assert e.field and e.reason


@FUZZ
@given(mutated([LOG]), st.booleans())
def test_tlog_reader_returns_records_or_decode_error(data: bytes, strict: bool) -> None:
    try:
        for rec in iter_records(data, strict=strict):
            assert isinstance(rec, LogRecord)
    except DecodeError as e:
        assert e.reason


@FUZZ
@given(st.lists(mutated(LETTERS), min_size=1, max_size=3))
def test_deadletter_reader_returns_letters_or_decode_error(lines: list[bytes]) -> None:
    for line in lines:
        try:
            assert isinstance(decode_deadletter(line), DeadLetter)
        except DecodeError as e:
            assert e.reason
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "deadletters.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        try:
            for letter in read_deadletters(path):
                assert isinstance(letter, DeadLetter)
        except DecodeError as e:
            assert e.reason


@FUZZ
@given(toml_docs)
def test_scenario_parser_returns_a_scenario_or_scenario_error(doc: dict) -> None:  # type: ignore[type-arg]
    try:
        assert isinstance(parse_scenario(doc, "fuzz.toml"), Scenario)
    except ScenarioError as e:
        assert e.problems and all(isinstance(r, str) and r for _, r in e.problems)


@FUZZ
@given(mutated([TOML]))
def test_scenario_loader_on_any_file_returns_a_scenario_or_scenario_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.toml"
        path.write_bytes(data)
        try:
            assert isinstance(load_scenario(path), Scenario)
        except ScenarioError as e:
            assert e.problems and all(r for _, r in e.problems)


RING = Keyring.from_raw({n: golden_key().public_key().public_bytes_raw() for n in KNOWN})
SUBJECTS = st.sampled_from(
    [None, "trilink.KOR.tracks", "trilink.JPN.status", "trilink.hub.out.JPN.tracks", "x"]
)


@FUZZ
@given(st.lists(st.tuples(st.one_of(packed, structural()), SUBJECTS), min_size=1, max_size=5))
def test_receive_never_raises_and_dead_letters_every_refusal_with_a_reason(
    inputs: list[tuple[bytes, str | None]],
) -> None:
    # Golden messages are signed by the golden key, here every node's; the clock is near
    # their times so that good ones pass and replays in a list are caught.
    rx = Receiver(Decoder(KNOWN), RING, ReplayGuard(lambda: T0_NS + 300 * 10**9), DeadLetterLog())
    for data, subject in inputs:
        before = rx.deadletters.total
        msg = rx(data, subject)
        if msg is None:
            assert rx.deadletters.total == before + 1
            letter = rx.deadletters.recent[-1]
            assert letter.reason in REASONS and letter.reason != "internal", letter
            assert letter.detail and letter.field
            assert letter.raw == data or letter.reason == "oversize" or letter.raw == b""
        else:
            assert isinstance(msg, Message) and rx.deadletters.total == before
