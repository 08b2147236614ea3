"""``trilink track``: a one-SRBM copy of the built-in scenario, tracked by every nation.

Checks the JSON summary (one missile, every nation, plausible figures), the JSON Lines
columns and their consistency with the summary, ``--nation``, the tables, and exit code 2
with the loader's lines for bad input (never a traceback).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401  (registers the command modules)
from trilink.cli.app import app
from trilink.cli.track import TRACK_COLUMNS
from trilink.scenario import builtin_path, load_scenario

runner = CliRunner()
NATIONS = ["USA", "KOR", "JPN"]  # the built-in scenario's order


def one_launch(text: str) -> str:
    """The built-in scenario with only its first launch (srbm-1): drop every later
    ``[[launches]]`` table, keep everything from the sensors section on."""
    head, first, *rest = re.split(r"^\[\[launches\]\]\n", text, flags=re.M)
    tail = rest[-1][rest[-1].index("# --- sensors") :]
    return f"{head}[[launches]]\n{first}{tail}"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("track") / "one-srbm.toml"
    path.write_text(one_launch(builtin_path("korea-japan").read_text("utf-8")), "utf-8")
    return path


@pytest.fixture(scope="module")
def run_all_nations(small: Path) -> tuple[dict, list[dict]]:
    out = small.parent / "tracks.jsonl"
    result = runner.invoke(app, ["track", str(small), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout holds the JSON object and nothing else
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    return summary, rows


def test_the_reduced_scenario_has_one_srbm(small: Path) -> None:
    sc = load_scenario(str(small))
    assert [x.id for x in sc.launches] == ["srbm-1"]
    assert len(sc.sensors) == len(load_scenario("korea-japan").sensors)


def test_json_summary_per_missile_and_nation(run_all_nations: tuple[dict, list[dict]]) -> None:
    summary, rows = run_all_nations
    assert summary["scenario"] == "korea-japan" and summary["seed"] == 1
    (missile,) = summary["missiles"]
    assert missile["id"] == "srbm-1" and missile["class"] == "SRBM"
    assert list(missile["nations"]) == NATIONS
    for nation, m in missile["nations"].items():
        # Every nation sees and confirms the SRBM, in that order, within its flight.
        assert 0.0 <= m["first_detection_s"] <= m["first_confirmed_s"] < 380.0, nation
        assert m["n_tracks"] >= 1 and m["n_estimates"] > 50
        # A tracked SRBM: hundreds of metres at worst (radar cross-range noise).
        assert 0.0 < m["position_rmse_m"] < 1_000.0
        assert 0.0 < m["velocity_rmse_mps"] < 200.0
        # The final impact prediction lands within a few km, its time within seconds.
        assert m["impact_error_last_m"] < 5_000.0
        assert abs(m["impact_time_error_last_s"]) < 10.0
        assert m["launch_error_last_m"] is not None
        lo, hi = m["nees_band"]
        assert 0.0 < m["nees_mean"] and lo < 6.0 < hi
        assert m["impact_error_120s_m"] is None or m["impact_error_120s_m"] > 0.0
    # The IR satellite sees the plume once it has climbed above the low cloud and most of
    # the water vapour (3 km, which srbm-1 passes 15.0 s after lift-off; docs/sensors.md),
    # still before any radar: the USA detects first.
    usa = missile["nations"]["USA"]["first_detection_s"]
    assert 15.0 <= usa < 20.0
    assert all(usa < missile["nations"][n]["first_detection_s"] for n in ("KOR", "JPN"))
    assert list(summary["nations"]) == NATIONS
    for nation, s in summary["nations"].items():
        assert s["n_confirmed_tracks"] >= 1 and s["n_false_confirmed_tracks"] == 0, nation
        assert 0.0 <= s["ospa_mean_m"] <= summary["config"]["ospa_c_m"]
        assert s["gospa_mean_m"] > 0.0
        assert 0.0 < s["completeness"] <= 1.0
    assert summary["lines"] == len(rows) == sum(s["n_updates"] for s in summary["nations"].values())
    assert set(summary["wall_s"]) >= {"simulate_s", "track_USA_s", "evaluate_s"}


def test_jsonl_columns_and_values(run_all_nations: tuple[dict, list[dict]]) -> None:
    _, rows = run_all_nations
    assert rows and all(list(r) == list(TRACK_COLUMNS) for r in rows)
    assert {r["nation"] for r in rows} == set(NATIONS)
    impact_cols = [c for c in TRACK_COLUMNS if c.startswith(("impact_", "launch_", "apogee"))]
    for r in rows:
        assert r["status"] in ("tentative", "confirmed")
        assert r["phase"] in ("boost", "midcourse", "reentry")
        assert r["t_utc"].startswith("2026-03-01T") and r["t_utc"].endswith("Z")
        assert r["position_sigma_m"] > 0.0
        speed = math.sqrt(r["vx_mps"] ** 2 + r["vy_mps"] ** 2 + r["vz_mps"] ** 2)
        assert r["speed_mps"] == pytest.approx(speed, abs=0.02)
        if r["status"] == "tentative":  # predictions only for confirmed tracks
            assert all(r[c] is None for c in impact_cols)
    # Times: the ISO string carries the same nanoseconds as t_ns.
    r = rows[-1]
    assert r["t_utc"].endswith(f".{r['t_ns'] % 1_000_000_000:09d}Z")
    # The USA's last confirmed prediction of srbm-1: impact near 40.0 N 132.0 E (the
    # scenario's aim point), launch near Wonsan (39.17 N 127.48 E).
    last = [x for x in rows if x["nation"] == "USA" and x["impact_lat_deg"] is not None][-1]
    assert last["impact_lat_deg"] == pytest.approx(40.0, abs=0.05)
    assert last["impact_lon_deg"] == pytest.approx(132.0, abs=0.05)
    assert last["impact_semi_major_m"] >= last["impact_semi_minor_m"] > 0.0
    assert 0.0 <= last["impact_orientation_deg"] < 180.0
    assert last["launch_lat_deg"] == pytest.approx(39.17, abs=0.5)
    assert last["launch_lon_deg"] == pytest.approx(127.48, abs=0.5)
    assert last["launch_t_ns"] < last["t_ns"] < last["impact_t_ns"]
    assert 50e3 < last["apogee_m"] < 200e3


def test_one_nation_and_the_tables(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "kor.jsonl"
    result = runner.invoke(app, ["track", str(small), "--out", str(out), "--nation", "kor"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert rows and {r["nation"] for r in rows} == {"KOR"}
    text = result.stdout
    assert "Per missile and nation" in text and "Per nation, whole run" in text
    assert "srbm-1 SRBM" in text and "KOR" in text and "JPN" not in text
    assert f"wrote {len(rows)} track updates" in text


def test_bad_scenario_exits_2_with_the_loaders_lines(tmp_path: Path) -> None:
    text = builtin_path("korea-japan").read_text("utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("max_range_km = 800\n", "max_range_km = -5\n", 1), "utf-8")
    result = runner.invoke(app, ["track", str(bad), "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"{bad}:sensors[2].max_range_km: must be > 0, got -5"
    ]
    assert not (tmp_path / "t.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nation", "XX"], "--nation: unknown nation(s) XX; the scenario has USA, KOR, JPN"),
        (["--seed", "-1"], "--seed: must be >= 0, got -1"),
    ],
)
def test_bad_options_exit_2(small: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["track", str(small), "--out", str(tmp_path / "t.jsonl"), *args])
    assert result.exit_code == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.output


def test_missing_output_directory_exits_2(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "t.jsonl"
    result = runner.invoke(app, ["track", str(small), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"{out}: no such directory: {out.parent}"


def test_unknown_scenario_name_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["track", "no-such", "--out", str(tmp_path / "t.jsonl")])
    assert result.exit_code == 2
    assert "no-such" in result.stderr and "korea-japan" in result.stderr
