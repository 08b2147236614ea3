"""The simulated link's options, shared by ``trilink run`` and ``trilink evaluate``: its
one-way partner <-> hub latency and the jitter on it (``RunConfig.latency_s`` and
``latency_jitter_s``, :mod:`trilink.nodes.simrun`)."""

from __future__ import annotations

from typing import Any

import typer

DEFAULT_LATENCY_MS = 120.0
MAX_MS = 60_000.0
"""A minute each way: a bound that keeps the run finite (an infinite delay is no link)."""


def latency_ms_option(note: str = "") -> Any:
    """``--latency-ms``: one-way partner <-> hub latency; ``note`` ends the help text."""
    return typer.Option(
        DEFAULT_LATENCY_MS,
        "--latency-ms",
        min=0.0,
        max=MAX_MS,
        help=f"One-way partner <-> hub link latency{note}.",
    )


def latency_jitter_ms_option(seed: str = "the run's seed") -> Any:
    """``--latency-jitter-ms``: the mean random extra delay per message on each leg."""
    return typer.Option(
        0.0,
        "--latency-jitter-ms",
        min=0.0,
        max=MAX_MS,
        help="Mean random extra delay per message on each partner <-> hub leg "
        f"(exponential, from {seed}; each leg stays in order; simulated runs only).",
    )
