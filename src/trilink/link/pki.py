"""The coalition PKI: one certificate authority, a certificate and key per server and node.

NATS links in the live topology (:mod:`trilink.link.topology`) use mutual TLS: every server
and every client shows a certificate signed by the coalition CA, and the servers map a
certificate's subject to a user, and the user to an account (nats-server's
``verify_and_map``). So the *subject* of a certificate is an identity, not decoration:

==============================  ===============================================  ==========
file (under the PKI root)       subject (the NATS user name)                     used as
==============================  ===============================================  ==========
``ca.pem`` / ``ca.key``         ``CN=trilink coalition CA,O=trilink``            trust root
``hub/server.pem``              ``CN=hub,OU=<HUB NATION>,O=trilink``             hub listeners
``hub/client.pem``              ``CN=hub-node,OU=<HUB NATION>,O=trilink``        hub process
``<nation>/leaf.pem``           ``CN=leaf,OU=<NATION>,O=trilink``                leaf server
``<nation>/node.pem``           ``CN=node,OU=<NATION>,O=trilink``                national node
==============================  ===============================================  ==========

Keys are ECDSA P-256 (what Go's crypto/tls, and so nats-server 2.9, supports everywhere;
Ed25519 certificates work in Go but not in every TLS peer), PKCS#8 PEM, written 0600.
The CA key is needed only to issue certificates: keep it off the servers (the deploy
folders written by ``trilink nats-config`` never contain it).

The subject string is what Go's ``pkix.Name.String()`` prints (RFC 4514 order: the last
RDN first), which is what nats-server compares with the ``user`` of ``verify_and_map``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from trilink.errors import DeployError

ORG = "trilink"
CA_NAME = "trilink coalition CA"
DEFAULT_HOSTS = ("localhost", "127.0.0.1")
DEFAULT_DAYS = 825
"""Validity of server and client certificates (the CA/Browser Forum's old maximum)."""
CA_DAYS = 3650


def subject_dn(cn: str, nation: str | None) -> str:
    """The subject as nats-server prints and matches it: ``CN=..,OU=..,O=trilink``."""
    return f"CN={cn},OU={nation},O={ORG}" if nation else f"CN={cn},O={ORG}"


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key on disk, and the identity it proves."""

    cert: Path
    key: Path
    subject: str

    def exists(self) -> bool:
        return self.cert.is_file() and self.key.is_file()


@dataclass(frozen=True)
class PkiLayout:
    """Where ``trilink pki init`` puts each file under ``root`` (see the module table)."""

    root: Path
    hub_nation: str
    nations: tuple[str, ...]

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def hub_server(self) -> CertPair:
        d = self.root / "hub"
        return CertPair(d / "server.pem", d / "server.key", subject_dn("hub", self.hub_nation))

    @property
    def hub_client(self) -> CertPair:
        d = self.root / "hub"
        return CertPair(d / "client.pem", d / "client.key", subject_dn("hub-node", self.hub_nation))

    def leaf(self, nation: str) -> CertPair:
        d = self.root / nation.lower()
        return CertPair(d / "leaf.pem", d / "leaf.key", subject_dn("leaf", nation))

    def node(self, nation: str) -> CertPair:
        d = self.root / nation.lower()
        return CertPair(d / "node.pem", d / "node.key", subject_dn("node", nation))

    def pairs(self) -> list[CertPair]:
        out = [self.hub_server, self.hub_client]
        for n in self.nations:
            out += [self.leaf(n), self.node(n)]
        return out

    def check(self) -> PkiLayout:
        """Self, if every certificate (the CA key aside) is present; else DeployError."""
        missing = [p for p in [self.ca_cert] if not p.is_file()]
        for pair in self.pairs():
            missing += [p for p in (pair.cert, pair.key) if not p.is_file()]
        if missing:
            raise DeployError(str(self.root), f"PKI incomplete, missing {missing[0]}")
        return self


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret: created 0600 (never world-readable, not even for an instant)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(cn: str, nation: str | None) -> x509.Name:
    # RDN sequence O, OU, CN: printed last-first it reads CN=..,OU=..,O=.. (subject_dn).
    rdns = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG)]
    if nation:
        rdns.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, nation))
    rdns.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(rdns)


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for h in dict.fromkeys(hosts):  # keep order, drop repeats
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return x509.SubjectAlternativeName(names)


def _issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    subject: x509.Name,
    *,
    server: bool,
    client: bool,
    hosts: Sequence[str],
    now: dt.datetime,
    days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    eku = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    if server:
        # Go checks host names only against the SAN (the CN is ignored since Go 1.15).
        b = b.add_extension(_san(hosts), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


def _make_ca(now: dt.datetime, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def init_pki(
    out: Path,
    nations: Sequence[str],
    hub_nation: str,
    *,
    hub_hosts: Sequence[str] = (),
    leaf_hosts: Mapping[str, Sequence[str]] | None = None,
    days: int = DEFAULT_DAYS,
    ca_name: str = CA_NAME,
    now: dt.datetime | None = None,
) -> PkiLayout:
    """Create a CA and every certificate of the topology under ``out`` (see module table).

    ``nations`` are every nation with a leaf server (the hub nation included);
    ``hub_hosts`` / ``leaf_hosts[nation]`` are extra DNS names or IP addresses the servers
    are reached by (``localhost`` and ``127.0.0.1`` are always in). Existing files under
    ``out`` are replaced: a new CA invalidates every certificate of the old one.
    """
    if hub_nation not in nations:
        raise DeployError(hub_nation, f"hub nation not among the nations {list(nations)}")
    now = now or dt.datetime.now(dt.UTC)
    leaf_hosts = leaf_hosts or {}
    layout = PkiLayout(Path(out), hub_nation, tuple(nations))
    ca_cert, ca_key = _make_ca(now, ca_name)
    _write_public(layout.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_private(layout.ca_key, _key_pem(ca_key))

    def issue(pair: CertPair, cn: str, nation: str, server: bool, hosts: Sequence[str]) -> None:
        cert, key = _issue(
            ca_key,
            ca_cert,
            _name(cn, nation),
            server=server,
            client=True,
            hosts=[*DEFAULT_HOSTS, *hosts],
            now=now,
            days=days,
        )
        _write_public(pair.cert, cert.public_bytes(serialization.Encoding.PEM))
        _write_private(pair.key, _key_pem(key))

    # The hub's server certificate also authenticates nothing as a client; clientAuth is
    # harmless and lets an operator reuse it for a monitoring connection.
    issue(layout.hub_server, "hub", hub_nation, True, hub_hosts)
    issue(layout.hub_client, "hub-node", hub_nation, False, ())
    for n in nations:
        # A leaf's certificate is its client identity toward the hub *and* its server
        # certificate toward its own national clients.
        issue(layout.leaf(n), "leaf", n, True, leaf_hosts.get(n, ()))
        issue(layout.node(n), "node", n, False, ())
    return layout


def certificate_subject(path: Path) -> str:
    """A PEM certificate's subject, printed the way nats-server matches it."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.subject.rfc4514_string()


def certificate_hosts(path: Path) -> list[str]:
    """The DNS names and IP addresses a PEM server certificate is valid for (its SAN)."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [*san.get_values_for_type(x509.DNSName), *ips]


def client_tls(ca: Path, pair: CertPair | None = None) -> ssl.SSLContext:
    """A TLS context for nats-py (``nats.connect(url, tls=...)``): trusts ``ca``, shows ``pair``."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if pair is not None:
        ctx.load_cert_chain(str(pair.cert), str(pair.key))
    return ctx
