"""Signed bundles: what goes in comes out, a tampered bundle admits nothing, and every item
rule (source, empty signature, label, subject kind, replay) holds item by item."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import DecodeError
from trilink.link.codec import Decoder, encode, iter_payload_messages
from trilink.link.deadletter import DeadLetterLog
from trilink.link.golden import unsigned_examples
from trilink.link.guard import ReplayGuard
from trilink.link.receive import Receiver
from trilink.link.signing import Keyring, private_key_from_seed, sign
from trilink.link.stamp import Stamper
from trilink.link.subjects import hub_out, status, tracks
from trilink.messages import MAX_BUNDLE_BYTES, MAX_BUNDLE_ITEMS, Bundle, TrackReport, uuid7

S = 1_000_000_000
T = 1_704_067_400 * S
NODES = ("KOR", "JPN", "USA", "HUB")
KEYS = {n: private_key_from_seed(bytes([i + 1]) * 32) for i, n in enumerate(NODES)}
RING = Keyring.of_private(KEYS)
REPORT = unsigned_examples()["track_report"]  # source KOR, REL TO JPN KOR USA
HEARTBEAT = msgspec.structs.replace(
    unsigned_examples()["heartbeat"], source="KOR", releasability=("KOR", "USA")
)
REJECT = msgspec.structs.replace(
    unsigned_examples()["reject"], source="KOR", releasability=("KOR", "USA")
)


def receiver(log: DeadLetterLog | None = None) -> Receiver:
    return Receiver(Decoder(NODES), RING, ReplayGuard(lambda: T), log)


def stamper(node: str = "KOR", start: int = 0) -> Stamper:
    return Stamper(node, KEYS[node], start_seq=start, rng=lambda n: b"\x07" * n)


def reports(st_: Stamper, n: int) -> list[TrackReport]:
    """n distinct reports of st_'s source, stamped for a bundle (signatures empty)."""
    return [
        st_.stamp(
            msgspec.structs.replace(REPORT, source=st_.source, n_updates=k, measured_ns=T - k),
            T,
            sign=False,
        )
        for k in range(n)
    ]


def signed_bundle(source: str, items: list[bytes], seq: int = 10_000) -> bytes:
    """A bundle built by hand (any items), signed by ``source``."""
    body = Bundle(
        message_id=uuid7(T, seq.to_bytes(8, "big")),
        source=source,
        seq=seq,
        measured_ns=T,
        sent_ns=T,
        releasability=("KOR",),
        items=tuple(items),
    )
    return encode(sign(body, KEYS[source]))


def test_what_goes_in_comes_out_in_order():
    kor, rx = stamper(), receiver()
    sent = reports(kor, 5)
    (payload,) = kor.bundle(sent, T)
    assert payload.startswith(b"\x8a\xa4kind\xa6bundle")
    got = rx.receive_all(payload, tracks("KOR"))
    assert got == sent and rx.accepted == 5 and rx.rejected == 0
    assert all(m.signature == b"" for m in got)
    assert kor.next_seq == 6  # five items, then the bundle's own number
    assert iter_payload_messages(payload) == sent


def test_a_batch_is_split_within_the_limits_in_order():
    kor, rx = stamper(), receiver()
    sent = reports(kor, 2 * MAX_BUNDLE_ITEMS + 1)
    payloads = kor.bundle(sent, T)
    assert len(payloads) == 3
    assert all(len(p) <= MAX_BUNDLE_BYTES for p in payloads)
    got = [m for p in payloads for m in rx.receive_all(p, tracks("KOR"))]
    assert len(got[-1].signature) == 64  # the last part, a lone message, went plain
    assert [msgspec.structs.replace(m, signature=b"") for m in got] == sent
    assert rx.rejected == 0
    small = kor.bundle(reports(kor, 30), T, max_bytes=10_000)
    assert len(small) > 1 and all(len(p) <= 10_000 for p in small)
    assert [m for p in small for m in rx.receive_all(p, tracks("KOR"))] != []
    assert rx.rejected == 0


def test_a_lone_message_goes_plain_and_signed():
    kor, rx = stamper(), receiver()
    (payload,) = kor.bundle(reports(kor, 1), T)
    msg = Decoder(NODES).decode(payload)  # not a bundle
    RING.verify(msg)
    assert rx(payload, tracks("KOR")) == msg


def test_signed_messages_are_bundled_without_their_signatures():
    kor, rx = stamper(), receiver()
    signed = [kor.stamp(REPORT, T), kor.stamp(REPORT, T + 1)]
    (payload,) = kor.bundle(signed, T + 2)
    got = rx.receive_all(payload, tracks("KOR"))
    assert [m.seq for m in got] == [0, 1] and all(m.signature == b"" for m in got)


def test_bundle_refuses_foreign_or_unstamped_messages():
    kor = stamper()
    with pytest.raises(ValueError, match="JPN"):
        kor.bundle(reports(stamper("JPN"), 2), T)
    with pytest.raises(ValueError, match="stamp"):
        blank = msgspec.structs.replace(REPORT, message_id="")
        kor.bundle([blank, blank], T)


