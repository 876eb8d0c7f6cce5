"""TLS and mutual TLS on a real server process, with certificates made for the test.

Two replicas, one per module: a TLS listener (``SCOUT_TLS_CERT_FILE`` and
``SCOUT_TLS_KEY_FILE``, callers authenticate with bearer tokens) and an mTLS
listener (plus ``SCOUT_TLS_CLIENT_CA_FILE``: a client certificate is
required and its subject CN is the principal when no token is sent).
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scout_client import (
    NotFoundError,
    ScoutClient,
    UnauthenticatedError,
    UnavailableError,
)
from tests.support.certs import issue, pem
from tests.support.server import TOKENS, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost and client certificates."""

    def __init__(self, directory: Path) -> None:
        ca = issue("scout-e2e-ca", None, ca=True)
        rogue_ca = issue("scout-e2e-rogue-ca", None, ca=True)
        self.ca = pem(*ca)[0]
        self.server = pem(*issue("localhost", ca, server=True))
        self.alice = pem(*issue("alice", ca))
        self.mallory = pem(*issue("mallory", ca))
        # Claims to be alice, signed by a CA the server does not trust.
        self.forged_alice = pem(*issue("alice", rogue_ca))
        self.ca_file = directory / "ca.pem"
        self.cert_file = directory / "server.pem"
        self.key_file = directory / "server.key"
        self.ca_file.write_bytes(self.ca)
        self.cert_file.write_bytes(self.server[0])
        self.key_file.write_bytes(self.server[1])
        self.key_file.chmod(0o600)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


def _server(endpoint: str, env: dict[str, str]) -> Iterator[ServerProcess]:
    server = ServerProcess(endpoint, f"scout-e2e-tls-{uuid.uuid4().hex[:10]}", env).start()
    try:
        yield server
    finally:
        try:
            server.stop(timeout=20)
        except Exception:  # noqa: BLE001 - teardown
            server.kill()


@pytest.fixture(scope="module")
def tls_server(dynamodb_endpoint: str, pki: Pki) -> Iterator[ServerProcess]:
    yield from _server(dynamodb_endpoint, {
        "SCOUT_TLS_CERT_FILE": str(pki.cert_file),
        "SCOUT_TLS_KEY_FILE": str(pki.key_file),
    })


@pytest.fixture(scope="module")
def mtls_server(dynamodb_endpoint: str, pki: Pki) -> Iterator[ServerProcess]:
    yield from _server(dynamodb_endpoint, {
        "SCOUT_TLS_CERT_FILE": str(pki.cert_file),
        "SCOUT_TLS_KEY_FILE": str(pki.key_file),
        "SCOUT_TLS_CLIENT_CA_FILE": str(pki.ca_file),
    })


