"""Generate what is derived from the contract: JSON Schema, golden vectors, ICD field tables.

``python -m trilink.link.schema`` (or ``scripts/gen_schema.py``) rewrites them;
``--check`` only compares and exits 1 on drift (the tests do the same comparison).

Outputs, relative to the repository root:

- ``docs/schema/trilink-messages-v1.schema.json``: every wire kind, bundle included (JSON Schema 2020-12,
  a ``oneOf`` discriminated by ``kind``). Every property is listed as required because the
  canonical encoding carries every field (the decoder fills absent defaulted fields, but
  then the signature, computed over all fields, is what decides);
- ``docs/schema/deadletter.schema.json``: the dead-letter record;
- ``tests/messages/golden/``: per kind ``<kind>.msgpack.hex`` (wire bytes),
  ``<kind>.signing_input.hex`` (the bytes signed) and ``<kind>.json``; ``public_key.hex``;
- ``docs/icd.md``: the tables between the ``BEGIN GENERATED`` / ``END GENERATED`` markers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from trilink.link.codec import encode, encode_json
from trilink.link.deadletter import DeadLetter
from trilink.link.golden import RFC8032_TEST1_PUBLIC, signed_examples
from trilink.link.signing import signing_input
from trilink.messages import PAYLOAD_TYPES, SCHEMA_VERSION, Envelope, Payload

SCHEMA_PATH = Path("docs/schema/trilink-messages-v1.schema.json")
DEADLETTER_SCHEMA_PATH = Path("docs/schema/deadletter.schema.json")
GOLDEN_DIR = Path("tests/messages/golden")
ICD_PATH = Path("docs/icd.md")
BEGIN = "<!-- BEGIN GENERATED: field tables (python -m trilink.link.schema) -->"
END = "<!-- END GENERATED -->"


def _all_required(schema: dict[str, Any]) -> dict[str, Any]:
    for d in schema.get("$defs", {}).values():
        if d.get("type") == "object":
            d["required"] = list(d["properties"])
    return schema


def message_schema() -> dict[str, Any]:
    s = _all_required(msgspec.json.schema(Payload))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"trilink messages, ICD version {SCHEMA_VERSION}",
        "description": "Generated from trilink/messages.py; see docs/icd.md.",
        "oneOf": s["anyOf"],
        "discriminator": s["discriminator"],
        "$defs": s["$defs"],
    }


def deadletter_schema() -> dict[str, Any]:
    s = msgspec.json.schema(DeadLetter)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **s}


def _json_text(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def golden_files() -> dict[Path, bytes]:
    out = {GOLDEN_DIR / "public_key.hex": RFC8032_TEST1_PUBLIC.hex().encode() + b"\n"}
    for name, msg in signed_examples().items():
        out[GOLDEN_DIR / f"{name}.msgpack.hex"] = encode(msg).hex().encode() + b"\n"
        out[GOLDEN_DIR / f"{name}.signing_input.hex"] = signing_input(msg).hex().encode() + b"\n"
        out[GOLDEN_DIR / f"{name}.json"] = _json_text(json.loads(encode_json(msg)))
    return out


# --- ICD tables ----------------------------------------------------------------------------
def _type(p: dict[str, Any]) -> str:
    if "$ref" in p:
        name = p["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in p:
        return " or ".join(_type(q) for q in p["anyOf"])
    if "enum" in p:
        return " \\| ".join(f"`{v}`" for v in p["enum"])
    t = p.get("type")
    if t == "array":
        if "prefixItems" in p:
            return "[" + ", ".join(_type(q) for q in p["prefixItems"]) + "]"
        n_min, n_max = p.get("minItems"), p.get("maxItems")
        size = f"{n_min}" if n_min is not None and n_min == n_max else f"≤ {n_max}" if n_max else ""
        return f"array[{size}] of {_type(p['items'])}"
    if t == "string" and p.get("contentEncoding") == "base64":
        return "bytes"
    return str(t)


def _limits(p: dict[str, Any]) -> str:
    if "anyOf" in p:
        return "; ".join(filter(None, (_limits(q) for q in p["anyOf"])))
    parts = []
    lo, hi = (
        p.get("minimum", p.get("exclusiveMinimum")),
        p.get("maximum", p.get("exclusiveMaximum")),
    )
    if lo is not None or hi is not None:
        left = "(" if "exclusiveMinimum" in p else "["
        right = ")" if "exclusiveMaximum" in p else "]"
        parts.append(f"{left}{'' if lo is None else lo}, {'' if hi is None else hi}{right}")
    if "minLength" in p or "maxLength" in p:
        parts.append(f"length {p.get('minLength', 0)}..{p.get('maxLength', '')}")
    if "pattern" in p:
        parts.append(f"`{p['pattern']}`")
    if p.get("type") == "array" and "items" in p and isinstance(p["items"], dict):
        inner = _limits(p["items"])
        if inner:
            parts.append(f"each {inner}")
    return "; ".join(parts)


def _description(p: dict[str, Any]) -> str:
    d = p.get("description") or next(
        (q["description"] for q in p.get("anyOf", []) if "description" in q), ""
    )
    return " ".join(d.split())


def _table(defn: dict[str, Any], skip: set[str]) -> list[str]:
    rows = ["| field | type | range / form | meaning |", "|---|---|---|---|"]
    for name, p in defn["properties"].items():
        if name in skip:
            continue
        default = f" Default `{json.dumps(p['default'])}`." if "default" in p else ""
        rows.append(f"| `{name}` | {_type(p)} | {_limits(p)} | {_description(p)}{default} |")
    return rows


def field_tables() -> str:
    """Markdown tables of the envelope, each message kind and each nested value."""
    defs = msgspec.json.schema(Payload)["$defs"]
    env_fields = list(Envelope.__struct_fields__)
    first = defs[PAYLOAD_TYPES[0].__name__]
    kinds = [str(t.__struct_config__.tag) for t in PAYLOAD_TYPES]
    kind_prop = {"enum": kinds, "description": "Message kind (the tag): always the first key."}
    env = {"properties": {"kind": kind_prop} | {k: first["properties"][k] for k in env_fields}}
    sizes = ", ".join(f"{k} {len(encode(m))}" for k, m in signed_examples().items())
    lines = [f"Encoded sizes of the golden vectors, in bytes, as a guide: {sizes}.", ""]
    lines += ["### Envelope", "", "Every message starts with these fields, in this order.", ""]
    lines += _table(env, set())
    for t in PAYLOAD_TYPES:
        d = defs[t.__name__]
        tag = t.__struct_config__.tag
        lines += ["", f"### {t.__name__}", "", f"`kind` = `{tag}`. {_description(d)}", ""]
        lines += _table(d, {"kind", *env_fields})
    nested = sorted(set(defs) - {t.__name__ for t in PAYLOAD_TYPES})
    for name in nested:
        lines += ["", f"### {name}", "", _description(defs[name]), ""]
        lines += _table(defs[name], set())
    return "\n".join(lines) + "\n"


def render_icd(text: str) -> str:
    """``text`` with the generated section replaced by the current tables."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{ICD_PATH} lacks the generated-section markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n\n{field_tables()}\n{END}{tail}"


def outputs(root: Path) -> dict[Path, bytes]:
    """Every generated file (relative path -> content) for the repository at ``root``."""
    out = {
        SCHEMA_PATH: _json_text(message_schema()),
        DEADLETTER_SCHEMA_PATH: _json_text(deadletter_schema()),
        **golden_files(),
    }
    icd = root / ICD_PATH
    if icd.exists():
        out[ICD_PATH] = render_icd(icd.read_text()).encode()
    return out


def drift(root: Path) -> list[Path]:
    """Generated files whose committed content differs from the code's (or is missing)."""
    return [
        rel
        for rel, content in outputs(root).items()
        if not (root / rel).exists() or (root / rel).read_bytes() != content
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(next((a for a in args if not a.startswith("-")), "."))
    if "--check" in args:
        stale = drift(root)
        for rel in stale:
            print(f"out of date: {rel}", file=sys.stderr)
        return 1 if stale else 0
    for rel, content in outputs(root).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != content:
            path.write_bytes(content)
            print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
