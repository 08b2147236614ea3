"""Golden vectors and generated files: the committed bytes are what the code produces,
and they check out with an Ed25519 implementation independent of trilink's keyring."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trilink.link.codec import decode_payload, encode, iter_payload_messages
from trilink.link.golden import RFC8032_TEST1_PUBLIC, bundle_items, golden_key, signed_examples
from trilink.link.schema import drift, message_schema
from trilink.link.signing import SIGNATURE_CONTEXT, public_key_bytes
from trilink.messages import KINDS

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests/messages/golden"


def test_generated_files_match_the_code():
    stale = drift(ROOT)
    assert not stale, f"run scripts/gen_schema.py and commit: {[str(p) for p in stale]}"


def test_rfc8032_test1_key_pair():
    # RFC 8032 section 7.1 TEST 1: this secret key has this public key.
    assert public_key_bytes(golden_key()) == RFC8032_TEST1_PUBLIC
    assert (GOLDEN / "public_key.hex").read_text().strip() == RFC8032_TEST1_PUBLIC.hex()


def test_rfc8032_test1_signature_of_empty_message():
    expected = (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert golden_key().sign(b"").hex() == expected


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_golden_vector_checks_out(kind):
    payload = bytes.fromhex((GOLDEN / f"{kind}.msgpack.hex").read_text())
    signed_input = bytes.fromhex((GOLDEN / f"{kind}.signing_input.hex").read_text())
    as_json = json.loads((GOLDEN / f"{kind}.json").read_text())

    # The payload is a plain MessagePack map equal to the JSON (signature aside: base64).
    raw = msgspec.msgpack.decode(payload)
    assert raw["kind"] == kind
    assert list(raw) == list(as_json)  # same keys, same order
    sig = raw.pop("signature")
    assert len(sig) == 64
    assert msgspec.json.decode(msgspec.json.encode(raw)) == {
        k: v for k, v in as_json.items() if k != "signature"
    }

    # The signing input is the context + the map with an empty signature, re-encoded.
    assert signed_input.startswith(SIGNATURE_CONTEXT)
    unsigned = msgspec.msgpack.decode(signed_input[len(SIGNATURE_CONTEXT) :])
    assert unsigned["signature"] == b""
    assert {k: v for k, v in unsigned.items() if k != "signature"} == raw

    # Independent Ed25519 check, then determinism: re-signing gives the same signature.
    Ed25519PublicKey.from_public_bytes(RFC8032_TEST1_PUBLIC).verify(sig, signed_input)
    assert golden_key().sign(signed_input) == sig

    # trilink decodes it to the example, and re-encodes it byte for byte (canonical form).
    msg = decode_payload(payload)
    assert msg == signed_examples()[kind]
    assert encode(msg) == payload


def test_golden_bundle_items_are_complete_unsigned_messages():
    payload = bytes.fromhex((GOLDEN / "bundle.msgpack.hex").read_text())
    raw = msgspec.msgpack.decode(payload)
    assert len(raw["items"]) == 2
    for item, expected in zip(raw["items"], bundle_items(), strict=True):
        inner = msgspec.msgpack.decode(item)
        assert inner["kind"] == "track_report" and inner["signature"] == b""
        assert inner["source"] == raw["source"] and inner["seq"] < raw["seq"]
        assert item == encode(expected)  # canonical, byte for byte
    assert iter_payload_messages(payload) == list(bundle_items())


def test_schema_lists_every_kind_and_requires_every_field():
    s = message_schema()
    assert set(s["discriminator"]["mapping"]) == set(KINDS)
    for name, d in s["$defs"].items():
        if d.get("type") == "object":
            assert d["required"] == list(d["properties"]), name
            assert d["additionalProperties"] is False, name
