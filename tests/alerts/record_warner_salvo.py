"""Record the hub warner's inputs and outputs over one SRBM-salvo trial (a test fixture).

Writes ``tests/alerts/data/warner_salvo.msgpack.gz``: every call the hub made to its
warner (partner, cycle time, the SystemTracks released to that partner) and every
warning it returned, as the warner of the commit it was run on decided them. The test
``test_alerts_warner_fast.py`` replays the calls through today's warner and asks for the
same warnings, byte for byte (Warning messages and CAP documents).

How it was made (the committed file): on the warner before the speed work (commit
3a66fe6), ``.venv/bin/python tests/alerts/record_warner_salvo.py``: the built-in
scenario ``korea-japan`` limited to launches srbm-1..3, configuration "trilateral",
seed 1000, through :func:`trilink.evaluate.montecarlo.run_trial` (the real hub).

Space: a SystemTrack's envelope fields (message id, seq, sent time, signature,
releasability) are cleared before storing, so the three partners' copies of one
product are stored once; the replay puts ``releasability=(partner,)`` back. The warner
reads none of those fields.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import subprocess
import sys
from pathlib import Path

import msgspec

from trilink import messages
from trilink.alerts import to_cap_document

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "warner_salvo.msgpack.gz"
LAUNCHES = ("srbm-1", "srbm-2", "srbm-3")
CONFIG, SEED = "trilateral", 1000


def strip(msg: messages.SystemTrack) -> messages.SystemTrack:
    """The content of a released track without its per-partner envelope."""
    return msgspec.structs.replace(
        msg, message_id="", seq=0, sent_ns=0, signature=b"", releasability=()
    )


def main() -> None:
    import trilink.nodes.warnings as w
    from trilink.evaluate.montecarlo import run_trial
    from trilink.scenario import load_scenario

    products: dict[bytes, int] = {}
    calls: list[list] = []
    warnings: list[bytes] = []
    caps: list[bytes] = []
    real = w.make_warner

    def recording(scenario):
        warner = real(scenario)

        def call(partner, tracks, t_ns):
            idx = []
            for m in tracks:
                body = msgspec.msgpack.encode(strip(m))
                idx.append(products.setdefault(body, len(products)))
            events = warner.events(partner, tracks, t_ns)
            out = [w.warning_message(e) for e in events]
            calls.append([partner, int(t_ns), idx, len(warnings)])
            warnings.extend(msgspec.msgpack.encode(m) for m in out)
            caps.extend(to_cap_document(e) for e in events)
            return out

        call.warner = warner  # type: ignore[attr-defined]
        return call

    w.make_warner = recording
    sc = load_scenario("korea-japan")
    sc = dataclasses.replace(sc, launches=tuple(x for x in sc.launches if x.id in LAUNCHES))
    run_trial(sc, CONFIG, SEED)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    record = {
        "made_by": "tests/alerts/record_warner_salvo.py",
        "commit": commit,
        "scenario": sc.name,
        "launches": list(LAUNCHES),
        "config": CONFIG,
        "seed": SEED,
        "products": list(products),
        "calls": calls,
        "warnings": warnings,
        "caps_sha256": [hashlib.sha256(c).hexdigest() for c in caps],
    }
    DATA.parent.mkdir(exist_ok=True)
    DATA.write_bytes(gzip.compress(msgspec.msgpack.encode(record), mtime=0))
    print(
        f"{DATA}: {len(calls)} calls, {len(products)} products, {len(warnings)} warnings, "
        f"{DATA.stat().st_size / 1e3:.0f} kB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
