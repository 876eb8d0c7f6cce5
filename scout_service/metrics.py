"""Prometheus metrics of one server, in a registry of its own.

A registry per server (not the process-global default) lets tests run
several servers in one process and keeps the exported names stable.
"""

from __future__ import annotations

from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from scout_service.domain import EventType, ProgressEvent, TokenUsage

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """RPC counts and latencies, runs by state, active progress streams."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpcs = Counter(
            "scout_rpcs", "RPCs answered, by method and status code.",
            ["method", "code"], registry=self.registry,
        )
        self.rpc_seconds = Histogram(
            "scout_rpc_duration_seconds", "RPC duration by method.",
            ["method"], buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.runs = Counter(
            "scout_runs", "Research runs queued, started or ended on this replica, by state.",
            ["state"], registry=self.registry,
        )
        self.streams = Gauge(
            "scout_progress_streams", "Progress streams open on this replica.",
            registry=self.registry,
        )
        self.store_event_reads = Gauge(
            "scout_progress_store_reads",
            "Store reads made by shared followers of runs executing on other replicas.",
            registry=self.registry,
        )
        self.replay_reads = Gauge(
            "scout_progress_replay_reads",
            "Store reads made by streams themselves (replay, catch-up after falling behind).",
            registry=self.registry,
        )
        self.lean_reads = Gauge(
            "scout_store_lean_reads",
            "DynamoDB reads tried on the lean path (SCOUT_DYNAMODB_LEAN_READS), by outcome: "
            "answered, or declined and repeated through boto3.",
            ["outcome"], registry=self.registry,
        )

        self.model_tokens = Counter(
            "scout_model_tokens",
            "Model tokens the agents used on this replica, by provider, model and kind "
            "(input, output, cache_read, cache_write).",
            ["provider", "model", "kind"], registry=self.registry,
        )
        self.model_cost = Counter(
            "scout_model_cost_usd",
            "What the agents' model calls cost on this replica in US dollars, from the price "
            "table (models without a known price are not counted).",
            ["provider", "model"], registry=self.registry,
        )

    def count_usage(self, provider: str, model: str, usage: TokenUsage) -> None:
        """Add one agent invocation's tokens and cost."""
        for kind, tokens in (("input", usage.input_tokens), ("output", usage.output_tokens),
                             ("cache_read", usage.cache_read_tokens),
                             ("cache_write", usage.cache_write_tokens)):
            if tokens:
                self.model_tokens.labels(provider, model, kind).inc(tokens)
        if usage.cost_usd:
            self.model_cost.labels(provider, model).inc(usage.cost_usd)

    def serve(self, address: str) -> int:
        """Expose /metrics over HTTP on ``host:port``; returns the bound port."""
        host, _, port = address.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host, registry=self.registry)
        return int(server.server_address[1])

    def watch_broker(self, broker: _BrokerStats) -> None:
        """Read stream counts off the broker at scrape time."""
        self.streams.set_function(lambda: broker.active_streams)
        self.store_event_reads.set_function(lambda: broker.store_reads)
        self.replay_reads.set_function(lambda: broker.replay_reads)

    def watch_store(self, store: _StoreStats) -> None:
        """Read the lean read path's counts off the store at scrape time."""
        self.lean_reads.labels("answered").set_function(lambda: store.lean_read_counts[0])
        self.lean_reads.labels("declined").set_function(lambda: store.lean_read_counts[1])


class _StoreStats(Protocol):
    @property
    def lean_read_counts(self) -> tuple[int, int]: ...


class _BrokerStats(Protocol):
    @property
    def active_streams(self) -> int: ...

    store_reads: int
    replay_reads: int


class _Sink(Protocol):
    async def publish(self, event: ProgressEvent) -> None: ...

    def mark_local(self, session_id: str, run_id: str) -> None: ...

    def unmark_local(self, session_id: str, run_id: str) -> None: ...


_RUN_STATES = {
    EventType.RUN_QUEUED: "QUEUED",
    EventType.RUN_STARTED: "RUNNING",
    EventType.RUN_COMPLETED: "SUCCEEDED",
    EventType.RUN_FAILED: "FAILED",
    EventType.RUN_CANCELLED: "CANCELLED",
}


class MeteredSink:
    """The runner's event sink, counting run starts and ends on the way."""

    def __init__(self, sink: _Sink, metrics: Metrics) -> None:
        self._sink = sink
        self._runs = metrics.runs

    async def publish(self, event: ProgressEvent) -> None:
        """Count run-level events, then hand the event on."""
        state = _RUN_STATES.get(event.type)
        if state:
            self._runs.labels(state).inc()
        await self._sink.publish(event)

    def mark_local(self, session_id: str, run_id: str) -> None:
        """Delegate."""
        self._sink.mark_local(session_id, run_id)

    def unmark_local(self, session_id: str, run_id: str) -> None:
        """Delegate."""
        self._sink.unmark_local(session_id, run_id)
