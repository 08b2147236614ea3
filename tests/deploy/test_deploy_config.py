"""Generated NATS configs and PKI: valid for nats-server, isolating, no secrets inside.

Each config is checked by the real ``nats-server -t`` (unknown fields are errors there).
The isolation checks read the same dicts the configs are rendered from.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from trilink.cli import commands  # noqa: F401  (registers the commands)
from trilink.cli.app import app
from trilink.errors import DeployError
from trilink.link import natsproc
from trilink.link.natsproc import check_config, nats_server_binary
from trilink.link.pki import certificate_hosts, certificate_subject, init_pki
from trilink.link.topology import (
    HUB_ACCOUNT,
    Topology,
    hub_config,
    leaf_config,
    leaf_remotes,
    load_topology,
    render_conf,
)

runner = CliRunner()
NATIONS = ("USA", "KOR", "JPN")


def _topo(root: Path) -> Topology:
    return Topology(nations=NATIONS, hub_nation="USA", root=root)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("natsconf")
    result = runner.invoke(app, ["nats-config", "korea-japan", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_every_generated_config_passes_nats_server_t(generated: Path) -> None:
    confs = sorted(generated.glob("*/*.conf"))
    assert [p.name for p in confs] == ["hub.conf", "jpn.conf", "kor.conf", "usa.conf"]
    for conf in confs:
        assert "is valid" in check_config(conf)


def test_a_broken_config_is_refused_with_the_servers_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text(render_conf({"listen": "127.0.0.1:4222", "no_such_field": True}))
    with pytest.raises(DeployError, match="no_such_field"):
        check_config(bad)


def test_the_cli_writes_the_scenarios_nations(generated: Path) -> None:
    topo = load_topology(generated)
    assert set(topo.nations) == {"USA", "KOR", "JPN"} and topo.hub_nation == "USA"
    assert topo.root == generated.resolve()


def test_leaves_dial_only_the_hub_and_listen_for_no_server(tmp_path: Path) -> None:
    topo = _topo(tmp_path)
    hub_url = topo.hub_leaf_url
    for n in NATIONS:
        conf = leaf_config(topo, n)
        assert leaf_remotes(conf) == [hub_url]
        assert "listen" not in conf["leafnodes"], "a leaf must not accept leaf connections"
        assert "cluster" not in conf and "gateway" not in conf
    # And the only server that accepts leaves is the hub.
    assert leaf_remotes(hub_config(topo)) == []
    assert hub_config(topo)["leafnodes"]["listen"].endswith(f":{topo.hub_leaf_port}")


def test_exports_reach_only_the_intended_account(tmp_path: Path) -> None:
    accounts = hub_config(_topo(tmp_path))["accounts"]
    assert set(accounts) == {HUB_ACCOUNT, *NATIONS}
    for n in NATIONS:
        for export in accounts[n]["exports"]:
            assert export["accounts"] == [HUB_ACCOUNT]  # a nation exports to the hub only
        for imp in accounts[n]["imports"]:
            assert imp["stream"]["account"] == HUB_ACCOUNT
            assert imp["stream"]["subject"] in (f"trilink.hub.out.{n}.>", f"$JS.FC.{n}_OUTBOX.>")
    for export in accounts[HUB_ACCOUNT]["exports"]:
        (target,) = export["accounts"]
        assert f".{target}" in export["stream"]  # hub.out.KOR.> to KOR, and so on
    # Nations import nothing from each other.
    for n in NATIONS:
        sources = {imp["stream"]["account"] for imp in accounts[n]["imports"]}
        assert sources == {HUB_ACCOUNT}


def test_node_users_may_publish_only_their_own_subjects(tmp_path: Path) -> None:
    topo = _topo(tmp_path)
    for n in NATIONS:
        (user,) = leaf_config(topo, n)["accounts"][n]["users"]
        allowed = user["permissions"]["publish"]["allow"]
        trilink = [s for s in allowed if s.startswith("trilink.")]
        assert trilink == [f"trilink.{n}.>", f"trilink.deadletter.{n}"]
        assert user["user"] == f"CN=node,OU={n},O=trilink"
    (hub_user,) = hub_config(topo)["accounts"][HUB_ACCOUNT]["users"]
    hub_pub = hub_user["permissions"]["publish"]["allow"]
    assert not any(s.startswith(tuple(f"trilink.{n}" for n in NATIONS)) for s in hub_pub)


def test_configs_hold_no_secrets_and_keys_are_0600(generated: Path) -> None:
    for conf in generated.glob("*/*.conf"):
        text = conf.read_text()
        assert "PRIVATE KEY" not in text and "password" not in text
    keys = list(generated.glob("*/tls/*.key"))
    assert len(keys) == 2 + 2 * len(NATIONS)
    for key in [*keys, generated / "pki" / "ca.key"]:
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600, key
    # The CA key stays in pki/, never in a server folder that is copied to a host.
    assert not list(generated.glob("*/tls/ca.key"))


def test_pki_certificates_chain_to_the_ca_with_mappable_subjects(tmp_path: Path) -> None:
    layout = init_pki(
        tmp_path, NATIONS, "USA", hub_hosts=["hub.example"], leaf_hosts={"KOR": ["10.0.0.7"]}
    )
    ca = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
    for pair in layout.pairs():
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        cert.verify_directly_issued_by(ca)  # raises if not signed by the coalition CA
        assert certificate_subject(pair.cert) == pair.subject
        key = cert.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
        assert stat.S_IMODE(os.stat(pair.key).st_mode) == 0o600
    assert set(certificate_hosts(layout.hub_server.cert)) == {
        "localhost",
        "127.0.0.1",
        "hub.example",
    }
    assert "10.0.0.7" in certificate_hosts(layout.leaf("KOR").cert)
    assert certificate_hosts(layout.node("KOR").cert) == []  # a client proves a name, not a host
    ca_bc = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert ca_bc.ca and ca_bc.path_length == 0


def test_pki_init_cli_writes_every_node(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pki", "init", "korea-japan", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for n in ("usa", "kor", "jpn"):
        assert (tmp_path / n / "leaf.pem").is_file() and (tmp_path / n / "node.key").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nats-config", "no-such-scenario", "--out", "{tmp}"], "no-such-scenario"),
        (["nats-config", "korea-japan", "--out", "{tmp}", "--root", "rel/path"], "--root"),
        (["nats-config", "korea-japan", "--out", "{tmp}", "--leaf-port", "0"], "--leaf-port"),
        (["pki", "init", "korea-japan", "--out", "{tmp}", "--leaf-host", "XXX=h"], "--leaf-host"),
        (["pki", "init", "korea-japan", "--out", "{tmp}", "--days", "0"], "--days"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_a_pki_without_the_hub_host_is_refused(tmp_path: Path) -> None:
    init_pki(tmp_path / "pki", NATIONS, "USA")
    result = runner.invoke(
        app,
        [
            "nats-config",
            "korea-japan",
            "--out",
            str(tmp_path / "o"),
            "--pki",
            str(tmp_path / "pki"),
            "--hub-host",
            "hub.example",
        ],
    )
    assert result.exit_code == 2 and "hub.example" in result.output


def test_topology_rejects_bad_nation_ids(tmp_path: Path) -> None:
    with pytest.raises(DeployError):
        Topology(nations=("USA", "kor"), hub_nation="USA", root=tmp_path)
    with pytest.raises(DeployError):
        Topology(nations=("USA", "HUB"), hub_nation="USA", root=tmp_path)
    with pytest.raises(DeployError):
        Topology(nations=("KOR", "JPN"), hub_nation="USA", root=tmp_path)


def test_topology_json_round_trip(tmp_path: Path) -> None:
    topo = _topo(tmp_path)
    assert Topology.from_json(topo.to_json()) == topo


def test_a_missing_binary_fails_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(nats_server_binary()).name == "nats-server"  # present on this machine
    monkeypatch.setattr(natsproc, "NATS_SERVER", "/nonexistent/nats-server")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv(natsproc.ENV_BINARY, "/nonexistent/either")
    with pytest.raises(DeployError, match="apt-get install -y nats-server"):
        nats_server_binary()
