"""``trilink serve DIR``: the web COP of a recorded run, replayed in (scaled) real time.

DIR is what ``trilink run --record DIR`` wrote; its ``messages.tlog`` holds the hub's
releases to every partner. Each partner's page (``/p/<PARTNER>``) shows only what was
released to that partner. Signatures are verified with ``--keys`` (or ``DIR/keyring.json``
when present).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import typer
from rich.console import Console

from trilink.cli.app import app


@app.command("serve")
def serve_command(
    directory: Path = typer.Argument(
        ..., help="Run directory written by 'trilink run --record DIR' (holds messages.tlog)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on (0: any free port)."),
    speed: float = typer.Option(
        1.0, "--speed", help="Replay speed: 1 = real time, 10 = ten times faster."
    ),
    keys: Path | None = typer.Option(
        None,
        "--keys",
        help='Keyring JSON {"HUB": "<public key hex>", ...} to verify the hub\'s signatures '
        "(default: DIR/keyring.json if present; otherwise signatures are not checked).",
    ),
    partners: list[str] = typer.Option(
        [],
        "--partner",
        help="Serve only this partner's page (repeatable; default: every partner in the log).",
    ),
    from_start: bool = typer.Option(
        False,
        "--from-start",
        help="Replay from the start of the recording, not 5 s before the hub's first release.",
    ),
) -> None:
    """Serve each partner's live picture (map, tracks, warnings, timeline) from a recording."""
    from trilink.errors import AssetsMissing, DecodeError
    from trilink.link import Keyring
    from trilink.web import ReplayFeed, WebServer, create_app
    from trilink.web.assets import find_assets

    err = Console(stderr=True)
    out = Console()
    log = directory / "messages.tlog" if directory.is_dir() else directory
    if not log.is_file():
        err.print(f"serve: no recording at {log} (run 'trilink run SCENARIO --record DIR')")
        raise typer.Exit(2)
    if not speed > 0:
        err.print(f"serve: --speed must be > 0, got {speed}")
        raise typer.Exit(2)
    keyfile = keys if keys is not None else log.parent / "keyring.json"
    keyring = None
    if keys is not None or keyfile.is_file():
        try:
            keyring = Keyring.load(keyfile)
        except (OSError, ValueError) as e:
            err.print(f"serve: cannot read keyring {keyfile}: {e}")
            raise typer.Exit(2) from None
    try:
        assets = find_assets()
        feed = ReplayFeed(
            log,
            speed,
            keyring=keyring,
            partners=[p.upper() for p in partners] or None,
            skip_to_first_s=None if from_start else 5.0,
        )
        served = list(feed.partners)
        app_ = create_app(feed, served, assets=assets)
    except AssetsMissing as e:
        err.print(f"serve: {e}")
        raise typer.Exit(2) from None
    except DecodeError as e:
        err.print(f"serve: {log}: {e.reason}")
        raise typer.Exit(2) from None
    except ValueError as e:
        err.print(f"serve: {e}")
        raise typer.Exit(2) from None

    async def run() -> None:
        try:
            web = WebServer(app_, host, port)
        except OSError as e:
            err.print(f"serve: cannot listen on {host}:{port}: {e.strerror}")
            raise typer.Exit(2) from None
        await web.start()
        span = (feed.t_end_ns - feed.t_start_ns) / 1e9
        out.print(
            f"replaying {len(feed.records)} hub releases ({span:.0f} s of recorded time) "
            f"at x{speed:g}; signatures {'verified' if keyring else '[yellow]not verified[/]'}"
        )
        for p in served:
            out.print(f"  {p}: {web.url}/p/{p}")
        out.print("Ctrl-C to stop")
        try:
            await web.wait_closed()
        finally:
            await web.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
