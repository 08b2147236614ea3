"""``min_plume_altitude_km`` of an ``type = "ir"`` sensor: read in km, defaulted, checked.

sensors[11] of the built-in document is the geostationary IR satellite; sensors[0] a
Green Pine radar (which has no such key).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from scenario_doc import DELETE, base_doc, edit, problems_of

from trilink.errors import ScenarioError
from trilink.scenario import builtin_path, load_scenario, parse_scenario
from trilink.sensors import DEFAULT_MIN_PLUME_ALTITUDE_M, InfraredSatelliteSpec

IR = "sensors[11]"
KEY = f"{IR}.min_plume_altitude_km"


def _ir(doc: dict[str, Any]) -> InfraredSatelliteSpec:
    spec = parse_scenario(doc, "t.toml").sensors[11]
    assert isinstance(spec, InfraredSatelliteSpec)
    return spec


def test_absent_key_takes_the_documented_default() -> None:
    doc = base_doc()
    assert "min_plume_altitude_km" not in doc["sensors"][11]  # the built-in uses the default
    assert _ir(doc).min_plume_altitude_m == DEFAULT_MIN_PLUME_ALTITUDE_M == 3_000.0


@pytest.mark.parametrize(("km", "m"), [(0, 0.0), (5.5, 5_500.0), (20, 20_000.0), (1, 1_000.0)])
def test_value_is_read_in_kilometres(km: float, m: float) -> None:
    assert _ir(edit(base_doc(), KEY, km)).min_plume_altitude_m == m


# (edit path, value, expected path, expected reason or its start)
CASES: list[tuple[str, Any, str, str]] = [
    (KEY, -1, KEY, "must be in [0, 20], got -1"),
    (KEY, 20.5, KEY, "must be in [0, 20], got 20.5"),
    (KEY, 3000, KEY, "must be in [0, 20], got 3000"),  # metres written in a km field
    (KEY, "3", KEY, "expected a number, got a string '3'"),
    (KEY, True, KEY, "expected a number, got a boolean true"),
    (KEY, math.nan, KEY, "must be finite, got nan"),
    (KEY, math.inf, KEY, "must be finite, got inf"),
    (f"{IR}.min_plume_altitude_m", 3000, f"{IR}.min_plume_altitude_m",
     "unknown key for an ir sensor (did you mean 'min_plume_altitude_km'?)"),
    ("sensors[0].min_plume_altitude_km", 3, "sensors[0].min_plume_altitude_km",
     "unknown key for a radar sensor"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("where", "value", "path", "reason"), CASES, ids=[c[3][:30] for c in CASES]
)
def test_bad_values_are_reported_at_their_path(
    where: str, value: Any, path: str, reason: str
) -> None:
    problems = problems_of(edit(base_doc(), where, value))
    assert len(problems) == 1, problems
    ((p, r),) = problems
    assert p == path and r.startswith(reason), problems


def test_a_bad_value_does_not_hide_other_problems_of_the_same_sensor() -> None:
    doc = edit(base_doc(), KEY, -2)
    edit(doc, f"{IR}.pd", DELETE)
    assert sorted(problems_of(doc)) == [
        (f"{IR}.min_plume_altitude_km", "must be in [0, 20], got -2"),
        (f"{IR}.pd", "missing required key"),
    ]


def test_file_error_is_file_colon_field_colon_reason(tmp_path: Path) -> None:
    text = builtin_path("korea-japan").read_text(encoding="utf-8")
    anchor = 'type = "ir"\n'
    assert text.count(anchor) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(anchor, anchor + "min_plume_altitude_km = -3\n"), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert str(info.value).splitlines() == [
        f"{bad}:sensors[11].min_plume_altitude_km: must be in [0, 20], got -3"
    ]
    good = tmp_path / "good.toml"
    good.write_text(
        text.replace(anchor, anchor + "min_plume_altitude_km = 6.5\n"), encoding="utf-8"
    )
    ir = load_scenario(good).sensors[11]
    assert isinstance(ir, InfraredSatelliteSpec) and ir.min_plume_altitude_m == 6_500.0
