"""``trilink export`` and ``trilink cot``: a recorded (or live) run for operators' tools.

- ``trilink export DIR --format czml|geojson|kml|cot|cap [--partner P] --out PATH``:
  what the hub released to partner ``P`` in a recording (``trilink run --record DIR``).
  CZML, GeoJSON, KML and CoT write one file; CAP writes one ``<identifier>.xml`` per
  warning into the directory ``PATH``. The CAP alerts are the Warning messages the
  partner received; a recording made without the warning rules (``--no-warnings``) has
  none, and then the rules are replayed over the partner's tracks (said on stderr).
- ``trilink cot --to tcp://HOST:PORT (DIR | --live NATS_URL) [--partner P]``: Cursor on
  Target events (track + impact ellipse) streamed to a TAK server or client, from a
  recording paced by its log times (``--speed``; 0 = as fast as possible), or live from
  the partner's release subject on NATS.

The partner defaults to the hub nation's own view (``hub_nation`` of the recording's
``run.json``, else ``USA``) when the recording holds it, else the first partner found. Bad input (missing or corrupt recording, unknown partner,
unwritable output, unreachable endpoint) is one line on stderr and exit code 2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from trilink.cli.app import app

if TYPE_CHECKING:
    from trilink.alerts.recorded import PartnerView
    from trilink.alerts.rules import ThreatInput
    from trilink.link.bus import Bus
    from trilink.link.recordlog import LogRecord

DEFAULT_PARTNER = "USA"
NS = 1_000_000_000


class Format(StrEnum):
    czml = "czml"
    geojson = "geojson"
    kml = "kml"
    cot = "cot"
    cap = "cap"


def _say(err: Console, text: str) -> None:
    """One line on stderr, never wrapped (scripts grep it)."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def _fail(err: Console, text: str) -> typer.Exit:
    _say(err, text)
    return typer.Exit(2)


def load_records(recording: Path, err: Console, what: str) -> list[LogRecord]:
    """The recording's records, or a one-line error and exit 2."""
    from trilink.alerts.recorded import log_path, read_records
    from trilink.errors import DecodeError

    path = log_path(recording)
    try:
        return read_records(recording)
    except FileNotFoundError:
        hint = " (a recording directory holds messages.tlog)" if recording.is_dir() else ""
        raise _fail(err, f"{what}: no recording at {path}{hint}") from None
    except IsADirectoryError:
        raise _fail(err, f"{what}: {path} is a directory, not a recording") from None
    except PermissionError:
        raise _fail(err, f"{what}: cannot read {path}: permission denied") from None
    except DecodeError as e:
        raise _fail(err, f"{what}: {path} is not a readable recording: {e.reason}") from None