def test_envelope_of_the_bundle():
    kor = stamper()
    a, b = reports(kor, 2)
    b = msgspec.structs.replace(b, releasability=("KOR", "USA"), measured_ns=T + 7)
    (payload,) = kor.bundle([a, b], T)
    bundle = Decoder(NODES).decode_payload(payload)
    assert isinstance(bundle, Bundle)
    assert bundle.releasability == ("KOR", "USA")  # what every item allows
    assert bundle.measured_ns == T + 7 and bundle.seq == 2 and bundle.source == "KOR"


def test_a_replayed_bundle_is_refused_item_by_item():
    kor, rx = stamper(), receiver()
    (payload,) = kor.bundle(reports(kor, 4), T)
    assert len(rx.receive_all(payload, tracks("KOR"))) == 4
    assert rx.receive_all(payload, tracks("KOR")) == []
    assert rx.deadletters.by_reason == {"replayed": 4}
    letter = rx.deadletters.recent[-1]
    assert letter.seq == 3 and "item 3 of bundle" in letter.detail
    assert Decoder(NODES).decode(letter.raw).seq == 3  # raw: the item's bytes


def test_items_of_another_source_are_refused_the_others_admitted():
    kor, jpn = stamper(), stamper("JPN", start=100)
    mine, theirs = reports(kor, 2), reports(jpn, 1)
    payload = signed_bundle("KOR", [encode(mine[0]), encode(theirs[0]), encode(mine[1])])
    rx = receiver()
    assert rx.receive_all(payload) == mine
    letter = rx.deadletters.recent[-1]
    assert (letter.reason, letter.field, letter.source) == ("bad_signature", "source", "JPN")


def test_item_rules_each_refuse_only_their_item():
    kor = stamper()
    good = reports(kor, 1)[0]
    signed_item = kor.stamp(REPORT, T)  # carries a signature
    narrow = msgspec.structs.replace(kor.stamp(REPORT, T, sign=False), releasability=("JPN",))
    nested = signed_bundle("KOR", [encode(kor.stamp(REPORT, T, sign=False))], seq=5_000)
    reject = kor.stamp(REJECT, T, sign=False)  # a reject may not travel on tracks
    junk = b"\x93\x01\x02\x03"
    items = [encode(signed_item), encode(narrow), nested, encode(reject), junk, encode(good)]
    rx = receiver()
    assert rx.receive_all(signed_bundle("KOR", items), tracks("KOR")) == [good]
    assert [(d.reason, d.field) for d in rx.deadletters.recent] == [
        ("invalid", "signature"),
        ("invalid", "releasability"),
        ("invalid", "kind"),
        ("subject_mismatch", "kind"),
        ("invalid", "$"),
    ]
    assert all(d.subject == tracks("KOR") for d in rx.deadletters.recent)


def test_the_bundle_as_a_whole_is_refused_before_its_items():
    kor, rx = stamper(), receiver()
    (payload,) = kor.bundle(reports(kor, 3), T)
    assert rx.receive_all(payload, tracks("JPN")) == []  # KOR's bundle on JPN's subject
    assert rx.receive_all(payload, hub_out("KOR", "tracks")) == []  # only the hub's there
    forged = signed_bundle("JPN", list(Decoder().decode_payload(payload).items))  # type: ignore[union-attr]
    assert rx.receive_all(forged, tracks("JPN")) == []  # JPN signs KOR's items: refused
    assert [(d.reason, d.field) for d in rx.deadletters.recent] == [
        ("subject_mismatch", "source"),
        ("subject_mismatch", "source"),
        ("bad_signature", "source"),
        ("bad_signature", "source"),
        ("bad_signature", "source"),
    ]
    assert rx.receive_all(payload, tracks("KOR")) != []  # nothing was consumed


def test_plain_receive_refuses_a_bundle_and_names_receive_all():
    kor, rx = stamper(), receiver()
    (payload,) = kor.bundle(reports(kor, 2), T)
    assert rx(payload, tracks("KOR")) is None
    letter = rx.deadletters.recent[-1]
    assert (letter.reason, letter.field) == ("invalid", "kind")
    assert "receive_all" in letter.detail


def test_a_standalone_message_with_an_empty_signature_is_refused():
    kor, rx = stamper(), receiver()
    item = encode(reports(kor, 1)[0])
    assert rx.receive_all(item, tracks("KOR")) == []
    assert (rx.deadletters.recent[-1].reason, rx.deadletters.recent[-1].field) == (
        "bad_signature",
        "signature",
    )


def test_heartbeat_and_reports_each_on_their_subject():
    kor, rx = stamper(), receiver()
    (payload,) = kor.bundle([*reports(kor, 2), kor.stamp(HEARTBEAT, T, sign=False)], T)
    got = rx.receive_all(payload, status("KOR"))  # reports may not travel on status
    assert [type(m).__name__ for m in got] == ["Heartbeat"]
    assert rx.deadletters.by_reason == {"subject_mismatch": 2}


