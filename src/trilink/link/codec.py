"""Bytes <-> messages: MessagePack on the wire, JSON for people; decode validates.

Encoding is canonical: msgspec writes a struct as a map whose keys follow the field order
of :mod:`trilink.messages` (``kind`` first), every field present, floats always as
float64, integers and strings in their shortest MessagePack form. The signature is
checked against this re-encoding (:mod:`trilink.link.signing`), so a sender in another
language must produce the same bytes; the golden vectors under tests/messages/golden/
show it.

:class:`Decoder` turns bytes into a message or raises :class:`~trilink.errors.DecodeError`
whose ``field`` is a path such as ``"launch.ellipse.sigma_minor_m"`` or
``"state_ecef[3]"`` (``"$"`` = the whole message).

Bundles (ICD section "Bundles"): :meth:`Decoder.decode` takes one content message and
refuses a bundle (field ``kind``); :meth:`Decoder.decode_payload` takes either, a bundle
up to ``max_bundle_bytes``; :func:`iter_payload_messages` opens any payload into its
messages without checking signatures (for ``trilink decode``, recorded logs, exports).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

import msgspec

from trilink.errors import DecodeError
from trilink.link.validate import validate
from trilink.messages import (
    MAX_BUNDLE_BYTES,
    MAX_ITEM_BYTES,
    SCHEMA_VERSION,
    Bundle,
    Envelope,
    Message,
    Payload,
    RejectReason,
)

MAX_MESSAGE_BYTES = MAX_ITEM_BYTES
"""Largest payload a Decoder accepts by default, bundles aside: a TrackReport is about
800 bytes and a Warning with a 1,024-point polygon about 20 kB."""

_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder(Payload)
_json_decoder = msgspec.json.Decoder(Payload)

BUNDLE_PREFIX = _msgpack_encoder.encode(
    Bundle(source="XX", measured_ns=0, releasability=(), items=(b"x",))
)[:13]
"""The first 13 bytes of every canonical bundle: its map header, then ``kind`` =
``"bundle"``. A payload above the message limit is parsed only if it starts so."""

_PATH = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_NAMED = re.compile(r"(?:missing required|contains unknown) field `(?P<name>[^`]*)`")


def encode(msg: Envelope) -> bytes:
    """The canonical MessagePack bytes of a message."""
    return _msgpack_encoder.encode(msg)


def encode_json(msg: Envelope) -> bytes:
    """JSON for people and tools (bytes fields as base64); decodable by decode_json."""
    return _json_encoder.encode(msg)


def headers_for(msg: Envelope) -> dict[str, str]:
    """Transport headers for a message: ``Nats-Msg-Id`` = its message id, so JetStream
    streams drop a re-published duplicate within their de-duplication window. Headers
    are not signed: receivers never base a decision on them."""
    return {"Nats-Msg-Id": msg.message_id}


def error_field(err: msgspec.ValidationError) -> tuple[str, str]:
    """Map msgspec's ``"reason - at `$.a.b[2]`"`` to ``("a.b[2]", "reason")``."""
    m = _PATH.match(str(err))
    assert m is not None  # the pattern matches any string
    reason, path = m["reason"], (m["path"] or "").lstrip(".")
    named = _NAMED.search(reason)
    if named:
        path = f"{path}.{named['name']}" if path else named["name"]
    return path or "$", reason


