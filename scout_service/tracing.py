"""Tracing, opt-in: OpenTelemetry spans for RPCs, DynamoDB requests, runs and agents.

``SCOUT_OTEL_ENABLED=true`` (with the ``otel`` extra installed) sets up the
SDK and instruments what a run passes through: every RPC (gRPC's aio server
instrumentation), every DynamoDB request (botocore's, plus the lean read
path's own span), each research run and agent (``in_run``), and strands'
own agent, model and tool spans. Trace context follows work onto the store's
thread pool (threading instrumentation). The exporter and its endpoint, the
sampler and the resource come from the standard ``OTEL_*`` variables
(``OTEL_TRACES_EXPORTER=otlp|console|none``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER`` …).

Prompts, document text and model output stay out of spans unless
``SCOUT_OTEL_RECORD_CONTENT=true``: strands is asked to redact them, and the
exporter Scout installs redacts every content attribute again on the way out
(strands reads its switch once, when its first agent is made).

Off (the default), nothing here is imported beyond this module and every
hook is one ``None`` check.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

from scout_service import logs
from scout_service.config import ConfigError

T = TypeVar("T")

INSTALL_HINT = "SCOUT_OTEL_ENABLED=true needs the otel extra: pip install 'scout-service[otel]'"
# strands' switch: with this token and no names after it, every sensitive attribute is redacted.
REDACT_TOKEN = "gen_ai_unredacted_attributes="

REDACTED = "[redacted]"
# Span and event attributes that carry prompts, documents, tool input/output or model output.
CONTENT_ATTRIBUTES = frozenset({
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "gen_ai.prompt",
    "gen_ai.completion", "gen_ai.agent.prompt", "message", "content", "tool.result",
    "memory.query", "memory.content",
})

# The tracer Scout's own spans come from, set while tracing is on.
tracer: Any = None
_instrumentors: list[Any] = []


def configure(enabled: bool, *, record_content: bool = False, exporter: Any = None) -> bool:
    """Install the SDK and the instrumentations when ``enabled``; True if tracing is on.

    ``exporter`` replaces the one ``OTEL_TRACES_EXPORTER`` names (tests pass
    an in-memory exporter; its spans are then exported as they end).
    """
    global tracer
    if not enabled:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
        from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
        from opentelemetry.instrumentation.threading import ThreadingInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    if not record_content:
        opt_in = os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "")
        if "gen_ai_unredacted_attributes" not in opt_in:
            os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = ",".join(
                p for p in (opt_in, REDACT_TOKEN) if p)
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "scout-service"}
    provider = TracerProvider(resource=Resource.create(attributes))
    chosen = exporter if exporter is not None else _exporter()
    if chosen is not None:
        if not record_content:
            chosen = redacting(chosen)
        processor = SimpleSpanProcessor if exporter is not None else BatchSpanProcessor
        provider.add_span_processor(processor(chosen))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.grpc import filters

    # Load balancers' health checks and grpcurl's reflection calls are not worth a trace each.
    traced_calls = filters.negate(filters.any_of(
        filters.health_check(), filters.service_prefix("grpc.reflection.")))
    instrumentors = (
        GrpcAioInstrumentorServer(filter_=traced_calls),  # type: ignore[no-untyped-call]
        BotocoreInstrumentor(),  # type: ignore[no-untyped-call]
        ThreadingInstrumentor(),
    )
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider)
            _instrumentors.append(instrumentor)
    tracer = provider.get_tracer("scout_service")
    logs.set_trace_id_source(current_trace_id)
    return True


def shutdown() -> None:
    """Undo ``configure``: flush the spans, remove the instrumentations (tests, exit)."""
    global tracer
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    flush = getattr(provider, "shutdown", None)
    if flush is not None:
        flush()
    while _instrumentors:
        _instrumentors.pop().uninstrument()
    tracer = None
    logs.set_trace_id_source(None)


def _redacted(attributes: Any) -> dict[str, Any]:
    return {k: REDACTED if k in CONTENT_ATTRIBUTES else v for k, v in (attributes or {}).items()}


def redacting(inner: Any) -> Any:
    """``inner`` (a SpanExporter) receiving spans with every content attribute redacted."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    def clean(span: ReadableSpan) -> ReadableSpan:
        if not (CONTENT_ATTRIBUTES.intersection(span.attributes or {}) or any(
                CONTENT_ATTRIBUTES.intersection(e.attributes or {}) for e in span.events)):
            return span
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=_redacted(span.attributes),
            events=[Event(e.name, _redacted(e.attributes), e.timestamp) for e in span.events],
            links=span.links, kind=span.kind, status=span.status,
            start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    class Redacting(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return inner.export([clean(span) for span in spans])  # type: ignore[no-any-return]

        def shutdown(self) -> None:
            inner.shutdown()

        def force_flush(self, timeout_millis: int = 30_000) -> bool:
            return bool(inner.force_flush(timeout_millis))

    return Redacting()


def _exporter() -> Any:
    choice = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if choice == "none":
        return None
    if choice == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if choice != "otlp":
        raise ConfigError(f"OTEL_TRACES_EXPORTER: Scout supports otlp, console or none, "
                          f"got {choice!r}")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_* variables


def current_trace_id() -> str:
    """The current span's trace id as 32 hex digits, or "" outside a recorded span."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else ""


@contextlib.contextmanager
def untraced() -> Iterator[None]:
    """Record nothing inside (the replica's own health probes of the store)."""
    if tracer is None:
        yield
        return
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def recording() -> bool:
    """Whether spans are recorded here: tracing on and not inside ``untraced``."""
    if tracer is None:
        return False
    from opentelemetry.instrumentation.utils import is_instrumentation_enabled

    return bool(is_instrumentation_enabled())


@contextlib.contextmanager
def span(name: str, **attributes: Any) -> Iterator[Any]:
    """A span of Scout's own (nothing while tracing is off)."""
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


async def in_run(work: Coroutine[Any, Any, T], name: str, *, session_id: str, run_id: str,
                 **attributes: Any) -> T:
    """Await ``work`` (a run or one of its agents) in its own span and log context.

    Every log line of the work carries the run's session and run ids; with
    tracing on, its spans (agents, model calls, DynamoDB requests) are
    children of this one.
    """
    logs.session_id_var.set(session_id)  # a task's own context: nothing leaks out
    logs.run_id_var.set(run_id)
    if tracer is None:
        return await work
    with tracer.start_as_current_span(name, attributes={
            "scout.session_id": session_id, "scout.run_id": run_id, **attributes}):
        return await work