def run_meta(recording: Path) -> dict[str, Any]:
    """The recording's ``run.json`` (hub nation, scenario name), or {} if absent/unreadable."""
    import json

    directory = recording if recording.is_dir() else recording.parent
    try:
        meta = json.loads((directory / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def choose_partner(
    records: Iterable[LogRecord],
    partner: str | None,
    err: Console,
    what: str,
    hub_nation: str | None = None,
) -> str:
    """The partner asked for (checked against the recording) or the default: the hub
    nation's own view (``run.json``; else ``USA``) when it received anything, else the
    first partner found."""
    from trilink.alerts.recorded import partners_in

    found = partners_in(records)
    if not found:
        raise _fail(err, f"{what}: the recording holds no hub releases (trilink.hub.out.*)")
    if partner is None:
        for preferred in (hub_nation, DEFAULT_PARTNER):
            if preferred in found:
                return preferred
        return found[0]
    if partner not in found:
        raise _fail(
            err, f"{what}: partner {partner!r} received nothing here (have {', '.join(found)})"
        )
    return partner


def view_of(recording: Path, partner: str | None, err: Console, what: str) -> PartnerView:
    from trilink.alerts.recorded import partner_view

    with err.status(f"reading {recording}"):
        records = load_records(recording, err, what)
        hub_nation = run_meta(recording).get("hub_nation")
        chosen = choose_partner(records, partner, err, what, hub_nation)
        view = partner_view(records, chosen)
    if view.skipped:
        _say(err, f"{what}: {view.skipped} records on {chosen}'s subjects did not decode; skipped")
    return view


@app.command("export")
def export_command(
    recording: Path = typer.Argument(
        ..., help="A recorded run: the directory of `trilink run --record DIR`, or its .tlog."
    ),
    fmt: Format = typer.Option(
        ...,
        "--format",
        "-f",
        help="czml (CesiumJS), geojson, kml, cot (one event per line), "
        "cap (one CAP 1.2 file per warning).",
    ),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output file; for --format cap, a directory (created)."
    ),
    partner: str | None = typer.Option(
        None,
        "--partner",
        "-p",
        help="Whose view: the partner the hub released to (default: the recording's hub "
        "nation from run.json, else USA, else the first found).",
    ),
) -> None:
    """Export what one partner received in a recorded run, for operators' tools."""
    from trilink.alerts.exports import export
    from trilink.alerts.recorded import threat_inputs

    err = Console(stderr=True)
    view = view_of(recording, partner, err, "export")
    if fmt is Format.cap:
        files, note = _cap_files(view, recording)
        if note:
            _say(err, note)
        _write_dir(out, files, err)
        _say(err, f"cap: {len(files)} alerts for {view.partner} -> {out}")
        return
    if not view.tracks:
        raise _fail(err, f"export: {view.partner} received no system tracks in {recording}")
    threats = threat_inputs(view)
    text = export(fmt.value, threats, name=f"trilink {recording.name} ({view.partner})")
    _write_file(out, text.encode("utf-8"), err)
    n_tracks = len({t.track_id for t in threats})
    _say(
        err,
        f"{fmt.value}: {len(threats)} states of {n_tracks} tracks released to "
        f"{view.partner} -> {out}",
    )


def _cap_files(view: PartnerView, recording: Path) -> tuple[list[tuple[str, bytes]], str]:
    from trilink.alerts import load_territory, to_cap_document
    from trilink.alerts.recorded import cap_documents, cycles
    from trilink.nodes.warnings import MAX_ID_PREFIX, replay_warnings

    if view.warnings:
        return cap_documents(view, partner_name=_partner_name(view.partner)), ""
    name = run_meta(recording).get("scenario")
    prefix = f"trilink-{name}"[:MAX_ID_PREFIX].rstrip("-") if name else "trilink"
    events = replay_warnings(cycles(view), load_territory(view.partner), id_prefix=prefix)
    note = (
        f"export: the recording holds no warnings for {view.partner} (run without the "
        f"warning rules?): {len(events)} replayed from its released tracks"
    )
    return [(f"{e.identifier}.xml", to_cap_document(e)) for e in events], note


def _partner_name(partner: str) -> str | None:
    from trilink.alerts.territory import geodata_manifest
    from trilink.errors import GeodataMissing

    try:
        entry = geodata_manifest().get("nations", {}).get(partner)
    except GeodataMissing:
        return None
    return entry.get("name") if entry else None


def _write_file(path: Path, data: bytes, err: Console) -> None:
    try:
        if path.parent != Path():
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise _fail(err, f"export: cannot write {path}: {e.strerror or e}") from None


def _write_dir(path: Path, files: Sequence[tuple[str, bytes]], err: Console) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in files:
            (path / name).write_bytes(data)
    except OSError as e:
        raise _fail(err, f"export: cannot write into {path}: {e.strerror or e}") from None


# --- trilink cot ---------------------------------------------------------------------------
def shifted(threat: ThreatInput, offset_ns: int) -> ThreatInput:
    """The same threat with every absolute time moved by ``offset_ns``."""
    if offset_ns == 0:
        return threat
    impact = threat.impact
    if impact is not None:
        impact = dataclasses.replace(impact, t_ns=impact.t_ns + offset_ns)
    launch_t = threat.launch_t_ns + offset_ns if threat.launch_t_ns is not None else None
    return dataclasses.replace(
        threat, t_ns=threat.t_ns + offset_ns, impact=impact, launch_t_ns=launch_t
    )


async def recorded_events(
    view: PartnerView, speed: float = 0.0, rebase_to_ns: int | None = None
) -> AsyncIterator[str]:
    """CoT events of a recording in log order; with ``speed`` > 0 paced so that log time
    advances ``speed`` times as fast as the wall clock; with ``rebase_to_ns`` every time
    shifted so that the first state is at that instant (TAK drops stale events)."""
    from trilink.alerts.cot import cot_events
    from trilink.alerts.recorded import stream_times

    items = list(stream_times(view))
    if not items:
        return
    first_log = items[0][0]
    offset = 0 if rebase_to_ns is None else rebase_to_ns - items[0][1].t_ns
    start = time.monotonic()
    rel = (view.partner,)
    for log_t, threat in items:
        if speed > 0:
            wait = (log_t - first_log) / NS / speed - (time.monotonic() - start)
            if wait > 0:
                await asyncio.sleep(wait)
        for event in cot_events(shifted(threat, offset), releasable_to=rel):
            yield event


async def live_events(bus: Bus, partner: str, count: int | None = None) -> AsyncIterator[str]:
    """CoT events of the system tracks released to ``partner`` as they arrive on ``bus``
    (decoded and validated; undecodable payloads are skipped); stops after ``count``
    tracks if given."""
    from trilink.alerts.cot import cot_events
    from trilink.alerts.recorded import threat_inputs_of
    from trilink.errors import DecodeError
    from trilink.link.codec import iter_payload_messages
    from trilink.link.subjects import hub_out
    from trilink.messages import SystemTrack

    seen = 0
    async with bus.subscribe(hub_out(partner, "tracks")) as sub:
        async for m in sub:
            try:  # a message or a bundle of them
                msgs = iter_payload_messages(m.payload)
            except DecodeError:
                continue
            for msg in msgs:
                if not isinstance(msg, SystemTrack):
                    continue
                for threat in threat_inputs_of([msg]):
                    for event in cot_events(threat, releasable_to=msg.releasability):
                        yield event
                seen += 1
                if count is not None and seen >= count:
                    return


@app.command("cot")
def cot_command(
    to: str = typer.Option(
        ...,
        "--to",
        help="TAK endpoint: tcp://HOST:PORT (TAK server or ATAK TCP input) or udp://HOST:PORT.",
    ),
    recording: Path | None = typer.Argument(
        None, help="A recorded run (directory or .tlog); or give --live."
    ),
    live: str | None = typer.Option(
        None, "--live", help="NATS URL: stream the partner's releases as they happen."
    ),
    partner: str | None = typer.Option(
        None,
        "--partner",
        "-p",
        help="Whose releases (default: the recording's hub nation, else USA, else the "
        "first found; required with --live).",
    ),
    speed: float = typer.Option(
        0.0,
        "--speed",
        min=0.0,
        help="Replay pace: log seconds per wall second (1 = real time); 0 = as fast as possible.",
    ),
    rebase: bool = typer.Option(
        False,
        "--rebase",
        help="Shift a recording's times so it starts now (TAK hides "
        "events whose stale time has passed).",
    ),
    count: int | None = typer.Option(
        None, "--count", min=1, help="With --live: stop after this many tracks."
    ),
) -> None:
    """Stream Cursor on Target events (missile tracks and impact ellipses) to TAK."""
    from trilink.alerts.cot import parse_cot_url

    err = Console(stderr=True)
    try:
        parse_cot_url(to)
    except ValueError as e:
        raise _fail(err, f"cot: {e}") from None
    if (recording is None) == (live is None):
        raise _fail(err, "cot: give a recording DIR or --live NATS_URL (one of them)")
    if live is not None:
        if partner is None:
            raise _fail(err, "cot: --live needs --partner")
        sent = _run(err, _stream_live(live, partner, to, count))
        _say(err, f"cot: {sent} events to {to}")
        return
    assert recording is not None
    view = view_of(recording, partner, err, "cot")
    if not view.tracks:
        raise _fail(err, f"cot: {view.partner} received no system tracks in {recording}")
    rebase_ns = time.time_ns() if rebase else None
    events = recorded_events(view, speed, rebase_ns)
    sent = _run(err, _stream(events, to))
    _say(
        err,
        f"cot: {sent} events ({len(view.tracks)} track states released to {view.partner}) to {to}",
    )


async def _stream(events: AsyncIterator[str], to: str) -> int:
    from trilink.alerts.cot import stream_cot

    return await stream_cot(events, to)


async def _stream_live(url: str, partner: str, to: str, count: int | None) -> int:
    from trilink.link.nats_bus import NatsBus

    bus = await NatsBus.connect(url)
    try:
        return await stream_cot_from_bus(bus, partner, to, count)
    finally:
        await bus.close()


async def stream_cot_from_bus(bus: Bus, partner: str, to: str, count: int | None) -> int:
    from trilink.alerts.cot import stream_cot

    return await stream_cot(live_events(bus, partner, count), to)


def _run(err: Console, coro: Coroutine[Any, Any, int]) -> int:
    from trilink.errors import BusError

    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        err.print("cot: stopped")
        raise typer.Exit(130) from None
    except BusError as e:
        raise _fail(err, f"cot: {e}") from None
    except (OSError, TimeoutError) as e:
        raise _fail(err, f"cot: cannot reach the endpoint: {e}") from None
