"""Every kind of scenario mistake is reported at the right field path with its reason."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from scenario_doc import DELETE, base_doc, edit, problems_of

from trilink.errors import ScenarioError
from trilink.scenario import parse_scenario

# Built-in indices: policy.rules 0 KOR, 1 JPN, 2 USA; sensors 0-2 Green Pine, 3 TPY-2 Seongju, 4-5 TPY-2 FBM, 6-9 J/FPS-5,
# 10 Aegis (no faces), 11 the IR satellite; launches 0 srbm-1 (impact point), 1 srbm-2
# (azimuth/range), 2 srbm-3, 3 irbm-1 (azimuth/range), 4 icbm-1 (apogee).

# (edits [(path, value)], expected path, expected reason or its start)
CASES: list[tuple[list[tuple[str, Any]], str, str]] = [
    # --- sensors: ranges and types
    ([("sensors[2].max_range_km", -5)], "sensors[2].max_range_km", "must be > 0, got -5"),
    ([("sensors[0].lat_deg", 91)], "sensors[0].lat_deg", "must be in [-90, 90], got 91"),
    ([("sensors[0].lat_deg", -90.5)], "sensors[0].lat_deg", "must be in [-90, 90], got -90.5"),
    ([("sensors[0].lon_deg", 400)], "sensors[0].lon_deg", "must be in [-180, 360], got 400"),
    ([("sensors[0].lon_deg", "127")], "sensors[0].lon_deg", "expected a number, got a string '127'"),
    ([("sensors[0].lat_deg", True)], "sensors[0].lat_deg", "expected a number, got a boolean true"),
    ([("sensors[0].lat_deg", math.nan)], "sensors[0].lat_deg", "must be finite, got nan"),
    ([("sensors[0].max_range_km", math.inf)], "sensors[0].max_range_km", "must be finite, got inf"),
    ([("sensors[0].swerling", 5)], "sensors[0].swerling", "must be in [0, 4], got 5"),
    ([("sensors[0].swerling", -1)], "sensors[0].swerling", "must be in [0, 4], got -1"),
    ([("sensors[0].swerling", 1.0)], "sensors[0].swerling", "expected an integer, got a number 1"),
    ([("sensors[0].pfa", 0)], "sensors[0].pfa", "must be in (0, 1), got 0"),
    ([("sensors[0].pfa", 1)], "sensors[0].pfa", "must be in (0, 1), got 1"),
    ([("sensors[0].revisit_s", 0)], "sensors[0].revisit_s", "must be > 0, got 0"),
    ([("sensors[0].ref_range_km", 0)], "sensors[0].ref_range_km", "must be > 0, got 0"),
    ([("sensors[0].ref_rcs_m2", -0.1)], "sensors[0].ref_rcs_m2", "must be > 0, got -0.1"),
    ([("sensors[0].range_sigma_m", 0)], "sensors[0].range_sigma_m", "must be > 0, got 0"),
    ([("sensors[0].false_alarms_per_scan", -1)], "sensors[0].false_alarms_per_scan", "must be >= 0, got -1"),
    ([("sensors[0].min_elevation_deg", 90)], "sensors[0].min_elevation_deg", "must be in [-10, 90), got 90"),
    ([("sensors[0].height_m", 20000)], "sensors[0].height_m", "must be in [-500, 10000], got 20000"),
    ([("sensors[0].max_elevation_deg", 0.2)], "sensors[0].max_elevation_deg",
     "must be > min_elevation_deg (0.5), got 0.2"),
    ([("sensors[0].range_sigma_floor_m", 50)], "sensors[0].range_sigma_floor_m",
     "must be <= range_sigma_m (40), got 50"),
    ([("sensors[0].angle_sigma_floor_mrad", 5)], "sensors[0].angle_sigma_floor_mrad",
     "must be <= angle_sigma_mrad (2), got 5"),
    ([("sensors[0].max_range_km", DELETE)], "sensors[0].max_range_km", "missing required key"),
    ([("sensors[3].swerling", DELETE)], "sensors[3].swerling", "missing required key"),
    ([("sensors[0].id", DELETE)], "sensors[0].id", "missing required key"),
    ([("sensors[0].id", "GP.North")], "sensors[0].id", "must be 1-64 letters, digits"),
    ([("sensors[0].id", 7)], "sensors[0].id", "expected a string, got an integer 7"),
    ([("sensors[0].type", "lidar")], "sensors[0].type", 'must be one of "radar", "ir", got "lidar"'),
    ([("sensors[0].type", DELETE)], "sensors[0].type", "missing required key"),
    ([("sensors[0].nation", "PRK")], "sensors[0].nation", 'unknown nation "PRK" (known: JPN, KOR, USA)'),
    ([("sensors[1].id", "KOR-GP-North")], "sensors[1].id",
     'duplicate sensor "KOR-GP-North" (first at sensors[0])'),
    # --- sensors: unknown keys (typos are errors, not silently ignored defaults)
    ([("sensors[0].max_rnage_km", 3)], "sensors[0].max_rnage_km",
     "unknown key for a radar sensor (did you mean 'max_range_km'?)"),
    ([("sensors[0].colour", "red")], "sensors[0].colour", "unknown key for a radar sensor"),
    ([("sensors[11].max_range_km", 100)], "sensors[11].max_range_km", "unknown key for an ir sensor"),
    ([("sensors[0].faces[0].tilt", 10)], "sensors[0].faces[0].tilt",
     "unknown key for a radar face (did you mean 'tilt_deg'?)"),
    # --- faces
    ([("sensors[0].faces[0].half_width_el_deg", 0)], "sensors[0].faces[0].half_width_el_deg",
     "must be in (0, 90], got 0"),
    ([("sensors[0].faces[0].half_width_az_deg", 181)], "sensors[0].faces[0].half_width_az_deg",
     "must be in (0, 180], got 181"),
    ([("sensors[6].faces[2].tilt_deg", 95)], "sensors[6].faces[2].tilt_deg", "must be in [-10, 90], got 95"),
    ([("sensors[0].faces[0].boresight_az_deg", DELETE)], "sensors[0].faces[0].boresight_az_deg",
     "missing required key"),
    ([("sensors[0].faces", {"boresight_az_deg": 0})], "sensors[0].faces", "expected an array of tables, got a table"),
    ([("sensors[0].faces[0]", 5)], "sensors[0].faces[0]", "expected a table, got an integer 5"),
    # --- the infrared satellite
    ([("sensors[11].pd", 1.5)], "sensors[11].pd", "must be in (0, 1], got 1.5"),
    ([("sensors[11].pd", 0)], "sensors[11].pd", "must be in (0, 1], got 0"),
    ([("sensors[11].field_of_regard_deg", 0)], "sensors[11].field_of_regard_deg", "must be in (0, 90], got 0"),
    ([("sensors[11].angle_sigma_urad", -1)], "sensors[11].angle_sigma_urad", "must be > 0, got -1"),
    ([("sensors[11].aim_lon_deg", -50)], "sensors[11].aim_lat_deg",
     "aim point (40, -50) is beyond the Earth's limb seen from a geostationary satellite"),
    ([("sensors[11].sub_lon_deg", DELETE)], "sensors[11].sub_lon_deg", "missing required key"),
    # --- launches
    ([("launches[0].missile", "MRBM")], "launches[0].missile",
     'must be one of "SRBM", "IRBM", "ICBM", got "MRBM"'),
    ([("launches[0].missile", DELETE)], "launches[0].missile", "missing required key"),
    ([("launches[0].time_s", -1)], "launches[0].time_s", "must be in [0, 604800], got -1"),
    ([("launches[0].time_s", 1e30)], "launches[0].time_s", "must be in [0, 604800], got 1e+30"),
    ([("launches[0].time_s", DELETE)], "launches[0].time_s", "missing required key"),
    ([("launches[0].site", "Pyongyang")], "launches[0].site",
     'unknown launch site "Pyongyang" (known: Kusong, Mupyong-ni, Sohae, Sunan, Wonsan)'),
    ([("launches[0].lat_deg", 39.0), ("launches[0].lon_deg", 127.0)], "launches[0]",
     "give either site or lat_deg/lon_deg for the launch point, not both"),
    ([("launches[0].site", DELETE)], "launches[0]", "missing launch point: give site or lat_deg/lon_deg"),
    ([("launches[0].site", DELETE), ("launches[0].lat_deg", 39.0)], "launches[0].lon_deg",
     "missing (lat_deg and lon_deg go together)"),
    ([("launches[0].azimuth_deg", 70), ("launches[0].range_km", 400)], "launches[0]",
     "give either impact_lat_deg/impact_lon_deg or azimuth_deg/range_km, not both"),
    ([("launches[0].impact_lat_deg", DELETE), ("launches[0].impact_lon_deg", DELETE)], "launches[0]",
     "missing target: give impact_lat_deg/impact_lon_deg or azimuth_deg/range_km"),
    ([("launches[0].impact_lon_deg", DELETE)], "launches[0].impact_lon_deg",
     "missing (impact_lat_deg and impact_lon_deg go together)"),
    ([("launches[1].azimuth_deg", DELETE)], "launches[1].azimuth_deg",
     "missing (azimuth_deg and range_km go together)"),
    ([("launches[1].range_km", 0)], "launches[1].range_km", "must be in [1, 20000], got 0"),
    ([("launches[1].range_km", 25000)], "launches[1].range_km", "must be in [1, 20000], got 25000"),
    ([("launches[1].azimuth_deg", 400)], "launches[1].azimuth_deg", "must be in [-360, 360], got 400"),
    ([("launches[4].apogee_km", -10)], "launches[4].apogee_km", "must be in (0, 50000], got -10"),
    ([("launches[0].impact_lat_deg", 39.17), ("launches[0].impact_lon_deg", 127.48)], "launches[0].impact_lat_deg",
     "impact point is 0 m from the launch point"),
    ([("launches[0].impact_lat_deg", 91)], "launches[0].impact_lat_deg", "must be in [-90, 90], got 91"),
    ([("launches[1].id", "srbm-1")], "launches[1].id", 'duplicate launch "srbm-1" (first at launches[0])'),
    ([("launches[0].apogee", 90)], "launches[0].apogee", "unknown key for a launch (did you mean 'apogee_km'?)"),
    ([("scenario.duration_s", 200)], "launches[3].time_s", "must be < scenario.duration_s (200), got 240"),
    # --- launch sites
    ([("launch_sites[0].lat_deg", 100)], "launch_sites[0].lat_deg", "must be in [-90, 90], got 100"),
    ([("launch_sites[1].id", "Sunan")], "launch_sites[1].id", 'duplicate launch site "Sunan" (first at launch_sites[0])'),
    ([("launch_sites[0].height_m", 3)], "launch_sites[0].height_m", "unknown key for a launch site"),
    # --- [scenario]
    ([("scenario.name", DELETE)], "scenario.name", "missing required key"),
    ([("scenario.name", "  ")], "scenario.name", "must not be empty"),
    ([("scenario.start_utc", "yesterday")], "scenario.start_utc", "not an ISO 8601 date-time: 'yesterday'"),
    ([("scenario.start_utc", dt.datetime(2026, 3, 1))], "scenario.start_utc",
     "must carry a UTC offset (e.g. 2026-03-01T00:00:00Z)"),
    ([("scenario.start_utc", "2026-03-01T00:00:00")], "scenario.start_utc", "must carry a UTC offset"),
    ([("scenario.start_utc", 5)], "scenario.start_utc", "expected a date-time such as 2026-03-01T00:00:00Z, got an integer 5"),
    ([("scenario.start_utc", DELETE)], "scenario.start_utc", "missing required key"),
    ([("scenario.seed", -1)], "scenario.seed", "must be in [0, 9223372036854775807], got -1"),
    ([("scenario.seed", "1")], "scenario.seed", "expected an integer, got a string '1'"),
    ([("scenario.duration_s", 0)], "scenario.duration_s", "must be in (0, 604800], got 0"),
    ([("scenario.start_utc", "9999-01-01T00:00:00Z")], "scenario.start_utc",
     "must be from 1970 to 2200, got 9999-01-01T00:00:00Z"),
    ([("scenario.start_utc", "1969-12-31T23:59:59+00:00")], "scenario.start_utc", "must be from 1970 to 2200"),
    ([("scenario.durashun_s", 5)], "scenario.durashun_s", "unknown key for [scenario] (did you mean 'duration_s'?)"),
    ([("scenario", DELETE)], "scenario", "missing required key"),
    ([("scenario", "korea")], "scenario", "expected a table, got a string 'korea'"),
    # --- nations
    ([("nations[1].id", "kor")], "nations[1].id", "must be 2-16 upper-case letters, digits or '_'"),
    ([("nations[2].id", "KOR")], "nations[2].id", 'duplicate nation "KOR" (first at nations[1])'),
    ([("nations[1].role", "ally")], "nations[1].role", 'must be one of "hub", "partner", got "ally"'),
    ([("nations[1].role", "hub")], "nations[1].role", "a second hub (the hub is nations[0])"),
    ([("nations[0].role", "partner")], "nations", 'no nation has role "hub"'),
    ([("nations[0].flag", "x")], "nations[0].flag", "unknown key for a nation"),
    ([("nations", [])], "nations", "must list at least one nation"),
    ([("nations", DELETE)], "nations", "missing required key"),
    # --- links: the topology is data, and partners never link to each other
    ([("links[0].to", "JPN")], "links[0]",
     "links two partners (KOR, JPN): partners are never linked to each other, only to the hub USA"),
    ([("links[1].from", "USA")], "links[1]", "links USA to itself"),
    ([("links[2]", {"from": "USA", "to": "KOR"})], "links[2]", "duplicate of links[0] (links are bidirectional)"),
    ([("links[0].to", "CHN")], "links[0].to", 'unknown nation "CHN" (known: JPN, KOR, USA)'),
    ([("links[0].to", DELETE)], "links[0].to", "missing required key"),
    ([("links[0].via", "USA")], "links[0].via", "unknown key for a link"),
    # --- policy: read by the policy room's reader, its nations checked here
    ([("policy", 3)], "policy", "expected a table, got an integer 3"),
    ([("policy.rules[0].to[1]", "CHN")], "policy.rules[0].to[1]", 'unknown nation "CHN" (known: JPN, KOR, USA)'),
    ([("policy.rules[2].source", "PRK")], "policy.rules[2].source", 'unknown nation "PRK"'),
    ([("policy.rules[0].colour", "red")], "policy.rules[0].colour", "unknown key"),
    ([("policy.rules[0].kinds", "system_track")], "policy.rules[0].kinds", "must be an array of non-empty strings"),
    ([("policy.default", "allow")], "policy.default", "only 'deny' is supported"),
    # --- top level
    ([("sensor", [])], "sensor", "unknown key for a scenario file (did you mean 'sensors'?)"),
    ([("sensors", {"id": "x"})], "sensors", "expected an array of tables, got a table"),
    ([("sensors[0]", "x")], "sensors[0]", "expected a table, got a string 'x'"),
]  # fmt: skip

# Edits whose consequence is rightly more than one problem.
MANY = {
    "nations[1].role",  # a second hub: also links between "partners" change meaning
    "nations[1].id",  # KOR renamed: its sensors and link now name an unknown nation
    "nations[2].id",  # JPN renamed to KOR: the same
    "nations",  # no nations at all: every sensor's nation is unknown
    "launches[3].time_s",  # a short duration_s cuts off both later launches
}


@pytest.mark.parametrize(
    ("edits", "path", "reason"), CASES, ids=[f"{c[1]}:{c[2][:30]}" for c in CASES]
)
def test_each_mistake_is_reported_at_its_path(
    edits: list[tuple[str, Any]], path: str, reason: str
) -> None:
    doc = base_doc()
    for where, value in edits:
        edit(doc, where, value)
    problems = problems_of(doc)
    matches = [(p, r) for p, r in problems if p == path and r.startswith(reason)]
    assert matches, f"expected {path}: {reason}...; got {problems}"
    if path not in MANY and edits[0][0] != "nations":
        assert len(problems) == 1, problems


def test_the_builtin_document_has_no_problem() -> None:
    assert problems_of(base_doc()) == []


def test_all_problems_are_reported_at_once() -> None:
    doc = base_doc()
    chosen = [
        c
        for c in CASES
        if len(c[0]) == 1 and c[0][0][0].startswith(("sensors[", "launches[", "links["))
    ]
    touched: set[str] = set()
    expected = []
    for edits, path, reason in chosen:
        where = edits[0][0]
        table = where.split(".")[0]
        if table in touched or edits[0][1] is DELETE or "duplicate" in reason:
            continue  # one edit per table, so edits cannot mask each other
        touched.add(table)
        edit(doc, where, edits[0][1])
        expected.append((path, reason))
    assert len(expected) >= 8
    problems = problems_of(doc)
    for path, reason in expected:
        assert any(p == path and r.startswith(reason) for p, r in problems), (
            path,
            reason,
            problems,
        )


def test_error_text_is_one_line_per_problem_file_colon_path() -> None:
    doc = edit(base_doc(), "sensors[2].max_range_km", -5)
    edit(doc, "launches[0].missile", "MRBM")
    with pytest.raises(ScenarioError) as info:
        parse_scenario(doc, "bad.toml")
    assert str(info.value).splitlines() == [
        "bad.toml:sensors[2].max_range_km: must be > 0, got -5",
        'bad.toml:launches[0].missile: must be one of "SRBM", "IRBM", "ICBM", got "MRBM"',
    ]
    assert info.value.source == "bad.toml"


def test_unknown_top_level_sections_are_rejected() -> None:
    doc = base_doc()
    doc["radars"] = [{"id": "x"}]
    doc["link"] = {"from": "KOR"}
    problems = problems_of(doc)
    assert ("radars", "unknown key for a scenario file") in problems
    assert ("link", "unknown key for a scenario file (did you mean 'links'?)") in problems


def test_optional_keys_take_their_documented_defaults() -> None:
    doc = base_doc()
    for key in ("height_m", "min_elevation_deg", "false_alarms_per_scan"):
        edit(doc, f"sensors[0].{key}", DELETE)
    edit(doc, "scenario.seed", DELETE)
    edit(doc, "scenario.description", DELETE)
    for key in ("links", "launch_sites", "launches"):
        edit(doc, key, DELETE)
    sc = parse_scenario(doc, "t.toml")
    gp = sc.sensors[0]
    assert gp.height_m == 0.0 and gp.min_elevation_rad == 0.0 and gp.false_alarms_per_scan == 0.0
    assert gp.max_elevation_rad == pytest.approx(math.pi / 2)
    assert sc.seed == 0 and sc.description == "" and sc.links == () and sc.launches == ()


def test_policy_reaches_the_policy_room_as_parsed_toml() -> None:
    """Scenario.policy is read-only yet reads like a parsed file (arrays are lists)."""
    from trilink.policy import Policy

    sc = parse_scenario(base_doc(), "t.toml")
    with pytest.raises(TypeError):
        sc.policy["default"] = "allow"  # type: ignore[index]
    policy = Policy.from_table(sc.policy)
    assert policy.decide("system_track", ["KOR"], "JPN").allowed
    assert policy.decide("launch_event", ["JPN", "USA"], "KOR").allowed
    assert not policy.decide(
        "track_report", ["KOR"], "JPN"
    ).allowed  # raw national tracks stay home
    assert policy.decide("system_track", ["KOR"], "JPN").redact == ("sources.track_id",)
