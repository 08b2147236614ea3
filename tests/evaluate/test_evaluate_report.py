"""The Monte Carlo summary (statistics checked on hand-made trials with known answers),
the self-contained HTML report, and the ``trilink evaluate`` command end to end."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trilink.cli import commands  # noqa: F401  (registers the commands)
from trilink.cli.app import app
from trilink.evaluate.mc_extract import TIME_FIELDS, mark_grid
from trilink.evaluate.mc_summary import histogram_quantile, quantile, summarise
from trilink.evaluate.montecarlo import TrialResult
from trilink.evaluate.report import write_report

FLIGHT_S = 300.0
NAN = math.nan


def _sample(warning_s: float, err_from_s: float, err_m: float) -> dict:
    t = mark_grid(FLIGHT_S).astype(np.float32)
    err = np.where(t >= err_from_s, err_m, np.nan).astype(np.float32)
    pic = np.tile(np.radians([40.0, 132.0, 0, 0, 0]), (t.size, 1))
    pic[:, 2:4] = [err_m / 2, err_m / 4]
    pic[t < err_from_s] = np.nan
    times = dict.fromkeys(TIME_FIELDS, NAN)
    times |= {"first_own_detection_s": 20.0, "first_warning_s": warning_s}
    return {
        **times,
        "t_s": t,
        "impact_err_m_picture": err,
        "launch_err_m_picture": err / 10,
        "impact_err_m_own": err,
        "impact_err_m_link": err,
        "impact_picture": pic.astype(np.float32),
    }


def _trial(config: str, seed: int) -> TrialResult:
    """JPN: m1 warned at 70+seed s alone, 30+seed s trilateral; m2 never alone, 40 s
    trilateral. Impact error 2*seed km from 120 s alone, seed km from 60 s trilateral."""
    alone = config == "alone"
    missiles = {
        mid: {
            "class": "SRBM",
            "launch_t_ns": 0,
            "flight_s": FLIGHT_S,
            "apogee_km": 100.0,
            "launch_deg": (39.2, 127.5),
            "impact_deg": (40.0, 132.0),
            "ground_track_deg": np.array([[39.2, 127.5], [39.6, 129.7], [40.0, 132.0]], np.float32),
        }
        for mid in ("m1", "m2")
    }
    err = (120.0, 2000.0 * seed) if alone else (60.0, 1000.0 * seed)
    jpn = {
        "m1": _sample(70.0 + seed if alone else 30.0 + seed, *err),
        "m2": _sample(NAN if alone else 40.0, *err),
    }
    kor = {m: _sample(25.0, 60.0, 500.0) for m in missiles}
    per_missile = {"track_number_changes": 1, "longest_segment": 0.8, "tracked_fraction": 0.9}
    siap = {"missiles": {"m1": per_missile, "m2": {**per_missile, "track_number_changes": 0}}}
    source = "own" if alone else "link"
    latency = {} if alone else {240: 9, 740: 1}
    return TrialResult(
        scenario="synthetic", config=config, seed=seed,
        jitter={"launch_time_s": 0.0, "site_spread_km": 0.0, "azimuth_spread_deg": 0.0},
        missiles=missiles, partners={"KOR": kor, "JPN": jpn},
        siap={p: {source: siap} for p in ("KOR", "JPN")},
        latency_ms={p: {"all": latency, "SRBM": latency} for p in ("KOR", "JPN")},
        wall_s=1.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def trials() -> list[TrialResult]:
    return [_trial(c, s) for s in (1, 2, 3, 4) for c in ("alone", "trilateral")]


def test_quantile_with_never() -> None:
    assert quantile([1, 2, 3, 4], 0.5) == 2.5
    assert quantile([1, 2, 3, math.inf], 0.5) == 2.5
    assert quantile([1, 2, math.inf, math.inf], 0.5) == math.inf
    assert quantile([1, 2, 3, math.inf], 1 / 3) == 2.0
    assert math.isnan(quantile([], 0.5))
    assert np.isclose(quantile(np.arange(11.0), 0.9), 9.0)
    assert histogram_quantile({240: 9, 740: 1}, 0.5) == 240
    assert histogram_quantile({240: 9, 740: 1}, 0.99) == 740


def test_summary_statistics(trials: list[TrialResult]) -> None:
    s = summarise(trials)
    alone, tri = s["partners"]["JPN"]["alone"]["SRBM"], s["partners"]["JPN"]["trilateral"]["SRBM"]
    assert tri["n"] == alone["n"] == 8
    # Alone: m1 at 71..74 s, m2 never. With exactly half never, the median interpolates
    # into the never half: it is "never" (null).
    assert alone["first_warning_s"] == {"median": None, "p90": None, "n": 8, "never": 4}
    # Trilateral: 31..34 and 40 x4 -> median between 34 and 40.
    assert tri["first_warning_s"]["median"] == 37.0 and tri["first_warning_s"]["p90"] == 40.0
    # Gained, paired by seed: m1 gains 40 s; m2 gains its whole 260 s of warning.
    g = tri["warning_gained_s"]
    assert (g["median"], g["p10"], g["p90"], g["n"]) == (150.0, 40.0, 260.0, 8)
    assert "warning_gained_s" not in alone
    # Impact error at +60 s: trilateral holds it in every sample, alone in none.
    assert (
        tri["impact_error_km"]["60"]["median"] == 2.5 and tri["impact_error_km"]["60"]["held"] == 1
    )
    assert (
        alone["impact_error_km"]["60"]["held"] == 0
        and alone["impact_error_km"]["60"]["median"] is None
    )
    assert alone["impact_error_km"]["120"]["median"] == 5.0
    assert tri["launch_error_km"]["120"]["median"] == 0.25
    # Marks past the flight time have no eligible samples.
    assert tri["impact_error_km"]["300"]["n"] == 8 and "600" not in tri["impact_error_km"]
    assert tri["siap"] == {
        "source": "link", "track_number_changes_mean": 0.5,
        "longest_segment_median": 0.8, "tracked_fraction_median": 0.9,
    }  # fmt: skip
    assert tri["latency_s"] == {"p50": 0.24, "p99": 0.74, "n": 40}
    assert s["latency_s"]["JPN"]["alone"]["n"] == 0
    assert s["meta"]["runs"] == 4 and s["meta"]["configs"] == ["alone", "trilateral"]
    assert list(s["partners"]) == ["KOR", "JPN"]  # the trials' (scenario) order
    rows = {(r["partner"], r["config"]): r for r in s["headline"]}
    assert rows[("JPN", "trilateral")]["warning_gained_median_s"] == 150.0


def test_report_is_one_self_contained_page(trials: list[TrialResult], tmp_path: Path) -> None:
    files = write_report(trials, tmp_path)
    summary = json.loads(files.summary.read_text())
    assert {"partners", "latency_s", "meta", "headline"} <= set(summary)
    cell = summary["partners"]["JPN"]["trilateral"]["SRBM"]
    assert {*TIME_FIELDS, "warning_gained_s", "impact_error_km", "launch_error_km", "siap",
            "latency_s"} <= set(cell)  # fmt: skip
    assert set(cell["impact_error_km"]) == {"60", "120", "180", "300"}
    assert {"median", "p05", "p95", "held"} <= set(cell["impact_error_km"]["120"])
    page = files.html.read_text()
    assert "http://" not in page and "https://" not in page
    srcs = re.findall(r'src="([^"]*)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert len(srcs) == len(files.figures) == 4  # timeline, ECDF, SRBM errors, map
    assert "<link" not in page and "<script" not in page
    for path in files.figures.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_evaluate_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    res = CliRunner().invoke(
        app,
        ["evaluate", "korea-japan", "--runs", "1", "--configs", "alone,trilateral",
         "--launches", "srbm-1", "--duration-s", "90", "--jobs", "1", "--out", str(out),
         "--launch-jitter-s", "1", "--latency-ms", "150", "--latency-jitter-ms", "20"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    jpn = summary["partners"]["JPN"]
    assert jpn["trilateral"]["SRBM"]["first_link_track_s"]["median"] is not None
    assert jpn["alone"]["SRBM"]["first_link_track_s"]["never"] == 1
    assert summary["meta"]["jitter"]["launch_time_s"] == 1.0
    assert summary["meta"]["link"] == {"latency_s": 0.15, "latency_jitter_s": 0.02}
    assert "150.0 ms one way" in (out / "report.html").read_text()
    assert (out / "report.html").is_file() and (out / "map.png").is_file()
    assert len((out / "trials.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--configs", "alone,quad"], "--configs"),
        (["--launches", "nope"], "--launches"),
        (["--scheduler", "tcp://127.0.0.1:1", "--configs", "bogus"], "--configs"),
        (["--latency-ms", "-1"], "--latency-ms"),
        (["--latency-jitter-ms", "-0.5"], "--latency-jitter-ms"),
    ],
)
def test_cli_evaluate_bad_input_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["evaluate", "korea-japan", "--out", str(tmp_path), *args])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output


def test_cli_evaluate_unknown_scenario_exits_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["evaluate", "no-such-scenario", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_report_without_any_prediction(tmp_path: Path) -> None:
    """Runs cut before any track (every error NaN) still give a summary and a page."""
    bare = []
    for seed in (1, 2):
        t = _trial("alone", seed)
        for per in t.partners.values():
            for mid in per:
                per[mid] = _sample(NAN, FLIGHT_S + 1, 1.0)
        bare.append(t)
    files = write_report(bare, tmp_path)
    cell = json.loads(files.summary.read_text())["partners"]["JPN"]["alone"]["SRBM"]
    assert cell["first_warning_s"]["never"] == 4 and cell["impact_error_km"]["60"]["held"] == 0
    assert files.html.read_text().count("data:image/png;base64,") == 4
