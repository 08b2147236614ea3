"""UUIDv7 (RFC 9562 section 5.7): the message ids of the ICD. A leaf: stdlib only.

``Envelope.message_id`` is a UUIDv7 in lower-case text form; :class:`Uuid7Generator` makes
a node's ids (strictly increasing, even if its clock steps back), :func:`uuid7_time_ns`
reads the time back out of one. Everything here is also importable from
:mod:`trilink.messages`.
"""

import os
import re
from collections.abc import Callable

UUID7_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_UUID7_RE = re.compile(UUID7_PATTERN)


def uuid7_from_fields(unix_ts_ms: int, rand_a: int, rand_b: int) -> str:
    """The text form of the UUIDv7 with these fields (RFC 9562 fig. 11):
    48-bit unix_ts_ms | ver=7 (4 bits) | rand_a (12) | var=0b10 (2) | rand_b (62)."""
    if not (0 <= unix_ts_ms < 1 << 48 and 0 <= rand_a < 1 << 12 and 0 <= rand_b < 1 << 62):
        raise ValueError("UUIDv7 field out of range")
    v = (unix_ts_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    h = f"{v:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid7(t_ns: int, rand: bytes) -> str:
    """UUIDv7 at ``t_ns`` with 8 bytes of randomness (62 bits used).

    rand_a carries the sub-millisecond fraction (RFC 9562 section 6.2, method 3), so ids
    made by one node sort in time order to 1/4096 ms (244 ns).
    """
    ms, sub_ns = divmod(t_ns, 1_000_000)
    rand_a = sub_ns * 4096 // 1_000_000
    rand_b = int.from_bytes(rand[:8], "big") & ((1 << 62) - 1)
    return uuid7_from_fields(ms, rand_a, rand_b)


def uuid7_time_ns(message_id: str) -> int:
    """The time a UUIDv7 was made at, to 1/4096 ms (the inverse of :func:`uuid7`)."""
    if not _UUID7_RE.match(message_id):
        raise ValueError(f"not a UUIDv7: {message_id!r}")
    v = int(message_id.replace("-", ""), 16)
    ms, rand_a = v >> 80, (v >> 64) & 0xFFF
    return ms * 1_000_000 + -(-rand_a * 1_000_000 // 4096)  # ceil: round-trips uuid7()


def is_uuid7(text: str) -> bool:
    return _UUID7_RE.match(text) is not None


class Uuid7Generator:
    """Strictly increasing UUIDv7s for one node, even if its clock steps back.

    If (unix_ts_ms, rand_a) would not exceed the previous id's, the previous value plus
    one is used (RFC 9562 section 6.2: monotonicity within a generator).
    """

    def __init__(self, rng: Callable[[int], bytes] = os.urandom):
        self._rng = rng
        self._last = -1

    def __call__(self, t_ns: int) -> str:
        ms, sub_ns = divmod(t_ns, 1_000_000)
        key = (ms << 12) | (sub_ns * 4096 // 1_000_000)
        key = max(key, self._last + 1)
        self._last = key
        rand_b = int.from_bytes(self._rng(8), "big") & ((1 << 62) - 1)
        return uuid7_from_fields(key >> 12, key & 0xFFF, rand_b)
