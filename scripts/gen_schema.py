#!/usr/bin/env python3
"""Regenerate the contract's derived files: JSON Schema, golden vectors, ICD field tables.

    .venv/bin/python scripts/gen_schema.py            # rewrite what changed
    .venv/bin/python scripts/gen_schema.py --check    # exit 1 if anything is stale

Run it after any change to src/trilink/messages.py, and commit what it writes; the tests
in tests/messages/ fail until you do. The work is done by trilink.link.schema.
"""

import sys
from pathlib import Path

from trilink.link.schema import main

if __name__ == "__main__":
    repo = Path(__file__).resolve().parent.parent
    raise SystemExit(main([str(repo), *sys.argv[1:]]))
