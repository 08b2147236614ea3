"""The ``trilink`` command. Each command group lives in its own module of this package."""

from trilink.cli.app import app, main

__all__ = ["app", "main"]
