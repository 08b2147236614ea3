"""The link: codecs, signatures, replay guard, dead letters, and the Bus.

Sending: build a message body, ``payload = Stamper(...).seal(msg, now_ns)``,
``await bus.publish(subject, payload)``; many at once: ``stamper.stamp(msg, now_ns,
sign=False)`` each, then ``stamper.bundle(stamped, now_ns)`` -> signed bundle payloads.
Receiving: ``msgs = Receiver(...).receive_all(payload, subject)`` (the admitted messages
of a plain message or a bundle; refusals are dead-lettered and counted), or
``Receiver(...)(payload, subject)`` for plain messages only. Reading recorded payloads
without keys: ``iter_payload_messages(payload)``.

``NatsBus`` is imported lazily so that code on the in-memory bus never loads nats-py.
"""

from typing import TYPE_CHECKING, Any

from trilink.link.bus import Bus, BusMessage, InMemoryBus, Subscription
from trilink.link.codec import (
    MAX_MESSAGE_BYTES,
    Decoder,
    decode,
    decode_json,
    decode_payload,
    encode,
    encode_json,
    headers_for,
    iter_payload_messages,
)
from trilink.link.deadletter import DeadLetter, DeadLetterLog, read_deadletters, reject_for
from trilink.link.guard import ReplayGuard
from trilink.link.receive import Receiver, receive, receive_all
from trilink.link.signing import (
    Keyring,
    Signer,
    private_key_from_seed,
    public_key_bytes,
    sign,
    signing_input,
    verify,
)
from trilink.link.stamp import Stamper

if TYPE_CHECKING:
    from trilink.link.nats_bus import NatsBus

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Bus",
    "BusMessage",
    "DeadLetter",
    "DeadLetterLog",
    "Decoder",
    "InMemoryBus",
    "Keyring",
    "NatsBus",
    "Receiver",
    "ReplayGuard",
    "Signer",
    "Stamper",
    "Subscription",
    "decode",
    "decode_json",
    "decode_payload",
    "encode",
    "encode_json",
    "headers_for",
    "iter_payload_messages",
    "private_key_from_seed",
    "public_key_bytes",
    "read_deadletters",
    "receive",
    "receive_all",
    "reject_for",
    "sign",
    "signing_input",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name == "NatsBus":
        from trilink.link.nats_bus import NatsBus

        return NatsBus
    raise AttributeError(name)
