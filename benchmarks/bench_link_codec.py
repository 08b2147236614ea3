"""What one message costs on the link, and what a signed bundle saves (issues 4 and 7).

Printed, all in the same run (CPU time per message, the best of ``--repeats`` rounds
after a warm-up, on one pinned core):

* Ed25519 verify and sign of one TrackReport (its 0.8 kB signing input): ``cryptography``
  (OpenSSL) against PyNaCl (libsodium), which :mod:`trilink.link.signing` now uses for
  small inputs; and both on a 760 kB input (a bundle of 1,000 reports), where OpenSSL's
  hashing wins and trilink switches to it;
* decode + validate of one TrackReport: the code of ``--before`` (a git revision, default
  the commit before this work; its ``link/validate.py`` is loaded from git and run on
  msgspec's decode of the same bytes) against the current ``Decoder.decode``;
* per report, sender and receiver: 1,000 TrackReports as single signed messages
  (``Stamper.seal`` / ``Receiver``), with libsodium and, for reference, with OpenSSL
  verify (the code before this work); then as bundles of 100 (10 bundles) and of 1,000
  (one bundle) (``stamp(sign=False)`` + ``Stamper.bundle`` / ``Receiver.receive_all``).
  Every receive includes the replay guard, as on a node.

Run: ``.venv/bin/python benchmarks/bench_link_codec.py [--repeats 5] [--before REV]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import msgspec
import nacl.bindings

from trilink.link import signing
from trilink.link.codec import Decoder, _msgpack_decoder, encode
from trilink.link.golden import golden_key, signed_examples
from trilink.link.guard import ReplayGuard
from trilink.link.receive import Receiver
from trilink.link.signing import Keyring, Signer, signing_input
from trilink.link.stamp import Stamper
from trilink.link.subjects import tracks
from trilink.messages import TrackReport

ROOT = Path(__file__).resolve().parents[1]
NODES = ("KOR", "JPN", "USA", "HUB")
T0 = 1_704_067_400_000_000_000
BEFORE = "3a66fe6"  # main before signed bundles and PyNaCl


def per_call_us(fn: Callable[[], object], n: int, repeats: int) -> float:
    """Best CPU time per call over ``repeats`` rounds of ``n`` calls, in microseconds."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, time.process_time() - t)
    return best / n * 1e6


