"""Root typer application; command modules register themselves on import."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="trilink",
    help="Open coalition missile-warning data link: simulate, track, fuse, share, warn.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    # Import command modules for their registration side effect.
    from trilink.cli import commands  # noqa: F401

    app()
