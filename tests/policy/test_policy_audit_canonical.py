"""The audit chain's canonical form is the one every chain so far was hashed in.

``_canonical`` takes msgspec's encoder for speed; these tests hold it to the
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` bytes.
"""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.policy import AuditLog, verify_records
from trilink.policy.audit import _canonical


def reference(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.text(), json_values, max_size=8))
@settings(max_examples=400, deadline=None)
def test_canonical_bytes_equal_the_json_module(record):
    assert _canonical(record) == reference(record)


def test_canonical_for_every_code_point_of_the_first_planes():
    for cp in [*range(0, 0x2100), 0x2028, 0x2029, 0xFEFF, 0xFFFF, 0x10000, 0x10FFFF]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        record = {"reason": chr(cp), "n": cp, "sources": [chr(cp), "KOR"]}
        assert _canonical(record) == reference(record), hex(cp)


def test_floats_take_the_json_path():
    # msgspec would write 1e16; the chain's form is Python's repr, 1e+16.
    assert _canonical({"x": 1e16}) == b'{"x":1e+16}'


def test_a_chain_written_now_verifies_with_the_json_module_form():
    log = AuditLog()
    for i in range(20):
        log.record(t_ns=i, kind="system_track", partner="JPN", sources=["KOR"], allowed=True,
                   reason="released by KOR — ☂", redacted=[], message_id=None, number=i)  # fmt: skip
    assert verify_records(log.records) == (20, log.head)
    prev = "0" * 64
    import hashlib

    for rec in log.records:
        body = {k: v for k, v in rec.items() if k != "hash"}
        assert rec["hash"] == hashlib.sha256(prev.encode() + reference(body)).hexdigest()
        prev = rec["hash"]
