"""The server factory and the service's life: start, serve, drain, stop.

``create_server(settings, deps)`` builds a ``grpc.aio`` server with the three
Scout servicers, the stock health service and reflection, and binds it (port
0 in tests). ``ScoutApp`` owns the order of things around it: build the
dependencies, mark SERVING only while the store answers, and on SIGTERM stop
accepting, go NOT_SERVING, end progress streams with UNAVAILABLE (clients
resume elsewhere), leave running research resumable, and give in-flight
calls a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from scout.v1 import (
    report_pb2,
    report_pb2_grpc,
    research_pb2,
    research_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)
from scout_service import tracing
from scout_service.api import reflection
from scout_service.api.auth import Authenticator, RateLimiter
from scout_service.api.boundary import Boundary, DecodeGuard
from scout_service.api.servicers import ReportServicer, ResearchServicer, SessionServicer
from scout_service.config import Settings
from scout_service.errors import ScoutError
from scout_service.metrics import Metrics
from scout_service.service import Limits, ScoutService
from scout_service.store.base import Store

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    session_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name,
    report_pb2.DESCRIPTOR.services_by_name["ReportService"].full_name,
    research_pb2.DESCRIPTOR.services_by_name["ResearchService"].full_name,
)

# Messages carry at most a 1 MiB upload chunk or a report of up to the
# configured limit (4 MiB by default), so 16 MiB leaves room without letting
# one call pin unbounded memory.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024

SERVER_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # The client pings every 30 s on idle connections; allow that, not more.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_ping_strikes", 5),
    # grpc core answers CANCELLED past 1,000 calls waiting for a handler;
    # bursts of internal callers are bigger than that.
    ("grpc.server.max_pending_requests", 20_000),
    ("grpc.server.max_pending_requests_hard_limit", 40_000),
    ("grpc.so_reuseport", 0),
]

HEALTH_PROBE_INTERVAL_S = 5.0


def server_options(settings: Settings) -> list[tuple[str, Any]]:
    """``SERVER_OPTIONS`` plus the connection age limits the settings ask for.

    Behind a load balancer, a client keeps its HTTP/2 connection (and so its
    replica) for as long as it lives. With a maximum age, the server sends
    GOAWAY after it (grpc adds ±10% jitter): the client's next calls open a
    new connection, which the balancer may send elsewhere, while calls still
    running get the grace period to finish (none given: as long as they
    need), after which they are cancelled.
    """
    options = list(SERVER_OPTIONS)
    if settings.max_connection_age_s > 0:
        options.append(("grpc.max_connection_age_ms", int(settings.max_connection_age_s * 1000)))
        if settings.max_connection_age_grace_s > 0:
            options.append(("grpc.max_connection_age_grace_ms",
                            int(settings.max_connection_age_grace_s * 1000)))
    return options


@dataclass
class Deps:
    """What the server runs on; tests inject fakes here."""

    store: Store
    runner: Any  # scout_service.agents.runner.ResearchRunner (or a fake)
    broker: Any  # scout_service.progress.broker.ProgressBroker (or a fake)
    metrics: Metrics = field(default_factory=Metrics)
    closers: list[Any] = field(default_factory=list)


def limits_of(settings: Settings) -> Limits:
    """Per-session limits from settings."""
    return Limits(
        default_ttl_seconds=settings.session_ttl_seconds,
        max_ttl_seconds=settings.max_session_ttl_seconds,
        max_runs_per_session_per_hour=settings.max_runs_per_session_per_hour,
    )


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if not settings.tls_cert_file or not settings.tls_key_file:
        return None
    chain = Path(settings.tls_cert_file).read_bytes()
    key = Path(settings.tls_key_file).read_bytes()
    client_ca = (
        Path(settings.tls_client_ca_file).read_bytes() if settings.tls_client_ca_file else None
    )
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def create_server(
    settings: Settings, deps: Deps
) -> tuple[grpc.aio.Server, int, health.aio.HealthServicer]:
    """Build and bind the gRPC server; returns it, the bound port and its health servicer."""
    server = grpc.aio.server(
        options=server_options(settings),
        maximum_concurrent_rpcs=settings.max_concurrent_rpcs,
    )
    auth = Authenticator(
        settings.token_hashes() if settings.auth_enabled else {},
        enabled=settings.auth_enabled,
        admins=settings.admin_principals,
        mtls=bool(settings.tls_client_ca_file),
    )
    boundary = Boundary(
        auth, RateLimiter(settings.rate_limit_rps, settings.rate_limit_burst), deps.metrics
    )
    service = ScoutService(deps.store, deps.runner, deps.broker, limits_of(settings))
    guard = DecodeGuard(server)  # every method, health and reflection included
    # The generated registration functions carry no annotations.
    session_pb2_grpc.add_SessionServiceServicer_to_server(  # type: ignore[no-untyped-call]
        SessionServicer(service, boundary), guard
    )
    report_pb2_grpc.add_ReportServiceServicer_to_server(  # type: ignore[no-untyped-call]
        ReportServicer(service, boundary), guard
    )
    research_pb2_grpc.add_ResearchServiceServicer_to_server(  # type: ignore[no-untyped-call]
        ResearchServicer(service, boundary), guard
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, guard)
    reflection.enable((*SERVICE_NAMES, health.SERVICE_NAME), guard)
    creds = _credentials(settings)
    if creds is None:
        port = server.add_insecure_port(settings.listen_address)
    else:
        port = server.add_secure_port(settings.listen_address, creds)
    return server, port, health_servicer


class ScoutApp:
    """One running replica: server, health probe, runner and broker, in order."""

    def __init__(self, settings: Settings, deps: Deps) -> None:
        self.settings = settings
        self.deps = deps
        self.server, self.port, self.health = create_server(settings, deps)
        self._probe: asyncio.Task[None] | None = None
        self._draining = False
        self.metrics_port: int | None = None

    async def start(self) -> int:
        """Start serving; returns the bound gRPC port."""
        await self.server.start()
        if self.settings.metrics_address:
            self.metrics_port = self.deps.metrics.serve(self.settings.metrics_address)
        await self._set_health(await self._store_ok())
        await self.deps.runner.start()
        self._probe = asyncio.create_task(self._probe_store(), name="scout-health-probe")
        return self.port

    async def _store_ok(self) -> bool:
        try:
            with tracing.untraced():  # a probe every few seconds is not worth a trace each
                await self.deps.store.ping()
            return True
        except ScoutError as exc:
            log.warning("store unreachable: %s", exc.message)
            return False

    async def _set_health(self, ok: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if ok and not self._draining
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def _probe_store(self) -> None:
        last: bool | None = None
        while not self._draining:
            ok = await self._store_ok()
            if ok != last:
                log.info("health: %s", "SERVING" if ok else "NOT_SERVING (store unreachable)")
                last = ok
            await self._set_health(ok)
            await asyncio.sleep(HEALTH_PROBE_INTERVAL_S)

    async def stop(self, grace: float | None = None) -> None:
        """Drain and stop: NOT_SERVING, end streams, park runs, finish calls, close."""
        grace = self.settings.shutdown_grace_s if grace is None else grace
        self._draining = True
        if self._probe:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self._set_health(False)
        await self.deps.broker.close()
        await self.deps.runner.shutdown(grace)
        await self.server.stop(grace)
        await self.deps.store.close()
        for closer in reversed(self.deps.closers):
            result = closer()
            if asyncio.iscoroutine(result):
                await result

    async def wait(self) -> None:
        """Until the server terminates."""
        await self.server.wait_for_termination()
