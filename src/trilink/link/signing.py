"""Ed25519 signatures over the canonical encoding (RFC 8032; libsodium via PyNaCl).

Signing, step by step (the ICD, section "Signing"):

1. set ``signature`` to empty bytes (every other field at its final value);
2. encode canonically to MessagePack (:func:`trilink.link.codec.encode`);
3. prepend the context ``b"trilink-sig-v1\\x00"`` so a node key cannot be tricked into
   signing something that is valid in another protocol;
4. Ed25519-sign those bytes with the source node's private key; put the 64-byte
   signature in ``signature``.

Verification redoes steps 1-3 from the decoded message and checks the signature with the
public key registered for ``msg.source``. Ed25519 is deterministic, so the same key and
message always give the same signature (the golden vectors rely on it).

Keys stay ``cryptography`` objects in the API (loaded and stored as before); the
arithmetic is libsodium's (PyNaCl), which verified a TrackReport in 55 us against
OpenSSL's 105 us in the same run (benchmarks/bench_link_codec.py). The libsodium key
material is derived once per key and cached (:class:`Keyring`, :class:`Signer`). Beyond a
few kilobytes the hashing dominates and OpenSSL's assembly SHA-512 is the faster one
(measured: signing 16 kB, verifying 64 kB and more), so large inputs, i.e. big bundles,
go to OpenSSL; the signatures are the same bytes either way. libsodium's verify is the
stricter of the two (it also refuses small-order keys and points), which honest signers
never produce.

In a simulation every node runs in one process, so each message is verified where it
was signed: :func:`trust_own_signatures` lets a receiver take such a signature as the
check it is (the same bytes, the same key) without the curve arithmetic. The Monte Carlo
evaluation runs its trials so (SRBM salvo: ~0.55 of ~4.5 CPU-s per trial saved).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import msgspec
import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from trilink.errors import BadSignature, UnknownSource
from trilink.link.codec import encode
from trilink.messages import Envelope

SIGNATURE_CONTEXT = b"trilink-sig-v1\x00"
SIGNATURE_BYTES = 64
NACL_SIGN_MAX_BYTES = 8_192
"""Signing inputs up to this size are signed by libsodium, larger ones by OpenSSL (which
hashes faster: at 16 kB OpenSSL already signed in less time on this machine)."""
NACL_VERIFY_MAX_BYTES = 32_768
"""Likewise for verifying (the two were level at 64 kB; libsodium 2x faster below 16 kB)."""

M = TypeVar("M", bound=Envelope)


def signing_input(msg: Envelope) -> bytes:
    """The exact bytes a signature covers: context + canonical encoding, signature empty."""
    return SIGNATURE_CONTEXT + encode(msgspec.structs.replace(msg, signature=b""))


class Signer:
    """One private key, ready to sign: the libsodium secret key is derived once."""

    def __init__(self, private_key: Ed25519PrivateKey):
        self.private_key = private_key
        seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        self._public, self._secret = nacl.bindings.crypto_sign_seed_keypair(seed)

    def sign_bytes(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``data`` (already context-prefixed)."""
        if len(data) > NACL_SIGN_MAX_BYTES:
            signature = self.private_key.sign(data)
        else:
            signature = nacl.bindings.crypto_sign(data, self._secret)[:SIGNATURE_BYTES]
        memo = _memo
        if memo is not None:
            memo.add(signature, self._public, data)
        return signature

    def sign(self, msg: M) -> M:
        """A copy of ``msg`` carrying its Ed25519 signature."""
        return msgspec.structs.replace(msg, signature=self.sign_bytes(signing_input(msg)))


def sign(msg: M, private_key: Ed25519PrivateKey | Signer) -> M:
    """A copy of ``msg`` carrying its Ed25519 signature (a :class:`Signer` avoids deriving
    the key again: use one for more than a few messages)."""
    signer = private_key if isinstance(private_key, Signer) else Signer(private_key)
    return signer.sign(msg)


