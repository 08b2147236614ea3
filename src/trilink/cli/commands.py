"""Imports every command module so that each registers on ``app``."""
from trilink.cli import audit  # noqa: F401
from trilink.cli import scenario  # noqa: F401
from trilink.cli import trajectory  # noqa: F401
from trilink.cli import decode  # noqa: F401
from trilink.cli import deploy  # noqa: F401
from trilink.cli import run  # noqa: F401
from trilink.cli import web  # noqa: F401
from trilink.cli import live  # noqa: F401
from trilink.cli import track  # noqa: F401
from trilink.cli import export  # noqa: F401
from trilink.cli import evaluate  # noqa: F401
