"""The mutual-TLS options of ``trilink hub`` and ``trilink node`` (one home:
trilink.cli.tls_options): both commands show them, all three or none, and files that are
missing or do not belong together end the command with one line and exit code 2, before
it touches NATS (the URL given here has no server behind it)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import trilink.cli.commands  # noqa: F401  (registers the command modules)
from trilink.cli.app import app
from trilink.cli.tls_options import nats_tls
from trilink.link.pki import PkiLayout, init_pki

runner = CliRunner()
NOWHERE = "nats://127.0.0.1:9"  # discard port: nothing listens


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    return init_pki(tmp_path_factory.mktemp("pki"), ["USA", "KOR", "JPN"], "USA")


def one_line(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())  # rich may wrap the line


@pytest.mark.parametrize(
    ("command", "whose"), [(["hub"], "The hub process's"), (["node"], "This node's")]
)
def test_both_commands_show_the_three_options(command: list[str], whose: str) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    text = one_line(result)
    assert result.exit_code == 0
    assert "--tls-ca <path> Coalition CA certificate (PEM)." in text
    assert f"--tls-cert <path> {whose} client certificate." in text
    assert f"--tls-key <path> {whose} client key." in text


def test_no_options_mean_a_plain_connection() -> None:
    assert nats_tls(None, None, None) is None


def test_the_three_files_make_a_mutual_tls_context(pki: PkiLayout) -> None:
    pair = pki.node("KOR")
    ctx = nats_tls(pki.ca_cert, pair.cert, pair.key)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    assert len(ctx.get_ca_certs()) == 1


def test_a_key_of_another_certificate_is_refused(pki: PkiLayout) -> None:
    with pytest.raises(typer.Exit) as exc:
        nats_tls(pki.ca_cert, pki.node("KOR").cert, pki.node("JPN").key)
    assert exc.value.exit_code == 2


@pytest.mark.parametrize(
    "command", [["hub", "korea-japan"], ["node", "korea-japan", "--nation", "KOR"]]
)
@pytest.mark.parametrize(
    ("given", "message"),
    [
        (["--tls-ca"], "--tls-ca, --tls-cert and --tls-key go together"),
        (["--tls-cert", "--tls-key"], "--tls-ca, --tls-cert and --tls-key go together"),
        (["--tls-ca", "--tls-cert", "--tls-key"], "no such file"),
    ],
)
def test_partial_or_missing_files_exit_2_in_one_line(
    command: list[str], given: list[str], message: str, tmp_path: Path
) -> None:
    files = [x for flag in given for x in (flag, str(tmp_path / flag.strip("-")))]
    result = runner.invoke(app, [*command, "--nats", NOWHERE, *files])
    assert result.exit_code == 2, result.output
    assert message in one_line(result)
    assert "Traceback" not in result.output
