"""Prometheus metrics of one server, in a registry of its own.

A registry per server (not the process-global default) lets tests run
several servers in one process and keeps the exported names stable.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

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
            "scout_runs", "Research runs that reached a state on this replica.",
            ["state"], registry=self.registry,
        )
        self.streams = Gauge(
            "scout_progress_streams", "Progress streams open on this replica.",
            registry=self.registry,
        )
        self.store_event_reads = Gauge(
            "scout_progress_store_reads", "Store reads made to follow runs of other replicas.",
            registry=self.registry,
        )

    def serve(self, address: str) -> int:
        """Expose /metrics over HTTP on ``host:port``; returns the bound port."""
        host, _, port = address.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host, registry=self.registry)
        return int(server.server_address[1])
