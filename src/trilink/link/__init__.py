"""The link: codecs, signatures, replay guard, dead letters, and the Bus.

Sending: build a message body, ``payload = Stamper(...).seal(msg, now_ns)``,
``await bus.publish(subject, payload)``. Receiving: ``msg = Receiver(...)(payload, subject)``
(None if refused; the refusal is dead-lettered and counted).

``NatsBus`` is imported lazily so that code on the in-memory bus never loads nats-py.
"""

from typing import TYPE_CHECKING, Any

from trilink.link.bus import Bus, BusMessage, InMemoryBus, Subscription
from trilink.link.codec import (
    MAX_MESSAGE_BYTES,
    Decoder,
    decode,
    decode_json,
    encode,
    encode_json,
    headers_for,
)
from trilink.link.deadletter import DeadLetter, DeadLetterLog, read_deadletters, reject_for
from trilink.link.guard import ReplayGuard
from trilink.link.receive import Receiver, receive
from trilink.link.signing import (
    Keyring,
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
    "Stamper",
    "Subscription",
    "decode",
    "decode_json",
    "encode",
    "encode_json",
    "headers_for",
    "private_key_from_seed",
    "public_key_bytes",
    "read_deadletters",
    "receive",
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
