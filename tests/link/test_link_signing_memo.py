"""trust_own_signatures: a signature this process made is taken without the arithmetic,
and only over the same bytes with the same key; everything else is checked in full."""

from __future__ import annotations

import msgspec
import nacl.bindings
import pytest

from trilink.errors import BadSignature
from trilink.link import signing
from trilink.link.golden import unsigned_bundle, unsigned_examples
from trilink.link.signing import (
    NACL_SIGN_MAX_BYTES,
    Keyring,
    SignatureMemo,
    Signer,
    private_key_from_seed,
    signing_input,
    trust_own_signatures,
)

KEY = private_key_from_seed(b"\x11" * 32)
OTHER = private_key_from_seed(b"\x22" * 32)
RING = Keyring.of_private({"KOR": KEY, "HUB": KEY})
REPORT = unsigned_examples()["track_report"]  # source KOR


class _Counted:
    """Counts the libsodium verifications (the arithmetic the memo saves)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = nacl.bindings.crypto_sign_open

        def counted(signed: bytes, pk: bytes) -> bytes:
            self.calls += 1
            return real(signed, pk)

        monkeypatch.setattr(nacl.bindings, "crypto_sign_open", counted)


def test_own_signatures_are_taken_without_the_arithmetic(monkeypatch):
    counted = _Counted(monkeypatch)
    signer = Signer(KEY)
    with trust_own_signatures():
        msg = signer.sign(REPORT)
        RING.verify(msg)
        assert counted.calls == 0
    RING.verify(msg)  # outside the block: the full check, which agrees
    assert counted.calls == 1


def test_anything_else_is_checked_in_full(monkeypatch):
    counted = _Counted(monkeypatch)
    with trust_own_signatures():
        msg = Signer(KEY).sign(REPORT)
        tampered = msgspec.structs.replace(msg, n_updates=msg.n_updates + 1)
        with pytest.raises(BadSignature):
            RING.verify(tampered)  # other bytes
        with pytest.raises(BadSignature):
            Keyring.of_private({"KOR": OTHER}).verify(msg)  # another key for the source
        other_sig = Signer(OTHER).sign(REPORT)
        with pytest.raises(BadSignature):
            RING.verify(other_sig)  # made here, but with a key the ring does not hold
        forged = msgspec.structs.replace(other_sig, signature=msg.signature[:63] + b"\0")
        with pytest.raises(BadSignature):
            RING.verify(forged)
    assert counted.calls == 4


def test_large_inputs_signed_by_openssl_are_remembered_too(monkeypatch):
    bundle = unsigned_bundle()
    items = bundle.items * (NACL_SIGN_MAX_BYTES // sum(map(len, bundle.items)) + 1)
    big = msgspec.structs.replace(bundle, items=items)
    assert len(signing_input(big)) > NACL_SIGN_MAX_BYTES
    counted = _Counted(monkeypatch)
    with trust_own_signatures():
        RING.verify(Signer(KEY).sign(big))
    assert counted.calls == 0


def test_nested_blocks_share_one_memo_and_it_goes_with_the_last():
    assert signing._memo is None
    with trust_own_signatures():
        outer = signing._memo
        with trust_own_signatures():
            assert signing._memo is outer
        assert signing._memo is outer
    assert signing._memo is None


def test_the_memo_is_bounded_oldest_first():
    memo = SignatureMemo(size=2)
    for k in range(3):
        memo.add(bytes([k]) * 64, b"pk", b"data%d" % k)
    assert not memo.vouches(b"\0" * 64, b"pk", b"data0")
    assert memo.vouches(b"\1" * 64, b"pk", b"data1")
    assert memo.vouches(b"\2" * 64, b"pk", b"data2")
    assert not memo.vouches(b"\2" * 64, b"pk2", b"data2")
    assert not memo.vouches(b"\2" * 64, b"pk", b"data1")


def test_the_memo_is_bounded_in_bytes_too():
    memo = SignatureMemo(size=100, max_bytes=10)
    memo.add(b"\0" * 64, b"pk", b"12345")
    memo.add(b"\1" * 64, b"pk", b"12345")
    memo.add(b"\2" * 64, b"pk", b"123")  # 13 bytes held: the oldest goes
    assert not memo.vouches(b"\0" * 64, b"pk", b"12345")
    assert memo.vouches(b"\1" * 64, b"pk", b"12345")
    assert memo.vouches(b"\2" * 64, b"pk", b"123")
    memo.add(b"\3" * 64, b"pk", b"x" * 11)  # larger than the budget: not kept
    assert not memo.vouches(b"\3" * 64, b"pk", b"x" * 11)
    assert memo.vouches(b"\2" * 64, b"pk", b"123")
    memo.add(b"\2" * 64, b"pk", b"123")  # the same again: counted once
    assert memo._bytes == 8
