"""What the single-process benchmarks share: running on one CPU."""

from __future__ import annotations

import os


def pin_to_one_cpu() -> str:
    """Pin this process to the first CPU it may use; say which (or why not)."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this OS)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"
