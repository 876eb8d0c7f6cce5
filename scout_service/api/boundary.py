"""The edge every RPC passes: authentication, rate limit, errors, log, metrics.

Applied as a decorator to each servicer method, so the same rules hold for
unary, client-streaming and server-streaming calls alike: one place turns
``ScoutError`` into its status code (with ``ErrorInfo``), one place catches
what nobody expected (logged with a traceback, answered INTERNAL without
internals), one log line and one metric sample per call, never contents.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import grpc
from google.protobuf.message import DecodeError

from scout_service import logs
from scout_service.api.auth import Authenticator, Principal, RateLimiter
from scout_service.api.status import status_code_of, to_rpc_status
from scout_service.errors import InvalidArgument, ScoutError
from scout_service.metrics import Metrics

log = logging.getLogger("scout_service.rpc")

# The session the current call works for: set here from the request, or by a
# streaming-request method once it has read the session id (the request object
# of such calls is a stream). Every log line of the call carries it.
call_session_id: contextvars.ContextVar[str] = logs.session_id_var

Req = TypeVar("Req")
Resp = TypeVar("Resp")


class Boundary:
    """What the decorators need: who is calling, how fast, and where to count it."""

    def __init__(self, auth: Authenticator, limiter: RateLimiter, metrics: Metrics) -> None:
        self.auth = auth
        self.limiter = limiter
        self.metrics = metrics
        # Metric children by label, looked up once: labels() is not free per call.
        self._counts: dict[tuple[str, str], Any] = {}
        self._seconds: dict[str, Any] = {}

    def principal(self, context: grpc.aio.ServicerContext[Any, Any]) -> Principal:
        """Authenticate and rate-limit the caller of ``context``."""
        peer = None
        if self.auth.mtls:  # the TLS peer only matters when certificates identify callers
            auth_ctx = context.auth_context()
            cn = auth_ctx.get("x509_common_name") if auth_ctx else None
            if cn:
                peer = next(iter(cn)).decode("utf-8", "replace")
        principal = self.auth.authenticate(tuple(context.invocation_metadata() or ()), peer)
        self.limiter.check(principal.name)
        return principal

    def finish(self, method: str, code: grpc.StatusCode, started: float, session_id: str,
               principal: Principal | None, run_id: str = "") -> None:
        """Count and log one finished call, once its answer is on its way.

        Called as the handler returns, before grpc sends the answer: the
        counting and the log line run on the loop's next turn instead, so
        the caller does not wait for them.
        """
        elapsed = time.perf_counter() - started
        name = principal.name if principal else "-"
        asyncio.get_running_loop().call_soon(
            self._record, method, code.name, elapsed, session_id or "-", name, run_id)

    def _record(self, method: str, code: str, elapsed: float, session_id: str,
                principal: str, run_id: str) -> None:
        key = (method, code)
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = self.metrics.rpcs.labels(method, code)
        seconds = self._seconds.get(method)
        if seconds is None:
            seconds = self._seconds[method] = self.metrics.rpc_seconds.labels(method)
        count.inc()
        seconds.observe(elapsed)
        # The access log line: its fields are the line (JSON keys, or key=value in text).
        fields = {"method": method, "code": code, "duration_ms": round(elapsed * 1000, 2),
                  "session_id": session_id, "principal": principal}
        if run_id:
            fields["run_id"] = run_id
        log.info("rpc", extra=fields)


def _undecodable(exc: DecodeError) -> InvalidArgument:
    return InvalidArgument(f"a request message could not be decoded: {exc}",
                           reason="MALFORMED_MESSAGE")


async def _abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException,
                 method: str) -> grpc.StatusCode:
    if isinstance(exc, DecodeError):  # a streamed request message: the caller's bytes
        exc = _undecodable(exc)
    if isinstance(exc, ScoutError):
        await context.abort_with_status(to_rpc_status(exc))
        return status_code_of(exc)  # not reached: abort raises
    log.exception("rpc %s failed unexpectedly", method)
    await context.abort(grpc.StatusCode.INTERNAL, "internal error; the server log has details")
    return grpc.StatusCode.INTERNAL


def _code_of(exc: BaseException) -> grpc.StatusCode:
    if isinstance(exc, DecodeError):
        return grpc.StatusCode.INVALID_ARGUMENT
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
        sid = getattr(request, "session_id", "")
        if sid:
            call_session_id.set(sid)
        try:
            principal = self.boundary.principal(context)
            return await fn(self, request, context, principal)
        except Exception as exc:  # the outermost boundary: map, log, answer
            if isinstance(exc, grpc.aio.AbortError):
                raise
            code = _code_of(exc)
            await _abort(context, exc, method)
        finally:
            self.boundary.finish(method, code, started, sid or call_session_id.get(), principal,
                                 getattr(request, "run_id", ""))

    return wrapper


def server_stream(fn: StreamFn) -> Callable[..., AsyncIterator[Any]]:
    """Wrap a server-streaming method."""
    method = fn.__name__

    @functools.wraps(fn)
    async def wrapper(self: _HasBoundary, request: Any, context: Any) -> AsyncIterator[Any]:
        started = time.perf_counter()
        principal: Principal | None = None
        code = grpc.StatusCode.OK
        sid = getattr(request, "session_id", "")
        call_session_id.set(sid)
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
            self.boundary.finish(method, code, started, sid, principal,
                                 getattr(request, "run_id", ""))

    return wrapper


class DecodeGuard:
    """Registers method handlers on a server with Scout decoding their requests.

    ``grpc.aio`` decodes a request before any handler runs and answers
    UNKNOWN ("Unexpected DecodeError") when that fails. Passed in place of
    the server to the generated ``add_*_to_server`` functions (Scout's,
    health, reflection), this wraps every method handler once, when it is
    registered: the handler gets raw bytes, which are parsed here and refused
    with INVALID_ARGUMENT when they do not parse. (A server interceptor could
    do the same, but it runs, and rebuilds the handler, on every call.)
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self.server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Register ``handlers``, each answering with guarded method handlers."""
        self.server.add_generic_rpc_handlers(tuple(_GuardedGenericHandler(h) for h in handlers))

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]
    ) -> None:
        """Register a service's method handlers, guarded."""
        self.server.add_registered_method_handlers(
            service_name, {name: guarded(h) for name, h in method_handlers.items()})