def _calls_answered(server: ServerProcess) -> float:
    """scout_rpcs_total over every method and code (the metrics listener is plain HTTP)."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return sum(float(line.rsplit(" ", 1)[1])
                   for line in response.read().decode().splitlines()
                   if line.startswith("scout_rpcs_total{"))


def _client(server: ServerProcess, **kwargs: Any) -> ScoutClient:
    return ScoutClient(server.address, timeout=10, **kwargs)


# -- TLS: the listener is encrypted, callers still authenticate with tokens ---------------


def test_tls_with_a_bearer_token(tls_server: ServerProcess, pki: Pki) -> None:
    with _client(tls_server, tls=True, root_certificates=pki.ca,
                 token=TOKENS["alice"]) as alice:
        session = alice.create_session(labels={"via": "tls"})
        assert session.owner == "alice"
        assert alice.get_session(session.session_id) == session
    with _client(tls_server, tls=True, root_certificates=pki.ca, token=TOKENS["bob"]) as bob:
        with pytest.raises(NotFoundError):
            bob.get_session(session.session_id)


def test_tls_refuses_plaintext_and_untrusted_clients(tls_server: ServerProcess,
                                                     pki: Pki) -> None:
    with _client(tls_server, token=TOKENS["alice"]) as plaintext:
        with pytest.raises(UnavailableError):
            plaintext.create_session()
    # TLS, but trusting only grpc's bundled roots: the test CA's server certificate fails.
    with _client(tls_server, tls=True, token=TOKENS["alice"]) as untrusting:
        with pytest.raises(UnavailableError):
            untrusting.create_session()


def test_tls_without_a_client_ca_ignores_client_certificates(tls_server: ServerProcess,
                                                             pki: Pki) -> None:
    # No SCOUT_TLS_CLIENT_CA_FILE: a certificate names nobody, a token is still needed.
    with _client(tls_server, root_certificates=pki.ca, client_certificate=pki.alice) as scout:
        with pytest.raises(UnauthenticatedError):
            scout.create_session()


# -- mTLS: the client certificate's subject CN is the principal ---------------------------


def test_mtls_principal_is_the_certificate_subject(mtls_server: ServerProcess,
                                                   pki: Pki) -> None:
    with _client(mtls_server, root_certificates=pki.ca, client_certificate=pki.alice) as alice:
        session = alice.create_session()  # no token: the certificate is the credential
        assert session.owner == "alice"
        assert alice.get_session(session.session_id) == session
        assert session.session_id in {s.session_id for s in alice.list_sessions().sessions}
    with _client(mtls_server, root_certificates=pki.ca,
                 client_certificate=pki.mallory) as mallory:
        with pytest.raises(NotFoundError):
            mallory.get_session(session.session_id)
        assert session.session_id not in {
            s.session_id for s in mallory.list_sessions().sessions
        }
    # The same principal through a token (over the mTLS channel) sees the same session.
    with _client(mtls_server, root_certificates=pki.ca, client_certificate=pki.mallory,
                 token=TOKENS["alice"]) as alice_by_token:
        assert alice_by_token.get_session(session.session_id).owner == "alice"


def test_mtls_refuses_clients_without_a_trusted_certificate(mtls_server: ServerProcess,
                                                            pki: Pki) -> None:
    handled = _calls_answered(mtls_server)
    # No certificate: the handshake fails, even with a valid token.
    with _client(mtls_server, root_certificates=pki.ca, token=TOKENS["alice"]) as no_cert:
        with pytest.raises(UnavailableError):
            no_cert.create_session()
    # A certificate saying "alice" from a CA the server does not trust.
    with _client(mtls_server, root_certificates=pki.ca,
                 client_certificate=pki.forged_alice) as forged:
        with pytest.raises(UnavailableError):
            forged.create_session()
    with _client(mtls_server, token=TOKENS["alice"]) as plaintext:
        with pytest.raises(UnavailableError):
            plaintext.create_session()
    # refused in the handshake: none of the calls reached a handler, while one that
    # gets through is counted
    assert _calls_answered(mtls_server) == handled
    with _client(mtls_server, root_certificates=pki.ca, client_certificate=pki.alice) as alice:
        alice.create_session()
    assert _calls_answered(mtls_server) == handled + 1


# -- the container's health probe -----------------------------------------------------------


def _probe(server: ServerProcess, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m scout_service.healthcheck`` with the server's own settings (+ ``env``).

    (The server listens on port 0, a port of its choosing: the probe is told which.)
    """
    return subprocess.run(
        [sys.executable, "-m", "scout_service.healthcheck"],
        env={**server.env, "SCOUT_LISTEN_ADDRESS": server.address, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_health_probe_over_tls(tls_server: ServerProcess) -> None:
    probe = _probe(tls_server)
    assert (probe.returncode, probe.stdout.strip()) == (0, "SERVING"), probe.stderr


def test_health_probe_over_mtls_presents_its_client_certificate(
    mtls_server: ServerProcess, pki: Pki, tmp_path: Path
) -> None:
    cert, key = tmp_path / "probe.pem", tmp_path / "probe.key"
    cert.write_bytes(pki.alice[0])
    key.write_bytes(pki.alice[1])
    probe = _probe(mtls_server, SCOUT_HEALTHCHECK_CERT_FILE=str(cert),
                   SCOUT_HEALTHCHECK_KEY_FILE=str(key))
    assert (probe.returncode, probe.stdout.strip()) == (0, "SERVING"), probe.stderr

    # By default it presents the server's own certificate, which this CA issued for
    # servers only: refused, and the message says what to set.
    default = _probe(mtls_server)
    assert default.returncode == 1
    assert "SCOUT_HEALTHCHECK_CERT_FILE" in default.stderr, default.stderr
    cert.write_bytes(pki.forged_alice[0])
    key.write_bytes(pki.forged_alice[1])
    forged = _probe(mtls_server, SCOUT_HEALTHCHECK_CERT_FILE=str(cert),
                    SCOUT_HEALTHCHECK_KEY_FILE=str(key))
    assert forged.returncode == 1 and "unhealthy: UNAVAILABLE" in forged.stderr
