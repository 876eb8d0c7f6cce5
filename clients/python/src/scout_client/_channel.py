"""What the sync and asyncio clients share about their channel.

Channel options (message size, keepalive), the service config that makes
grpc retry the idempotent RPCs on UNAVAILABLE, TLS credentials, the bearer
token metadata and the default deadlines live here once, so both clients
behave identically on the wire.
"""

from __future__ import annotations

import enum
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout_client._version import __version__

DEFAULT_TARGET: Final = "localhost:50051"
#: Deadline of unary calls, in seconds, unless the client or call says otherwise.
DEFAULT_TIMEOUT: Final = 30.0
#: Deadline of uploads, downloads and exports, which move up to tens of MiB.
DEFAULT_TRANSFER_TIMEOUT: Final = 600.0
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024

#: RPCs that grpc retries on UNAVAILABLE. Reads are safe to repeat; the three
#: creating RPCs are safe because the clients always send a request_id (a
#: fresh UUID when the caller gives none), which the server deduplicates on.
#: DownloadFile and ExportReports are reads too; grpc only retries a stream
#: before its first response, so a retry never duplicates a chunk.
#: StreamProgress is absent on purpose: the clients resume it themselves with
#: after_sequence, which grpc's transparent retry cannot do.
RETRIED_METHODS: Final[dict[str, tuple[str, ...]]] = {
    "scout.v1.SessionService": (
        "CreateSession",
        "GetSession",
        "ListSessions",
        "ExtendSession",
        "ListFiles",
        "DownloadFile",
    ),
    "scout.v1.ReportService": (
        "GetReport",
        "ListReportVersions",
        "ListReports",
        "PutReport",
        "ExportReports",
    ),
    "scout.v1.ResearchService": ("StartResearch", "GetRun", "ListRuns"),
}

RETRY_POLICY: Final[dict[str, Any]] = {
    "maxAttempts": 4,
    "initialBackoff": "0.2s",
    "maxBackoff": "3s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE"],
}


# Retries pause once failures outweigh successes (a bucket of 10 tokens: each failed call
# takes 1, each success gives 0.1 back, retries need more than 5 left), so a fleet of
# clients does not multiply the load on replicas that are already failing.
RETRY_THROTTLING: Final[dict[str, Any]] = {"maxTokens": 10, "tokenRatio": 0.1}


def service_config() -> str:
    """Return the gRPC service config (JSON): the retry policy and its throttling."""
    names = [
        {"service": service, "method": method}
        for service, methods in RETRIED_METHODS.items()
        for method in methods
    ]
    return json.dumps({
        "methodConfig": [{"name": names, "retryPolicy": RETRY_POLICY}],
        "retryThrottling": RETRY_THROTTLING,
    })


ChannelOption: TypeAlias = tuple[str, Any]


def channel_options(extra: Sequence[ChannelOption] = ()) -> list[ChannelOption]:
    """Return the channel options; `extra` overrides a default of the same name.

    Keepalive pings every 30 s while a call is open (a progress stream can be
    quiet for minutes) find a dead connection in about 40 s instead of hanging;
    the server must allow pings that often
    (`grpc.http2.min_recv_ping_interval_without_data_ms` <= 30000).
    """
    options: dict[str, Any] = {
        "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
        "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
        "grpc.keepalive_time_ms": 30_000,
        "grpc.keepalive_timeout_ms": 10_000,
        "grpc.keepalive_permit_without_calls": 0,
        "grpc.http2.max_pings_without_data": 0,
        "grpc.enable_retries": 1,
        "grpc.service_config": service_config(),
        # A retried PutReport/CreateSession must still hold its request to
        # resend it; the default 256 KiB would silently disable retries of
        # large reports.
        "grpc.per_rpc_retry_buffer_size": MAX_MESSAGE_BYTES,
        "grpc.primary_user_agent": f"scout-client-python/{__version__}",
    }
    options.update(dict(extra))
    return list(options.items())


def channel_credentials(
    *,
    tls: bool,
    root_certificates: bytes | None,
    client_certificate: tuple[bytes, bytes] | None,
) -> grpc.ChannelCredentials | None:
    """Return TLS credentials, or None for a plaintext channel.

    Giving root certificates or a client certificate implies TLS. With no
    root certificates grpc uses its bundled roots (or
    GRPC_DEFAULT_SSL_ROOTS_FILE_PATH). `client_certificate` is the pair
    (certificate_chain, private_key), both PEM, for mutual TLS.
    """
    if not (tls or root_certificates or client_certificate):
        return None
    certificate_chain, private_key = client_certificate or (None, None)
    return grpc.ssl_channel_credentials(
        root_certificates=root_certificates,
        private_key=private_key,
        certificate_chain=certificate_chain,
    )


def open_channel(
    grpc_module: Any,
    target: str,
    *,
    tls: bool,
    root_certificates: bytes | None,
    client_certificate: tuple[bytes, bytes] | None,
    options: Sequence[ChannelOption],
) -> Any:
    """Open a channel with `grpc_module` (`grpc` or `grpc.aio`), TLS or plaintext."""
    credentials = channel_credentials(
        tls=tls, root_certificates=root_certificates, client_certificate=client_certificate
    )
    channel_opts = channel_options(options)
    if credentials is None:
        return grpc_module.insecure_channel(target, options=channel_opts)
    return grpc_module.secure_channel(target, credentials, options=channel_opts)


Metadata: TypeAlias = tuple[tuple[str, str], ...]


def call_metadata(token: str | None) -> Metadata:
    """Return the metadata sent with every call: the bearer token, if any."""
    if not token:
        return ()
    return (("authorization", f"Bearer {token}"),)


def new_request_id(request_id: str | None) -> str:
    """Return the caller's request_id, or a fresh UUID4 that makes retries safe."""
    return request_id if request_id else str(uuid.uuid4())


class Default(enum.Enum):
    """Marks "use the client's default deadline" (None means no deadline)."""

    TIMEOUT = 0


DEFAULT: Final = Default.TIMEOUT
Timeout: TypeAlias = float | None | Literal[Default.TIMEOUT]


@dataclass(frozen=True)
class Deadlines:
    """Default per-call deadlines, in seconds; None means no deadline."""

    unary: float | None = DEFAULT_TIMEOUT
    transfer: float | None = DEFAULT_TRANSFER_TIMEOUT

    def for_unary(self, timeout: Timeout) -> float | None:
        """Return the deadline for a unary call given a per-call override."""
        return self.unary if timeout is DEFAULT else timeout

    def for_transfer(self, timeout: Timeout) -> float | None:
        """Return the deadline for a file or export stream."""
        return self.transfer if timeout is DEFAULT else timeout
