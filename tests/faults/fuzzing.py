"""Hypothesis strategies for hostile input: mutated golden vectors, logs, dead letters,
scenario documents. (benchmarks/bench_fuzz.py does the same at 10^6 scale without
hypothesis.)"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from typing import Any

import msgspec
from hypothesis import strategies as st

from trilink.errors import DecodeError
from trilink.link import Decoder, encode_json, sign
from trilink.link.deadletter import DeadLetter, encode_deadletter
from trilink.link.golden import T0_NS, golden_key, signed_examples
from trilink.link.recordlog import MAGIC, LogRecord
from trilink.scenario import builtin_path

EXAMPLES = signed_examples()
PACKED = {k: msgspec.msgpack.encode(m) for k, m in EXAMPLES.items()}
JSONS = [encode_json(m) for m in EXAMPLES.values()]
LOG = MAGIC + b"".join(
    len(b).to_bytes(4, "big") + b
    for b in (
        msgspec.msgpack.encode(LogRecord(T0_NS + i, f"trilink.hub.out.JPN.{k}", p, {"h": "v"}))
        for i, (k, p) in enumerate(PACKED.items())
    )
)
LETTERS = [
    encode_deadletter(
        DeadLetter(
            t_ns=T0_NS, reason=r, field="$", detail="why", raw=p, subject="trilink.KOR.tracks"
        )
    )
    for r, p in zip(("invalid", "replayed", "bad_signature"), PACKED.values(), strict=False)
]
TOML = builtin_path("korea-japan").read_bytes()

hostile = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 2**63 - 1, 2**64 - 1, -(2**63)]),
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
    st.text(max_size=80), st.binary(max_size=80),
    st.lists(st.floats(), max_size=25), st.dictionaries(st.text(max_size=8), st.integers(-(2**63), 2**63 - 1), max_size=3),
)  # fmt: skip
_op = st.tuples(st.integers(0, 6), st.integers(0, 10_000), st.binary(min_size=1, max_size=8))


def mutate(data: bytes, ops: list[tuple[int, int, bytes]]) -> bytes:
    """Byte-level edits: flip, overwrite, insert, delete, duplicate, truncate, extremes."""
    b = bytearray(data)
    for op, at, blob in ops:
        i = at % (len(b) + 1)
        if op == 0 and b:
            b[min(i, len(b) - 1)] ^= 1 << (blob[0] % 8)
        elif op == 1 and b:
            b[min(i, len(b) - 1)] = blob[0]
        elif op == 2:
            b[i:i] = blob
        elif op == 3:
            del b[i : i + 1 + blob[0] % 32]
        elif op == 4:
            b[i:i] = b[i : i + 1 + blob[0] % 64]
        elif op == 5:
            del b[i:]
        else:
            b[i : i + 4] = (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00")[blob[0] % 2]
    return bytes(b)


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.builds(mutate, st.sampled_from(seeds), st.lists(_op, min_size=1, max_size=6)),
        st.binary(max_size=400),
    )


@st.composite
def structural(draw: st.DrawFn) -> bytes:
    """A golden message with one field, at any depth, set to a hostile value (or removed,
    or an unknown one added); re-signed half the time so it reaches the later checks."""
    obj = msgspec.msgpack.decode(PACKED[draw(st.sampled_from(sorted(PACKED)))])
    node = obj
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        k = draw(st.sampled_from(keys))
        child = node[k]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 9)) == 0:
            del node[k]
        else:
            node[k] = draw(hostile)
        break
    if draw(st.integers(0, 9)) == 0:
        obj[draw(st.text(max_size=10))] = draw(hostile)
    out = msgspec.msgpack.encode(obj)
    if draw(st.booleans()):
        try:
            out = msgspec.msgpack.encode(sign(Decoder().decode(out), golden_key()))
        except DecodeError:
            pass
    return out


def _keys(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(node, list):
        for v in node:
            _keys(v, out)
    return out


VOCABULARY = sorted(_keys(tomllib.loads(TOML.decode()), set()))
toml_scalars = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=12),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC])), st.dates(), st.times(),
    st.sampled_from(["KOR", "JPN", "USA", "radar", "ir", "SRBM", "IRBM", "2024-01-01T00:00:00Z"]),
)  # fmt: skip
toml_keys = st.one_of(st.sampled_from(VOCABULARY), st.text(max_size=10))
toml_docs = st.dictionaries(
    toml_keys,
    st.recursive(
        toml_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(toml_keys, inner, max_size=5),
        max_leaves=12,
    ),
    max_size=8,
)
"""Random TOML-like documents whose keys are mostly the scenario format's own words, so
the parser is driven deep into its sections rather than stopping at the first table."""
