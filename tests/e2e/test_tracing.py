"""Tracing on: one research run is one trace of RPC, DynamoDB, run, agent and model spans.

An in-process replica on the test DynamoDB, with ``tracing.configure`` given
an in-memory exporter: the StartResearch RPC's span is the root; the run,
its agents, strands' agent and model spans, and the DynamoDB requests the
run makes (botocore's and the lean read path's) are in its trace. No span
carries the document's text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from scout_client.aio import AsyncScoutClient
from scout_service import logs, tracing
from scout_service.config import load_settings
from scout_service.server import ScoutApp
from scout_service.wiring import build_deps
from tests.support.server import TOKENS, token_env

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(180)]

MARKER = "Zebra-7731 quinoa cooperative"


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    from strands.telemetry.tracer import get_tracer

    # strands' tracer made before tracing is configured (as earlier tests do) has read its
    # redaction switch already: Scout's exporter must redact content all the same.
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "")
    get_tracer()
    spans = InMemorySpanExporter()
    assert tracing.configure(True, exporter=spans)
    yield spans
    tracing.shutdown()
    # OpenTelemetry sets its global provider once per process; let later tests start clean.
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]


async def test_a_research_run_is_one_trace(exporter: InMemorySpanExporter,
                                           dynamodb_endpoint: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # boto3 reads them from the environment
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings = load_settings({
        "DYNAMODB_ENDPOINT_URL": dynamodb_endpoint, "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing", "DYNAMODB_REGION": "eu-north-1",
        "DYNAMODB_TABLE_NAME": f"scout-trace-{uuid.uuid4().hex[:8]}",
        "SCOUT_CREATE_TABLE": "true", "SCOUT_LISTEN_ADDRESS": "127.0.0.1:0",
        "SCOUT_METRICS_ADDRESS": "off", "SCOUT_AUTH_TOKENS": token_env(),
        "SCOUT_OTEL_ENABLED": "true", "HOME": "/nonexistent",
    })
    deps = await build_deps(settings)
    app = ScoutApp(settings, deps)
    port = await app.start()
    try:
        async with AsyncScoutClient(f"127.0.0.1:{port}", token=TOKENS["alice"]) as scout:
            sid = (await scout.create_session()).session_id
            plan = f"# Plan\n\n## Market\n\nWe sell to the {MARKER} and its members.\n" * 20
            await scout.upload_file(sid, plan.encode(), file_name="plan.md")
            run = await scout.start_research(sid)
            async for _ in scout.stream_progress(sid, run_id=run.run_id):
                pass
            assert (await scout.get_run(sid, run.run_id)).state == 3  # RUN_STATE_SUCCEEDED
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    finally:
        await app.stop()
    spans = exporter.get_finished_spans()
    assert not [s for s in spans if "grpc.health" in s.name]  # health checks are not traced
    (start,) = [s for s in spans if s.name == "/scout.v1.ResearchService/StartResearch"]
    in_trace = [s for s in spans if s.context.trace_id == start.context.trace_id]
    names = {s.name for s in in_trace}
    (run_span,) = [s for s in in_trace if s.name == "research run"]
    assert run_span.attributes["scout.run_id"] == run.run_id
    agents = {f"agent {k}_report" for k in ("market", "competition", "price", "legal", "final")}
    assert agents <= names, names
    assert "invoke_agent scout-final-report" in names, names  # strands' agent span
    assert "chat" in names, names  # strands' model span
    assert "execute_tool search_documents" in names, names  # and its tool span
    dynamo = [s for s in in_trace if s.name.startswith("DynamoDB.")]
    assert any(s.attributes.get("scout.lean_read") for s in dynamo), names  # the lean path
    assert any(not s.attributes.get("scout.lean_read") for s in dynamo), names  # botocore's
    for s in spans:  # the document's text never reaches a span
        texts: list[Any] = [*s.attributes.values(),
                            *(v for e in s.events for v in e.attributes.values())]
        assert not any(MARKER in str(v) for v in texts), (s.name, s.attributes)
    # Log lines get the trace id of the span they are written in.
    with tracing.span("probe") as probe:
        assert logs._trace_id is not None
        assert logs._trace_id() == format(probe.get_span_context().trace_id, "032x")
