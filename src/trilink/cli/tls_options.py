"""The mutual-TLS options of the commands that connect a process to NATS (``trilink hub``,
``trilink node``), and the one function that turns them into the connection's TLS context.

Each command declares the three options with these factories (typer reads a command's
options from its signature, so each keeps three parameters)::

    tls_ca: Path | None = tls_ca_option(),
    tls_cert: Path | None = tls_cert_option("This node's"),
    tls_key: Path | None = tls_key_option("This node's"),
    ...
    tls = nats_tls(tls_ca, tls_cert, tls_key)   # before connecting

The certificate and key are the ones ``trilink pki init`` wrote for that process (the
hub's client pair, or a national node's); the servers check them against the coalition
CA (docs/deploy.md).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import typer

from trilink.cli.live_common import fail


def tls_ca_option() -> Any:
    """``--tls-ca``: the coalition CA certificate the server's certificate is checked with."""
    return typer.Option(None, "--tls-ca", help="Coalition CA certificate (PEM).")


def tls_cert_option(whose: str) -> Any:
    """``--tls-cert``; ``whose`` begins the help text ("This node's", "The hub process's")."""
    return typer.Option(None, "--tls-cert", help=f"{whose} client certificate.")


def tls_key_option(whose: str) -> Any:
    """``--tls-key``, the private key of ``--tls-cert``."""
    return typer.Option(None, "--tls-key", help=f"{whose} client key.")


def nats_tls(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    """The client TLS context of the three options: None when none is given (a plain
    connection, for a local test server); exit 2 with one line when only some are given
    or the files cannot be read as a CA, certificate and matching key."""
    if ca is None and cert is None and key is None:
        return None
    if ca is None or cert is None or key is None:
        raise fail("--tls-ca, --tls-cert and --tls-key go together")
    for flag, path in (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise fail(f"{flag} {path}: no such file")
    from trilink.link.pki import CertPair, client_tls

    try:
        return client_tls(ca, CertPair(cert, key, ""))
    except OSError as exc:  # ssl.SSLError (an OSError): not PEM, a key of another cert
        raise fail(f"--tls-ca/--tls-cert/--tls-key: cannot load them: {exc}") from None
