"""TLS and mutual TLS against the fake, with certificates made for the test."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from scout_client import ScoutClient, UnavailableError, cli

from .fake_server import FakeServer

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

pytestmark = pytest.mark.timeout(30)


def _issue(
    name: str, issuer: tuple[Any, Any] | None, *, ca: bool = False, server: bool = False
) -> tuple[Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_cert, signer_key = issuer if issuer else (None, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(signer_key, hashes.SHA256()), key


def _pem(cert: Any, key: Any) -> tuple[bytes, bytes]:
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@pytest.fixture(scope="module")
def pki() -> dict[str, tuple[bytes, bytes]]:
    ca = _issue("scout-test-ca", None, ca=True)
    server = _issue("localhost", ca, server=True)
    client = _issue("scout-test-client", ca)
    return {"ca": _pem(*ca), "server": _pem(*server), "client": _pem(*client)}


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
