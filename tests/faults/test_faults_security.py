"""Security controls of issue 7 that the other suites do not already cover.

- The audit chain a real hub wrote (a recorded simulated run) is checked by the
  ``trilink audit verify`` command: intact it passes; an edited decision, a deleted,
  swapped or forged-and-inserted record, or a line cut by a crash, each fails with the
  line where the chain breaks (exit 1); a missing file exits 2.
- Mutual TLS with certificate-to-user mapping, on a running hub + leaves (loopback): a
  client certificate signed by the coalition CA is still refused when it is expired, when
  its subject is not a user of that server (PRK; or KOR's node certificate on JPN's leaf),
  and a client without a certificate or without TLS is refused; the proper certificate
  connects (the positive control on the same code path).

Covered elsewhere (docs/security.md lists them): a certificate from another CA is refused
and a node publishing another nation's subject is refused by its server
(tests/deploy/test_deploy_resilience.py, test_deploy_live.py::test_jpn_cannot_spoof_kor_reports);
signatures, replays, clock skew (tests/link, test_faults_rejections.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from trilink.cli import commands  # noqa: F401  (registers the commands)
from trilink.cli.app import app
from trilink.link.pki import CertPair, _issue, _key_pem, _name, client_tls
from trilink.nodes.up import LocalCoalition, start_local_coalition
from trilink.policy.audit import chain_hash

# ---- the audit chain ---------------------------------------------------------------------


def verify(path: Path) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["audit", "verify", str(path)])
    return res.exit_code, " ".join(res.output.split())  # rich wraps long lines


@pytest.fixture
def audit(recorded_run: tuple[Any, Any, Path], tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    shutil.copyfile(recorded_run[2] / "audit.jsonl", path)
    return path


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def test_the_hubs_own_audit_log_verifies(audit: Path) -> None:
    n = len(lines_of(audit))
    assert n > 20
    code, out = verify(audit)
    assert code == 0 and f"{n} records, chain intact" in out


def test_an_edited_decision_is_found_at_its_line(audit: Path) -> None:
    lines = lines_of(audit)
    k = len(lines) // 2
    rec = json.loads(lines[k])
    rec["allowed"] = not rec["allowed"]  # hash left as it was
    lines[k] = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
    audit.write_text("".join(lines))
    code, out = verify(audit)
    assert code == 1 and f":{k + 1}:" in out and "altered" in out


@pytest.mark.parametrize("how", ["delete", "swap", "insert_forged", "cut"])
def test_deleted_swapped_inserted_or_cut_records_break_the_chain(audit: Path, how: str) -> None:
    lines = lines_of(audit)
    k = len(lines) // 3
    if how == "delete":
        del lines[k]
    elif how == "swap":
        lines[k], lines[k + 1] = lines[k + 1], lines[k]
    elif how == "insert_forged":
        # A forger who knows the format: a record that chains correctly onto record k-1,
        # with a valid hash of its own. The record after it no longer does.
        prev = json.loads(lines[k - 1])
        forged = {"n": k, "t_ns": prev["t_ns"], "kind": "system_track", "partner": "JPN",
                  "sources": ["KOR"], "allowed": True, "reason": "forged", "redacted": [],
                  "message_id": None, "number": 1, "prev": prev["hash"]}  # fmt: skip
        forged["hash"] = chain_hash(prev["hash"], forged)
        lines.insert(k, json.dumps(forged, sort_keys=True, separators=(",", ":")) + "\n")
    else:  # a crash in the middle of writing the last line
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    audit.write_text("".join(lines))
    code, out = verify(audit)
    assert code == 1, out
    line = len(lines) if how == "cut" else k + 1 if how != "insert_forged" else k + 2
    assert f":{line}:" in out, out


def test_a_missing_audit_file_exits_2(tmp_path: Path) -> None:
    assert verify(tmp_path / "nope.jsonl")[0] == 2


# ---- mutual TLS and certificate mapping -----------------------------------------------


@pytest.fixture(scope="module")
def coalition(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCoalition]:
    root = tmp_path_factory.mktemp("mtls")
    c = asyncio.run(start_local_coalition(root, ["USA", "KOR", "JPN"], "USA"))
    yield c
    c.stop()


def issue(
    c: LocalCoalition, out: Path, cn: str, nation: str, *, days: int, ago_days: int = 0
) -> CertPair:
    """A client certificate signed by the real coalition CA (the profile of trilink pki)."""
    ca_cert = x509.load_pem_x509_certificate(c.pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(c.pki.ca_key.read_bytes(), None)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=ago_days)
    cert, key = _issue(ca_key, ca_cert, _name(cn, nation), server=False, client=True,  # type: ignore[arg-type]
                       hosts=(), now=now, days=days)  # fmt: skip
    pair = CertPair(out / f"{cn}-{nation}-{days}.pem", out / f"{cn}-{nation}-{days}.key", "")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(_key_pem(key))
    return pair


def plaintext(url: str) -> bytes:
    """Speak NATS without TLS to a TLS-only server: what comes back after CONNECT + PING."""
    host, port = url.split("//")[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as s:
        s.recv(4096)  # INFO {... "tls_required": true ...}
        s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        try:
            return s.recv(4096)
        except (ConnectionResetError, TimeoutError):
            return b""


async def _quiet(_: Exception) -> None:
    """The client's own error callback would print each refusal's traceback."""


async def attempt(url: str, tls: Any) -> str:
    """'connected' after a publish and flush went through, else the error's class."""
    try:
        nc = await nats.connect(
            url, tls=tls, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0,
            error_cb=_quiet,
        )  # fmt: skip
    except Exception as e:  # the refusal, whatever its class: what it says is checked
        return f"refused: {type(e).__name__}: {e}"
    try:
        await nc.publish("trilink.KOR.tracks", b"probe")
        await nc.flush(timeout=2)
        return "connected"
    except Exception as e:  # admitted, then cut off
        return f"refused: {type(e).__name__}: {e}"
    finally:
        await nc.close()


