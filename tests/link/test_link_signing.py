"""Ed25519 over the canonical encoding: round trips, wrong keys, and tampering anywhere."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import BadSignature, UnknownSource
from trilink.link.codec import Decoder, encode
from trilink.link.deadletter import DeadLetterLog
from trilink.link.golden import golden_key, signed_examples, unsigned_bundle, unsigned_examples
from trilink.link.guard import ReplayGuard
from trilink.link.receive import receive_all
from trilink.link.signing import (
    NACL_SIGN_MAX_BYTES,
    NACL_VERIFY_MAX_BYTES,
    SIGNATURE_CONTEXT,
    Keyring,
    Signer,
    private_key_from_seed,
    public_key_bytes,
    sign,
    signing_input,
    verify,
)
from trilink.link.stamp import Stamper

NODES = ("KOR", "JPN", "USA", "HUB")
KEY = golden_key()
RING = Keyring.of_private(dict.fromkeys(NODES, KEY))
OTHER = private_key_from_seed(bytes(range(32)))
SIGNED = signed_examples()
PAYLOADS = {k: encode(m) for k, m in SIGNED.items()}


UNSIGNED = {**unsigned_examples(), "bundle": unsigned_bundle()}


def accept(payload: bytes) -> bool:
    """The full receive path, with a guard that never has seen anything: True if every
    message of the payload was admitted, False if none was (anything else fails)."""
    guard = ReplayGuard(lambda: 0, max_future_s=1e12, max_age_s=None)
    log = DeadLetterLog()
    got = receive_all(payload, decoder=Decoder(NODES), keyring=RING, guard=guard, deadletters=log)
    assert not (got and log.total), "part of a payload admitted"
    assert got or log.total >= 1
    return bool(got)


@pytest.mark.parametrize("kind", sorted(SIGNED))
def test_sign_then_verify_every_kind(kind):
    msg = sign(UNSIGNED[kind], KEY)
    assert len(msg.signature) == 64
    verify(msg, RING)
    RING.verify(Decoder(NODES).decode_payload(encode(msg)))
    assert signing_input(msg).startswith(SIGNATURE_CONTEXT)
    assert signing_input(msg) == signing_input(msgspec.structs.replace(msg, signature=b"x" * 64))


@pytest.mark.parametrize("kind", sorted(SIGNED))
def test_every_single_byte_change_is_refused(kind):
    """Exhaustive: each byte of each golden payload, xor-ed with 0x01 and with 0x80."""
    payload = PAYLOADS[kind]
    assert accept(payload)
    for i in range(len(payload)):
        for flip in (0x01, 0x80):
            bad = bytearray(payload)
            bad[i] ^= flip
            assert not accept(bytes(bad)), f"byte {i} ^ {flip:#x} accepted"


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(SIGNED)),
    st.integers(0, 10_000),
    st.integers(1, 255),
    st.integers(0, 3),
)
def test_any_byte_change_insertion_or_cut_is_refused(kind, where, xor, how):
    payload = bytearray(PAYLOADS[kind])
    i = where % len(payload)
    if how == 0:
        payload[i] ^= xor
    elif how == 1:
        payload.insert(i, xor)
    elif how == 2:
        del payload[i]
    else:
        payload = payload[:i]
    assert not accept(bytes(payload))


def test_changed_field_with_old_signature_is_bad_signature():
    msg = msgspec.structs.replace(SIGNED["warning"], text="All clear.")
    with pytest.raises(BadSignature):
        RING.verify(msg)


def test_signed_by_another_key_is_bad_signature():
    with pytest.raises(BadSignature, match="does not match"):
        RING.verify(sign(unsigned_examples()["track_report"], OTHER))


def test_unsigned_or_short_signature_is_bad_signature():
    with pytest.raises(BadSignature, match="0 bytes"):
        RING.verify(unsigned_examples()["heartbeat"])
    short = msgspec.structs.replace(
        SIGNED["heartbeat"], signature=SIGNED["heartbeat"].signature[:63]
    )
    with pytest.raises(BadSignature, match="63 bytes"):
        RING.verify(short)


def test_source_without_key_is_unknown_source():
    ring = Keyring.of_private({"JPN": KEY})
    with pytest.raises(UnknownSource, match="KOR"):
        ring.verify(SIGNED["track_report"])
    assert "JPN" in ring and "KOR" not in ring


def test_keyring_file_round_trip(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps({"KOR": public_key_bytes(KEY).hex(), "JPN": public_key_bytes(OTHER).hex()})
    )
    ring = Keyring.load(path)
    assert ring.sources == {"KOR", "JPN"}
    assert ring.to_hex()["KOR"] == public_key_bytes(KEY).hex()
    ring.verify(SIGNED["track_report"])
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring.from_raw({"KOR": "abcd"})


def test_stamper_numbers_ids_times_and_signs():
    ids = iter(range(10**6))
    stamper = Stamper("KOR", KEY, start_seq=5, rng=lambda n: next(ids).to_bytes(n, "big"))
    body = unsigned_examples()["track_report"]
    t = 1_704_067_300_000_000_000
    out = [stamper.stamp(body, t + k) for k in (0, 0, 1_000)]
    assert [m.seq for m in out] == [5, 6, 7] and stamper.next_seq == 8
    assert [m.sent_ns for m in out] == [t, t, t + 1_000]
    assert len({m.message_id for m in out}) == 3
    assert sorted(m.message_id for m in out) == [m.message_id for m in out]
    for m in out:
        RING.verify(m)
        assert m.measured_ns == body.measured_ns and m.source == "KOR"
    assert accept(stamper.seal(body, t))


@pytest.mark.parametrize("size", [0, 1, 800, NACL_SIGN_MAX_BYTES, NACL_SIGN_MAX_BYTES + 1,
                                  NACL_VERIFY_MAX_BYTES + 1, 300_000])  # fmt: skip
def test_libsodium_and_openssl_give_the_same_signatures(size):
    """Both sides of the size thresholds: the Signer's signature is OpenSSL's, byte for
    byte, and the Keyring verifies it whichever library it uses."""
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    signer = Signer(KEY)
    sig = signer.sign_bytes(data)
    assert sig == KEY.sign(data)
    RING.verify_bytes("KOR", sig, data)
    with pytest.raises(BadSignature):
        RING.verify_bytes("KOR", sig, data + b"\x00")
    with pytest.raises(BadSignature):
        RING.verify_bytes("KOR", bytes([sig[0] ^ 1]) + sig[1:], data)


def test_golden_signatures_unchanged_by_the_library():
    for kind, msg in SIGNED.items():
        assert Signer(KEY).sign(msgspec.structs.replace(msg, signature=b"")) == msg, kind