def private_key_from_seed(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 key of a 32-byte seed (RFC 8032 section 5.1.5): deterministic keys for
    tests and golden vectors. Live nodes use keys from ``trilink pki``."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_bytes(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


class Keyring:
    """The public key of each known source node; verifies messages."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey] | None = None):
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._raw: dict[str, bytes] = {}  # the same keys, raw, for libsodium
        for source, key in (keys or {}).items():
            self.add(source, key)

    @classmethod
    def from_raw(cls, keys: Mapping[str, bytes | str]) -> Keyring:
        """From raw 32-byte public keys, as bytes or hex text."""
        ring = cls()
        for source, raw in keys.items():
            ring.add(source, Ed25519PublicKey.from_public_bytes(_raw(raw)))
        return ring

    @classmethod
    def load(cls, path: Path | str) -> Keyring:
        """From a JSON file ``{"KOR": "<64 hex digits>", ...}``."""
        return cls.from_raw(json.loads(Path(path).read_text()))

    @classmethod
    def of_private(cls, keys: Mapping[str, Ed25519PrivateKey]) -> Keyring:
        return cls({s: k.public_key() for s, k in keys.items()})

    def add(self, source: str, key: Ed25519PublicKey) -> None:
        self._keys[source] = key
        self._raw[source] = public_key_bytes(key)

    def to_hex(self) -> dict[str, str]:
        return {s: public_key_bytes(k).hex() for s, k in sorted(self._keys.items())}

    @property
    def sources(self) -> frozenset[str]:
        return frozenset(self._keys)

    def __contains__(self, source: object) -> bool:
        return source in self._keys

    def verify(self, msg: Envelope) -> None:
        """Raise UnknownSource (no key for msg.source) or BadSignature; else return."""
        self.verify_bytes(msg.source, msg.signature, signing_input(msg))

    def verify_bytes(self, source: str, signature: bytes, data: bytes) -> None:
        """Check ``signature`` over ``data`` (already context-prefixed) against the key of
        ``source``; raise UnknownSource or BadSignature."""
        raw = self._raw.get(source)
        if raw is None:
            raise UnknownSource(f"no public key for source {source!r}")
        if len(signature) != SIGNATURE_BYTES:
            raise BadSignature(
                f"signature is {len(signature)} bytes, Ed25519 needs {SIGNATURE_BYTES}"
            )
        memo = _memo
        if memo is not None and memo.vouches(signature, raw, data):
            return
        try:
            if len(data) > NACL_VERIFY_MAX_BYTES:
                self._keys[source].verify(signature, data)
            else:
                nacl.bindings.crypto_sign_open(signature + data, raw)
        except (InvalidSignature, nacl.exceptions.BadSignatureError):
            raise BadSignature(
                f"signature does not match the content or the key of {source!r}"
            ) from None


class SignatureMemo:
    """The latest signatures this process made: signature -> (public key, signed bytes).

    It vouches for a signature only over exactly the bytes it was made over and for
    exactly the public key of the key that made it. Ed25519 signing is deterministic and
    a signature made with a private key over some bytes verifies with its public key, so
    such a check would pass: the memo answers it without the curve arithmetic (~55 us a
    verify, the largest cost of receiving). A tampered message (other bytes), another
    source's key in the keyring, or a signature made elsewhere is checked in full.
    Bounded in count and in bytes (it holds the signed bytes: a hub's bundles can be
    large): the oldest entries go first, and an input larger than the byte budget is not
    kept (a receiver in the same process takes a message within a few hundred sends of
    its signing; one the memo has let go is verified in full)."""

    def __init__(self, size: int = 4096, max_bytes: int = 32 * 2**20):
        self.size = size
        self.max_bytes = max_bytes
        self._entries: dict[bytes, tuple[bytes, bytes]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, signature: bytes, public: bytes, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        with self._lock:  # concurrent trials in threads share the memo
            entries = self._entries
            old = entries.pop(signature, None)
            if old is not None:
                self._bytes -= len(old[1])
            entries[signature] = (public, data)
            self._bytes += len(data)
            while len(entries) > self.size or self._bytes > self.max_bytes:
                _, dropped = entries.pop(next(iter(entries)))
                self._bytes -= len(dropped)

    def vouches(self, signature: bytes, public: bytes, data: bytes) -> bool:
        """Whether this process signed ``data`` with the key of ``public``, making
        ``signature``."""
        got = self._entries.get(signature)
        return got is not None and got[0] == public and got[1] == data


_memo: SignatureMemo | None = None
_memo_users = 0
_memo_lock = threading.Lock()


@contextmanager
def trust_own_signatures(size: int = 4096) -> Iterator[None]:
    """Within the block, a :class:`Keyring` takes a signature that a :class:`Signer` of
    this process made over the same bytes with the key it holds for the source as
    verified, without redoing the arithmetic (:class:`SignatureMemo`). For simulations,
    where every node runs in one process and each message is signed and verified there
    (the Monte Carlo evaluation): the same messages are admitted and refused, for less
    CPU. Off by default, so that benchmarks of receiving measure
    the full check. Nested and concurrent blocks (threads) share one memo."""
    global _memo, _memo_users
    with _memo_lock:
        if _memo_users == 0:
            _memo = SignatureMemo(size)
        _memo_users += 1
    try:
        yield
    finally:
        with _memo_lock:
            _memo_users -= 1
            if _memo_users == 0:
                _memo = None


def verify(msg: Envelope, keyring: Keyring) -> None:
    """Module-level form of :meth:`Keyring.verify`."""
    keyring.verify(msg)


def _raw(value: bytes | str) -> bytes:
    raw = bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return raw
