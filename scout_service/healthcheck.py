"""``python -m scout_service.healthcheck``: the container's health probe.

Calls ``grpc.health.v1.Health/Check`` on this replica's own listener, as the
settings describe it (plaintext, or TLS trusting the server's own certificate
chain; under mTLS presenting ``SCOUT_HEALTHCHECK_CERT_FILE``, by default the
server's own certificate), and exits 0 only when the answer is SERVING —
which the server gives only while its store answers and it is not draining.
"""

from __future__ import annotations

import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from scout_service.config import load_settings


def main() -> int:
    """Exit 0 when the local replica is SERVING."""
    settings = load_settings()
    host, _, port = settings.listen_address.rpartition(":")
    target = f"{'127.0.0.1' if host in ('0.0.0.0', '::', '[::]') else host}:{port}"
    mtls = bool(settings.tls_client_ca_file)
    if settings.tls_cert_file:
        client_cert = client_key = None
        if mtls:  # the listener wants a client certificate too
            client_cert = Path(settings.healthcheck_cert_file or settings.tls_cert_file)
            client_key = Path(settings.healthcheck_key_file or settings.tls_key_file or "")
        creds = grpc.ssl_channel_credentials(
            Path(settings.tls_cert_file).read_bytes(),
            private_key=client_key.read_bytes() if client_key else None,
            certificate_chain=client_cert.read_bytes() if client_cert else None,
        )
        channel = grpc.secure_channel(
            target, creds, options=[("grpc.ssl_target_name_override", "localhost")]
        )
    else:
        channel = grpc.insecure_channel(target)
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=3
            )
        except grpc.RpcError as exc:
            hint = ""
            if mtls and exc.code() is grpc.StatusCode.UNAVAILABLE:
                hint = (" (under mTLS the probe presents SCOUT_HEALTHCHECK_CERT_FILE, by "
                        "default SCOUT_TLS_CERT_FILE: it needs a client certificate from "
                        "SCOUT_TLS_CLIENT_CA_FILE's CA)")
            print(f"unhealthy: {exc.code().name}{hint}", file=sys.stderr)
            return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print("SERVING" if serving else "NOT_SERVING")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
