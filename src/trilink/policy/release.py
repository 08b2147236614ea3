"""Apply a :class:`~trilink.policy.rules.Policy` to a message: decide, then redact.

Redaction never mutates: it rebuilds frozen msgspec Structs with the named fields reset
to their declared defaults (a field that has no default cannot be redacted, and a
policy naming it is rejected by :func:`check_redactable` when the hub starts, not when the
first message flows).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterable
from typing import Any

import msgspec

from trilink.errors import PolicyError
from trilink.policy.rules import Decision, Policy


def kind_of(msg: msgspec.Struct) -> str:
    """The message kind: its msgspec tag, else its class name."""
    info = type(msg).__struct_config__
    return str(info.tag) if isinstance(info.tag, str) else type(msg).__name__


def redact(msg: Any, paths: Iterable[str]) -> Any:
    """A copy of ``msg`` with every dotted ``path`` reset to its field default."""
    out = msg
    for path in paths:
        out = _redact_one(out, path.split("."), path)
    return out


def _redact_one(obj: Any, parts: list[str], full: str) -> Any:
    if isinstance(obj, list | tuple):
        return type(obj)(_redact_one(o, parts, full) for o in obj)
    if not isinstance(obj, msgspec.Struct):
        return obj
    name = parts[0]
    fields = _fields(type(obj))
    if name not in fields:
        return obj  # a path for another message kind: nothing to remove here
    if len(parts) == 1:
        f = fields[name]
        if f.default is not msgspec.NODEFAULT:
            return msgspec.structs.replace(obj, **{name: f.default})
        if f.default_factory is not msgspec.NODEFAULT:
            return msgspec.structs.replace(obj, **{name: f.default_factory()})
        raise PolicyError(
            full, f"{type(obj).__name__}.{name} has no default and cannot be redacted"
        )
    return msgspec.structs.replace(obj, **{name: _redact_one(getattr(obj, name), parts[1:], full)})


@functools.cache
def _fields(tp: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    # msgspec resolves a Struct's annotations on every call; a release does it per field.
    return {f.name: f for f in msgspec.structs.fields(tp)}


def release(
    policy: Policy, msg: msgspec.Struct, sources: Iterable[str], partner: str
) -> tuple[msgspec.Struct | None, Decision]:
    """Decide whether ``msg`` (carrying data of ``sources``) may go to ``partner``.

    Returns the message to send (redacted) or None, and the decision for the audit log.
    """
    decision = policy.decide(kind_of(msg), sources, partner)
    if not decision.allowed:
        return None, decision
    return redact(msg, decision.redact), decision


def check_redactable(policy: Policy, message_types: Iterable[type[msgspec.Struct]]) -> None:
    """Fail fast if a redaction path names a field that cannot be reset."""
    types = list(message_types)
    paths = set(policy.always_redact) | {p for r in policy.rules for p in r.redact}
    for path in paths:
        if not any(_path_exists(t, path.split(".")) for t in types):
            raise PolicyError(path, "names no field of any message kind")


def _path_exists(tp: Any, parts: list[str]) -> bool:
    origin = typing.get_origin(tp)
    if origin in (list, tuple, typing.Union, types.UnionType):
        return any(
            _path_exists(a, parts)
            for a in typing.get_args(tp)
            if a is not type(None) and a is not Ellipsis
        )
    if not (isinstance(tp, type) and issubclass(tp, msgspec.Struct)):
        return False
    hints = typing.get_type_hints(tp)
    if parts[0] not in hints:
        return False
    return len(parts) == 1 or _path_exists(hints[parts[0]], parts[1:])
