"""TLS and mutual TLS against the fake, with certificates made for the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from scout_client import ScoutClient, UnavailableError, cli
from tests.support.certs import issue, pem

from .fake_server import FakeServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(scope="module")
def pki() -> dict[str, tuple[bytes, bytes]]:
    ca = issue("scout-test-ca", None, ca=True)
    server = issue("localhost", ca, server=True)
    client = issue("scout-test-client", ca)
    return {"ca": pem(*ca), "server": pem(*server), "client": pem(*client)}


@pytest.fixture
def mtls_server(pki: dict[str, tuple[bytes, bytes]]) -> Iterator[FakeServer]:
    cert, key = pki["server"]
    credentials = grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=pki["ca"][0], require_client_auth=True
    )
    with FakeServer(credentials) as server:
        yield server


def test_mutual_tls(mtls_server: FakeServer, pki: dict[str, tuple[bytes, bytes]]) -> None:
    ca = pki["ca"][0]
    with ScoutClient(
        mtls_server.address, root_certificates=ca, client_certificate=pki["client"], token="t"
    ) as scout:
        session = scout.create_session()
        assert scout.get_session(session.session_id) == session
    assert mtls_server.fake.metadata[0][1]["authorization"] == "Bearer t"


def test_tls_refuses_what_it_should(
    mtls_server: FakeServer, pki: dict[str, tuple[bytes, bytes]]
) -> None:
    with ScoutClient(mtls_server.address, root_certificates=pki["ca"][0], timeout=5) as scout:
        with pytest.raises(UnavailableError):  # no client certificate
            scout.create_session()
    with ScoutClient(mtls_server.address, timeout=5) as plaintext:
        with pytest.raises(UnavailableError):
            plaintext.create_session()
    assert mtls_server.fake.calls["CreateSession"] == 0


def test_cli_with_certificate_files(
    mtls_server: FakeServer,
    pki: dict[str, tuple[bytes, bytes]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "ca.pem").write_bytes(pki["ca"][0])
    (tmp_path / "client.pem").write_bytes(pki["client"][0])
    (tmp_path / "client.key").write_bytes(pki["client"][1])
    base = ["--address", mtls_server.address, "--ca-file", str(tmp_path / "ca.pem")]
    mtls = ["--cert-file", str(tmp_path / "client.pem"), "--key-file", str(tmp_path / "client.key")]
    assert cli.main([*base, *mtls, "session", "create", "--json"]) == 0
    assert '"session_id"' in capsys.readouterr().out
    assert cli.main([*base, "--cert-file", str(tmp_path / "client.pem"), "session", "list"]) == 2
    assert "go together" in capsys.readouterr().err
