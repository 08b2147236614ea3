"""``trilink hub --state`` refuses, with one line and exit code 2, what would break the
continuity it promises: no audit file, a state of another version, another scenario,
another start time, an audit file shorter than the state saw. All of these are decided
before the hub touches NATS (the URL given here has no server behind it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401  (registers the command modules)
from trilink.cli.app import app
from trilink.nodes.coalition import Identity, make_hub
from trilink.nodes.live import ManualClock
from trilink.nodes.persist import SNAPSHOT_VERSION, HubCheckpoint, save_snapshot
from trilink.policy import AuditLog
from trilink.scenario import load_scenario

runner = CliRunner()
NOWHERE = "nats://127.0.0.1:9"  # discard port: nothing listens


def hub(tmp: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["hub", "korea-japan", "--nats", NOWHERE, "--run-for-s", "0.1", *extra]
    )
    return result.exit_code, " ".join(result.output.split())  # rich may wrap the line


def saved_state(tmp: Path, start_at_ns: int) -> tuple[Path, Path]:
    """A state and its audit file, as a hub of the built-in scenario leaves them."""
    sc = load_scenario("korea-japan")
    audit = tmp / "audit.jsonl"
    hb = make_hub(sc, Identity.simulated(sc, sc.seed), ManualClock(sc.start_t_ns), sc.start_t_ns,
                  audit_path=audit)  # fmt: skip
    for i in range(3):
        hb.audit.record(t_ns=i, kind="system_track", partner="JPN", allowed=True)
    cp = HubCheckpoint(tmp / "hub.state", {"scenario": sc.name, "start_at_ns": start_at_ns,
                                           "speed": 1.0, "seed": sc.seed})  # fmt: skip
    cp.commit(hb, [], {"HUB_FROM_KOR": 12})
    hb.audit.close()
    return tmp / "hub.state", audit


def test_state_needs_an_audit_file(tmp_path: Path) -> None:
    code, out = hub(tmp_path, "--state", str(tmp_path / "hub.state"))
    assert code == 2 and "--state needs --audit" in out


def test_a_state_of_another_version_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "hub.state"
    save_snapshot(state, {"version": SNAPSHOT_VERSION - 1})
    code, out = hub(tmp_path, "--state", str(state), "--audit", str(tmp_path / "a.jsonl"))
    assert code == 2
    assert f"version {SNAPSHOT_VERSION - 1}" in out and "Move the file aside" in out
    assert "Traceback" not in out


def test_a_state_of_another_run_is_refused(tmp_path: Path) -> None:
    state, audit = saved_state(tmp_path, start_at_ns=1_800_000_000_000_000_000)
    args = ["--state", str(state), "--audit", str(audit)]
    code, out = hub(tmp_path, *args, "--start-at", "1800000100")
    assert code == 2 and "--start-at" in out and "1800000000.000" in out
    code, out = hub(tmp_path, *args, "--speed", "2")
    assert code == 2 and "speed 1.0" in out


@pytest.mark.parametrize("cut", [1, 3])
def test_an_audit_file_shorter_than_the_state_saw_is_refused(tmp_path: Path, cut: int) -> None:
    state, audit = saved_state(tmp_path, start_at_ns=1_800_000_000_000_000_000)
    lines = audit.read_text().splitlines(keepends=True)
    audit.write_text("".join(lines[:-cut]))  # still a valid chain on its own
    AuditLog(audit).close()
    code, out = hub(tmp_path, "--state", str(state), "--audit", str(audit))
    assert code == 2 and "cannot start the hub" in out and "truncated" in out


def test_the_fast_path_is_refused_with_a_state(tmp_path: Path) -> None:
    code, out = hub(
        tmp_path, "--fast-path", "--state", str(tmp_path / "hub.state"),
        "--audit", str(tmp_path / "a.jsonl"),
    )  # fmt: skip
    assert code == 2 and "--fast-path: not with --state" in out
    assert not (tmp_path / "hub.state").exists()
