"""Load a scenario file: TOML in, a validated :class:`~trilink.scenario.model.Scenario` out.

``load_scenario("korea-japan")`` loads a built-in scenario shipped in
``trilink/scenario/builtin/``; any other argument is a path. Everything is validated and
every problem is reported at once in one :class:`~trilink.errors.ScenarioError`, whose
lines read ``file:field.path: reason``. The file format is documented in
``docs/scenario.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from trilink.errors import ScenarioError
from trilink.scenario.model import (
    HUB_ROLE,
    NATION_ROLES,
    PARTNER_ROLE,
    LaunchSite,
    LaunchSpec,
    Link,
    Nation,
    Scenario,
)
from trilink.scenario.read_launches import read_launch, read_launch_site
from trilink.scenario.read_sensors import read_sensor
from trilink.scenario.reader import Problems, TableReader, between, describe
from trilink.sensors.specs import SensorSpec

NATION_ID = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_START = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
MAX_DURATION_S = 7 * 86_400.0  # a week: longer than any missile-warning scenario


# --- finding the file ----------------------------------------------------------------


def _builtin_dir() -> Traversable:
    return resources.files("trilink.scenario").joinpath("builtin")


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with trilink (``korea-japan``, ...)."""
    return sorted(
        p.name[: -len(".toml")] for p in _builtin_dir().iterdir() if p.name.endswith(".toml")
    )


def builtin_path(name: str) -> Traversable:
    """The packaged file of a built-in scenario (KeyError if there is none)."""
    stem = name[: -len(".toml")] if name.endswith(".toml") else name
    if stem not in builtin_names():
        raise KeyError(name)
    return _builtin_dir().joinpath(f"{stem}.toml")


def _read_text(path_or_name: str | Path) -> str:
    """The file's text: a path if one exists, else a built-in name."""
    source = str(path_or_name)
    path = Path(path_or_name)
    if path.exists():
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError(source, [("", f"cannot read: {exc}")]) from None
    if isinstance(path_or_name, str):
        try:
            return builtin_path(path_or_name).read_text(encoding="utf-8")
        except KeyError:
            pass
    names = ", ".join(builtin_names()) or "none"
    raise ScenarioError(
        source, [("", f"no such file, and not a built-in scenario (built-ins: {names})")]
    )


def load_scenario(path_or_name: str | Path) -> Scenario:
    """Read, validate and convert a scenario file or built-in; raise ScenarioError."""
    source = str(path_or_name)
    text = _read_text(path_or_name)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib says "... (at line 3, column 5)": put the place where editors look for it.
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        where = f"{m.group(1)}:{m.group(2)}" if m else ""
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        raise ScenarioError(source, [(where, f"invalid TOML: {reason}")]) from None
    return parse_scenario(data, source)


# --- the sections --------------------------------------------------------------------


