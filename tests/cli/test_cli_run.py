"""``trilink run``: the demo's command, end to end on the in-memory link, and its refusals
of bad input (exit 2, one line naming the option, no traceback)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from trilink.cli import commands  # noqa: F401  (registers the commands)
from trilink.cli.app import app


def test_run_json_one_srbm() -> None:
    res = CliRunner().invoke(
        app, ["run", "korea-japan", "--launches", "srbm-1", "--seed", "5", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["link"] is True and out["seed"] == 5
    assert out["deadletters"] == {"USA": 0, "KOR": 0, "JPN": 0, "HUB": 0}
    assert out["messages"] > 1000
    (srbm,) = out["missiles"]
    assert srbm["id"] == "srbm-1" and srbm["class"] == "SRBM"
    jpn, kor = srbm["partners"]["JPN"], srbm["partners"]["KOR"]
    # Korea watches the launch, Japan the fall: over the link Japan is warned on Korea's
    # track, long before its own radars see the missile over their horizon.
    assert kor["first_own_track_s"] < jpn["first_own_detection_s"] - 20.0
    assert jpn["first_warning_s"] == jpn["first_link_track_s"]
    assert jpn["first_link_track_s"] < jpn["first_own_track_s"] - 30.0


def test_run_without_the_link() -> None:
    """Each nation alone: no messages, and each warns from its own tracks (srbm-3 falls
    8 km off Korea's zone: Korea's own rules raise a threat alert)."""
    res = CliRunner().invoke(
        app, ["run", "korea-japan", "--launches", "srbm-3", "--no-link", "--json"]
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["link"] is False and out["messages"] == 0
    partners = out["missiles"][0]["partners"]
    jpn, kor = partners["JPN"], partners["KOR"]
    assert jpn["first_link_track_s"] is None
    assert jpn["first_warning_s"] == jpn["first_own_track_s"]
    assert kor["first_threat_alert_s"] is not None
    assert kor["first_threat_alert_s"] > kor["first_own_track_s"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--latency-ms", "-1"], "--latency-ms"),
        (["--latency-jitter-ms", "-3"], "--latency-jitter-ms"),
        (["--cycle-s", "0"], "--cycle-s"),
        (["--speed", "0", "--realtime"], "--speed"),
        (["--port", "70000", "--web"], "--port"),
        (["--launches", "nope"], "--launches"),
        (["--latency-jitter-ms", "inf"], "--latency-jitter-ms"),
        (["--cycle-s", "inf"], "--cycle-s"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_run_refuses_bad_options(args: list[str], option: str) -> None:
    res = CliRunner().invoke(app, ["run", "korea-japan", *args])
    assert res.exit_code == 2
    assert option in res.output
    assert "Traceback" not in res.output


def test_run_unknown_scenario_exits_2() -> None:
    res = CliRunner().invoke(app, ["run", "no-such-scenario"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "no-such-scenario" in res.output
