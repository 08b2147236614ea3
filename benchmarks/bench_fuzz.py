"""Fuzz every decoder and the scenario loader with a million inputs: zero crashes allowed.

Issue 7, "bad input": whatever bytes arrive, a decoder answers with a message or with its
documented exception, and a node's receive path answers with a message or a dead letter.
A *crash* is any other exception (or, for ``receive``, any exception at all, or a refusal
that was not dead-lettered with a reason).

=============  ==========================================  ==============================
target         called                                      may raise
=============  ==========================================  ==============================
msgpack        ``Decoder(known).decode``                   DecodeError
json           ``Decoder(known).decode_json``              DecodeError
tlog           ``recordlog.iter_records`` (strict, loose)  DecodeError
deadletter     ``deadletter.decode_deadletter``            DecodeError
scenario       ``load_scenario`` on a file of the bytes    ScenarioError
receive        ``Receiver(...)(bytes, subject)``           nothing; None => one dead letter
=============  ==========================================  ==============================

Inputs are mutations of real seeds: the golden vectors of tests/messages/golden/ (MessagePack
and JSON), a recorded log of them, dead-letter lines, and the built-in scenario's TOML;
byte-level (flips, interesting bytes, insertions, deletions, duplications, truncation,
splices) and, for MessagePack, structural (decode to a map, set a random field at any
depth to a hostile value — NaN, ±Inf, 2**64 - 1, wrong types, long strings, deep nesting —,
re-encode, and half the time re-sign so the input reaches the checks behind the
signature), plus pure random bytes. Deterministic for a given ``--seed``.

Prints inputs per second per target and overall, and every crash class with a
reproducer (hex). Exit status 1 if anything crashed.

Run: ``.venv/bin/python benchmarks/bench_fuzz.py [--inputs 1000000] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from trilink.errors import DecodeError, ScenarioError
from trilink.link import DeadLetterLog, Decoder, Keyring, Receiver, ReplayGuard, encode_json, sign
from trilink.link.deadletter import DeadLetter, decode_deadletter, encode_deadletter
from trilink.link.golden import T0_NS, golden_key, signed_examples
from trilink.link.recordlog import MAGIC, LogRecord, iter_records
from trilink.messages import RejectReason
from trilink.scenario import load_scenario
from trilink.scenario.loader import builtin_path

KNOWN = ("KOR", "JPN", "USA", "HUB")
SUBJECTS = ("trilink.KOR.tracks", "trilink.JPN.status", "trilink.hub.out.JPN.tracks", None)
REASONS = set(RejectReason.__args__)  # type: ignore[attr-defined]
HOSTILE: list[Any] = [
    math.nan, math.inf, -math.inf, 0, -1, 2**63 - 1, 2**64 - 1, -(2**63), 1e308, -0.0, True,
    None, "", "x" * 70, "\u0000", "KOR", "XYZ", b"", b"\xff" * 64, [], {}, [math.nan] * 21,
    [1.0] * 21, [[[[[[]]]]]], {"kind": "track_report"}, "018cc252-e630-7000-8101-010101010101",
]  # fmt: skip
INTERESTING = [0x00, 0xFF, 0x7F, 0x80, 0xC0, 0xC1, 0xC4, 0xCB, 0xCF, 0xD3, 0xD9, 0xDB, 0xDD, 0xDF]


def seeds() -> dict[str, list[bytes]]:
    ex = signed_examples()
    pack = [msgspec.msgpack.encode(m) for m in ex.values()]
    js = [encode_json(m) for m in ex.values()]
    log = MAGIC + b"".join(
        len(b).to_bytes(4, "big") + b
        for b in (
            msgspec.msgpack.encode(LogRecord(T0_NS + i, s or "trilink.x", p, {"a": "b"}))
            for i, (p, s) in enumerate(zip(pack, SUBJECTS * 2, strict=False))
        )
    )
    letters = [
        encode_deadletter(DeadLetter(t_ns=T0_NS, reason=r, field="$", detail="d", raw=p,
                                     subject="trilink.KOR.tracks", source="KOR", seq=3))
        for r, p in zip(("invalid", "replayed", "bad_signature"), pack, strict=False)
    ]  # fmt: skip
    toml = builtin_path("korea-japan").read_bytes()
    return {
        "msgpack": pack, "json": js, "tlog": [log], "deadletter": letters,
        "scenario": [toml], "receive": pack,
    }  # fmt: skip


class Mutator:
    def __init__(self, rng: random.Random, corpus: dict[str, list[bytes]]):
        self.rng = rng
        self.corpus = corpus
        self.key = golden_key()

    def bytes_(self, data: bytes) -> bytes:
        r = self.rng
        b = bytearray(data)
        for _ in range(r.choice((1, 1, 2, 3, 8))):
            op = r.randrange(8)
            i = r.randrange(len(b) + 1)
            if op == 0 and b:  # bit flip
                j = min(i, len(b) - 1)
                b[j] ^= 1 << r.randrange(8)
            elif op == 1 and b:  # an interesting byte
                b[min(i, len(b) - 1)] = r.choice(INTERESTING)
            elif op == 2:  # insert random bytes
                b[i:i] = r.randbytes(r.randrange(1, 9))
            elif op == 3:  # delete a range
                del b[i : i + r.randrange(1, 33)]
            elif op == 4:  # duplicate a range
                b[i:i] = b[i : i + r.randrange(1, 65)]
            elif op == 5:  # truncate
                del b[i:]
            elif op == 6:  # splice another seed of any target
                other = r.choice(r.choice(list(self.corpus.values())))
                j = r.randrange(len(other) + 1)
                b[i:] = other[j:]
            elif b:  # a big-endian length or number set to an extreme
                b[min(i, len(b) - 1) : min(i, len(b) - 1) + 4] = r.choice(
                    (b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff")
                )
        return bytes(b)

    def structural(self, data: bytes) -> bytes:
        """Set one field anywhere in the message to a hostile value; maybe re-sign."""
        r = self.rng
        obj = msgspec.msgpack.decode(data)
        node, path = obj, []
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            k = r.choice(keys)
            path.append(k)
            child = node[k]
            if isinstance(child, dict | list) and child and r.random() < 0.6:
                node = child
                continue
            if r.random() < 0.15 and isinstance(node, dict):
                del node[k]
            else:
                node[k] = r.choice(HOSTILE)
            break
        if r.random() < 0.1 and isinstance(obj, dict):
            obj[r.choice(("zz", "kind", "signature"))] = r.choice(HOSTILE)
        out = msgspec.msgpack.encode(obj)
        if r.random() < 0.5:
            try:  # re-sign what still decodes, so the input reaches the later checks
                msg = Decoder().decode(out)
                out = msgspec.msgpack.encode(sign(msg, self.key))
            except DecodeError:
                pass
        return out

    def __call__(self, target: str) -> bytes:
        r = self.rng
        if r.random() < 0.03:
            return r.randbytes(r.randrange(0, 300))
        seed = r.choice(self.corpus[target])
        if target in ("msgpack", "receive") and r.random() < 0.5:
            return self.structural(seed)
        return self.bytes_(seed)


def runners(workdir: Path) -> dict[str, tuple[Callable[[bytes], object], tuple[type, ...]]]:
    decoder = Decoder(KNOWN)
    ring = Keyring.from_raw({n: golden_key().public_key().public_bytes_raw() for n in KNOWN})
    scenario_file = workdir / "fuzz.toml"
    state = {"i": 0}

    def tlog(b: bytes) -> None:
        for strict in (True, False):
            for _ in iter_records(b, strict=strict):
                pass

    def scenario(b: bytes) -> None:
        scenario_file.write_bytes(b)
        load_scenario(scenario_file)

    def receive(b: bytes) -> bool:
        # Fresh guard every 64 inputs: half the replays are then "first sightings".
        if state["i"] % 64 == 0:
            state["rx"] = Receiver(
                decoder, ring, ReplayGuard(lambda: T0_NS + 300 * 10**9), DeadLetterLog(keep=8)
            )
        state["i"] += 1
        rx: Receiver = state["rx"]  # type: ignore[assignment]
        before = rx.deadletters.total
        msg = rx(b, SUBJECTS[state["i"] % len(SUBJECTS)])
        if msg is None:
            if rx.deadletters.total != before + 1:
                raise AssertionError("refused without exactly one dead letter")
            letter = rx.deadletters.recent[-1]
            if letter.reason not in REASONS or not letter.detail:
                raise AssertionError(f"dead letter without a reason: {letter.reason!r}")
            if letter.reason == "internal":
                raise AssertionError(f"a check raised: {letter.detail}")
        return msg is not None

    return {
        "msgpack": (decoder.decode, (DecodeError,)),
        "json": (decoder.decode_json, (DecodeError,)),
        "tlog": (tlog, (DecodeError,)),
        "deadletter": (decode_deadletter, (DecodeError,)),
        "scenario": (scenario, (ScenarioError,)),
        "receive": (receive, ()),
    }


SHARES = {
    "msgpack": 0.3,
    "json": 0.12,
    "tlog": 0.1,
    "deadletter": 0.1,
    "scenario": 0.03,
    "receive": 0.35,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1_000_000, help="total inputs (all targets)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    corpus = seeds()
    mutate = Mutator(rng, corpus)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        run = runners(Path(d))
        counts: Counter[str] = Counter()
        seconds: Counter[str] = Counter()
        outcomes: Counter[tuple[str, str]] = Counter()
        crashes: dict[tuple[str, str], tuple[bytes, str]] = {}
        t_all = time.perf_counter()
        for name, share in SHARES.items():
            fn, allowed = run[name]
            n = int(args.inputs * share)
            t0 = time.perf_counter()
            for _ in range(n):
                data = mutate(name)
                try:
                    admitted = fn(data)  # receive says whether it admitted or refused
                    outcomes[(name, "refused" if admitted is False else "ok")] += 1
                except allowed:
                    outcomes[(name, "refused")] += 1
                except Exception as e:  # a crash: keep the first reproducer of each class
                    key = (name, f"{type(e).__module__}.{type(e).__name__}")
                    outcomes[(name, "CRASH")] += 1
                    if key not in crashes:
                        crashes[key] = (data, traceback.format_exc(limit=3))
            counts[name] = n
            seconds[name] = time.perf_counter() - t0
        total_s = time.perf_counter() - t_all
    total = sum(counts.values())
    print(
        f"fuzz: {total:,} inputs in {total_s:.1f} s = {total / total_s:,.0f} inputs/s (seed {args.seed})"
    )
    print(
        f"{'target':<11} {'inputs':>9} {'inputs/s':>10} {'accepted':>9} {'refused':>9} {'crashes':>8}"
    )
    for name in SHARES:
        print(
            f"{name:<11} {counts[name]:>9,} {counts[name] / seconds[name]:>10,.0f} "
            f"{outcomes[(name, 'ok')]:>9,} {outcomes[(name, 'refused')]:>9,} "
            f"{outcomes[(name, 'CRASH')]:>8,}"
        )
    for (name, cls), (data, tb) in crashes.items():
        print(f"\nCRASH {name}: {cls}\n  input {data[:200].hex()}\n{tb}")
    print(f"\ncrashes: {sum(v for (_, o), v in outcomes.items() if o == 'CRASH')}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
