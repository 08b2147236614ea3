"""The `trilink trajectory` command-line contract."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trilink.cli import commands  # noqa: F401  (registers the commands)
from trilink.cli.app import app
from trilink.geo.geodesic import geodesic_inverse

runner = CliRunner()
CONTRACT_KEYS = {
    "flight_time_s",
    "apogee_km",
    "range_km",
    "burnout_time_s",
    "impact_lat",
    "impact_lon",
    "max_speed_mps",
}


def _run(*args: str):
    return runner.invoke(app, ["trajectory", *args])


def test_json_by_impact_point() -> None:
    res = _run("--launch", "39.2,125.67", "--impact", "39.9,130.5", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert CONTRACT_KEYS <= out.keys()
    miss, _, _ = geodesic_inverse(
        *map(math.radians, (39.9, 130.5, out["impact_lat"], out["impact_lon"]))
    )
    assert float(miss) < 1_000.0
    rng, _, _ = geodesic_inverse(*map(math.radians, (39.2, 125.67, 39.9, 130.5)))
    assert out["range_km"] == pytest.approx(float(rng) / 1e3, abs=1.0)
    assert out["burnout_time_s"] < out["flight_time_s"]


def test_json_by_bearing_with_apogee() -> None:
    res = _run("--launch", "39.66,124.71", "--azimuth-deg", "95", "--range-km", "1000", "--apogee-km", "6000",
               "--missile", "ICBM", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["apogee_km"] == pytest.approx(6000.0, rel=0.01)
    assert out["range_km"] == pytest.approx(1000.0, abs=1.0)
    assert out["flight_time_s"] > 3000.0
    assert out["missile_class"] == "ICBM"


def test_table_output_is_readable() -> None:
    res = _run("--launch", "39.2,125.67", "--azimuth-deg", "80", "--range-km", "400")
    assert res.exit_code == 0, res.output
    for word in ("apogee", "flight time", "burnout", "max speed", "impact"):
        assert word in res.stdout


def test_negative_coordinates_parse() -> None:
    res = _run("--launch", "-33.9,151.2", "--azimuth-deg", "60", "--range-km", "300", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["impact_lat"] < -30.0


@pytest.mark.parametrize(
    "args",
    [
        ("--launch", "39.2,125.67", "--azimuth-deg", "80", "--range-km", "5000"),  # beyond an SRBM
        ("--launch", "39.2,125.67", "--azimuth-deg", "80", "--range-km", "400", "--apogee-km", "15"),
        ("--launch", "39.2,125.67", "--azimuth-deg", "80", "--range-km", "1000", "--apogee-km", "30000",
         "--missile", "ICBM"),
    ],
)  # fmt: skip
def test_impossible_flight_exits_2_with_one_line(args: tuple[str, ...]) -> None:
    res = _run(*args, "--json")
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "infeasible" in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ("--launch", "39.2", "--azimuth-deg", "80", "--range-km", "400"),
        ("--launch", "95,125", "--azimuth-deg", "80", "--range-km", "400"),
        ("--launch", "39.2,125.67"),
        ("--launch", "39.2,125.67", "--azimuth-deg", "80"),
        (
            "--launch",
            "39.2,125.67",
            "--impact",
            "40,130",
            "--azimuth-deg",
            "80",
            "--range-km",
            "400",
        ),
        ("--launch", "39.2,125.67", "--impact", "forty,130"),
        ("--launch", "39.2,125.67", "--azimuth-deg", "80", "--range-km", "-4"),
        (
            "--launch",
            "39.2,125.67",
            "--azimuth-deg",
            "80",
            "--range-km",
            "400",
            "--missile",
            "SLBM",
        ),
        ("--launch", "39.2,125.67", "--azimuth-deg", "80", "--range-km", "nan"),
        ("--azimuth-deg", "80", "--range-km", "400"),
        ("--launch", "39.2,125.67", "--azimuth-deg", "east", "--range-km", "400"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: tuple[str, ...]) -> None:
    res = _run(*args)
    assert res.exit_code == 2
    assert res.stderr.strip()
    assert "Traceback" not in res.output


def test_installed_console_script() -> None:
    exe = Path(sys.executable).parent / "trilink"
    ok = subprocess.run(
        [str(exe), "trajectory", "--launch", "39.2,125.67", "--azimuth-deg", "75", "--range-km", "4500",
         "--missile", "irbm", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert CONTRACT_KEYS <= json.loads(ok.stdout).keys()
    bad = subprocess.run(
        [str(exe), "trajectory", "--launch", "39.2,125.67", "--azimuth-deg", "75", "--range-km", "9000", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