def to_ns(when: dt.datetime) -> int:
    """An aware datetime as integer ns since the Unix epoch (exact, no float rounding)."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _read_start(r: TableReader) -> int | None:
    present, value = r.raw("start_utc", required=True)
    if not present:
        return None
    when: dt.datetime
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError:
            r.problem("start_utc", f"not an ISO 8601 date-time: {value!r}")
            return None
    else:
        r.problem(
            "start_utc", f"expected a date-time such as 2026-03-01T00:00:00Z, got {describe(value)}"
        )
        return None
    if when.tzinfo is None or when.utcoffset() is None:
        r.problem("start_utc", "must carry a UTC offset (e.g. 2026-03-01T00:00:00Z)")
        return None
    t_ns = to_ns(when)
    # Times travel as int64 ns since 1970 (good to 2262); keep well inside that.
    if not 0 <= t_ns < to_ns(LATEST_START):
        r.problem("start_utc", f"must be from 1970 to 2200, got {value}")
        return None
    return t_ns


def _read_header(r: TableReader) -> tuple[str | None, str, int | None, int | None, float | None]:
    name = r.string("name", check=lambda s: None if s.strip() else "must not be empty")
    description = r.string("description", required=False, default="") or ""
    start = _read_start(r)
    seed = r.integer("seed", required=False, default=0, check=between(0, 2**63 - 1))
    duration = r.number(
        "duration_s", required=False, check=between(0.0, MAX_DURATION_S, open_lo=True)
    )
    r.finish("[scenario]")
    return name, description, start, seed, duration


def _check_nation_id(value: str) -> str | None:
    if NATION_ID.match(value):
        return None
    return f"must be 2-16 upper-case letters, digits or '_' (it names link subjects), got {value!r}"


def _read_nations(
    root: TableReader, problems: Problems
) -> tuple[list[Nation], dict[str, str | None]]:
    """The valid nations, and every declared id with its role (None if its table is bad)."""
    nations: list[Nation] = []
    declared: dict[str, str | None] = {}
    first_at: dict[str, str] = {}
    hub_at: str | None = None
    count = 0
    for r in root.tables("nations", required=True):
        count += 1
        if not r.ok:
            continue
        nation_id = r.string("id", check=_check_nation_id)
        raw_id = r.peek("id")
        if isinstance(raw_id, str):
            declared.setdefault(raw_id, None)
        name = r.string("name", required=False)
        role = r.string("role", choices=NATION_ROLES)
        r.finish("a nation")
        if nation_id is not None:
            if nation_id in first_at:
                r.problem("id", f'duplicate nation "{nation_id}" (first at {first_at[nation_id]})')
                nation_id = None
            else:
                first_at[nation_id] = r.path
        if role == HUB_ROLE:
            if hub_at is not None:
                r.problem(
                    "role", f"a second hub (the hub is {hub_at}): partners link through one hub"
                )
                role = None
            else:
                hub_at = r.path
        if nation_id is not None and role is not None:
            nations.append(Nation(nation_id, name if name is not None else nation_id, role))
            declared[nation_id] = role
    if isinstance(root.peek("nations"), list):
        if count == 0:
            problems.append(("nations", "must list at least one nation"))
        elif hub_at is None:
            problems.append(
                ("nations", 'no nation has role "hub" (the nation every partner links to)')
            )
    return nations, declared


def _read_links(root: TableReader, roles: dict[str, str | None]) -> list[Link]:
    links: list[Link] = []
    seen: dict[frozenset[str], str] = {}
    known = ", ".join(sorted(roles))
    for r in root.tables("links"):
        if not r.ok:
            continue
        ends: list[str | None] = []
        for key in ("from", "to"):
            nation = r.string(key)
            if nation is not None and roles and nation not in roles:
                r.problem(key, f'unknown nation "{nation}" (known: {known})')
                nation = None
            ends.append(nation)
        r.finish("a link")
        a, b = ends
        if a is None or b is None:
            continue
        if a == b:
            r.problem(None, f"links {a} to itself")
            continue
        if roles.get(a) == PARTNER_ROLE and roles.get(b) == PARTNER_ROLE:
            hub = next((n for n, role in roles.items() if role == HUB_ROLE), "the hub")
            r.problem(
                None,
                f"links two partners ({a}, {b}): partners are never linked to each other, only to the hub {hub}",
            )
            continue
        pair = frozenset((a, b))
        if pair in seen:
            r.problem(None, f"duplicate of {seen[pair]} (links are bidirectional)")
            continue
        seen[pair] = r.path
        links.append(Link(a, b))
    return links


def _check_policy(policy: dict[str, Any], roles: dict[str, str | None], problems: Problems) -> None:
    """``[policy]`` (issue 4): built by the policy room's own reader, then its nation ids
    checked against ``[[nations]]``, so ``trilink scenario validate`` covers it too.

    The policy room is imported lazily (as physics' missile classes are): the loader
    works without it, and the policy's rules stay in one place. Its reader stops at the
    first problem, so a policy contributes at most one line.
    """
    try:
        from trilink.errors import PolicyError
        from trilink.policy.rules import ANY, Policy
    except ImportError:
        return
    try:
        Policy.from_table(policy, "policy")
    except PolicyError as exc:
        problems.append((exc.path, exc.reason))
        return
    if not roles:
        return  # the nations are broken; that is reported already
    known = ", ".join(sorted(roles))
    for i, rule in enumerate(policy.get("rules", [])):
        for key in ("source", "to"):
            names = [rule[key]] if key == "source" else list(rule[key])
            for j, name in enumerate(names):
                if name != ANY and name not in roles:
                    where = f"policy.rules[{i}].{key}" + ("" if key == "source" else f"[{j}]")
                    problems.append((where, f'unknown nation "{name}" (known: {known})'))


def _first(r: TableReader, seen: dict[str, str], what: str) -> bool:
    """Record ``r``'s id as seen; False (and a problem) when an earlier table had it.

    Judged on the raw id, so a duplicate is reported even when either table has other
    problems.
    """
    ident = r.peek("id")
    if not isinstance(ident, str):
        return True
    if ident in seen:
        r.problem("id", f'duplicate {what} "{ident}" (first at {seen[ident]})')
        return False
    seen[ident] = r.path
    return True


def parse_scenario(data: Mapping[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate an already parsed TOML document; every problem in one ScenarioError."""
    problems: Problems = []
    root = TableReader(dict(data) if isinstance(data, Mapping) else data, "", problems)
    header = root.table("scenario")
    name, description, start, seed, duration = (
        _read_header(header) if header is not None and header.ok else (None, "", None, None, None)
    )
    nations, roles = _read_nations(root, problems)

    sites: dict[str, LaunchSite | None] = {}
    site_at: dict[str, str] = {}
    for r in root.tables("launch_sites"):
        site = read_launch_site(r)
        site_id = r.peek("id")
        if _first(r, site_at, "launch site") and isinstance(site_id, str):
            sites[site_id] = site

    sensors: list[SensorSpec] = []
    sensor_at: dict[str, str] = {}
    for r in root.tables("sensors"):
        spec = read_sensor(r, roles)
        if _first(r, sensor_at, "sensor") and spec is not None:
            sensors.append(spec)

    launches: list[LaunchSpec] = []
    launch_at: dict[str, str] = {}
    for r in root.tables("launches"):
        launch = read_launch(r, sites, start, duration)
        if _first(r, launch_at, "launch") and launch is not None:
            launches.append(launch)

    links = _read_links(root, roles)
    present, policy = root.raw("policy")
    if present and not isinstance(policy, dict):
        root.problem("policy", f"expected a table, got {describe(policy)}")
    elif present:
        _check_policy(policy, roles, problems)
    root.finish("a scenario file")

    if problems:
        raise ScenarioError(source, problems)
    assert name is not None and start is not None and seed is not None
    return Scenario(
        name=name,
        description=description,
        start_t_ns=start,
        seed=seed,
        duration_s=duration,
        nations=tuple(nations),
        sensors=tuple(sensors),
        launch_sites=tuple(s for s in sites.values() if s is not None),
        launches=tuple(launches),
        links=tuple(links),
        policy=policy if present and isinstance(policy, dict) else {},
        source=source,
    )
