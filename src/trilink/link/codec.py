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
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

import msgspec

from trilink.errors import DecodeError
from trilink.link.validate import validate
from trilink.messages import SCHEMA_VERSION, Envelope, Message

MAX_MESSAGE_BYTES = 65_536
"""Largest payload a Decoder accepts by default: a TrackReport is about 600 bytes and a
Warning with a 1,024-point polygon about 20 kB."""

_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()
_msgpack_decoder = msgspec.msgpack.Decoder(Message)
_json_decoder = msgspec.json.Decoder(Message)

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
        versions: Collection[int] = (SCHEMA_VERSION,),
    ):
        self.known_nodes = None if known_nodes is None else frozenset(known_nodes)
        self.max_bytes = int(max_bytes)
        self.versions = frozenset(versions)

    def decode(self, data: bytes | bytearray | memoryview) -> Message:
        """MessagePack bytes -> a validated message, or DecodeError naming the field."""
        return self._finish(self._parse(data, _msgpack_decoder, "MessagePack"))

    def decode_json(self, data: bytes | bytearray | memoryview | str) -> Message:
        """JSON text -> a validated message (the same checks as :meth:`decode`)."""
        if isinstance(data, str):
            data = data.encode()
        return self._finish(self._parse(data, _json_decoder, "JSON"))

    def _parse(
        self,
        data: bytes | bytearray | memoryview,
        decoder: msgspec.msgpack.Decoder[Message] | msgspec.json.Decoder[Message],
        what: str,
    ) -> Message:
        if len(data) > self.max_bytes:
            raise DecodeError("$", f"{len(data)} bytes exceeds the {self.max_bytes}-byte limit")
        try:
            return decoder.decode(data)
        except msgspec.ValidationError as e:
            raise DecodeError(*error_field(e)) from None
        except msgspec.DecodeError as e:
            raise DecodeError("$", f"malformed {what}: {e}") from None

    def _finish(self, msg: Message) -> Message:
        validate(msg, known_nodes=self.known_nodes, versions=self.versions)
        return msg


_default = Decoder()


def decode(data: bytes | bytearray | memoryview) -> Message:
    """Decode with no node registry (any well-formed id) and the default limits."""
    return _default.decode(data)


def decode_json(data: bytes | bytearray | memoryview | str) -> Message:
    return _default.decode_json(data)
