"""``simulate`` composes flight design and sensors; ``trilink simulate`` writes them as
JSON Lines with the documented columns. Flight design is replaced by a smooth fake here
(the physics room tests its own); the sensors are the real ones."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scenario_fakes
from scenario_fakes import fake_design_flight
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401
from trilink import physics
from trilink.cli.app import app
from trilink.errors import ScenarioError
from trilink.scenario import load_scenario, simulate
from trilink.scenario.records import DETECTION_COLUMNS, TRUTH_COLUMNS, iso_utc, records
from trilink.scenario.simulate import END_MARGIN_S, first_detections


@pytest.fixture
def fake_physics(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario_fakes.CALLS.clear()
    monkeypatch.setattr(physics, "design_flight", fake_design_flight, raising=False)


@pytest.fixture(scope="module")
def short():
    """The built-in without the hour-long ICBM, to keep the sensors' work small."""
    sc = load_scenario("korea-japan")
    return replace(sc, launches=tuple(x for x in sc.launches if x.missile_class != "ICBM"))


def test_design_gets_each_launch_in_si_units(fake_physics, short) -> None:
    result = simulate(short)
    assert [t.missile_id for t in result.trajectories] == [x.id for x in short.launches]
    call = scenario_fakes.CALLS[0]
    launch = short.launches[0]
    assert call["launch_lat_rad"] == pytest.approx(math.radians(39.17))
    assert call["impact_lon_rad"] == pytest.approx(math.radians(132.0))
    assert call["azimuth_rad"] is None and call["range_m"] is None and call["apogee_m"] is None
    assert call["launch_t_ns"] == short.start_t_ns + 60 * 10**9 == launch.launch_t_ns
    assert call["missile_class"] == "SRBM" and call["missile_id"] == "srbm-1"
    by_az = scenario_fakes.CALLS[1]
    assert by_az["azimuth_rad"] == pytest.approx(math.radians(70)) and by_az["range_m"] == 420e3
    assert by_az["impact_lat_rad"] is None


def test_run_ends_a_margin_after_the_last_impact_or_at_duration(fake_physics, short) -> None:
    result = simulate(short)
    last = max(t.impact_t_ns for t in result.trajectories)
    assert result.t_end_ns == last + round(END_MARGIN_S * 1e9)
    assert len(result.detections) == len(short.sensors)
    for det in result.detections:
        if len(det):
            assert short.start_t_ns <= det.t_ns.min() and det.t_ns.max() <= result.t_end_ns
    fixed = simulate(replace(short, duration_s=120.0))
    assert fixed.t_end_ns == short.start_t_ns + 120 * 10**9


def test_seed_makes_runs_reproducible(fake_physics, short) -> None:
    a, b = simulate(short), simulate(short)
    c = simulate(short, seed=short.seed + 1)
    assert a.seed == short.seed and c.seed == short.seed + 1
    za = np.concatenate([d.z.ravel() for d in a.detections])
    zb = np.concatenate([d.z.ravel() for d in b.detections])
    zc = np.concatenate([d.z.ravel() for d in c.detections])
    assert np.array_equal(za, zb)
    assert za.shape != zc.shape or not np.array_equal(za, zc)


def test_infeasible_flights_are_all_reported_at_their_launch(fake_physics) -> None:
    sc = load_scenario("korea-japan")
    bad = [replace(x, apogee_m=20_000e3) if x.missile_class == "SRBM" else x for x in sc.launches]
    with pytest.raises(ScenarioError) as info:
        simulate(replace(sc, launches=tuple(bad)))
    paths = [p for p, _ in info.value.problems]
    assert paths == ["launches[0]", "launches[1]", "launches[2]"]
    assert (
        str(info.value)
        .splitlines()[0]
        .startswith("korea-japan:launches[0]: srbm-1: apogee 20000 km")
    )


def test_korea_sees_the_wonsan_salvo_before_japan(fake_physics, short) -> None:
    firsts = first_detections(simulate(short))
    for missile in ("srbm-1", "srbm-2", "srbm-3"):
        assert firsts[missile]["KOR"][0] < firsts[missile].get("JPN", (math.inf, ""))[0]


