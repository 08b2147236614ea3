"""``trilink decode``: link payloads (MessagePack, hex, JSON) or a recorded log, as JSON.

One message prints as indented JSON on stdout; a recorded log (``.tlog``) prints one JSON
object per record (JSON Lines): ``{"t_ns", "subject", "headers", "message"}`` or, for a
record that does not decode, ``"error": {"field", "reason"}`` in place of ``message``.
A bundle prints as its envelope with ``items`` decoded: a list of the messages it carries
(each with its empty signature); ``--keys`` checks the bundle's one signature.
With ``--keys`` every message's signature is checked and the verdict added as
``"signature": "valid"`` or the reason it is not. Notes go to stderr, so stdout pipes.
"""

from __future__ import annotations

import json
import string
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from trilink.cli.app import app

_HEX = set(string.hexdigits)


class Format(StrEnum):
    auto = "auto"
    msgpack = "msgpack"
    hex = "hex"
    json = "json"
    log = "log"


def sniff(data: bytes) -> Format:
    """Guess the input format: log magic, hex text, JSON object, else MessagePack."""
    from trilink.link.recordlog import is_log

    if is_log(data):
        return Format.log
    digits = b"".join(data.split())
    if digits and len(digits) % 2 == 0 and all(chr(b) in _HEX for b in digits):
        return Format.hex
    if digits.startswith(b"{"):
        return Format.json
    return Format.msgpack


@app.command("decode")
def decode_command(
    source: str = typer.Argument(
        "-", help="File to read (a payload, hex text, JSON, or a .tlog log); '-' = stdin."
    ),
    fmt: Format = typer.Option(
        Format.auto, "--format", "-f", help="Input format; 'auto' guesses from the content."
    ),
    keys: Path | None = typer.Option(
        None,
        "--keys",
        help='Keyring JSON {"KOR": "<public key hex>", ...}: check every signature.',
    ),
    nodes: list[str] = typer.Option(
        [],
        "--node",
        help="A known node id (repeatable); with any given, other ids are refused.",
    ),
    compact: bool = typer.Option(False, "--compact", help="One line per message."),
) -> None:
    """Decode trilink link messages and print them as JSON for people (exit 2 on bad input)."""
    from trilink.link.codec import Decoder

    err = Console(stderr=True)
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as e:
        err.print(f"decode: cannot read {source}: {e.strerror}")
        raise typer.Exit(2) from None
    keyring = _load_keys(keys, err)
    decoder = Decoder(nodes or None)
    kind = sniff(data) if fmt is Format.auto else fmt
    if kind is Format.log:
        _print_log(data, decoder, keyring, err)
        return
    try:
        payload = (
            bytes.fromhex("".join(data.decode("ascii").split())) if kind is Format.hex else data
        )
    except (UnicodeDecodeError, ValueError):
        err.print("decode: input is not hex text")
        raise typer.Exit(2) from None
    out = _decode_one(payload, decoder, keyring, as_json=kind is Format.json)
    if "error" in out:
        problem = out["error"]
        err.print(f"decode: {problem['field']}: {problem['reason']}", markup=False, highlight=False)
        raise typer.Exit(2)
    sys.stdout.write(_dump(out["message"] | _sig(out), compact) + "\n")
    if "signature" in out and out["signature"] != "valid":
        err.print(f"decode: signature: {out['signature']}", markup=False, highlight=False)
        raise typer.Exit(2)


def _sig(out: dict[str, Any]) -> dict[str, Any]:
    return {"signature_check": out["signature"]} if "signature" in out else {}


def _dump(obj: Any, compact: bool) -> str:
    return json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj, indent=2)


def _load_keys(path: Path | None, err: Console) -> Any:
    if path is None:
        return None
    from trilink.link.signing import Keyring

    try:
        return Keyring.load(path)
    except (OSError, ValueError) as e:
        err.print(f"decode: cannot use keyring {path}: {e}", markup=False, highlight=False)
        raise typer.Exit(2) from None


def _decode_one(payload: bytes, decoder: Any, keyring: Any, *, as_json: bool) -> dict[str, Any]:
    from trilink.errors import DecodeError, VerificationError
    from trilink.link.codec import encode_json, open_bundle
    from trilink.messages import Bundle

    try:
        msg = decoder.decode_json_payload(payload) if as_json else decoder.decode_payload(payload)
        items = open_bundle(msg, decoder) if isinstance(msg, Bundle) else None
    except DecodeError as e:
        return {"error": {"field": e.field, "reason": e.reason}}
    out: dict[str, Any] = {"message": json.loads(encode_json(msg))}
    if items is not None:
        out["message"]["items"] = [json.loads(encode_json(m)) for m in items]
    if keyring is not None:
        try:
            keyring.verify(msg)
            out["signature"] = "valid"
        except VerificationError as e:
            out["signature"] = e.reason
    return out


def _print_log(data: bytes, decoder: Any, keyring: Any, err: Console) -> None:
    from trilink.errors import DecodeError
    from trilink.link.recordlog import iter_records

    n = bad = 0
    try:
        for rec in iter_records(data, strict=False):
            n += 1
            out = _decode_one(rec.payload, decoder, keyring, as_json=False)
            bad += "error" in out
            line = {"t_ns": rec.t_ns, "subject": rec.subject, "headers": rec.headers, **out}
            sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")
    except DecodeError as e:
        err.print(f"decode: log: {e.reason}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    err.print(f"{n} records, {bad} not decodable", markup=False, highlight=False)
