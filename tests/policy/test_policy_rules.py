"""Policy: default deny, per-source consent, redaction that never leaks, audit chain."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trilink.errors import AuditError, PolicyError
from trilink.policy import AuditLog, Policy, redact, release, verify_audit, verify_records

NATIONS = ["KOR", "JPN", "USA"]


class Contributor(msgspec.Struct, frozen=True):
    nation: str
    local_track_id: str = ""
    sensors: list[str] = msgspec.field(default_factory=list)


class Fused(msgspec.Struct, frozen=True, tag="SystemTrack", tag_field="kind"):
    number: int
    contributors: list[Contributor] = msgspec.field(default_factory=list)
    note: str = ""


TABLE = {
    "rules": [
        {
            "source": "KOR",
            "kinds": ["SystemTrack"],
            "to": ["USA", "JPN"],
            "redact": ["contributors.sensors"],
        },
        {
            "source": "JPN",
            "kinds": ["SystemTrack"],
            "to": ["USA"],
            "redact": ["contributors.local_track_id"],
        },
        {"source": "USA", "kinds": ["*"], "to": ["KOR", "JPN"]},
    ]
}


def test_default_deny_and_per_source_consent() -> None:
    p = Policy.from_table(TABLE)
    assert p.decide("SystemTrack", ["KOR"], "JPN").allowed
    assert not p.decide("SystemTrack", ["JPN"], "KOR").allowed  # JPN did not release to KOR
    assert not p.decide("SystemTrack", ["KOR", "JPN"], "KOR").allowed
    assert p.decide("SystemTrack", ["KOR", "JPN"], "USA").allowed
    assert p.decide("LaunchEvent", ["KOR"], "JPN").allowed is False  # kind not covered
    assert p.decide("SystemTrack", ["JPN"], "JPN").allowed  # own data returns
    assert not Policy.from_table(None).decide("SystemTrack", ["USA"], "KOR").allowed


@pytest.mark.parametrize(
    ("table", "path"),
    [
        ({"rulez": []}, "policy.rulez"),
        ({"default": "allow"}, "policy.default"),
        ({"rules": [{"source": "KOR", "to": ["JPN"]}]}, "policy.rules[0].kinds"),
        ({"rules": [{"source": "KOR", "kinds": [], "to": ["JPN"]}]}, "policy.rules[0].kinds"),
        ({"rules": [{"source": "KOR", "kinds": ["*"], "to": "JPN"}]}, "policy.rules[0].to"),
        (
            {"rules": [{"source": "KOR", "kinds": ["*"], "to": ["JPN"], "oops": 1}]},
            "policy.rules[0].oops",
        ),
    ],
)
def test_bad_policy_names_the_field(table: dict, path: str) -> None:
    with pytest.raises(PolicyError) as exc:
        Policy.from_table(table)
    assert exc.value.path == path


def test_redaction_resets_nested_fields_without_mutating() -> None:
    msg = Fused(1, [Contributor("KOR", "k1", ["GP-1"]), Contributor("JPN", "j7", ["FPS5-SADO"])])
    out = redact(msg, ["contributors.sensors"])
    assert [c.sensors for c in out.contributors] == [[], []]
    assert msg.contributors[0].sensors == ["GP-1"]


contributors = st.lists(
    st.builds(
        Contributor,
        nation=st.sampled_from(NATIONS),
        local_track_id=st.text(alphabet="0123456789", min_size=1, max_size=8).map(
            lambda s: "t" + s
        ),
        sensors=st.lists(
            st.text(alphabet="ABCDEFGH", min_size=1, max_size=6).map(lambda s: "SNS-" + s),
            min_size=1,
            max_size=3,
        ),
    ),
    min_size=1,
    max_size=4,
)
rule = st.fixed_dictionaries(
    {
        "source": st.sampled_from([*NATIONS, "*"]),
        "kinds": st.lists(
            st.sampled_from(["SystemTrack", "LaunchEvent", "*"]), min_size=1, max_size=2
        ),
        "to": st.lists(st.sampled_from([*NATIONS, "*"]), min_size=1, max_size=3),
        "redact": st.lists(
            st.sampled_from(["contributors.sensors", "contributors.local_track_id", "note"]),
            max_size=2,
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(rule, max_size=4), contribs=contributors, partner=st.sampled_from(NATIONS))
def test_release_never_reaches_an_excluded_partner_nor_leaks_redacted_fields(
    rules, contribs, partner
) -> None:
    policy = Policy.from_table({"rules": rules})
    msg = Fused(7, contribs, note="secret-note")
    sources = {c.nation for c in contribs}
    out, decision = release(policy, msg, sources, partner)
    # Released only if every foreign source has a rule naming this partner for this kind.
    for src in sources - {partner}:
        covered = any(
            r["source"] in (src, "*")
            and ({"SystemTrack", "*"} & set(r["kinds"]))
            and ({partner, "*"} & set(r["to"]))
            for r in rules
        )
        if not covered:
            assert out is None and not decision.allowed
    if out is None:
        return
    wire = msgspec.json.encode(out).decode()
    for path in decision.redact:
        if path == "contributors.sensors":
            assert all(s not in wire for c in contribs for s in c.sensors)
        if path == "note":
            assert "secret-note" not in wire


def test_audit_chain_detects_tampering(tmp_path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(5):
        log.record(msg_id=f"m{i}", partner="JPN", allowed=i % 2 == 0)
    log.close()
    assert verify_audit(path) == (5, log.head)
    # Reopening continues the chain.
    log2 = AuditLog(path)
    log2.record(msg_id="m5", partner="KOR", allowed=True)
    log2.close()
    assert verify_audit(path)[0] == 6
    lines = path.read_text().splitlines()
    # Alter one field.
    rec = json.loads(lines[2])
    rec["allowed"] = not rec["allowed"]
    tampered = [*lines[:2], json.dumps(rec), *lines[3:]]
    path.write_text("\n".join(tampered) + "\n")
    with pytest.raises(AuditError) as exc:
        verify_audit(path)
    assert exc.value.line == 3
    # Delete a record.
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    with pytest.raises(AuditError) as exc:
        verify_audit(path)
    assert exc.value.line == 2
    # Reordering is caught too.
    path.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    with pytest.raises(AuditError):
        verify_audit(path)


def test_in_memory_chain_verifies() -> None:
    log = AuditLog()
    for i in range(3):
        log.record(i=i)
    assert verify_records(log.records) == (3, log.head)
    log.records[1]["i"] = 9
    with pytest.raises(AuditError):
        verify_records(log.records)


def test_audit_verify_cli(tmp_path) -> None:
    from typer.testing import CliRunner

    from trilink.cli import (
        app,
        commands,  # noqa: F401
    )

    path = tmp_path / "a.jsonl"
    log = AuditLog(path)
    log.record(x=1)
    log.record(x=2)
    log.close()
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", str(path)])
    assert ok.exit_code == 0, ok.output
    path.write_text(path.read_text().replace('"x":2', '"x":3'))
    bad = runner.invoke(app, ["audit", "verify", str(path)])
    assert bad.exit_code == 1
