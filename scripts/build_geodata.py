#!/usr/bin/env python3
"""Build trilink's territory polygons from the npm package world-atlas (set-up time only).

    npm ci
    .venv/bin/python scripts/build_geodata.py

reads node_modules/world-atlas/countries-50m.json (Natural Earth 1:50m, TopoJSON),
decodes it with trilink.alerts.topojson, buffers each partner's land by 12 and 200
nautical miles on WGS84 (trilink.alerts.geodata) and writes WKB + GeoJSON files to
src/trilink/alerts/data/ (gitignored; never committed). Nothing is downloaded here and
nothing at run time: the data arrive only through `npm ci` and the committed lock file.
Idempotent: skips the work when the outputs match the source file's checksum, unless
--force.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from trilink.alerts.geodata import FORMAT_VERSION, build_territories, write_geodata  # noqa: E402

DEFAULT_SOURCE = ROOT / "node_modules" / "world-atlas" / "countries-50m.json"
DEFAULT_OUT = ROOT / "src" / "trilink" / "alerts" / "data"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="world-atlas countries TopoJSON"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)

    if not args.source.is_file():
        print(
            f"build_geodata: {args.source} not found; run `npm ci` in {ROOT} first", file=sys.stderr
        )
        return 2
    raw = args.source.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    manifest = args.out / "manifest.json"
    if manifest.is_file() and not args.force:
        old = json.loads(manifest.read_text())
        if (
            old.get("source", {}).get("sha256") == digest
            and old.get("format_version") == FORMAT_VERSION
        ):
            print(f"build_geodata: {args.out} is up to date")
            return 0
    package = json.loads((args.source.parent / "package.json").read_text())
    start = time.perf_counter()
    territories = build_territories(json.loads(raw))
    source = {
        "package": f"{package['name']}@{package['version']}",
        "file": args.source.name,
        "sha256": digest,
        "data": "Natural Earth 4.1.0 Admin-0 countries 1:50m (public domain)",
    }
    written = write_geodata(args.out, territories.values(), source)
    took = time.perf_counter() - start
    print(f"build_geodata: wrote {len(written)} files to {args.out} in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
