"""The edge every RPC passes: authentication, rate limit, errors, log, metrics.

Applied as a decorator to each servicer method, so the same rules hold for
unary, client-streaming and server-streaming calls alike: one place turns
``ScoutError`` into its status code (with ``ErrorInfo``), one place catches
what nobody expected (logged with a traceback, answered INTERNAL without
internals), one log line and one metric sample per call, never contents.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from scout_service.api.auth import Authenticator, Principal, RateLimiter
from scout_service.api.status import status_code_of, to_rpc_status
from scout_service.errors import ScoutError
from scout_service.metrics import Metrics

log = logging.getLogger("scout_service.rpc")

# Set by a streaming-request method once it has read the session id, so the
# call's log line can name it (the request object of such calls is a stream).
call_session_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "call_session_id", default=""
)

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Boundary:
    """What the decorators need: who is calling, how fast, and where to count it."""

    def __init__(self, auth: Authenticator, limiter: RateLimiter, metrics: Metrics) -> None:
        self.auth = auth
        self.limiter = limiter
        self.metrics = metrics

    def principal(self, context: grpc.aio.ServicerContext[Any, Any]) -> Principal:
        """Authenticate and rate-limit the caller of ``context``."""
        peer = None
        auth_ctx = context.auth_context()
        cn = auth_ctx.get("x509_common_name") if auth_ctx else None
        if cn:
            peer = next(iter(cn)).decode("utf-8", "replace")
        principal = self.auth.authenticate(tuple(context.invocation_metadata() or ()), peer)
        self.limiter.check(principal.name)
        return principal

    def finish(self, method: str, code: grpc.StatusCode, started: float, session_id: str,
               principal: Principal | None) -> None:
        """Count and log one finished call."""
        elapsed = time.perf_counter() - started
        self.metrics.rpcs.labels(method, code.name).inc()
        self.metrics.rpc_seconds.labels(method).observe(elapsed)
        log.info(
            "rpc %s code=%s duration_ms=%.1f session_id=%s principal=%s",
            method, code.name, elapsed * 1000, session_id or "-",
            principal.name if principal else "-",
        )


async def _abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException,
                 method: str) -> grpc.StatusCode:
    if isinstance(exc, ScoutError):
        await context.abort_with_status(to_rpc_status(exc))
        return status_code_of(exc)  # not reached: abort raises
    log.exception("rpc %s failed unexpectedly", method)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has details")
    return grpc.StatusCode.INTERNAL


def _code_of(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, ScoutError):
        return status_code_of(exc)
    return grpc.StatusCode.INTERNAL


class _HasBoundary:
    boundary: Boundary


UnaryFn = Callable[[Any, Any, grpc.aio.ServicerContext[Any, Any], Principal], Awaitable[Any]]
StreamFn = Callable[[Any, Any, grpc.aio.ServicerContext[Any, Any], Principal], AsyncIterator[Any]]


def unary(fn: UnaryFn) -> Callable[..., Awaitable[Any]]:
    """Wrap a unary-response method (unary or client-streaming request)."""
    method = fn.__name__

    @functools.wraps(fn)
    async def wrapper(self: _HasBoundary, request: Any, context: Any) -> Any:
        started = time.perf_counter()
        principal: Principal | None = None
        code = grpc.StatusCode.OK
        try:
            principal = self.boundary.principal(context)
            return await fn(self, request, context, principal)
        except Exception as exc:  # the outermost boundary: map, log, answer
            if isinstance(exc, grpc.aio.AbortError):
                raise
            code = _code_of(exc)
            await _abort(context, exc, method)
        finally:
            sid = getattr(request, "session_id", "") or call_session_id.get()
            self.boundary.finish(method, code, started, sid, principal)

    return wrapper


def server_stream(fn: StreamFn) -> Callable[..., AsyncIterator[Any]]:
    """Wrap a server-streaming method."""
    method = fn.__name__

    @functools.wraps(fn)
    async def wrapper(self: _HasBoundary, request: Any, context: Any) -> AsyncIterator[Any]:
        started = time.perf_counter()
        principal: Principal | None = None
        code = grpc.StatusCode.OK
        try:
            principal = self.boundary.principal(context)
            async for item in fn(self, request, context, principal):
                yield item
        except Exception as exc:
            if isinstance(exc, grpc.aio.AbortError):
                raise
            code = _code_of(exc)
            await _abort(context, exc, method)
        except BaseException:
            code = grpc.StatusCode.CANCELLED
            raise
        finally:
            self.boundary.finish(method, code, started, getattr(request, "session_id", ""),
                                 principal)

    return wrapper