class _GuardedGenericHandler(grpc.GenericRpcHandler):
    """A generic handler whose method handlers are guarded (once per method)."""

    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        self._guarded: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method: str = handler_call_details.method
        found = self._guarded.get(method)
        if found is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:
                return None
            found = self._guarded[method] = guarded(handler)
        return found


def guarded(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    """``handler`` taking raw bytes and decoding them itself (see ``DecodeGuard``)."""
    parse = getattr(handler, "request_deserializer", None)
    if parse is None:
        return handler
    for kind, decoding in _DECODING.items():
        behavior = getattr(handler, kind)
        if behavior is not None:
            return handler._replace(  # type: ignore[attr-defined, no-any-return]
                request_deserializer=None, **{kind: decoding(behavior, parse)})
    return handler


async def _refuse(context: grpc.aio.ServicerContext[Any, Any], exc: DecodeError) -> NoReturn:
    await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                        f"the request message could not be decoded: {exc}")
    raise AssertionError("abort returned")  # pragma: no cover - abort always raises


def _unary_request(behavior: Callable[..., Any], parse: Callable[[bytes], Any]
                   ) -> Callable[..., Awaitable[Any]]:
    async def handle(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        try:
            request = parse(raw)
        except DecodeError as exc:
            await _refuse(context, exc)
        return await behavior(request, context)

    return handle


def _unary_request_stream(behavior: Callable[..., Any], parse: Callable[[bytes], Any]
                          ) -> Callable[..., AsyncIterator[Any]]:
    async def handle(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]
                     ) -> AsyncIterator[Any]:
        try:
            request = parse(raw)
        except DecodeError as exc:
            await _refuse(context, exc)
        result = behavior(request, context)
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        else:  # a handler that writes with context.write() and returns nothing
            await result

    return handle


def _decoded(parse: Callable[[bytes], Any], requests: AsyncIterator[bytes],
             context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
    async def decoded() -> AsyncIterator[Any]:
        async for raw in requests:
            try:
                message = parse(raw)
            except DecodeError as exc:
                await _refuse(context, exc)
            yield message

    return decoded()


def _stream_request(behavior: Callable[..., Any], parse: Callable[[bytes], Any]
                    ) -> Callable[..., Awaitable[Any]]:
    async def handle(requests: AsyncIterator[bytes],
                     context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        return await behavior(_decoded(parse, requests, context), context)

    return handle


def _stream_request_stream(behavior: Callable[..., Any], parse: Callable[[bytes], Any]
                           ) -> Callable[..., AsyncIterator[Any]]:
    async def handle(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
                     ) -> AsyncIterator[Any]:
        result = behavior(_decoded(parse, requests, context), context)
        if hasattr(result, "__aiter__"):
            async for item in result:
                yield item
        else:  # a handler that writes with context.write() and returns nothing
            await result

    return handle


# How each kind of method gets its requests decoded (``guarded``).
_DECODING: dict[str, Callable[[Callable[..., Any], Callable[[bytes], Any]], Any]] = {
    "unary_unary": _unary_request,
    "unary_stream": _unary_request_stream,
    "stream_unary": _stream_request,
    "stream_stream": _stream_request_stream,
}
