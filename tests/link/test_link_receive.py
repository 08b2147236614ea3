"""receive(): every refusal is dead-lettered with its reason and counted; it never raises."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.link.codec import Decoder, encode
from trilink.link.deadletter import DeadLetterLog, read_deadletters, reject_for
from trilink.link.golden import golden_key, unsigned_examples
from trilink.link.guard import ReplayGuard
from trilink.link.receive import Receiver
from trilink.link.signing import Keyring, private_key_from_seed, sign
from trilink.link.stamp import Stamper
from trilink.link.subjects import hub_out, node_inbox_pattern, node_subject, tracks

S = 1_000_000_000
T = 1_704_067_400 * S
NODES = ("KOR", "JPN", "USA", "HUB")
KEYS = {n: private_key_from_seed(bytes([i + 1]) * 32) for i, n in enumerate(NODES)}
RING = Keyring.of_private(KEYS)
REPORT = unsigned_examples()["track_report"]  # source KOR


def receiver(log: DeadLetterLog | None = None, ring: Keyring = RING) -> Receiver:
    return Receiver(Decoder(NODES), ring, ReplayGuard(lambda: T), log)


def stamper(node: str = "KOR") -> Stamper:
    return Stamper(node, KEYS[node], rng=lambda n: b"\x07" * n)


def test_accepts_good_messages_and_counts():
    rx, st_ = receiver(), stamper()
    for k in range(3):
        msg = rx(st_.seal(REPORT, T - k), subject=tracks("KOR"))
        assert msg is not None and msg.seq == k
    assert rx.accepted == 3 and rx.rejected == 0


def _payloads() -> dict[str, tuple[bytes, str | None, str]]:
    """reason -> (payload, subject, expected field)."""
    kor = stamper()
    good = kor.seal(REPORT, T)
    future = kor.seal(REPORT, T + 60 * S)
    replay = good
    forged = encode(
        sign(msgspec.structs.replace(REPORT, seq=99, message_id=_id(9), sent_ns=T), KEYS["JPN"])
    )
    unknown = encode(
        sign(
            msgspec.structs.replace(REPORT, source="XYZ", message_id=_id(1), sent_ns=T), KEYS["KOR"]
        )
    )
    v2 = encode(
        sign(
            msgspec.structs.replace(REPORT, schema_version=2, message_id=_id(2), sent_ns=T),
            KEYS["KOR"],
        )
    )
    nan = msgspec.msgpack.decode(good)
    nan["state_ecef"][4] = float("nan")
    hb = stamper("JPN").seal(unsigned_examples()["heartbeat"], T)
    return {
        "oversize": (b"\x00" * 70_000, None, "$"),
        "invalid": (msgspec.msgpack.encode(nan), tracks("KOR"), "state_ecef[4]"),
        "unknown_source": (unknown, None, "source"),
        "unsupported_version": (v2, None, "schema_version"),
        "bad_signature": (forged, None, "signature"),
        "clock_skew": (future, None, "sent_ns"),
        "subject_mismatch": (hb, node_subject("JPN", "warnings"), "kind"),
        "replayed": (replay, None, "seq"),
        "_good": (good, tracks("KOR"), ""),
    }


def _id(n: int) -> str:
    from trilink.messages import uuid7

    return uuid7(T, bytes([n]) * 8)


def test_each_reason_is_dead_lettered_counted_and_named(tmp_path):
    path = tmp_path / "dead.jsonl"
    seen = []
    with DeadLetterLog(path) as log:
        log.listeners.append(seen.append)
        rx = receiver(log)
        cases = _payloads()
        good, subject, _ = cases.pop("_good")
        assert rx(good, subject) is not None
        for reason, (payload, subj, field) in cases.items():
            assert rx(payload, subj) is None, reason
            letter = log.recent[-1]
            assert (letter.reason, letter.field) == (reason, field), letter
            assert letter.raw == payload and letter.subject == subj and letter.t_ns == T
        assert rx(stamper().seal(REPORT, T + 1), tracks("KOR")) is None  # seq 0 again: replay
        fresh = Stamper("KOR", KEYS["KOR"], start_seq=10)
        assert rx(fresh.seal(REPORT, T), tracks("KOR")) is not None  # the node kept going
    assert log.by_reason == {r: 1 for r in cases} | {"replayed": 2}
    assert log.total == len(cases) + 1 == len(seen)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["reason"] for x in lines] == [d.reason for d in log.recent]
    assert base64.b64decode(lines[1]["raw"]) == cases["invalid"][0]
    assert list(read_deadletters(path)) == list(log.recent)


def test_envelope_of_an_undecodable_message_is_kept_when_readable():
    rx = receiver()
    bad = msgspec.msgpack.decode(stamper().seal(REPORT, T))
    bad["quality"] = 99
    assert rx(msgspec.msgpack.encode(bad)) is None
    letter = rx.deadletters.recent[-1]
    assert (letter.source, letter.message_id, letter.seq) == ("KOR", bad["message_id"], 0)
    assert (letter.reason, letter.field) == ("invalid", "quality")


def test_subject_must_match_the_publisher():
    rx = receiver()
    payload = stamper("KOR").seal(REPORT, T)
    assert rx(payload, tracks("JPN")) is None
    assert rx.deadletters.recent[-1].field == "source"
    assert rx(payload, hub_out("KOR", "tracks")) is None  # only the hub publishes hub.out
    assert rx(payload, "some.other.subject") is not None  # not a trilink subject: no rule


def test_a_bug_in_a_check_is_recorded_as_internal_not_raised():
    class Broken(Keyring):
        def verify(self, msg):
            raise RuntimeError("boom")

    rx = receiver(ring=Broken())
    assert rx(stamper().seal(REPORT, T)) is None
    assert rx.deadletters.by_reason == {"internal": 1}
    assert "RuntimeError: boom" in rx.deadletters.recent[-1].detail


def test_failing_listener_and_unwritable_file_are_counted_not_raised(tmp_path):
    log = DeadLetterLog(tmp_path / "d.jsonl")
    log.listeners.append(lambda _: 1 / 0)
    log._file.close()  # writes now fail with ValueError
    rx = receiver(log)
    assert rx(b"junk") is None
    assert log.total == 1
    assert log.failures == {"listener: ZeroDivisionError": 1, "write: ValueError": 1}


@settings(max_examples=500)
@given(st.binary(max_size=2000))
def test_never_raises_on_arbitrary_bytes(data):
    rx = receiver()
    assert rx(data) is None
    assert rx.deadletters.total == 1


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=12), kids, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300)
@given(st.sampled_from(sorted(unsigned_examples())), st.text(max_size=20), json_like)
def test_never_raises_on_structurally_plausible_garbage(kind, key, value):
    d = msgspec.msgpack.decode(encode(sign(unsigned_examples()[kind], golden_key())))
    d[key if key else "kind"] = value
    rx = receiver()
    rx(msgspec.msgpack.encode(d))
    assert rx.accepted + rx.rejected == 1


def test_reject_for_a_dead_letter_reaches_the_sender(arun, bus_factory):
    """End to end on both buses: KOR publishes, the hub refuses a forgery and a replay and
    tells KOR with a Reject on its hub.out subject; KOR accepts the Reject."""

    async def body():
        kor_bus, hub_bus = await bus_factory(), await bus_factory()
        hub_in = await hub_bus.subscribe("trilink.*.tracks")
        kor_in = await kor_bus.subscribe(node_inbox_pattern("KOR"))
        hub_rx, kor_rx = receiver(), receiver()
        kor, hub = stamper("KOR"), stamper("HUB")
        good = kor.seal(REPORT, T)
        altered = msgspec.msgpack.decode(good)
        altered["n_updates"] += 1  # content changed, signature kept
        for p in (good, msgspec.msgpack.encode(altered), good):
            await kor_bus.publish(tracks("KOR"), p)
        await kor_bus.flush()
        results = []
        for _ in range(3):
            m = await hub_in.next(5)
            results.append(hub_rx(m.payload, m.subject))
        assert [r is not None for r in results] == [True, False, False]
        assert [d.reason for d in hub_rx.deadletters.recent] == ["bad_signature", "replayed"]
        for letter in hub_rx.deadletters.recent:
            rej = reject_for(letter, source="HUB", releasability=("KOR",))
            await hub_bus.publish(hub_out("KOR", "rejects"), hub.seal(rej, T))
        await hub_bus.flush()
        got = [kor_rx((await kor_in.next(5)).payload, hub_out("KOR", "rejects")) for _ in range(2)]
        assert [(r.reason, r.rejected_source, r.rejected_seq) for r in got] == [
            ("bad_signature", "KOR", 0),
            ("replayed", "KOR", 0),
        ]
        await kor_bus.close()
        await hub_bus.close()

    arun(body())


@pytest.mark.parametrize("start", [-1])
def test_stamper_refuses_negative_start(start):
    with pytest.raises(ValueError):
        Stamper("KOR", KEYS["KOR"], start_seq=start)