def test_mutual_tls_refuses_every_wrong_client_and_admits_the_right_one(
    coalition: LocalCoalition, tmp_path: Path
) -> None:
    topo, ca = coalition.topo, coalition.ca
    kor_url, jpn_url = topo.leaf_client_url("KOR"), topo.leaf_client_url("JPN")
    kor_node = topo.node_pair("KOR")
    expired = issue(coalition, tmp_path, "node", "KOR", days=1, ago_days=30)
    stranger = issue(coalition, tmp_path, "node", "PRK", days=30)
    hub_stranger = issue(coalition, tmp_path, "hub-node", "PRK", days=30)

    async def go() -> dict[str, str]:
        return {
            "KOR node on KOR leaf": await attempt(kor_url, client_tls(ca, kor_node)),
            "KOR node on JPN leaf": await attempt(jpn_url, client_tls(ca, kor_node)),
            "expired KOR node cert": await attempt(kor_url, client_tls(ca, expired)),
            "CA-signed PRK subject on KOR leaf": await attempt(kor_url, client_tls(ca, stranger)),
            "CA-signed PRK subject on hub": await attempt(topo.hub_client_url, client_tls(ca, hub_stranger)),
            "TLS without a client cert": await attempt(kor_url, client_tls(ca)),
        }  # fmt: skip

    outcome = asyncio.run(asyncio.wait_for(go(), 60))
    print(f"\nmTLS: {outcome}")
    assert outcome.pop("KOR node on KOR leaf") == "connected"
    assert all(v.startswith("refused") for v in outcome.values()), outcome
    for who in (
        "KOR node on JPN leaf",
        "CA-signed PRK subject on KOR leaf",
        "CA-signed PRK subject on hub",
    ):
        assert "authorization violation" in outcome[who].lower(), (who, outcome[who])
    assert b"PONG" not in plaintext(kor_url)  # the server never speaks NATS in the clear
    log = coalition.servers["kor"].log_tail(50_000)
    for why in ("certificate has expired", "authentication error", "didn't provide a certificate"):
        assert why in log, why
    assert "authentication error" in coalition.servers["jpn"].log_tail(50_000)
