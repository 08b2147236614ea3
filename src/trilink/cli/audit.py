"""``trilink audit verify FILE``: check a hash-chained audit log offline."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from trilink.cli.app import app
from trilink.errors import AuditError

audit_app = typer.Typer(help="Audit log tools.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="An audit log (JSON Lines) written by the hub."),
) -> None:
    """Verify an audit chain: exit 0 if intact, 1 if tampered, 2 if unreadable."""
    from trilink.policy import verify_audit

    err = Console(stderr=True)
    if not file.is_file():
        err.print(f"{file}: no such file")
        raise typer.Exit(2)
    try:
        count, head = verify_audit(file)
    except AuditError as exc:
        err.print(f"{file}:{exc.line}: {exc.reason}")
        raise typer.Exit(1) from None
    Console().print(f"{file}: {count} records, chain intact, head {head[:16]}…")