def old_validate(rev: str) -> ModuleType | None:
    """``trilink/link/validate.py`` as it was at ``rev`` (None if git cannot show it)."""
    try:
        src = subprocess.run(
            ["git", "show", f"{rev}:src/trilink/link/validate.py"],
            cwd=ROOT, capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "validate_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("validate_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reports(n: int) -> list[TrackReport]:
    base = signed_examples()["track_report"]
    assert isinstance(base, TrackReport)
    return [
        msgspec.structs.replace(base, n_updates=k, measured_ns=T0 - k, signature=b"")
        for k in range(n)
    ]


def link_round(batch: int, n: int, repeats: int, *, openssl: bool = False) -> tuple[float, float]:
    """(sender, receiver) CPU per report for ``n`` reports sent ``batch`` at a time
    (batch 1: single signed messages), best of ``repeats`` rounds."""
    key = golden_key()
    ring = Keyring.of_private(dict.fromkeys(NODES, key))
    bodies = reports(n)
    subject = tracks("KOR")
    limit = signing.NACL_VERIFY_MAX_BYTES
    best_send = best_recv = float("inf")
    for r in range(repeats + 1):  # round 0 warms up
        st = Stamper("KOR", key, start_seq=r * 10 * n)
        rx = Receiver(Decoder(NODES), ring, ReplayGuard(lambda: T0 + 10**9))
        t = time.process_time()
        if batch == 1:
            payloads = [st.seal(m, T0) for m in bodies]
        else:
            payloads = []
            for i in range(0, n, batch):
                part = [st.stamp(m, T0, sign=False) for m in bodies[i : i + batch]]
                payloads.extend(st.bundle(part, T0))
        sent = time.process_time() - t
        if openssl:
            signing.NACL_VERIFY_MAX_BYTES = -1  # every verify through OpenSSL
        try:
            t = time.process_time()
            got = 0
            for p in payloads:
                got += len(rx.receive_all(p, subject))
            received = time.process_time() - t
        finally:
            signing.NACL_VERIFY_MAX_BYTES = limit
        assert got == n and rx.rejected == 0
        if r:
            best_send, best_recv = min(best_send, sent), min(best_recv, received)
    return best_send / n * 1e6, best_recv / n * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="rounds per figure (best is kept)")
    ap.add_argument("--before", default=BEFORE, help="git revision of the 'before' validator")
    ap.add_argument("--quick", action="store_true", help="fewer rounds")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one CPU")
    args = ap.parse_args(argv)
    reps = 2 if args.quick else args.repeats
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(f"load average {os.getloadavg()[0]:.1f}; CPU time per call, best of {reps}")

    key = golden_key()
    msg = signed_examples()["track_report"]
    data, sig = signing_input(msg), msg.signature
    pub, raw_pub = key.public_key(), signing.public_key_bytes(key)
    signer = Signer(key)
    print(f"\nEd25519, one TrackReport ({len(data)}-byte signing input):")
    v_ossl = per_call_us(lambda: pub.verify(sig, data), 2000, reps)
    v_nacl = per_call_us(lambda: nacl.bindings.crypto_sign_open(sig + data, raw_pub), 2000, reps)
    s_ossl = per_call_us(lambda: key.sign(data), 2000, reps)
    s_nacl = per_call_us(lambda: signer.sign_bytes(data), 2000, reps)
    print(f"  verify  cryptography {v_ossl:7.1f} us   PyNaCl {v_nacl:7.1f} us")
    print(f"  sign    cryptography {s_ossl:7.1f} us   PyNaCl {s_nacl:7.1f} us")
    big = data * 930  # about a bundle of 1,000 reports
    big_sig = key.sign(big)
    _, sk = nacl.bindings.crypto_sign_seed_keypair(key.private_bytes_raw())
    vb_ossl = per_call_us(lambda: pub.verify(big_sig, big), 20, reps)
    vb_nacl = per_call_us(lambda: nacl.bindings.crypto_sign_open(big_sig + big, raw_pub), 20, reps)
    sb_ossl = per_call_us(lambda: key.sign(big), 20, reps)
    sb_nacl = per_call_us(lambda: nacl.bindings.crypto_sign(big, sk), 20, reps)
    print(
        f"  {len(big) / 1e3:.0f} kB: verify cryptography {vb_ossl:7.0f} us   PyNaCl {vb_nacl:7.0f} us"
    )
    print(
        f"  {len(big) / 1e3:.0f} kB: sign   cryptography {sb_ossl:7.0f} us   PyNaCl {sb_nacl:7.0f} us"
    )

    payload = encode(msg)
    decoder = Decoder(NODES)
    after = per_call_us(lambda: decoder.decode(payload), 5000, reps)
    old = old_validate(args.before)
    print(f"\ndecode + validate, one TrackReport ({len(payload)} bytes):")
    if old is None:
        print(f"  before: git cannot show {args.before}: skipped")
        before = float("nan")
    else:
        known, versions = frozenset(NODES), frozenset({1})

        def decode_before() -> None:
            old.validate(_msgpack_decoder.decode(payload), known_nodes=known, versions=versions)

        before = per_call_us(decode_before, 5000, reps)
        print(f"  before ({args.before}) {before:6.1f} us")
    print(f"  after               {after:6.1f} us")

    n = 1000
    print(f"\nper report, {n} TrackReports (sender: stamp, sign, encode; receiver: decode, "
          "verify, checks, replay guard):")  # fmt: skip
    rows = [
        ("1,000 single messages, OpenSSL verify*", link_round(1, n, reps, openssl=True)),
        ("1,000 single messages", link_round(1, n, reps)),
        ("10 bundles of 100", link_round(100, n, reps)),
        ("1 bundle of 1,000", link_round(1000, n, reps)),
    ]
    for name, (snd, rcv) in rows:
        print(f"  {name:40s} sender {snd:6.1f} us   receiver {rcv:6.1f} us")
    print("  * verify as before this work; decode + validate as now")
    single, b100, b1000 = rows[1][1][1], rows[2][1][1], rows[3][1][1]
    print(
        f"summary: verify {v_ossl:.0f} -> {v_nacl:.0f} us (PyNaCl); decode+validate "
        f"{before:.1f} -> {after:.1f} us; receive per report: single {single:.0f} us, "
        f"bundle of 100 {b100:.1f} us, of 1,000 {b1000:.1f} us"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
