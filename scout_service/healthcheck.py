"""``python -m scout_service.healthcheck``: the container's health probe.

Calls ``grpc.health.v1.Health/Check`` on this replica's own listener, as the
settings describe it (plaintext, or TLS trusting the server's own certificate
chain), and exits 0 only when the answer is SERVING — which the server gives
only while its store answers and it is not draining.
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
    if settings.tls_cert_file:
        creds = grpc.ssl_channel_credentials(Path(settings.tls_cert_file).read_bytes())
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
            print(f"unhealthy: {exc.code().name}", file=sys.stderr)
            return 1
    serving = reply.status == health_pb2.HealthCheckResponse.SERVING
    print("SERVING" if serving else "NOT_SERVING")
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main())