def test_records_have_the_documented_columns_in_time_order(fake_physics, short) -> None:
    result = simulate(short)
    recs = list(records(result))
    assert (
        recs[0]["type"] == "scenario" and recs[0]["start_utc"] == "2026-03-01T00:00:00.000000000Z"
    )
    sensors = [r for r in recs if r["type"] == "sensor"]
    assert [s["sensor_id"] for s in sensors] == [s.sensor_id for s in short.sensors]
    body = recs[1 + len(sensors) :]
    assert {r["type"] for r in body} == {"truth", "detection"}
    times = [r["t_ns"] for r in body]
    assert times == sorted(times)
    truth = [r for r in body if r["type"] == "truth"]
    dets = [r for r in body if r["type"] == "detection"]
    assert all(tuple(r) == TRUTH_COLUMNS for r in truth)
    assert all(tuple(r) == DETECTION_COLUMNS for r in dets)
    assert len(truth) == sum(len(t.t_ns) for t in result.trajectories)
    assert len(dets) == sum(len(d) for d in result.detections)
    first = truth[0]
    assert first["missile_id"] == "srbm-1" and first["lat_deg"] == pytest.approx(39.17)
    assert first["alt_m"] == pytest.approx(0.0, abs=1.0)


def test_detection_records_convert_angles_and_covariance_to_degrees(fake_physics, short) -> None:
    result = simulate(short)
    det = next(d for d in result.detections if d.kind == "radar" and len(d))
    rec = next(
        r for r in records(result) if r["type"] == "detection" and r["sensor_id"] == det.sensor_id
    )
    i = 0
    assert rec["t_ns"] == int(det.t_ns[i]) and rec["t_utc"] == iso_utc(int(det.t_ns[i]))
    assert rec["range_m"] == pytest.approx(det.z[i, 0])
    assert rec["az_deg"] == pytest.approx(math.degrees(det.z[i, 1]))
    assert rec["el_deg"] == pytest.approx(math.degrees(det.z[i, 2]))
    d2r = math.pi / 180
    cov = np.array(rec["cov"]) * np.outer([1, d2r, d2r], [1, d2r, d2r])
    np.testing.assert_allclose(cov, det.R[i], rtol=1e-12)
    assert rec["sigma_el_deg"] == pytest.approx(math.degrees(math.sqrt(det.R[i, 2, 2])))
    assert rec["truth_id"] == (det.truth_id[i] or None)


def test_iso_utc_keeps_nanoseconds() -> None:
    assert iso_utc(1_772_323_260_500_000_001) == "2026-03-01T00:01:00.500000001Z"
    assert iso_utc(0) == "1970-01-01T00:00:00.000000000Z"


def test_cli_simulate_writes_parseable_jsonl(fake_physics, tmp_path: Path) -> None:
    out = tmp_path / "run.jsonl"
    result = CliRunner().invoke(app, ["simulate", "korea-japan", "--out", str(out), "--seed", "3"])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    objs = [json.loads(line) for line in lines]
    assert objs[0]["type"] == "scenario" and objs[0]["seed"] == 3
    kinds = {o["type"] for o in objs}
    assert kinds == {"scenario", "sensor", "truth", "detection"}
    assert "srbm-1" in result.stdout and f"wrote {len(lines)} lines" in result.stdout


def test_cli_simulate_infeasible_is_exit_2_one_line_per_launch(
    fake_physics, tmp_path: Path
) -> None:
    text = load_scenario_text().replace("apogee_km = 6000", "apogee_km = 40000")
    bad = tmp_path / "lofted.toml"
    bad.write_text(text)
    result = CliRunner().invoke(app, ["simulate", str(bad), "--out", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(f"{bad}:launches[4]: icbm-1: apogee 40000 km")
    )
    assert not (tmp_path / "x.jsonl").exists()


def load_scenario_text() -> str:
    from trilink.scenario import builtin_path

    return builtin_path("korea-japan").read_text(encoding="utf-8")
