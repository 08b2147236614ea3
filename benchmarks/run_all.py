"""Run every ``benchmarks/bench_*.py``, each in its own process, and print a summary.

Each benchmark runs as ``python bench_x.py [--quick]`` with this interpreter, from the
repository root, its output streamed as it comes (prefixed with its name). ``--quick`` is
passed only to the benchmarks whose source declares a ``--quick`` option; the others run
as they are (their own defaults). The summary gives, per benchmark, its exit status, wall
time and its result lines: the lines it printed that start with ``summary:``, or else its
last line. The exit code is 1 if any benchmark failed (or timed out), else 0.

``make bench`` runs this. Benchmarks measure; they never assert timing (see
benchmarks/README.md for what each measures and the latest figures).

Run: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only NAME] [--skip NAME]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass
class Outcome:
    name: str
    returncode: int | None  # None: timed out
    wall_s: float
    lines: list[str] = field(default_factory=list)

    @property
    def results(self) -> list[str]:
        marked = [x.split("summary:", 1)[1].strip() for x in self.lines if x.startswith("summary:")]
        if marked:
            return marked
        last = [x for x in self.lines if x.strip()]
        return last[-1:]


def discover(only: list[str], skip: list[str]) -> list[Path]:
    """bench_*.py files, sorted by name, filtered by substrings of their names."""
    paths = sorted(HERE.glob("bench_*.py"))
    if only:
        paths = [p for p in paths if any(o in p.stem for o in only)]
    return [p for p in paths if not any(s in p.stem for s in skip)]


def supports_quick(path: Path) -> bool:
    """Whether the script declares a ``--quick`` option (read from its source, so that
    finding out costs no import)."""
    text = path.read_text(encoding="utf-8")
    return '"--quick"' in text or "'--quick'" in text


def run_one(path: Path, quick: bool, timeout_s: float | None) -> Outcome:
    cmd = [sys.executable, str(path)]
    if quick and supports_quick(path):
        cmd.append("--quick")
    print(f"=== {path.name}: {' '.join(cmd[1:])}", flush=True)
    out = Outcome(path.stem, None, 0.0)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )

    def pump() -> None:  # stream as it comes, keep for the summary
        assert proc.stdout is not None
        for line in proc.stdout:
            out.lines.append(line.rstrip("\n"))
            print(f"[{path.stem}] {out.lines[-1]}", flush=True)

    # A reader thread, so that a benchmark that hangs without printing still times out.
    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        out.returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()  # our own child, by its handle
        proc.wait()
        out.lines.append(f"timed out after {timeout_s:g} s")
    reader.join(timeout=5.0)
    out.wall_s = time.perf_counter() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick where supported")
    ap.add_argument("--only", action="append", default=[], help="run only names containing this")
    ap.add_argument("--skip", action="append", default=[], help="skip names containing this")
    ap.add_argument("--timeout", type=float, default=None, help="per-benchmark limit [s]")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args()

    paths = discover(args.only, args.skip)
    if args.list:
        for p in paths:
            print(f"{p.name}{'  (--quick)' if supports_quick(p) else ''}")
        return 0
    if not paths:
        print("no benchmark matches", file=sys.stderr)
        return 2
    outcomes = [run_one(p, args.quick, args.timeout) for p in paths]

    print("\n=== summary" + (" (--quick where supported)" if args.quick else ""))
    width = max(len(o.name) for o in outcomes)
    for o in outcomes:
        status = (
            "ok"
            if o.returncode == 0
            else ("TIMEOUT" if o.returncode is None else f"FAILED ({o.returncode})")
        )
        results = o.results or ["(no output)"]
        print(f"{o.name:<{width}}  {status:<11} {o.wall_s:7.1f} s  {results[0]}")
        for extra in results[1:]:
            print(f"{'':<{width}}  {'':<11} {'':>9}  {extra}")
    return 0 if all(o.returncode == 0 for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
