"""A refused message is dead-lettered, counted, and published on trilink.deadletter.<node>
(ICD section 9); the node keeps admitting good messages."""

from __future__ import annotations

from trilink.link import Keyring, Stamper, decode, encode, private_key_from_seed
from trilink.link.deadletter import decode_deadletter
from trilink.messages import Heartbeat
from trilink.nodes.clock import SimClock
from trilink.nodes.hub import HUB_ID, HubNode
from trilink.policy import Policy

T0 = 1_772_323_200_000_000_000


def _hub() -> tuple[HubNode, Stamper]:
    kor = private_key_from_seed(b"k" * 32)
    hub_key = private_key_from_seed(b"h" * 32)
    ring = Keyring.of_private({"KOR": kor, HUB_ID: hub_key})
    clock = SimClock(T0)
    hub = HubNode(
        hub_key, ring, clock, partners=["KOR"], sources=["KOR"], policy=Policy(()), start_ns=T0
    )
    return hub, Stamper("KOR", kor)


def _beat(stamper: Stamper, t: int) -> bytes:
    msg = Heartbeat(
        source="KOR", measured_ns=t, releasability=("KOR",), state="running", uptime_s=1.0
    )
    return stamper.seal(msg, t)


def test_refusals_are_published_and_the_hub_keeps_going() -> None:
    hub, kor = _hub()
    assert hub.on_message("trilink.KOR.status", b"\x93garbage") != []
    good = _beat(kor, T0 + 1)
    assert hub.on_message("trilink.KOR.status", good) == []
    replay = hub.on_message("trilink.KOR.status", good)  # the same bytes again
    tampered = bytearray(_beat(kor, T0 + 2))
    tampered[-1] ^= 0x01
    forged = hub.on_message("trilink.KOR.status", bytes(tampered))
    out = replay + forged
    assert [o.subject for o in out] == ["trilink.deadletter.HUB"] * 2
    reasons = [decode_deadletter(o.payload).reason for o in out]
    assert reasons == ["replayed", "bad_signature"]
    assert hub.link.deadletters.total == 3
    assert hub.watermarks["KOR"] == T0 + 1
    # and a later good message is still admitted
    assert hub.on_message("trilink.KOR.status", _beat(kor, T0 + 3)) == []
    assert hub.watermarks["KOR"] == T0 + 3
    assert isinstance(decode(encode(decode(good))), Heartbeat)
