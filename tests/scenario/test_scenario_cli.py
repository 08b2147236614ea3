"""``trilink scenario list|validate``: exit 0 on a good file, 2 with one
``file:field.path: reason`` line per problem on stderr and never a traceback."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from scenario_doc import base_doc, edit
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401  (registers the command modules)
from trilink.cli.app import app
from trilink.scenario import builtin_path

runner = CliRunner()


def _write_toml(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _builtin_text() -> str:
    return builtin_path("korea-japan").read_text(encoding="utf-8")


def test_list_shows_the_builtin() -> None:
    result = runner.invoke(app, ["scenario", "list"])
    assert result.exit_code == 0, result.output
    assert "korea-japan" in result.stdout


def test_validate_builtin_by_name_and_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "validate", "korea-japan"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.stdout
    copy = _write_toml(tmp_path / "kj.toml", _builtin_text())
    result = runner.invoke(app, ["scenario", "validate", str(copy)])
    assert result.exit_code == 0, result.output


def test_validate_reports_every_problem_as_file_path_reason(tmp_path: Path) -> None:
    text = _builtin_text()
    text = text.replace(
        "max_range_km = 800\n", "max_range_km = -5\n", 1
    )  # KOR-GP-Busan, sensors[2]
    text = text.replace('missile = "IRBM"', 'missile = "MRBM"')
    text = text.replace("swerling = 1\n", "swerling = 1\nswerlin = 1\n", 1)  # sensors[0]
    bad = _write_toml(tmp_path / "bad.toml", text)
    result = runner.invoke(app, ["scenario", "validate", str(bad)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{bad}:sensors[0].swerlin: unknown key for a radar sensor (did you mean 'swerling'?)",
        f"{bad}:sensors[2].max_range_km: must be > 0, got -5",
        f'{bad}:launches[3].missile: must be one of "SRBM", "IRBM", "ICBM", got "MRBM"',
    ]


def test_validate_a_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    bad = _write_toml(tmp_path / "syntax.toml", '[scenario]\nname = "x"\nseed = = 3\n')
    result = runner.invoke(app, ["scenario", "validate", str(bad)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{bad}:3:8: invalid TOML: ")


def test_validate_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = runner.invoke(app, ["scenario", "validate", str(missing)])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"{missing}: no such file, and not a built-in scenario (built-ins: korea-japan)"
    )


def test_validate_a_directory_is_a_clean_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenario", "validate", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{tmp_path}: cannot read")


@pytest.mark.parametrize(
    "text",
    [
        "",  # empty file: every section missing
        "scenario = 3\nnations = 'x'\nsensors = [1, 2]\n",
        "[[scenario]]\n[[nations]]\nid = 1\n",
        "\x00\x01",
    ],
)
def test_garbage_never_gives_a_traceback(tmp_path: Path, text: str) -> None:
    bad = _write_toml(tmp_path / "g.toml", text)
    result = runner.invoke(app, ["scenario", "validate", str(bad)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for line in result.stderr.strip().splitlines():
        assert line.startswith(f"{bad}:"), line


def test_real_process_exit_code_and_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, in its own process: exit 2, plain lines, no traceback."""
    doc = edit(base_doc(), "sensors[2].max_range_km", -5)
    text = _builtin_text().replace("max_range_km = 800\n", "max_range_km = -5\n", 1)
    assert tomllib.loads(text)["sensors"][2]["max_range_km"] == doc["sensors"][2]["max_range_km"]
    bad = _write_toml(tmp_path / "bad.toml", text)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from trilink.cli import main; main()",
            "scenario",
            "validate",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"{bad}:sensors[2].max_range_km: must be > 0, got -5"


def test_simulate_bad_options_exit_2_before_any_work(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["simulate", "korea-japan", "--out", str(tmp_path / "no" / "x.jsonl")]
    )
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"{tmp_path / 'no' / 'x.jsonl'}: no such directory: {tmp_path / 'no'}"
    )
    result = runner.invoke(
        app, ["simulate", "korea-japan", "--out", str(tmp_path / "x.jsonl"), "--seed", "-1"]
    )
    assert result.exit_code == 2 and result.stderr.strip() == "--seed: must be >= 0, got -1"
    result = runner.invoke(
        app, ["simulate", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "x.jsonl")]
    )
    assert result.exit_code == 2 and "no such file" in result.stderr
    assert not (tmp_path / "x.jsonl").exists()
