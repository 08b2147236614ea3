"""Reading one TOML table with every problem collected, never raised one at a time.

A :class:`TableReader` wraps one table of a parsed scenario file and its field path
(``sensors[2]``). Each ``number``/``integer``/``string``/... call reads one key, checks its
type and range, and on failure records ``(field.path, reason)`` in a shared list and
returns ``None``; :meth:`TableReader.finish` then reports every key that no call read as
unknown (with a "did you mean" hint), so a typo is an error instead of a silently
ignored default. The loader raises one :class:`~trilink.errors.ScenarioError` with the
whole list at the end.

Reasons read as sentences after the path: ``must be > 0, got -5``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

Problems = list[tuple[str, str]]
Check = Callable[[float], str | None]

_TOML_TYPE: dict[type, str] = {
    dt.datetime: "a date-time",
    dt.date: "a date",
    dt.time: "a time",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def describe(value: object) -> str:
    """How a value reads in a reason: its TOML type and a short rendering."""
    kind = _TOML_TYPE.get(type(value), type(value).__name__)
    if isinstance(value, dict):
        return kind
    text = repr(value) if isinstance(value, str) else fmt(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind} {text}"


def fmt(value: object) -> str:
    """Numbers as a person writes them (``-5``, ``0.25``, ``1e-06``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def join(path: str, key: str | int) -> str:
    """``sensors[2]`` + ``faces`` -> ``sensors[2].faces``; + 0 -> ``sensors[2][0]``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


# --- range checks: each returns a reason, or None when the value is fine -------------


def greater(lo: float) -> Check:
    return lambda v: None if v > lo else f"must be > {fmt(lo)}, got {fmt(v)}"


def at_least(lo: float) -> Check:
    return lambda v: None if v >= lo else f"must be >= {fmt(lo)}, got {fmt(v)}"


def between(lo: float, hi: float, *, open_lo: bool = False, open_hi: bool = False) -> Check:
    """``lo <= v <= hi`` (either end optionally open), reasoned as an interval."""
    left, right = ("(" if open_lo else "["), (")" if open_hi else "]")

    def check(v: float) -> str | None:
        ok_lo = v > lo if open_lo else v >= lo
        ok_hi = v < hi if open_hi else v <= hi
        if ok_lo and ok_hi:
            return None
        return f"must be in {left}{fmt(lo)}, {fmt(hi)}{right}, got {fmt(v)}"

    return check


LATITUDE = between(-90.0, 90.0)
LONGITUDE = between(-180.0, 360.0)
AZIMUTH = between(-360.0, 360.0)
PROBABILITY_OPEN = between(0.0, 1.0, open_lo=True, open_hi=True)
POSITIVE = greater(0.0)
NON_NEGATIVE = at_least(0.0)


class TableReader:
    """One table of the file, its field path, and the shared problem list."""

    def __init__(self, table: object, path: str, problems: Problems):
        self.path = path
        self.problems = problems
        self.ok = isinstance(table, dict)
        if not self.ok:
            problems.append((path or "(file)", f"expected a table, got {describe(table)}"))
        self._table: Mapping[str, Any] = table if isinstance(table, dict) else {}
        self._read: set[str] = set()

    def has(self, key: str) -> bool:
        return key in self._table

    def peek(self, key: str) -> Any:
        """The raw value (or None) without marking the key as read."""
        return self._table.get(key)

    def problem(self, key: str | int | None, reason: str) -> None:
        """Record a problem at this table (``key=None``) or at one of its keys."""
        self.problems.append((self.path if key is None else join(self.path, key), reason))

    def _take(self, key: str, required: bool) -> tuple[bool, Any]:
        self._read.add(key)
        if key not in self._table:
            if required:
                self.problem(key, "missing required key")
            return False, None
        return True, self._table[key]

    def number(
        self,
        key: str,
        *,
        required: bool = True,
        default: float | None = None,
        check: Check | None = None,
    ) -> float | None:
        """A finite float (TOML integers accepted); ``default`` when absent and optional."""
        present, value = self._take(key, required)
        if not present:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"expected a number, got {describe(value)}")
            return None
        value = float(value)
        if not math.isfinite(value):
            self.problem(key, f"must be finite, got {fmt(value)}")
            return None
        reason = check(value) if check else None
        if reason:
            self.problem(key, reason)
            return None
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = True,
        default: int | None = None,
        check: Check | None = None,
    ) -> int | None:
        present, value = self._take(key, required)
        if not present:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(key, f"expected an integer, got {describe(value)}")
            return None
        reason = check(value) if check else None
        if reason:
            self.problem(key, reason)
            return None
        return value

    def string(
        self,
        key: str,
        *,
        required: bool = True,
        default: str | None = None,
        choices: Sequence[str] | None = None,
        check: Callable[[str], str | None] | None = None,
    ) -> str | None:
        present, value = self._take(key, required)
        if not present:
            return default
        if not isinstance(value, str):
            self.problem(key, f"expected a string, got {describe(value)}")
            return None
        if choices is not None and value not in choices:
            options = ", ".join(f'"{c}"' for c in choices)
            self.problem(key, f'must be one of {options}, got "{value}"')
            return None
        reason = check(value) if check else None
        if reason:
            self.problem(key, reason)
            return None
        return value

    def raw(self, key: str, *, required: bool = False) -> tuple[bool, Any]:
        """A value of any type (the caller checks it); ``(present, value)``."""
        return self._take(key, required)

    def tables(self, key: str, *, required: bool = False) -> Iterator[TableReader]:
        """Readers for each table of an array of tables (``[[sensors]]``)."""
        present, value = self._take(key, required)
        if not present:
            return
        if not isinstance(value, list):
            self.problem(key, f"expected an array of tables, got {describe(value)}")
            return
        for i, item in enumerate(value):
            yield TableReader(item, join(join(self.path, key), i), self.problems)

    def table(self, key: str, *, required: bool = True) -> TableReader | None:
        present, value = self._take(key, required)
        if not present:
            return None
        return TableReader(value, join(self.path, key), self.problems)

    def finish(self, what: str = "this table") -> None:
        """Report every key no reader call looked at: typos are errors, not defaults."""
        known = sorted(self._read)
        for key in self._table:
            if key in self._read:
                continue
            hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            suffix = f" (did you mean '{hint[0]}'?)" if hint else ""
            self.problem(key, f"unknown key for {what}{suffix}")
