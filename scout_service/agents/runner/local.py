"""One run executing on this replica, why it stops, and small helpers of the runner."""

from __future__ import annotations

import asyncio
import enum
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from scout_service.agents.queue import Ticket
from scout_service.agents.recorder import EventRecorder
from scout_service.agents.usage import UsageMeter
from scout_service.domain import AgentState, AgentStatus, ReportKind, Run, TokenUsage
from scout_service.research.corpus import Corpus
from scout_service.research.sources import SourceRegistry
from scout_service.research.web import WebResearch

ModelFactory = Callable[[ReportKind], Any]


class Stop(enum.Enum):
    """Why a run is being stopped on this replica before it ended."""

    # A caller cancelled it: the run is finished CANCELLED here.
    CANCEL = "cancel"
    # This replica is shutting down: the run is handed back (lease released).
    SHUTDOWN = "shutdown"
    # Another replica owns it now (or the store is away): nothing more is written.
    LOST = "lost"


@dataclass(eq=False)
class _LocalRun:
    run: Run
    ticket: Ticket
    recorder: EventRecorder | None = None
    documents: Corpus | None = None
    sources: SourceRegistry | None = None
    web: WebResearch | None = None
    resumed: bool = False
    # Why the run is being stopped here: cancel, shutdown or lost (taken over).
    stop: Stop | None = None
    cancel_signal: threading.Event = field(default_factory=threading.Event)
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    agent_tasks: dict[ReportKind, asyncio.Task[None]] = field(default_factory=dict)
    # The strands agents working now, for the run's token budget.
    live: dict[ReportKind, Any] = field(default_factory=dict)
    # Set by the first model response of any agent (RunnerSettings.warm_cache_first).
    first_response: asyncio.Event | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def usage_so_far(self, meter: UsageMeter) -> TokenUsage:
        """What the run's agents used so far, counting those still working."""
        total = TokenUsage()
        for status in self.run.agents:
            if status.kind not in self.live:
                total = total + status.usage
        for agent in self.live.values():
            total = total + meter.of(agent)
        return total

    @property
    def key(self) -> str:
        return self.run.run_id

    def request_stop(self, reason: Stop) -> None:
        """Stop the agents through strands' cancel signal (checked between model chunks)."""
        if self.stop is None or reason is Stop.LOST:
            self.stop = reason
        self.cancel_signal.set()
        self.stop_requested.set()



def _keep_threads_untraced() -> None:
    """Undo strands' OpenTelemetry patch of ``threading`` while nothing records traces.

    strands' first ``Agent`` wraps ``Thread.start``/``run`` and
    ``ThreadPoolExecutor.submit`` process-wide (``ThreadingInstrumentor``) so
    trace context follows work into threads. Scout installs no tracer
    provider, so there is no context to carry, and the wrapper would add a few
    µs to every DynamoDB call (each runs on a pool) from the first research run
    on. A process given a real provider (``opentelemetry-instrument``) keeps it.
    """
    from opentelemetry import trace
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor
    from strands.telemetry.tracer import get_tracer

    get_tracer()  # where strands instruments threading, once per process
    if isinstance(trace.get_tracer_provider(),
                  trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        ThreadingInstrumentor().uninstrument()



def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__



def _succeeded_at(finished_at: float) -> Callable[[AgentStatus], AgentStatus]:
    """A change marking an agent SUCCEEDED at ``finished_at``."""
    def change(a: AgentStatus) -> AgentStatus:
        return replace(a, state=AgentState.SUCCEEDED, error=None, finished_at=finished_at)

    return change