class Decoder:
    """Decode and validate, against a registry of known node ids (None = any well-formed).

    ``versions`` lists the schema versions this receiver understands; ``max_bytes``
    bounds the payload before any parsing is done.
    """

    def __init__(
        self,
        known_nodes: Iterable[str] | None = None,
        *,
        max_bytes: int = MAX_MESSAGE_BYTES,
        max_bundle_bytes: int = MAX_BUNDLE_BYTES,
        versions: Collection[int] = (SCHEMA_VERSION,),
    ):
        self.known_nodes = None if known_nodes is None else frozenset(known_nodes)
        self.max_bytes = int(max_bytes)
        self.max_bundle_bytes = int(max_bundle_bytes)
        self.versions = frozenset(versions)

    def decode(self, data: bytes | bytearray | memoryview) -> Message:
        """MessagePack bytes -> a validated message, or DecodeError naming the field.
        A bundle is refused (field ``kind``): use :meth:`decode_payload`."""
        return self._single(self._finish(self._parse(data, _msgpack_decoder, "MessagePack")))

    def decode_payload(self, data: bytes | bytearray | memoryview) -> Message | Bundle:
        """Like :meth:`decode`, but a bundle (up to ``max_bundle_bytes``) is returned as
        such, its envelope validated and its items still bytes (:meth:`decode` each)."""
        return self._finish(
            self._parse(data, _msgpack_decoder, "MessagePack", self.limit_for(data))
        )

    def limit_for(self, data: bytes | bytearray | memoryview) -> int:
        """The size limit :meth:`decode_payload` applies to ``data``: ``max_bundle_bytes``
        if it starts as a canonical bundle does, else ``max_bytes``."""
        if len(data) > self.max_bytes and bytes(data[: len(BUNDLE_PREFIX)]) == BUNDLE_PREFIX:
            return max(self.max_bytes, self.max_bundle_bytes)
        return self.max_bytes

    def decode_json(self, data: bytes | bytearray | memoryview | str) -> Message:
        """JSON text -> a validated message (the same checks as :meth:`decode`)."""
        return self._single(self.decode_json_payload(data))

    def decode_json_payload(self, data: bytes | bytearray | memoryview | str) -> Message | Bundle:
        """JSON text -> a validated message or bundle (items base64 in JSON, bytes here)."""
        if isinstance(data, str):
            data = data.encode()
        return self._finish(self._parse(data, _json_decoder, "JSON"))

    def _parse(
        self,
        data: bytes | bytearray | memoryview,
        decoder: msgspec.msgpack.Decoder[Payload] | msgspec.json.Decoder[Payload],
        what: str,
        limit: int | None = None,
    ) -> Payload:
        limit = self.max_bytes if limit is None else limit
        if len(data) > limit:
            raise DecodeError("$", f"{len(data)} bytes exceeds the {limit}-byte limit")
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as e:
            raise DecodeError(*error_field(e)) from None
        except msgspec.DecodeError as e:
            raise DecodeError("$", f"malformed {what}: {e}") from None

    def _finish(self, msg: Payload) -> Payload:
        validate(msg, known_nodes=self.known_nodes, versions=self.versions)
        return msg

    @staticmethod
    def _single(msg: Payload) -> Message:
        if isinstance(msg, Bundle):
            raise DecodeError(
                "kind",
                "a bundle where one message was expected (bundles are opened by "
                "Receiver.receive_all, Decoder.decode_payload or iter_payload_messages; "
                "never inside another bundle)",
            )
        return msg


_default = Decoder()


def decode(data: bytes | bytearray | memoryview) -> Message:
    """Decode with no node registry (any well-formed id) and the default limits."""
    return _default.decode(data)


def decode_json(data: bytes | bytearray | memoryview | str) -> Message:
    return _default.decode_json(data)


def decode_payload(data: bytes | bytearray | memoryview) -> Message | Bundle:
    """:meth:`Decoder.decode_payload` with no node registry and the default limits."""
    return _default.decode_payload(data)


def iter_payload_messages(
    data: bytes | bytearray | memoryview, decoder: Decoder | None = None
) -> list[Message]:
    """The messages of a payload, decoded and validated but NOT verified: ``[msg]`` for a
    plain message, the items for a bundle (after the same item rules as a receiver's:
    same source, empty signature, no nested bundle). For reading recorded logs, exports
    and ``trilink decode``; a node acts only on what :class:`~trilink.link.Receiver`
    admitted. Raises DecodeError on the first thing that does not fit (an item's field is
    prefixed ``items[i].``)."""
    d = _default if decoder is None else decoder
    msg = d.decode_payload(data)
    return open_bundle(msg, d) if isinstance(msg, Bundle) else [msg]


def open_bundle(bundle: Bundle, decoder: Decoder | None = None) -> list[Message]:
    """The items of a decoded bundle, decoded and checked by the item rules (NOT its
    signature): what :func:`iter_payload_messages` does after decoding the payload."""
    d = _default if decoder is None else decoder
    out = []
    for i, item in enumerate(bundle.items):
        try:
            m = d.decode(item)
            problem = bundle_item_problem(bundle, m)
        except DecodeError as e:
            raise DecodeError(f"items[{i}].{e.field}".rstrip(".$"), e.reason) from None
        if problem is not None:
            raise DecodeError(f"items[{i}].{problem[1]}", problem[2])
        out.append(m)
    return out


def bundle_item_problem(bundle: Bundle, item: Message) -> tuple[RejectReason, str, str] | None:
    """Why ``item`` may not travel in ``bundle`` as (reason, field, detail), or None.

    The item must be of the bundle's source (the bundle's signature is all that vouches
    for it: another source's message inside is a forgery, ``bad_signature``), carry an
    empty signature (``invalid``: a signed item would be a second, unchecked proof), and
    allow at least the nations the bundle is labelled for (``invalid``)."""
    if item.source != bundle.source:
        return (
            "bad_signature",
            "source",
            f"an item of {item.source} inside a bundle signed by {bundle.source}",
        )
    if item.signature:
        return ("invalid", "signature", "a bundle item must have an empty signature")
    if not set(bundle.releasability).issubset(item.releasability):
        return (
            "invalid",
            "releasability",
            f"item releasable to {list(item.releasability)}, less than the bundle's "
            f"{list(bundle.releasability)}",
        )
    return None
