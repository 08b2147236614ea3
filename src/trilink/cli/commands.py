"""Imports every command module so that each registers on ``app``."""

from trilink.cli import (
    audit,  # noqa: F401
    decode,  # noqa: F401
    deploy,  # noqa: F401
    evaluate,  # noqa: F401
    export,  # noqa: F401
    hub,  # noqa: F401
    live,  # noqa: F401
    run,  # noqa: F401
    scenario,  # noqa: F401
    track,  # noqa: F401
    trajectory,  # noqa: F401
    web,  # noqa: F401
)
