"""The sending side of the envelope: id, source, sequence, sent time, signature; bundles.

A node builds its message bodies with ``measured_ns`` and ``releasability`` (what only it
knows) and leaves the rest at their defaults; :class:`Stamper` fills them in one place so
that no two messages of a source share a sequence number or an id.

Sequence numbers must never be reused by a source: receivers' replay guards drop a
number they have seen or one below their window. A restarted node must therefore resume
above its last number: pass ``start_seq`` (restored from its own state, or the wall clock
in microseconds, which always moves past the previous run).

Bundles (ICD section "Bundles"): stamp each message with ``sign=False`` (it gets its id,
sequence number and sent time, and an empty signature), then :meth:`Stamper.bundle` packs
them into as few signed bundles as the limits allow, each with its own id and sequence
number. One Ed25519 signature then covers up to 1,000 messages.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.link.codec import encode
from trilink.link.signing import Signer
from trilink.messages import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_ITEMS,
    SCHEMA_VERSION,
    Bundle,
    Envelope,
    Uuid7Generator,
)

M = TypeVar("M", bound=Envelope)

BUNDLE_ENVELOPE_BYTES = 512
"""A bound on what a bundle adds to its items besides their length headers: the envelope
(id 36, source <= 16, a 16-node label <= 272 bytes, signature 64, keys and headers)."""
ITEM_HEADER_BYTES = 5
"""The MessagePack bin header of one item (bin16: 3 bytes; bin32 would be 5)."""


class Stamper:
    """Stamps and signs the messages of one source node."""

    def __init__(
        self,
        source: str,
        private_key: Ed25519PrivateKey,
        *,
        start_seq: int = 0,
        rng: Callable[[int], bytes] = os.urandom,
    ):
        if start_seq < 0:
            raise ValueError("start_seq must be >= 0")
        self.source = source
        self._key = private_key
        self._signer = Signer(private_key)
        self._next_seq = int(start_seq)
        self._ids = Uuid7Generator(rng)

    @property
    def next_seq(self) -> int:
        """The sequence number the next message will carry."""
        return self._next_seq

    def stamp(self, msg: M, now_ns: int, *, sign: bool = True) -> M:
        """A copy with this source's id, next sequence number and ``sent_ns = now_ns``;
        signed, or with an empty signature (``sign=False``) to travel in a bundle."""
        stamped = msgspec.structs.replace(
            msg,
            message_id=self._ids(now_ns),
            source=self.source,
            seq=self._next_seq,
            sent_ns=now_ns,
            schema_version=SCHEMA_VERSION,
            signature=b"",
        )
        self._next_seq += 1
        return self._signer.sign(stamped) if sign else stamped

    def seal(self, msg: Envelope, now_ns: int) -> bytes:
        """:meth:`stamp` then encode: the payload to publish."""
        return encode(self.stamp(msg, now_ns))

    def bundle(
        self,
        stamped: Sequence[Envelope],
        now_ns: int,
        *,
        max_items: int = MAX_BUNDLE_ITEMS,
        max_bytes: int = MAX_BUNDLE_BYTES,
    ) -> list[bytes]:
        """Payloads carrying ``stamped`` (messages of this source already stamped, in
        sending order): signed bundles of at most ``max_items`` items and ``max_bytes``
        bytes, split in order; a part of a single message goes as that message, signed.

        Items travel with an empty signature (a signed one has it removed: the bundle's
        signature is what vouches for it). A bundle's ``measured_ns`` is the latest of
        its items', its releasability the nations every item allows.
        """
        if not 1 <= max_items <= MAX_BUNDLE_ITEMS:
            raise ValueError(f"max_items must be in [1, {MAX_BUNDLE_ITEMS}]")
        items: list[tuple[Envelope, bytes]] = []
        for m in stamped:
            if m.source != self.source:
                raise ValueError(f"a {self.source} bundle cannot carry a message of {m.source}")
            if not m.message_id:
                raise ValueError("stamp messages (sign=False) before bundling them")
            bare = msgspec.structs.replace(m, signature=b"") if m.signature else m
            items.append((bare, encode(bare)))
        payloads = []
        for part in _split(items, max_items, max_bytes - BUNDLE_ENVELOPE_BYTES):
            if len(part) == 1:
                payloads.append(encode(self._signer.sign(part[0][0])))
                continue
            labels = [set(m.releasability) for m, _ in part]
            body = Bundle(
                source=self.source,
                measured_ns=max(m.measured_ns for m, _ in part),
                releasability=tuple(sorted(set.intersection(*labels))),
                items=tuple(b for _, b in part),
            )
            payload = encode(self.stamp(body, now_ns))
            assert len(payload) <= max_bytes, "BUNDLE_ENVELOPE_BYTES is too small"
            payloads.append(payload)
        return payloads


def _split(
    items: list[tuple[Envelope, bytes]], max_items: int, max_item_bytes: int
) -> list[list[tuple[Envelope, bytes]]]:
    """Consecutive parts of ``items``, each within the count and the byte budget."""
    parts: list[list[tuple[Envelope, bytes]]] = []
    part: list[tuple[Envelope, bytes]] = []
    size = 0
    for item in items:
        n = len(item[1]) + ITEM_HEADER_BYTES
        if part and (len(part) >= max_items or size + n > max_item_bytes):
            parts.append(part)
            part, size = [], 0
        part.append(item)
        size += n
    if part:
        parts.append(part)
    return parts
