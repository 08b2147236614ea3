"""The sending side of the envelope: id, source, sequence, sent time, signature.

A node builds its message bodies with ``measured_ns`` and ``releasability`` (what only it
knows) and leaves the rest at their defaults; :class:`Stamper` fills them in one place so
that no two messages of a source share a sequence number or an id.

Sequence numbers must never be reused by a source: receivers' replay guards drop a
number they have seen or one below their window. A restarted node must therefore resume
above its last number: pass ``start_seq`` (restored from its own state, or the wall clock
in microseconds, which always moves past the previous run).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trilink.link.codec import encode
from trilink.link.signing import sign
from trilink.messages import SCHEMA_VERSION, Envelope, Uuid7Generator

M = TypeVar("M", bound=Envelope)


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
        self._next_seq = int(start_seq)
        self._ids = Uuid7Generator(rng)

    @property
    def next_seq(self) -> int:
        """The sequence number the next message will carry."""
        return self._next_seq

    def stamp(self, msg: M, now_ns: int) -> M:
        """A signed copy with this source's id, next sequence number and ``sent_ns = now_ns``."""
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
        return sign(stamped, self._key)

    def seal(self, msg: Envelope, now_ns: int) -> bytes:
        """:meth:`stamp` then encode: the payload to publish."""
        return encode(self.stamp(msg, now_ns))
