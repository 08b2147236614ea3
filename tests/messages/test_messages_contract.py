"""The contract module itself: a leaf, UUIDv7 per RFC 9562, packing and quality helpers."""

from __future__ import annotations

import ast
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trilink.messages as m

T_2022_02_22_NS = 0x017F22E279B0 * 1_000_000  # RFC 9562 appendix A.6 timestamp


def test_imports_only_msgspec_and_stdlib():
    # The contract is messages.py and the messages_*.py modules split out of it; they may
    # import each other, msgspec and the standard library, nothing else.
    files = sorted(Path(m.__file__).parent.glob("messages*.py"))
    assert [f.name for f in files][:1] == ["messages.py"] and len(files) >= 3, files
    siblings = {f"trilink.{f.stem}" for f in files}
    for f in files:
        tree = ast.parse(f.read_text())
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert all(n.level == 0 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)), f
        tops = {n.split(".")[0] for n in names - siblings}
        assert tops - {"msgspec"} <= set(sys.stdlib_module_names), (f.name, names)


def test_uuid7_rfc9562_appendix_a6_vector():
    # unix_ts_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
    u = m.uuid7_from_fields(0x017F22E279B0, 0xCC3, 0x18C4DC0C0C07398F)
    assert u == "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"
    parsed = uuid.UUID(u)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122


@given(st.integers(0, (1 << 48) * 1_000_000 - 1), st.binary(min_size=8, max_size=8))
def test_uuid7_carries_its_time_to_a_4096th_of_a_millisecond(t_ns, rand):
    u = m.uuid7(t_ns, rand)
    assert m.is_uuid7(u)
    assert uuid.UUID(u).version == 7
    back = m.uuid7_time_ns(u)
    assert 0 <= t_ns - back < 1_000_000 / 4096 + 1
    assert m.uuid7(back, rand) == u


def test_uuid7_generator_is_strictly_increasing_even_when_the_clock_steps_back():
    gen = m.Uuid7Generator(rng=lambda n: b"\xff" * n)
    times = [T_2022_02_22_NS + d for d in (0, 0, 100, 50, -5_000_000, 1_000_000, 1_000_000)]
    ids = [gen(t) for t in times]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(m.is_uuid7(i) for i in ids)


def test_uuid7_rejects_out_of_range_fields():
    with pytest.raises(ValueError):
        m.uuid7_from_fields(1 << 48, 0, 0)
    with pytest.raises(ValueError):
        m.uuid7_time_ns("not-a-uuid")


@given(st.lists(st.floats(-1e6, 1e6), min_size=36, max_size=36))
def test_covariance_packing_round_trips_the_symmetric_part(values):
    a = np.array(values).reshape(6, 6)
    p = (a + a.T) / 2
    packed = m.pack_covariance(p)
    assert len(packed) == 21
    assert packed[:6] == tuple(p[0])  # first row of the upper triangle
    assert packed[-1] == p[5, 5]
    np.testing.assert_array_equal(np.array(m.unpack_covariance(packed)), p)


@pytest.mark.parametrize(
    ("sigma_m", "tq"),
    [
        (0.5, 15),
        (10.0, 15),
        (10.01, 14),
        (20.0, 14),
        (40.0, 13),
        (1000.0, 8),
        (10 * 2**15, 0),
        (1e9, 0),
        (float("nan"), 0),
        (float("inf"), 0),
    ],
)
def test_track_quality_steps_one_per_doubling(sigma_m, tq):
    assert m.track_quality(sigma_m) == tq


def test_marking_and_kinds():
    assert m.marking(("USA", "KOR")) == "REL TO KOR, USA"
    assert m.marking(()) == "NOT RELEASABLE"
    assert set(m.KINDS) == {
        "track_report",
        "system_track",
        "launch_event",
        "warning",
        "heartbeat",
        "reject",
        "bundle",
    }
    from trilink.link.golden import unsigned_examples

    for tag, msg in unsigned_examples().items():
        assert m.kind(msg) == tag and m.KINDS[tag] is type(msg)


def test_messages_are_frozen():
    hb = m.Heartbeat(source="KOR", measured_ns=1, releasability=(), state="running", uptime_s=1.0)
    with pytest.raises(AttributeError):
        hb.seq = 3  # type: ignore[misc]