def test_a_heartbeat_travels_on_tracks_last_in_the_bundle_of_its_reports():
    kor, rx = stamper(), receiver()
    beat = kor.stamp(HEARTBEAT, T, sign=False)
    (payload,) = kor.bundle([*reports(kor, 2), beat], T)
    got = rx.receive_all(payload, tracks("KOR"))
    assert [type(m).__name__ for m in got] == ["TrackReport", "TrackReport", "Heartbeat"]
    assert got[-1] == beat and rx.rejected == 0
    # the rule is per subject: a heartbeat alone on the tracks subject is admitted too
    alone = kor.seal(HEARTBEAT, T)
    assert rx.receive_all(alone, tracks("KOR")) != [] and rx.rejected == 0
    # and so on the hub's tracks subject for a partner, the hub's heartbeat
    hub = Stamper("HUB", KEYS["HUB"])  # random ids: not those of the KOR stamper above
    hub_beat = msgspec.structs.replace(HEARTBEAT, source="HUB", releasability=("KOR",))
    assert rx.receive_all(hub.seal(hub_beat, T), hub_out("KOR", "tracks")) != []
    assert rx.rejected == 0


def test_a_report_on_a_status_subject_is_still_refused():
    kor, rx = stamper(), receiver()
    assert rx.receive_all(kor.seal(REPORT, T), status("KOR")) == []
    assert (rx.deadletters.recent[-1].reason, rx.deadletters.recent[-1].field) == (
        "subject_mismatch",
        "kind",
    )


def test_size_limits():
    kor, rx = stamper(), receiver()
    (big,) = kor.bundle(reports(kor, 200), T)
    assert 65_536 < len(big) <= MAX_BUNDLE_BYTES
    assert len(rx.receive_all(big, tracks("KOR"))) == 200
    padded = b"\x8a\xa4kind\xa6bundle" + b"\x00" * MAX_BUNDLE_BYTES
    assert rx.receive_all(padded) == []
    not_a_bundle = b"\x8a" + b"\x00" * 70_000  # only a bundle may exceed 65,536 bytes
    assert rx.receive_all(not_a_bundle) == []
    assert [d.reason for d in rx.deadletters.recent] == ["oversize", "oversize"]
    small = Receiver(Decoder(NODES, max_bundle_bytes=100_000), RING, ReplayGuard(lambda: T))
    (bigger,) = kor.bundle(reports(kor, 300), T)
    assert len(bigger) > 100_000 and small.receive_all(bigger) == []
    assert small.deadletters.recent[-1].reason == "oversize"


def test_iter_payload_messages_names_the_item():
    kor = stamper()
    ok = reports(kor, 1)[0]
    bad = msgspec.msgpack.decode(encode(ok))
    bad["state_ecef"][2] = float("nan")
    payload = signed_bundle("KOR", [encode(ok), msgspec.msgpack.encode(bad)])
    with pytest.raises(DecodeError) as err:
        iter_payload_messages(payload)
    assert err.value.field == "items[1].state_ecef[2]"
    foreign = signed_bundle("KOR", [encode(reports(stamper("JPN"), 1)[0])])
    with pytest.raises(DecodeError, match="inside a bundle signed by KOR") as err:
        iter_payload_messages(foreign)
    assert err.value.field == "items[0].source"
    plain = kor.seal(REPORT, T)
    assert iter_payload_messages(plain) == [Decoder().decode(plain)]


# --- properties ------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    st.integers(2, 12),
    st.integers(0, 10**6),
    st.integers(1, 255),
    st.integers(0, 3),
)
def test_no_item_of_a_tampered_bundle_is_ever_admitted(n, where, xor, how):
    kor = stamper()
    (payload,) = kor.bundle(reports(kor, n), T)
    data = bytearray(payload)
    i = where % len(data)
    if how == 0:
        data[i] ^= xor
    elif how == 1:
        data.insert(i, xor)
    elif how == 2:
        del data[i]
    else:
        data = data[:i]
    rx = receiver()
    assert rx.receive_all(bytes(data), tracks("KOR")) == []
    assert rx.rejected == 1  # refused as a whole: one dead letter


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["KOR", "JPN", "USA", "HUB"]), min_size=1, max_size=12))
def test_only_the_signers_items_are_admitted(sources):
    stampers = {n: stamper(n, start=1_000 * i) for i, n in enumerate(NODES)}
    items = [reports(stampers[s], 1)[0] for s in sources]
    payload = signed_bundle("KOR", [encode(m) for m in items])
    rx = receiver()
    got = rx.receive_all(payload)
    assert got == [m for m in items if m.source == "KOR"]
    assert rx.deadletters.by_reason.get("bad_signature", 0) == sum(s != "KOR" for s in sources)
