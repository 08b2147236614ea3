"""Freshness checks on verified messages: replayed sequence numbers and ids, clock skew.

The sequence check is the sliding anti-replay window of IPsec (RFC 4303 section 3.4.3):
per source, the highest number accepted and a bitmap of the ``seq_window`` numbers below
it. A number above the highest moves the window; one inside it is accepted once; one
below it is refused. A window rather than "strictly increasing" because one source's
subjects may reach a receiver through different streams (tracks and status after a link
outage) and arrive slightly out of order.

Message ids are also remembered (the last ``id_window`` accepted, all sources), so a
message re-sent under a new sequence number by a faulty sender is still caught.

Run the guard only after the signature has been verified: otherwise a forged message with
a huge sequence number would push the window past every genuine one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from trilink.errors import ClockSkew, ReplayedMessage
from trilink.messages import Envelope

NS_PER_S = 1_000_000_000


class ReplayGuard:
    """Admit each (source, seq) and each message id once; flag skewed clocks.

    ``now_ns`` is injected (a simulated or wall clock). ``max_future_s`` tolerates clock
    offsets between nodes; ``max_age_s`` bounds how late a message may arrive. Keep it
    above the longest outage that store-and-forward should bridge (the default, one hour,
    covers the 60 s cut of the fault tests many times over); None disables it.
    """

    def __init__(
        self,
        now_ns: Callable[[], int],
        *,
        max_future_s: float = 5.0,
        max_age_s: float | None = 3600.0,
        seq_window: int = 1024,
        id_window: int = 65_536,
    ):
        if seq_window < 1 or id_window < 1:
            raise ValueError("windows must hold at least one entry")
        self.now_ns = now_ns
        self.max_future_ns = int(max_future_s * NS_PER_S)
        self.max_age_ns = None if max_age_s is None else int(max_age_s * NS_PER_S)
        self.seq_window = int(seq_window)
        self.id_window = int(id_window)
        self._highest: dict[str, int] = {}
        self._seen_bits: dict[str, int] = {}  # bit i set <=> highest - i was accepted
        self._ids: OrderedDict[str, None] = OrderedDict()

    def highest_seq(self, source: str) -> int | None:
        """The highest sequence number accepted from ``source`` so far."""
        return self._highest.get(source)

    def check(self, msg: Envelope) -> None:
        """Raise ClockSkew or ReplayedMessage if ``msg`` must not be admitted; no change."""
        now = self.now_ns()
        latest = now + self.max_future_ns
        if msg.sent_ns > latest or msg.measured_ns > latest:  # one test for the usual case
            for field in ("sent_ns", "measured_ns"):
                t = getattr(msg, field)
                if t - now > self.max_future_ns:
                    raise ClockSkew(
                        f"{field} is {(t - now) / NS_PER_S:.3f} s in the future "
                        f"(tolerance {self.max_future_ns / NS_PER_S:g} s)",
                        field=field,
                    )
        if self.max_age_ns is not None and now - msg.sent_ns > self.max_age_ns:
            raise ClockSkew(
                f"sent_ns is {(now - msg.sent_ns) / NS_PER_S:.3f} s old "
                f"(limit {self.max_age_ns / NS_PER_S:g} s)",
                field="sent_ns",
            )
        hi = self._highest.get(msg.source)
        if hi is not None and msg.seq <= hi:
            back = hi - msg.seq
            if back >= self.seq_window:
                raise ReplayedMessage(
                    f"seq {msg.seq} from {msg.source} is below the replay window "
                    f"(highest {hi}, window {self.seq_window})",
                    field="seq",
                )
            if (self._seen_bits[msg.source] >> back) & 1:
                raise ReplayedMessage(f"seq {msg.seq} from {msg.source} already seen", field="seq")
        if msg.message_id in self._ids:
            raise ReplayedMessage(f"message_id {msg.message_id} already seen", field="message_id")

    def admit(self, msg: Envelope) -> None:
        """:meth:`check`, then remember the message so that it is not admitted again."""
        self.check(msg)
        src, seq = msg.source, msg.seq
        hi = self._highest.get(src)
        mask = (1 << self.seq_window) - 1
        if hi is None:
            self._highest[src], self._seen_bits[src] = seq, 1
        elif seq > hi:
            self._highest[src] = seq
            jump = seq - hi  # may be huge: never shift by more than the window
            bits = self._seen_bits[src] << jump if jump < self.seq_window else 0
            self._seen_bits[src] = (bits | 1) & mask
        else:
            self._seen_bits[src] |= 1 << (hi - seq)
        self._ids[msg.message_id] = None
        if len(self._ids) > self.id_window:
            self._ids.popitem(last=False)

    def forget(self, source: str) -> None:
        """Drop a source's sequence state (an operator's reset after it lost its counter)."""
        self._highest.pop(source, None)
        self._seen_bits.pop(source, None)
