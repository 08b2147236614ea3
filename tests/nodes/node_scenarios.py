"""Scenario files for the tests that start real processes (``trilink hub``/``node``)."""

from __future__ import annotations

from pathlib import Path

from trilink.scenario.loader import builtin_path


def one_srbm(path: Path, duration_s: float) -> Path:
    """The built-in korea-japan scenario with its first launch only, for ``duration_s``,
    written to ``path`` (a file the processes can read)."""
    out: list[str] = []
    launches, dropping = 0, False
    for line in builtin_path("korea-japan").read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            launches += line == "[[launches]]"
            dropping = line == "[[launches]]" and launches > 1
        if not dropping:
            out.append(line)
        if line.strip() == "seed = 1":
            out.append(f"duration_s = {duration_s}")
    path.write_text("\n".join(out) + "\n")
    return path
