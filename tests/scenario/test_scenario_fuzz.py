"""Whatever is done to a valid scenario, the loader answers with a Scenario or a
ScenarioError naming fields, never with any other exception (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_doc import DELETE, base_doc, edit, split

from trilink.errors import ScenarioError
from trilink.scenario import Scenario, parse_scenario


def _get(path: str) -> Any:
    node: Any = base_doc()
    for key in split(path):
        node = node[key]
    return node


def _paths(node: Any, prefix: str = "") -> list[str]:
    """Every key and array element of the document, as field paths."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            out.append(path)
            out.extend(_paths(value, path))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            path = f"{prefix}[{i}]"
            out.append(path)
            out.extend(_paths(value, path))
    return out


PATHS = _paths(base_doc())
LEAVES = [p for p in PATHS if not p.endswith("]") and not isinstance(_get(p), dict | list)]

# Values of every TOML type (and NaN/inf, which TOML allows), including nested ones.
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.datetimes(timezones=st.sampled_from([None, dt.UTC])),
    st.dates(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
mutation = st.tuples(st.sampled_from(PATHS), st.one_of(st.just(DELETE), values))


def _apply(doc: dict[str, Any], path: str, value: Any) -> None:
    try:
        edit(doc, path, value)
    except (KeyError, IndexError, TypeError):
        pass  # an earlier mutation removed or retyped this path's parent


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutations_raise_nothing_but_scenario_error(mutations: list[tuple[str, Any]]) -> None:
    doc = base_doc()
    for path, value in mutations:
        _apply(doc, path, value)
    try:
        result = parse_scenario(doc, "fuzz.toml")
    except ScenarioError as exc:
        assert exc.problems, "a ScenarioError must carry at least one problem"
        for path, reason in exc.problems:
            assert isinstance(path, str) and isinstance(reason, str) and reason
            assert "\n" not in reason
        assert str(exc).startswith("fuzz.toml:")
    else:
        assert isinstance(result, Scenario)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LEAVES))
def test_deleting_a_required_key_is_reported_where_it_was(path: str) -> None:
    """Deleting any single value either leaves a valid scenario (the key was optional)
    or is reported at that path or within its table, never only somewhere unrelated."""
    doc = edit(base_doc(), path, DELETE)
    try:
        parse_scenario(doc, "fuzz.toml")
    except ScenarioError as exc:
        table = path.rsplit(".", 1)[0]
        related = [p for p, _ in exc.problems if p.startswith(table)]
        assert related, (path, exc.problems)
