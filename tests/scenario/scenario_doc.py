"""Helpers for scenario tests: the built-in document as a dict, and edits by field path."""

from __future__ import annotations

import copy
import re
import tomllib
from functools import cache
from typing import Any

from trilink.errors import ScenarioError
from trilink.scenario import builtin_path, parse_scenario

DELETE = object()
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@cache
def _builtin() -> dict[str, Any]:
    return tomllib.loads(builtin_path("korea-japan").read_text(encoding="utf-8"))


def base_doc() -> dict[str, Any]:
    """A fresh deep copy of the built-in korea-japan document."""
    return copy.deepcopy(_builtin())


def split(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def edit(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or, with DELETE, remove) the value at ``sensors[2].max_range_km``."""
    *head, last = split(path)
    node: Any = doc
    for key in head:
        node = node[key]
    if value is DELETE:
        del node[last]
    elif isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return doc


def problems_of(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """The loader's problems for a document ([] when it loads)."""
    try:
        parse_scenario(doc, "test.toml")
    except ScenarioError as exc:
        return exc.problems
    return []
