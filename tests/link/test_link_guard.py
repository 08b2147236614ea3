"""Replay guard (sequence window + id window) and clock-skew checks, with an injected clock."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trilink.errors import ClockSkew, ReplayedMessage
from trilink.link.golden import unsigned_examples
from trilink.link.guard import ReplayGuard
from trilink.messages import uuid7

S = 1_000_000_000
T = 1_704_067_200 * S
BASE = unsigned_examples()["heartbeat"]


def msg(seq: int, source: str = "JPN", sent: int = T, measured: int | None = None, mid=None):
    return msgspec.structs.replace(
        BASE,
        seq=seq,
        source=source,
        sent_ns=sent,
        measured_ns=sent if measured is None else measured,
        message_id=mid or uuid7(sent, (seq % 2**48).to_bytes(6, "big") + source.encode()[:2]),
    )


class Clock:
    def __init__(self, t: int):
        self.t = t

    def __call__(self) -> int:
        return self.t


def guard(**kw) -> ReplayGuard:
    return ReplayGuard(Clock(T), **kw)


def test_same_message_twice_is_replayed():
    g = guard()
    g.admit(msg(1))
    with pytest.raises(ReplayedMessage, match="already seen") as e:
        g.admit(msg(1))
    assert e.value.field == "seq"


def test_out_of_order_inside_the_window_is_accepted_once():
    g = guard(seq_window=8)
    for s in (10, 7, 9, 3):
        g.admit(msg(s))
    assert g.highest_seq("JPN") == 10
    for s in (10, 7, 9, 3):
        with pytest.raises(ReplayedMessage):
            g.admit(msg(s))
    g.admit(msg(8))  # never seen, inside the window (10 - 8 < 8)


def test_below_the_window_is_refused():
    g = guard(seq_window=8)
    g.admit(msg(100))
    with pytest.raises(ReplayedMessage, match="below the replay window"):
        g.admit(msg(92))
    g.admit(msg(93))


def test_sources_have_separate_windows():
    g = guard()
    g.admit(msg(5, "JPN"))
    g.admit(msg(5, "KOR"))
    assert g.highest_seq("KOR") == g.highest_seq("JPN") == 5


def test_a_huge_jump_moves_the_window_without_blowing_up():
    g = guard(seq_window=1024)
    g.admit(msg(1))
    g.admit(msg(2**62))
    with pytest.raises(ReplayedMessage, match="below"):
        g.admit(msg(2))
    g.admit(msg(2**62 - 1))


def test_same_id_under_a_new_seq_is_replayed():
    g = guard()
    first = msg(1)
    g.admit(first)
    with pytest.raises(ReplayedMessage, match="message_id") as e:
        g.admit(msgspec.structs.replace(first, seq=2))
    assert e.value.field == "message_id"


def test_id_window_forgets_the_oldest():
    g = guard(id_window=2)
    a, b, c = msg(1), msg(2), msg(3)
    for m in (a, b, c):
        g.admit(m)
    g.forget("JPN")  # drop sequence state: only the id window can catch a replay now
    g.admit(a)  # its id was evicted
    with pytest.raises(ReplayedMessage, match="message_id"):
        g.admit(c)


def test_check_does_not_record():
    g = guard()
    g.check(msg(1))
    g.check(msg(1))
    g.admit(msg(1))


def test_future_messages_beyond_tolerance_are_clock_skew():
    g = guard(max_future_s=5.0)
    g.admit(msg(1, sent=T + 5 * S))  # at the tolerance
    with pytest.raises(ClockSkew, match="future") as e:
        g.admit(msg(2, sent=T + 5 * S + 1))
    assert e.value.field == "sent_ns"
    with pytest.raises(ClockSkew) as e:
        g.admit(msg(3, sent=T, measured=T + 6 * S))
    assert e.value.field == "measured_ns"


def test_old_messages_are_clock_skew_and_the_clock_is_injected():
    clock = Clock(T)
    g = ReplayGuard(clock, max_age_s=60.0)
    g.admit(msg(1, sent=T - 60 * S))
    clock.t = T + 10 * S
    with pytest.raises(ClockSkew, match="old"):
        g.admit(msg(2, sent=T - 60 * S))
    unlimited = ReplayGuard(clock, max_age_s=None)
    unlimited.admit(msg(2, sent=0))


def test_refused_messages_do_not_move_the_window():
    g = guard(seq_window=4)
    g.admit(msg(1))
    with pytest.raises(ClockSkew):
        g.admit(msg(1000, sent=T + 3600 * S))
    assert g.highest_seq("JPN") == 1
    g.admit(msg(2))


@given(st.lists(st.integers(0, 200), max_size=300), st.integers(1, 64))
def test_window_matches_a_reference_model(seqs, window):
    """Accepted iff never accepted before and above (highest accepted - window)."""
    g = guard(seq_window=window, id_window=10**6)
    seen: set[int] = set()
    hi = None
    for s in seqs:
        expect = s not in seen and (hi is None or s > hi - window)
        try:
            g.admit(msg(s, mid=uuid7(T, len(seen).to_bytes(8, "big") + bytes([s % 256]))))
            got = True
        except ReplayedMessage:
            got = False
        assert got == expect, (s, hi, sorted(seen))
        if got:
            seen.add(s)
            hi = s if hi is None else max(hi, s)
