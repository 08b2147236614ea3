"""The recorded log (.tlog) and `trilink decode`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trilink.cli.app import app
from trilink.errors import DecodeError
from trilink.link.codec import encode
from trilink.link.golden import RFC8032_TEST1_PUBLIC, signed_examples
from trilink.link.recordlog import MAGIC, LogWriter, iter_records, read_log

GOLDEN = Path(__file__).resolve().parents[1] / "messages" / "golden"
SIGNED = signed_examples()
runner = CliRunner()


def _cli():
    from trilink.cli import commands  # noqa: F401  (registers the commands)

    return app


def write_log(path: Path) -> list[tuple[int, str, bytes, dict]]:
    recs = [
        (1, "trilink.KOR.tracks", encode(SIGNED["track_report"]), {}),
        (2, "trilink.hub.out.JPN.warnings", encode(SIGNED["warning"]), {"x": "y"}),
        (3, "trilink.JPN.status", b"\x00not a message", {}),
    ]
    with LogWriter(path) as w:
        for r in recs:
            w.append(*r)
    return recs


def test_log_round_trip_and_append(tmp_path):
    path = tmp_path / "run.tlog"
    recs = write_log(path)
    assert path.read_bytes().startswith(MAGIC)
    got = [(r.t_ns, r.subject, r.payload, r.headers) for r in read_log(path)]
    assert got == recs
    with LogWriter(path) as w:  # reopening appends, no second magic
        w.append(4, "a.b", b"z")
    assert [r.t_ns for r in read_log(path)] == [1, 2, 3, 4]


def test_truncated_log_strict_and_lenient(tmp_path):
    path = tmp_path / "cut.tlog"
    write_log(path)
    data = path.read_bytes()[:-7]
    with pytest.raises(DecodeError, match="truncated"):
        list(iter_records(data))
    assert len(list(iter_records(data, strict=False))) == 2
    with pytest.raises(DecodeError, match="magic"):
        list(iter_records(b"nope"))


def test_decode_prints_golden_hex_as_the_golden_json():
    result = runner.invoke(_cli(), ["decode", str(GOLDEN / "system_track.msgpack.hex")])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads((GOLDEN / "system_track.json").read_text())


def test_decode_reads_raw_msgpack_on_stdin_and_checks_signatures(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"HUB": RFC8032_TEST1_PUBLIC.hex()}))
    raw = encode(SIGNED["launch_event"])
    ok = runner.invoke(_cli(), ["decode", "--keys", str(keys), "--compact"], input=raw)
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert out["kind"] == "launch_event" and out["signature_check"] == "valid"
    tampered = raw.replace(b"KOR", b"JPN")
    bad = runner.invoke(_cli(), ["decode", "--keys", str(keys)], input=tampered)
    assert bad.exit_code == 2 and "signature" in bad.stderr


def test_decode_bad_input_is_one_line_and_exit_2(tmp_path):
    f = tmp_path / "bad.hex"
    f.write_text("c1")
    result = runner.invoke(_cli(), ["decode", str(f)])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("decode: $: malformed MessagePack")
    assert "Traceback" not in result.output
    missing = runner.invoke(_cli(), ["decode", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    unknown = runner.invoke(_cli(), ["decode", "--node", "KOR", str(GOLDEN / "warning.json")])
    assert unknown.exit_code == 2 and "source: unknown node id 'HUB'" in unknown.stderr


def test_decode_prints_a_log_as_json_lines(tmp_path):
    path = tmp_path / "run.tlog"
    write_log(path)
    result = runner.invoke(_cli(), ["decode", str(path)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [x["subject"] for x in lines] == [
        "trilink.KOR.tracks",
        "trilink.hub.out.JPN.warnings",
        "trilink.JPN.status",
    ]
    assert lines[0]["message"]["kind"] == "track_report"
    assert lines[1]["headers"] == {"x": "y"}
    assert lines[2]["error"]["field"] == "$"
    assert "3 records, 1 not decodable" in result.stderr


@pytest.mark.parametrize("name", ["bundle.msgpack.hex", "bundle.json"])
def test_decode_prints_a_bundle_with_its_items(tmp_path, name):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"KOR": RFC8032_TEST1_PUBLIC.hex()}))
    result = runner.invoke(_cli(), ["decode", "--keys", str(keys), str(GOLDEN / name)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    golden = json.loads((GOLDEN / "track_report.json").read_text())
    assert out["kind"] == "bundle" and out["signature_check"] == "valid"
    assert [m["kind"] for m in out["items"]] == ["track_report", "track_report"]
    assert out["items"][0] == golden | {"signature": ""}  # the golden report, unsigned
    tampered = bytes.fromhex((GOLDEN / "bundle.msgpack.hex").read_text()).replace(
        b"K0007", b"K0008"
    )
    bad = runner.invoke(_cli(), ["decode", "--keys", str(keys)], input=tampered)
    assert bad.exit_code == 2 and "signature" in bad.stderr


def test_decode_reads_bundles_in_a_log(tmp_path):
    path = tmp_path / "run.tlog"
    bundle = bytes.fromhex((GOLDEN / "bundle.msgpack.hex").read_text())
    with LogWriter(path) as w:
        w.append(1, "trilink.KOR.tracks", bundle)
    result = runner.invoke(_cli(), ["decode", str(path)])
    assert result.exit_code == 0, result.output
    (line,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert [m["seq"] for m in line["message"]["items"]] == [41, 42]
