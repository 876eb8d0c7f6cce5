"""Research runs: four specialist agents in parallel, then the synthesis agent.

A run executes as asyncio tasks on whichever replica claims it. The
replica that accepts ``StartResearch`` runs it at once when it has a free
slot; otherwise the run waits in the fleet's queue (``agents/queue.py``:
stored QUEUED with no lease owner) and any replica with a free slot claims
it. Each agent is a fresh strands ``Agent`` with its own model instance,
its system prompt, its save tool bound to the run's session and report
kind, and hooks that record progress. The run's state lives in the store
and changes only by conditional writes (``Run.version``), so exactly one
replica executes a run at a time:

- the owner renews its lease every ``lease_renew_interval_s``; a renewal
  that loses its write reads the stored run and so notices a cancel
  requested through another replica, or that the run was taken over;
- every replica with a free slot reads the queue once per
  ``claim_interval_s`` (queued runs, and runs whose lease expired) and
  claims runs with a conditional write; a resumed run re-runs only the
  agents whose report for this run is not saved, and continues the run's
  event sequence;
- ``shutdown`` stops claiming and the local agents and hands the runs back
  at once (lease released, state unchanged) for another replica or a restart.

Nothing here logs document text, prompts or reports: ids and states only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel
from strands import Agent
from strands.hooks import AfterModelCallEvent
from strands.middleware import InvokeModelStage
from strands.tools.executors import SequentialToolExecutor
from strands.types.exceptions import StructuredOutputException

from scout_service import tracing
from scout_service.agents import prompts
from scout_service.agents.calls import ModelCalls
from scout_service.agents.hooks import BudgetHooks, ProgressHooks, RunBudget
from scout_service.agents.ids import uuid7
from scout_service.agents.queue import Slots, Ticket, claim_order, queue_position, turn_of
from scout_service.agents.recorder import (
    EventLogUnavailable,
    EventRecorder,
    EventSink,
    RetryPolicy,
    RunTakenOver,
)
from scout_service.agents.tools import (
    AgentOutcome,
    ReportBinding,
    commit_report,
    make_save_tool,
)
from scout_service.agents.usage import UsageMeter
from scout_service.documents import DocumentError, ExtractedDocument
from scout_service.documents.isolation import ExtractionLimits, ExtractorClosed, IsolatedExtractor
from scout_service.domain import (
    SPECIALISTS,
    AgentState,
    AgentStatus,
    Brief,
    EventType,
    FileInfo,
    Findings,
    Report,
    ReportKind,
    Run,
    RunState,
    Session,
    TokenUsage,
    run_ending,
    usage_attributes,
)
from scout_service.errors import (
    Conflict,
    FailedPrecondition,
    NotFound,
    ResourceExhausted,
    ScoutError,
    Unavailable,
)
from scout_service.research import citations, findings, questions
from scout_service.research.corpus import Corpus, build_corpus
from scout_service.research.index import CorpusCache
from scout_service.research.sources import SourceRegistry
from scout_service.research.tools import ResearchBinding, describe_call, make_research_tools
from scout_service.research.web import WebResearch
from scout_service.store.base import Store, every_item

logger = logging.getLogger(__name__)

ModelFactory = Callable[[ReportKind], Any]


@dataclass(frozen=True)
class RunnerSettings:
    """Limits and timings of research runs on one replica."""

    # Runs executing at once here (the wiring picks the offline or the network
    # provider's setting); more wait in the fleet's queue.
    max_concurrent_runs: int = 4
    # Runs waiting in the fleet's queue before StartResearch answers RESOURCE_EXHAUSTED.
    max_queued_runs: int = 100
    # Unfinished runs one owner may have executing here or waiting in the fleet's
    # queue (SCOUT_MAX_RUNS_PER_PRINCIPAL).
    max_runs_per_principal: int = 4
    # Time one agent may take before it is marked FAILED.
    agent_timeout_s: float = 600
    # Time a run may take from its first agent's start before it is FAILED.
    run_timeout_s: float = 1800
    # How long a lease holds without renewal before another replica takes over.
    lease_seconds: float = 30
    lease_renew_interval_s: float = 10
    # How often this replica, while it has a free slot, reads the queue (queued
    # runs and runs whose lease expired): one query each time.
    claim_interval_s: float = 1.0
    # Characters of one file's text that are indexed for search.
    max_document_chars: int = 30_000_000
    # Indexes of file sets kept on this replica (each a SQLite file on disk).
    max_cached_corpora: int = 16
    # Searches one agent may make, and refused saves before it fails.
    max_searches_per_agent: int = 40
    max_save_refusals: int = 3
    # Time the text extraction of one file may take before the rest is left out
    # (checked between pages), and the hard limits of the worker process reading
    # a PDF or .docx: wall time, address space, how many at once.
    document_time_budget_s: float = 20
    document_timeout_s: float = 30
    document_memory_mb: int = 1024
    document_workers: int = 2
    max_files_per_run: int = 20
    # Run the specialists one after another (for the benchmark's baseline).
    sequential_specialists: bool = False
    # Start one specialist alone and the others once its first model response is
    # in, so they could read what it wrote to the provider's prompt cache (measured
    # in bench/model_bench.py; it does not pay, hence off).
    warm_cache_first: bool = False
    # How long a cancel waits for agents to stop at strands' cancel checkpoints
    # before it cancels their tasks.
    cancel_grace_s: float = 1.0
    # Model turns one agent may take (a model that never saves stops here).
    max_agent_turns: int = 8
    # Retries of progress-event and run writes while the store is unavailable.
    store_retry: RetryPolicy = RetryPolicy()
    # Token budget of a run whose brief sets none (SCOUT_RUN_MAX_TOKENS), and the
    # cost budget in USD when the model's prices are known (SCOUT_RUN_MAX_COST_USD);
    # 0: none.
    run_max_tokens: int = 0
    run_max_cost_usd: float = 0

    def __post_init__(self) -> None:
        """Refuse settings under which a live run could lose its lease."""
        if self.max_concurrent_runs < 1 or self.max_queued_runs < 0:
            raise ValueError("max_concurrent_runs must be >= 1 and max_queued_runs >= 0")
        if self.max_runs_per_principal < 1:
            raise ValueError("max_runs_per_principal must be >= 1")
        if not 0 < self.lease_renew_interval_s < self.lease_seconds:
            raise ValueError("lease_renew_interval_s must be positive and below lease_seconds")
        if min(self.agent_timeout_s, self.run_timeout_s, self.claim_interval_s) <= 0:
            raise ValueError("timeouts and intervals must be positive")


# -- one run executing here ------------------------------------------------------------------

# Most waiting runs one read of the queue returns (a bound on its cost; fairness
# and queue positions look at these oldest ones).
QUEUE_READ_LIMIT = 1000

# Longest wait between tries to store a finished run's last event.
TERMINAL_EVENT_MAX_DELAY_S = 5.0

_CANCEL = "cancel"
_SHUTDOWN = "shutdown"
_LOST = "lost"


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
    stop: str | None = None
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

    def request_stop(self, reason: str) -> None:
        """Stop the agents through strands' cancel signal (checked between model chunks)."""
        if self.stop is None or reason == _LOST:
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


class ResearchRunner:
    """Starts, executes, cancels and resumes research runs on this replica."""

    def __init__(
        self,
        store: Store,
        broker: EventSink,
        model_factory: ModelFactory,
        *,
        settings: RunnerSettings,
        replica_id: str,
        provider_name: str,
        clock: Callable[[], float] = time.time,
        web: Callable[[], WebResearch | None] | None = None,
        meter: UsageMeter | None = None,
        calls: ModelCalls | None = None,
    ) -> None:
        """Wire the runner; ``start()`` begins lease renewal and the resume scan.

        ``meter`` reads and prices the agents' token usage (default: the
        provider's default prices, no metrics); ``calls`` retries throttled
        model calls and bounds those in flight (default: retries, no limit).
        """
        _keep_threads_untraced()
        self._store = store
        self._broker = broker
        self._model_factory = model_factory
        self._settings = settings
        self._replica_id = replica_id
        self._provider_name = provider_name
        self._meter = meter or UsageMeter(provider=provider_name)
        self._calls = calls or ModelCalls()
        self._clock = clock
        self._slots = Slots(settings.max_concurrent_runs)
        self.corpora = CorpusCache(max_entries=settings.max_cached_corpora)
        self.documents = IsolatedExtractor(ExtractionLimits(
            max_chars=settings.max_document_chars,
            time_budget_s=settings.document_time_budget_s,
            timeout_s=settings.document_timeout_s,
            memory_mb=settings.document_memory_mb,
            workers=settings.document_workers,
        ))
        # A WebResearch per run (its budgets are per run), or None without a provider.
        self._web = web or (lambda: None)
        self._local: dict[str, _LocalRun] = {}
        # Runs being admitted (between the limit check and _launch), per owner.
        self._admitting: collections.Counter[str] = collections.Counter()
        self._background: list[asyncio.Task[None]] = []
        self._closing = False
        self.invocation_counts: collections.Counter[tuple[str, ReportKind]] = (
            collections.Counter()
        )

    # -- public API ---------------------------------------------------------------------

    async def start_research(
        self, session: Session, *, request_id: str | None, file_names: Sequence[str],
        brief: Brief | None = None,
    ) -> Run:
        """Validate the session's documents, create the run and schedule it; return at once.

        ``FailedPrecondition`` when there is no readable document (reason
        ``NO_DOCUMENTS``, ``FILE_NOT_FOUND`` or the document's own reason),
        another run is in progress, or the brief asks for web search that is not
        configured (``WEB_SEARCH_UNAVAILABLE``); ``ResourceExhausted`` for too many files
        (``TOO_MANY_FILES``), too many unfinished runs of the session's owner
        executing here or queued (``TOO_MANY_RUNS``) or a full fleet-wide queue
        (``RUN_QUEUE_FULL``, with ``queue_depth``). The run returned is RUNNING
        here or QUEUED with its ``queue_position``.
        """
        if self._closing:
            raise Unavailable("this replica is shutting down; retry on another",
                              reason="REPLICA_SHUTTING_DOWN")
        sid = session.session_id
        owner = session.owner
        # Counted from here until the run is launched or queued (or refused), so
        # that concurrent calls of one owner cannot all pass the check.
        self._admitting[owner] += 1
        try:
            waiting = await self._waiting_runs()
            queued = [r for r in waiting if r.owner == owner and r.state is RunState.QUEUED]
            unfinished = self._unfinished_runs_of(owner) - 1 + len(queued)
            limit = self._settings.max_runs_per_principal
            if unfinished >= limit:
                retried = next((r for r in (*(lr.run for lr in self._local.values()), *queued)
                                if request_id is not None and r.session_id == sid
                                and r.request_id == request_id), None)
                if retried is not None:  # a retry of a run not finished gets that run
                    return retried
                raise ResourceExhausted(
                    f"{owner!r} has {unfinished} unfinished research runs (executing on this "
                    f"replica or queued) and the limit (SCOUT_MAX_RUNS_PER_PRINCIPAL) is "
                    f"{limit}; wait for one to finish or cancel one",
                    reason="TOO_MANY_RUNS",
                    metadata={"limit": "SCOUT_MAX_RUNS_PER_PRINCIPAL"},
                )
            return await self._admit(session, request_id=request_id, file_names=file_names,
                                     brief=brief or Brief(), waiting=waiting)
        finally:
            self._admitting[owner] -= 1
            if self._admitting[owner] <= 0:
                del self._admitting[owner]

    async def _waiting_runs(self) -> list[Run]:
        """The fleet's queue as the index shows it now: one query (``agents/queue.py``)."""
        limit = min(self._settings.max_queued_runs + self._settings.max_concurrent_runs + 1,
                    QUEUE_READ_LIMIT)
        # Up to the end of this millisecond (the index's resolution): a run queued
        # a moment ago counts.
        waiting = await self._store.list_resumable_runs(
            lease_expired_before=self._clock() + 0.001, limit=limit)
        return [r for r in waiting if r.run_id not in self._local and not r.state.is_terminal]

    async def queue_position(self, run: Run) -> int:
        """A QUEUED run's place in the fleet's queue (1: claimed next); 0 if not waiting."""
        if run.state is not RunState.QUEUED:
            return 0
        return queue_position(await self._waiting_runs(), run.run_id)

    def _unfinished_runs_of(self, owner: str) -> int:
        """Runs of ``owner`` executing here, plus those being admitted."""
        local = sum(
            1 for lr in self._local.values()
            if lr.run.owner == owner and lr.stop != _LOST and not lr.done.is_set()
            and not lr.run.state.is_terminal
        )
        return local + self._admitting[owner]

    async def _admit(
        self, session: Session, *, request_id: str | None, file_names: Sequence[str],
        brief: Brief, waiting: Sequence[Run],
    ) -> Run:
        """Create the run: executing here at once, or queued for the fleet.

        It starts here only if this replica has a free slot and nothing is
        queued before it (the queue is served in ``claim_order``); otherwise it
        is queued, unless the queue is at ``max_queued_runs``. A queued run is
        created with this replica's lease, so that nobody claims it before its
        RUN_QUEUED event is stored; then the lease is released, which puts the
        run in the queue at its creation time.
        """
        sid = session.session_id
        if brief.web_search and self._web() is None:
            raise FailedPrecondition(
                "brief.web_search: this server has no web search provider configured "
                "(SCOUT_WEB_SEARCH_PROVIDER); leave web_search unset or false",
                reason="WEB_SEARCH_UNAVAILABLE", metadata={"field": "brief.web_search"},
            )
        names = await self._resolve_files(sid, file_names)
        documents = await self._read_documents(sid, names)
        ahead = [r for r in waiting if r.state is RunState.QUEUED]
        ticket = None if ahead else self._slots.take()
        if ticket is None and len(waiting) >= self._settings.max_queued_runs:
            raise ResourceExhausted(
                f"{len(waiting)} research runs are waiting for a free slot in the fleet and the "
                f"limit (SCOUT_MAX_QUEUED_RUNS) is {self._settings.max_queued_runs}; retry later",
                reason="RUN_QUEUE_FULL",
                metadata={"queue_depth": str(len(waiting)), "limit": "SCOUT_MAX_QUEUED_RUNS"},
            )
        try:
            now = self._clock()
            run = Run(
                session_id=sid,
                run_id=uuid7(now),
                state=RunState.RUNNING if ticket is not None else RunState.QUEUED,
                created_at=now,
                updated_at=now,
                agents=tuple(AgentStatus(kind) for kind in (*brief.specialists, ReportKind.FINAL)),
                model_provider=self._provider_name,
                file_names=tuple(names),
                request_id=request_id,
                owner=session.owner,
                brief=brief,
                lease_owner=self._replica_id,
                lease_expires_at=now + self._settings.lease_seconds,
                queue_turn=0 if ticket is not None else turn_of(waiting, session.owner),
            )
            stored = await self._store.create_run(run)
        except BaseException:
            if ticket is not None:
                self._slots.release(ticket)
            raise
        if stored.run_id != run.run_id:  # an idempotent retry: the first call's run
            if ticket is not None:
                self._slots.release(ticket)
            return stored
        recorder = self._recorder(stored, last_sequence=0)
        logger.info("research run created", extra={
            "session_id": sid, "run_id": stored.run_id, "state": stored.state.value,
            "files": len(names)})
        if ticket is not None:
            self._launch(_LocalRun(stored, ticket, recorder=recorder, documents=documents))
            return stored
        return await self._enqueue(stored, recorder,
                                   place=queue_position([*waiting, stored], stored.run_id))

    async def _enqueue(self, run: Run, recorder: EventRecorder, *, place: int) -> Run:
        """Record RUN_QUEUED, then release the lease: the run is in the queue from now on."""
        try:
            await recorder.emit(
                EventType.RUN_QUEUED,
                f"Queued: every slot is busy; {place - 1} run(s) will be claimed before this "
                "one from the fleet's queue.",
                attributes={"queue_position": str(place)})
        except (EventLogUnavailable, RunTakenOver):
            # Not stored: the run still waits; its lease runs out and it is claimed then.
            logger.warning("queued run's event not stored", extra={"run_id": run.run_id})
            return replace(run, queue_position=place)
        for _ in range(5):
            released = replace(run, lease_owner=None, lease_expires_at=run.created_at,
                               last_sequence=max(run.last_sequence, recorder.last_sequence),
                               updated_at=self._clock())
            try:
                run = await self._write_run(released)
                break
            except Conflict:
                # A cancel through another replica wrote first: release that version.
                run = await self._store.get_run(run.session_id, run.run_id)
                if run.lease_owner != self._replica_id or run.state.is_terminal:
                    break
            except Unavailable:
                # The store is away: the lease runs out on its own and the run is claimed then.
                logger.info("queued run's lease not released", extra={"run_id": run.run_id})
                break
        return replace(run, queue_position=place)

    def ask(self, session: Session, question: str, request_id: str | None
            ) -> AsyncIterator[questions.AnswerEvent]:
        """Answer a follow-up question about the session's dossier (``research/questions``)."""
        if self._closing:
            raise Unavailable("this replica is shutting down; retry on another",
                              reason="REPLICA_SHUTTING_DOWN")

        async def corpus_of(session_id: str) -> Corpus:
            names = await self._resolve_files(session_id, [])
            return await self._read_documents(session_id, names)

        desk = questions.Desk(
            store=self._store, corpus_of=corpus_of,
            model=lambda: self._model_factory(ReportKind.FINAL), author=self._provider_name,
            clock=self._clock, timeout_s=self._settings.agent_timeout_s,
            max_searches=self._settings.max_searches_per_agent,
            max_refusals=self._settings.max_save_refusals,
            max_turns=self._settings.max_agent_turns, web=self._web,
        )
        return questions.ask(desk, session, question, request_id)

    async def cancel(self, session_id: str, run_id: str) -> Run:
        """Cancel a run; saved reports stay. ``FailedPrecondition`` if it already ended.

        A run executing here is stopped before this returns. A run executing
        on another replica gets ``cancel_requested``; that replica stops it at
        its next lease renewal. A run whose replica died is finished here.
        """
        local = self._local.get(run_id)
        if (
            local is not None
            and local.run.session_id == session_id
            and local.stop != _LOST
            and not local.run.state.is_terminal
        ):
            try:
                await self._update(local, lambda r: replace(r, cancel_requested=True))
            except RunTakenOver:
                pass
            else:
                local.request_stop(_CANCEL)
                await self._wait_stopped(local)
                return await self._store.get_run(session_id, run_id)
        for _ in range(5):
            run = await self._store.get_run(session_id, run_id)
            if run.state.is_terminal:
                raise FailedPrecondition(
                    f"run {run_id} already ended ({run.state.value}); nothing to cancel",
                    reason="RUN_ALREADY_ENDED",
                    metadata={"state": run.state.value},
                )
            now = self._clock()
            try:
                if run.lease_expires_at <= now and not self._closing:
                    # Nobody executes it: take it over just to record the cancellation.
                    claimed = await self._store.update_run(replace(
                        run, cancel_requested=True, lease_owner=self._replica_id,
                        lease_expires_at=now + self._settings.lease_seconds, updated_at=now,
                    ))
                    recorder = await self._resume_recorder(claimed)
                    orphan = _LocalRun(claimed, Ticket(released=True),
                                       recorder=recorder, stop=_CANCEL)
                    await self._finish_cancelled(orphan)
                    return orphan.run
                return await self._store.update_run(
                    replace(run, cancel_requested=True, updated_at=now)
                )
            except Conflict:
                continue  # it changed under us: read it again
        raise Conflict(f"run {run_id} kept changing; retry the cancel",
                       reason="RUN_VERSION_CONFLICT")

    async def start(self) -> None:
        """Keep renewing leases and claiming queued runs and runs whose lease expired."""
        self._background = [
            asyncio.create_task(self._renew_loop(), name="scout-lease-renewal"),
            asyncio.create_task(self._claim_loop(), name="scout-run-claims"),
        ]

    async def shutdown(self, grace_s: float) -> None:
        """Stop taking work and hand every local run back for another replica to resume.

        Agents are stopped through strands' cancel signal; runs stay RUNNING or
        QUEUED with their lease released, so the next scan anywhere resumes
        them at once. After ``grace_s`` the remaining tasks are cancelled.
        """
        self._closing = True
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background = []
        local = list(self._local.values())
        for lr in local:
            lr.request_stop(_SHUTDOWN)
        tasks = [lr.task for lr in local if lr.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(grace_s, 0.0))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=2.0)
        self.corpora.close()
        await self.documents.close()
        logger.info("research runner stopped", extra={"released_runs": len(local)})

    # -- documents ------------------------------------------------------------------------

    async def _resolve_files(self, session_id: str, file_names: Sequence[str]) -> list[str]:
        limit = self._settings.max_files_per_run
        names = list(dict.fromkeys(file_names))
        if not names:
            files = every_item(lambda token: self._store.list_files(
                session_id, page_size=100, page_token=token))
            async for info in files:
                names.append(info.name)
                if len(names) > limit:
                    break
        if not names:
            raise FailedPrecondition(
                f"session {session_id} has no uploaded documents: upload the business plan "
                "(PDF, Word .docx, Markdown or text) before starting research",
                reason="NO_DOCUMENTS",
            )
        if len(names) > limit:
            raise ResourceExhausted(
                f"a research run reads at most {limit} files; name the ones to analyse in "
                "file_names",
                reason="TOO_MANY_FILES",
                metadata={"limit": str(limit)},
            )
        return names

    async def _read_documents(self, session_id: str, names: Sequence[str]) -> Corpus:
        """The run's files indexed for search (``FailedPrecondition`` for a bad one)."""

        def missing(name: str) -> FailedPrecondition:
            return FailedPrecondition(
                f"file {name!r} is not in session {session_id}; upload it, or leave "
                "file_names empty to analyse every uploaded file",
                reason="FILE_NOT_FOUND",
                metadata={"file_name": name},
            )

        async def get_file(name: str) -> FileInfo:
            try:
                return await self._store.get_file(session_id, name)
            except NotFound:
                raise missing(name) from None

        async def read_file(name: str) -> tuple[FileInfo, bytes]:
            try:
                return await self._store.read_file(session_id, name)
            except NotFound:
                raise missing(name) from None

        async def extract(data: bytes, name: str) -> ExtractedDocument:
            try:
                return await self.documents.extract(data, name)
            except DocumentError as exc:
                raise FailedPrecondition(
                    exc.message, reason=exc.reason, metadata={"file_name": name}
                ) from None
            except ExtractorClosed:
                raise Unavailable("this replica is shutting down; retry on another",
                                  reason="REPLICA_SHUTTING_DOWN") from None

        return await build_corpus(names, cache=self.corpora, get_file=get_file,
                                  read_file=read_file, extract=extract)

    # -- executing --------------------------------------------------------------------------

    def _recorder(self, run: Run, *, last_sequence: int) -> EventRecorder:
        return EventRecorder(
            self._store, self._broker, run.session_id, run.run_id,
            last_sequence=last_sequence, clock=self._clock, retry=self._settings.store_retry,
        )

    async def _resume_recorder(self, run: Run) -> EventRecorder:
        return await EventRecorder.resume(
            self._store, self._broker, run.session_id, run.run_id,
            clock=self._clock, retry=self._settings.store_retry,
        )

    def _launch(self, lr: _LocalRun) -> None:
        self._local[lr.key] = lr
        self._broker.mark_local(lr.run.session_id, lr.key)
        lr.task = asyncio.create_task(tracing.in_run(
            self._execute(lr), "research run", session_id=lr.run.session_id, run_id=lr.key),
            name=f"scout-run-{lr.key}")

    async def _execute(self, lr: _LocalRun) -> None:
        ids = {"session_id": lr.run.session_id, "run_id": lr.key}
        try:
            if lr.stop is None:
                await self._run(lr)
            await self._after_stop(lr)
        except RunTakenOver:
            logger.info("run taken over by another replica; stopped here", extra=ids)
        except (Unavailable, EventLogUnavailable):
            # The store is unreachable: leave the run as it is; its lease runs
            # out and a replica (this one, too) resumes it.
            lr.request_stop(_LOST)
            logger.warning("store unavailable; run left to be resumed", extra=ids)
        except asyncio.CancelledError:
            # shutdown's backstop, or the run was taken over
            await self._after_stop(lr, best_effort=True)
        except Exception as exc:
            logger.exception("run failed unexpectedly", extra=ids)
            try:
                await self._fail(lr, f"internal error ({type(exc).__name__})")
            except Exception:
                logger.warning("could not record the run's failure", extra=ids, exc_info=True)
        finally:
            self._slots.release(lr.ticket)
            self._local.pop(lr.key, None)
            self._broker.unmark_local(lr.run.session_id, lr.key)
            lr.done.set()

    async def _after_stop(self, lr: _LocalRun, *, best_effort: bool = False) -> None:
        """Record what a stop requested while the run executed means."""
        try:
            if lr.stop == _CANCEL:
                await self._finish_cancelled(lr)
            elif lr.stop == _SHUTDOWN:
                await self._release_lease(lr)
        except (ScoutError, RunTakenOver):
            if not best_effort:
                raise
            logger.warning("could not record the stop", extra={"run_id": lr.key}, exc_info=True)

    async def _run(self, lr: _LocalRun) -> None:
        run = lr.run
        if lr.recorder is None:
            lr.recorder = await self._resume_recorder(run)
        if run.cancel_requested:
            lr.request_stop(_CANCEL)
            return
        started = [a.started_at for a in run.agents if a.started_at is not None]
        first_start = min(started, default=self._clock())
        budget = self._settings.run_timeout_s - (self._clock() - first_start)
        if budget <= 0:
            await self._fail(lr, "the run exceeded its time limit before it could resume")
            return
        if lr.documents is None:
            try:
                lr.documents = await self._read_documents(run.session_id, run.file_names)
            except FailedPrecondition as exc:
                await self._fail(lr, f"the documents can no longer be read: {exc.message}")
                return
        await self._update(lr, lambda r: replace(r, state=RunState.RUNNING))
        kept = await self._saved_agents(lr)
        if lr.resumed:
            await lr.recorder.emit(
                EventType.RUN_STARTED,
                f"Research resumed on {self._replica_id}; "
                f"{len([k for k in kept if k.is_specialist])} saved specialist report(s) kept.",
                attributes={"resumed": "true", "replica": self._replica_id},
            )
        else:
            ran = run.brief.specialists
            working = ("four specialist analysts are working" if len(ran) == 4 else
                       " and ".join(prompts.agent_title(k).lower() for k in ran)
                       + (" is" if len(ran) == 1 else " are") + " working")
            await lr.recorder.emit(
                EventType.RUN_STARTED,
                f"Research started on {self._replica_id}: {working}"
                + (" one after another" if self._settings.sequential_specialists and len(ran) > 1
                   else " in parallel" if len(ran) > 1 else "")
                + ("." if len(ran) == 4 else
                   "; the final report is written again from the session's reports."),
                attributes={"agents": ",".join(a.kind.value for a in run.agents),
                            "replica": self._replica_id},
            )
        logger.info("run executing", extra={"session_id": run.session_id, "run_id": lr.key,
                                            "resumed": lr.resumed})
        try:
            async with asyncio.timeout(budget):
                await self._run_agents(lr, lr.documents, kept)
        except TimeoutError:
            if lr.stop is None:
                await self._fail(lr, f"the run exceeded its time limit of "
                                     f"{self._settings.run_timeout_s:g} s")
            return
        if lr.stop is not None:
            return
        final = lr.run.agent(ReportKind.FINAL)
        ran = lr.run.brief.specialists
        specialists_ok = [k for k in ran if lr.run.agent(k).state is AgentState.SUCCEEDED]
        if final.state is AgentState.SUCCEEDED:
            await self._complete(lr)
        elif not specialists_ok:
            await self._fail(lr, "no specialist report was saved: " + "; ".join(
                f"{k.value}: {lr.run.agent(k).error or 'not run'}" for k in ran))
        else:
            await self._fail(lr, f"the final report was not written: {final.error or 'unknown'}")

    async def _saved_agents(self, lr: _LocalRun) -> set[ReportKind]:
        """Agents already done for this run: their report is saved for it.

        A report in the store is complete (blobs become visible only when
        whole) and is stored after its findings, so an agent whose replica
        died between saving and recording SUCCEEDED is done too: it is
        recorded as SUCCEEDED here, not re-run.
        """
        # One Query for every kind: their metadata carries the run id.
        reports = every_item(lambda token: self._store.list_reports(
            lr.run.session_id, page_size=len(ReportKind), page_token=token))
        saved = {report.kind: report async for report in reports}
        kept: set[ReportKind] = set()
        for status in lr.run.agents:
            report = saved.get(status.kind)
            if report is None or report.run_id != lr.key:
                continue
            kept.add(status.kind)
            if status.state is not AgentState.SUCCEEDED:
                await self._set_agent(lr, status.kind, _succeeded_at(report.updated_at))
        return kept

    async def _run_agents(self, lr: _LocalRun, documents: Corpus, kept: set[ReportKind]) -> None:
        if lr.stop is not None:
            return
        brief = lr.run.brief
        if lr.sources is None:
            lr.sources = await SourceRegistry.load(
                self._store, lr.run.session_id, lr.key, clock=self._clock)
            lr.web = self._web() if brief.web_search is not False else None
        digest = documents.digest
        ran = brief.specialists
        todo = [k for k in ran if k not in kept]
        if self._settings.sequential_specialists:
            for kind in todo:
                if lr.stop is not None:
                    return
                await self._agents_step(
                    lr, {kind: prompts.research_prompt(kind, digest, brief=brief)})
        elif self._settings.warm_cache_first and len(todo) > 1:
            first = asyncio.Event()
            lr.first_response = first
            rest = asyncio.ensure_future(self._after(first, self._agents_step(
                lr, {k: prompts.research_prompt(k, digest, brief=brief) for k in todo[1:]})))
            try:
                await self._agents_step(
                    lr, {todo[0]: prompts.research_prompt(todo[0], digest, brief=brief)})
            except BaseException:
                rest.cancel()  # taken over or cancelled: the others must not start now
                await asyncio.gather(rest, return_exceptions=True)
                raise
            first.set()  # the first agent ended before any response: start the others now
            await rest
        else:
            await self._agents_step(
                lr, {k: prompts.research_prompt(k, digest, brief=brief) for k in todo}
            )
        if lr.stop is not None or ReportKind.FINAL in kept:
            return
        if not any(lr.run.agent(k).state is AgentState.SUCCEEDED for k in ran):
            return
        reports: dict[ReportKind, str] = {}
        missing: dict[ReportKind, str] = {}
        for kind in SPECIALISTS:
            if kind not in ran:
                # A partial re-run: the other specialists' current reports, untouched,
                # their citations made sources of this run.
                try:
                    report = await self._store.get_report(lr.run.session_id, kind)
                except NotFound:
                    missing[kind] = "not run in this run, and the session has no report of it"
                    continue
                reports[kind] = await self._adopt(lr, report)
                continue
            status = lr.run.agent(kind)
            if status.state is AgentState.SUCCEEDED:
                try:
                    saved: Report | None = await self._store.get_report(lr.run.session_id, kind)
                except NotFound:
                    saved = None
                if saved is not None and saved.run_id == lr.key and saved.content:
                    reports[kind] = citations.without_sources(saved.content)
                    continue
                missing[kind] = "its saved report is no longer in the session"
            else:
                missing[kind] = status.error or status.state.value.lower()
        await self._agents_step(lr, {ReportKind.FINAL: prompts.synthesis_prompt(
            reports, missing, digest=digest, brief=brief)})

    @staticmethod
    async def _after(event: asyncio.Event, work: Any) -> None:
        await event.wait()
        await work

    async def _adopt(self, lr: _LocalRun, report: Report) -> str:
        """An earlier report's text for this run's synthesis, its [S#] renumbered here."""
        assert lr.sources is not None
        text = citations.without_sources(report.content or "")
        run_id = report.sources_run_id
        if not report.cited or not run_id or run_id == lr.key:
            return text
        cited = set(report.cited)
        earlier = [s async for s in every_item(lambda token: self._store.list_sources(
            lr.run.session_id, run_id, page_size=1000, page_token=token))
            if s.source_id in cited]
        mapping = await lr.sources.adopt(earlier, reader=ReportKind.FINAL)
        return citations.renumber(text, {old: new.source_id for old, new in mapping.items()})

    async def _agents_step(self, lr: _LocalRun, work: dict[ReportKind, str]) -> None:
        """Run agents concurrently; one failing never stops the others."""
        for kind, prompt in work.items():
            lr.agent_tasks[kind] = asyncio.create_task(tracing.in_run(
                self._run_agent(lr, kind, prompt), f"agent {kind.value}",
                session_id=lr.run.session_id, run_id=lr.key, **{"scout.agent": kind.value},
            ), name=f"scout-{lr.key}-{kind.value}")
        results = await asyncio.gather(
            *(lr.agent_tasks[k] for k in work), return_exceptions=True
        )
        for kind in work:
            lr.agent_tasks.pop(kind, None)
        for result in results:
            if isinstance(result, (RunTakenOver, ScoutError)):
                raise result
            if isinstance(result, Exception):
                raise result

    async def _run_agent(self, lr: _LocalRun, kind: ReportKind, prompt: str) -> None:
        assert lr.recorder is not None
        self.invocation_counts[(lr.key, kind)] += 1
        now = self._clock()
        await self._set_agent(lr, kind, lambda a: replace(
            a, state=AgentState.RUNNING, started_at=now, finished_at=None, error=None,
            invocations=a.invocations + 1,
        ))
        outcome = AgentOutcome(kind)
        assert lr.documents is not None and lr.sources is not None
        binding = ReportBinding(
            store=self._store, recorder=lr.recorder, session_id=lr.run.session_id,
            run_id=lr.key, kind=kind, author=self._provider_name,
            may_write=lambda: lr.stop not in (_SHUTDOWN, _LOST),
            registry=lr.sources, max_refusals=self._settings.max_save_refusals,
        )
        research = ResearchBinding(lr.documents.index, lr.sources, kind,
                                   max_searches=self._settings.max_searches_per_agent,
                                   web=lr.web)
        # The findings schema, refusing source ids that are not the run's.
        # Taken only after the save tool accepted the report: the model may call both in
        # one turn (the tools run in the order called), which saves a whole model request.
        findings_model = findings.bind(kind, lr.sources.known, lambda: None if (
            outcome.accepted is not None) else (
            f"the {kind.title.lower()} has not been accepted yet: call "
            f"{prompts.save_tool_name(kind)} first (or again, fixing what it reported)"))
        title = prompts.agent_title(kind)
        recorder = lr.recorder

        async def waiting(delay: float, reason: str, tries: int) -> None:
            await recorder.emit(
                EventType.TOOL_CALL,
                f"{title}: waiting for the model provider ({reason}); trying again in "
                f"{delay:.0f} s…", agent=kind,
                attributes={"model_wait": reason, "delay_s": f"{delay:.1f}",
                            "attempt": str(tries + 1)})

        budget = self._budget(lr.run)
        retry = self._calls.retry(
            deadline=time.monotonic() + self._settings.agent_timeout_s, on_wait=waiting)
        agent = Agent(
            model=self._model_factory(kind),
            tools=[*make_research_tools(research), make_save_tool(binding, outcome)],
            system_prompt=prompts.system_prompt(kind),
            callback_handler=None,
            tool_executor=SequentialToolExecutor(),
            hooks=[ProgressHooks(lr.recorder, outcome, describe=describe_call(lr.sources),
                                 max_findings_refusals=self._settings.max_save_refusals),
                   *([BudgetHooks(budget, lambda: lr.usage_so_far(self._meter), outcome)]
                     if not budget.is_unlimited else [])],
            name=f"scout-{kind.value.replace('_', '-')}",
            retry_strategy=retry,
        )
        if self._calls.limiter is not None:
            agent.add_middleware(InvokeModelStage, self._calls.limiter.middleware)
        if lr.first_response is not None:
            signal = lr.first_response
            agent.add_hook(lambda event: signal.set(), AfterModelCallEvent)
        error: str | None = None
        lr.live[kind] = agent
        try:
            async with asyncio.timeout(self._settings.agent_timeout_s):
                result = await agent.invoke_async(
                    prompt,
                    # A fresh dict per call: strands adds to it in place.
                    invocation_state={"scout_run_id": lr.key, "scout_report_kind": kind.value},
                    cancel_signal=lr.cancel_signal,
                    limits={"turns": self._settings.max_agent_turns},
                    structured_output_model=findings_model,
                )
            if (outcome.accepted is not None and result.structured_output is not None
                    and lr.stop is None):
                # Findings first: a report stored for the run implies its findings are.
                await self._store_findings(lr, kind, result.structured_output, outcome)
                await commit_report(binding, outcome)
        except TimeoutError:
            error = f"timed out after {self._settings.agent_timeout_s:g} s"
        except (RunTakenOver, EventLogUnavailable):
            raise
        except StructuredOutputException as exc:
            # The model ended without (valid) findings; what that means depends on
            # whether it saved its report, said below.
            if outcome.accepted is not None and outcome.findings_refused_out is None:
                outcome.findings_refused_out = (
                    f"its report passed the checks but it gave no findings: {exc}")
        except Exception as exc:
            error = self._calls.explain(exc) or _describe(exc)
            if retry.gave_up is not None:
                error += f" ({retry.gave_up})"
            logger.warning("agent failed", extra={"run_id": lr.key, "kind": kind.value,
                                                  "error_type": type(exc).__name__})
        finally:
            lr.live.pop(kind, None)
        partial = None
        if (outcome.budget_out is not None and outcome.accepted is not None
                and not outcome.saved and lr.stop is None):
            partial = await self._save_partial(binding, outcome)
        usage = self._meter.of(agent)
        self._meter.record(usage)
        finished = self._clock()
        if outcome.saved:
            await self._set_agent(lr, kind, lambda a: replace(
                a, state=AgentState.SUCCEEDED, finished_at=finished, error=partial,
                usage=a.usage + usage))
            await lr.recorder.emit(
                EventType.AGENT_FINISHED,
                f"{title} finished" + (f" with a partial report: {partial}." if partial else "."),
                agent=kind,
                attributes={**usage_attributes(usage),
                            "findings_warnings": str(outcome.findings_warnings),
                            **({"partial": "true"} if partial else {})},
            )
            return
        if lr.stop is not None:
            # Stopped by cancel or shutdown: the run records what that means.
            await self._set_agent(lr, kind, lambda a: replace(a, usage=a.usage + usage))
            return
        if outcome.budget_out is not None:
            error = outcome.budget_out
        if error is None and outcome.refused_out is not None:
            error = outcome.refused_out
        if error is None and outcome.accepted is not None:
            error = outcome.findings_refused_out or (
                "its report passed the checks but it gave no findings; nothing was stored"
                + (f"; the findings tool said: {outcome.tool_error}" if outcome.tool_error else ""))
        if error is None:
            error = "finished without saving its report"
            if outcome.stop_reason not in (None, "end_turn"):
                error += f" (stop reason: {outcome.stop_reason})"
            if outcome.tool_error:
                error += f"; the save tool said: {outcome.tool_error}"
        await self._set_agent(lr, kind, lambda a: replace(
            a, state=AgentState.FAILED, finished_at=finished, error=error,
            usage=a.usage + usage))
        await lr.recorder.emit(EventType.AGENT_FAILED, f"{title} failed: {error}", agent=kind)

    @staticmethod
    async def _save_partial(binding: ReportBinding, outcome: AgentOutcome) -> str:
        """Store a report that passed its checks when the budget stopped the agent after it.

        Only the typed findings are missing (the budget stopped the call that
        gives them): the report is usable, so it is stored with a note saying
        so under its title. An agent stopped before its report was accepted
        has nothing usable and fails.
        """
        assert outcome.accepted is not None and outcome.budget_out is not None
        content, cited = outcome.accepted
        note = (f"> **Partial report.** The agent was {outcome.budget_out}, after this report "
                "passed its checks and before it gave its typed findings.\n\n")
        title, newline, rest = content.partition("\n")
        marked = (f"{title}\n\n{note}{rest.lstrip(chr(10))}" if title.startswith("#") and newline
                  else note + content)
        outcome.accepted = (marked, cited)
        await commit_report(binding, outcome)
        return f"partial: {outcome.budget_out}; its findings were not given"

    def _budget(self, run: Run) -> RunBudget:
        """The run's budget: the brief's token limit, else the replica's default; the cost."""
        settings = self._settings
        tokens, source = run.brief.max_tokens, "brief.max_tokens"
        if not tokens and settings.run_max_tokens:
            tokens, source = settings.run_max_tokens, "SCOUT_RUN_MAX_TOKENS"
        cost = settings.run_max_cost_usd if self._meter.priced else 0
        return RunBudget(max_tokens=tokens or None, tokens_source=source,
                         max_cost_usd=cost or None)

    async def _store_findings(
        self, lr: _LocalRun, kind: ReportKind, value: BaseModel, outcome: AgentOutcome
    ) -> None:
        """Store an agent's validated findings with the warnings the server found in them."""
        assert isinstance(value, findings.MODELS[kind])
        found = findings.warnings(value)
        await self._store.put_findings(Findings(
            session_id=lr.run.session_id, kind=kind, run_id=lr.key,
            data=value.model_dump_json(exclude_none=True), created_at=self._clock(),
            warnings=tuple((w.field, w.message) for w in found),
        ))
        outcome.findings_saved = True
        outcome.findings_warnings = len(found)

    # -- recording state ----------------------------------------------------------------------

    async def _update(
        self, lr: _LocalRun, change: Callable[[Run], Run], *, extend_lease: bool = True,
        terminal_event: bool = False,
    ) -> Run:
        """Apply ``change`` to the stored run with a conditional write.

        On a lost write the stored run is read again: if another replica owns
        it now, ``RunTakenOver``; otherwise (a cancel requested elsewhere)
        the change is applied to the fresh copy, and a cancel is obeyed.
        """
        async with lr.lock:
            current = lr.run
            for _ in range(5):
                now = self._clock()
                candidate = change(current)
                last = lr.recorder.last_sequence if lr.recorder is not None else 0
                candidate = replace(
                    candidate, updated_at=now,
                    last_sequence=max(candidate.last_sequence, last + (1 if terminal_event else 0)),
                )
                if extend_lease:
                    candidate = replace(
                        candidate, lease_expires_at=now + self._settings.lease_seconds
                    )
                try:
                    lr.run = await self._write_run(candidate)
                    return lr.run
                except Conflict:
                    fresh = await self._store.get_run(current.session_id, current.run_id)
                    if replace(fresh, version=candidate.version) == candidate:
                        # This very write landed and its answer was lost (a retry then
                        # found the version moved): done, not a takeover.
                        lr.run = fresh
                        return fresh
                    if fresh.lease_owner != self._replica_id or fresh.state.is_terminal:
                        lr.request_stop(_LOST)
                        raise RunTakenOver(f"run {current.run_id} is owned by "
                                           f"{fresh.lease_owner!r} now") from None
                    if fresh.cancel_requested and lr.stop is None:
                        lr.request_stop(_CANCEL)
                    current = lr.run = fresh
            raise RunTakenOver(f"run {current.run_id} kept changing under this replica")

    async def _write_run(self, run: Run) -> Run:
        delays = self._settings.store_retry.delays()
        for attempt in range(len(delays) + 1):
            try:
                return await self._store.update_run(run)
            except Unavailable:
                if attempt == len(delays):
                    raise
                await asyncio.sleep(delays[attempt])
        raise AssertionError("unreachable")

    async def _set_agent(
        self, lr: _LocalRun, kind: ReportKind, change: Callable[[AgentStatus], AgentStatus]
    ) -> None:
        await self._update(lr, lambda r: replace(r, agents=tuple(
            change(a) if a.kind is kind else a for a in r.agents)))

    async def _complete(self, lr: _LocalRun) -> None:
        assert lr.recorder is not None
        now = self._clock()
        run = await self._update(lr, lambda r: replace(
            r, state=RunState.SUCCEEDED, finished_at=now, error=None), terminal_event=True)
        await self._emit_terminal(lr)
        logger.info("run succeeded", extra={"session_id": run.session_id, "run_id": lr.key})

    async def _emit_terminal(self, lr: _LocalRun) -> None:
        """The run's last event (``run_ending``), stored however long the store stays away.

        The run's state already says it ended, so no replica will resume it,
        and streams end only with this event: giving up after the recorder's
        short retries would leave them waiting forever. Only shutdown
        (cancellation) stops the wait. Should this replica be cut off long
        enough for its lease to run out, a replica streaming the run may
        store the same event in its place (``ProgressBroker``); its number
        is then taken, which is as good as stored.
        """
        assert lr.recorder is not None
        type, message, attributes = run_ending(lr.run)
        delay = self._settings.store_retry.base_delay_s
        while True:
            try:
                await lr.recorder.emit(type, message, attributes=attributes)
                return
            except RunTakenOver:
                logger.info("the run's last event was stored by another replica",
                            extra={"run_id": lr.key, "event": type.value})
                return
            except EventLogUnavailable:
                logger.warning("the run's last event is not stored yet; retrying",
                               extra={"run_id": lr.key, "event": type.value})
                await asyncio.sleep(delay)
                delay = min(delay * 2, TERMINAL_EVENT_MAX_DELAY_S)

    async def _fail(self, lr: _LocalRun, error: str) -> None:
        if lr.recorder is None:
            lr.recorder = await self._resume_recorder(lr.run)
        now = self._clock()

        def change(r: Run) -> Run:
            agents = tuple(
                replace(a, state=AgentState.FAILED, finished_at=now,
                        error=a.error or f"not finished: {error}")
                if a.state in (AgentState.PENDING, AgentState.RUNNING) else a
                for a in r.agents
            )
            return replace(r, state=RunState.FAILED, error=error, finished_at=now, agents=agents)

        await self._update(lr, change, terminal_event=True)
        await self._emit_terminal(lr)
        logger.info("run failed", extra={"session_id": lr.run.session_id, "run_id": lr.key})

    async def _finish_cancelled(self, lr: _LocalRun) -> None:
        if lr.recorder is None:
            lr.recorder = await self._resume_recorder(lr.run)
        now = self._clock()

        def change(r: Run) -> Run:
            agents = tuple(
                replace(a, state=AgentState.CANCELLED, finished_at=now)
                if a.state in (AgentState.PENDING, AgentState.RUNNING) else a
                for a in r.agents
            )
            return replace(r, state=RunState.CANCELLED, cancel_requested=True, finished_at=now,
                           agents=agents)

        await self._update(lr, change, terminal_event=True)
        await self._emit_terminal(lr)
        logger.info("run cancelled", extra={"session_id": lr.run.session_id, "run_id": lr.key})

    async def _release_lease(self, lr: _LocalRun) -> None:
        """Hand the run back: lease expired now, unfinished agents pending again."""

        def change(r: Run) -> Run:
            agents = tuple(
                replace(a, state=AgentState.PENDING, error=None)
                if a.state is AgentState.RUNNING else a
                for a in r.agents
            )
            return replace(r, agents=agents, lease_owner=None, lease_expires_at=0.0)

        await self._update(lr, change, extend_lease=False)
        logger.info("run handed back for resumption", extra={"run_id": lr.key})

    async def _wait_stopped(self, lr: _LocalRun) -> None:
        """Give the agents ``cancel_grace_s`` to stop cooperatively, then cancel their tasks."""
        try:
            await asyncio.wait_for(lr.done.wait(), self._settings.cancel_grace_s)
            return
        except TimeoutError:
            pass
        for task in list(lr.agent_tasks.values()):
            task.cancel()
        try:
            await asyncio.wait_for(lr.done.wait(), 2.0)
        except TimeoutError:
            logger.warning("run did not stop after its agents were cancelled",
                           extra={"run_id": lr.key})

    # -- leases and resumption ------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_renew_interval_s)
            for lr in list(self._local.values()):
                if lr.stop == _LOST or lr.done.is_set():
                    continue
                try:
                    await self._update(lr, lambda r: r)
                except RunTakenOver:
                    self._abandon(lr)
                except Unavailable:
                    if self._clock() >= lr.run.lease_expires_at:
                        self._abandon(lr)  # our lease ran out: someone else may own it now
                except Exception:
                    logger.warning("lease renewal failed", extra={"run_id": lr.key},
                                   exc_info=True)

    def _abandon(self, lr: _LocalRun) -> None:
        """Stop executing a run this replica no longer owns, without writing anything."""
        lr.request_stop(_LOST)
        for task in list(lr.agent_tasks.values()):
            task.cancel()
        if lr.task is not None:
            lr.task.cancel()
        logger.info("run abandoned: lease lost", extra={"run_id": lr.key})

    async def _claim_loop(self) -> None:
        """Read the queue once per ``claim_interval_s`` while a slot is free; never when full."""
        while True:
            await self._slots.has_room.wait()
            try:
                await self._claim_once()
            except Exception:
                logger.warning("reading the run queue failed", exc_info=True)
            await asyncio.sleep(self._settings.claim_interval_s)

    async def _claim_once(self) -> None:
        """Claim waiting runs in ``claim_order``, as many as there are free slots here.

        The claim is the lease: a conditional write (on the version read)
        naming this replica the owner, so of several replicas claiming one
        run exactly one wins and the others move on to the next.
        """
        if self._closing or self._slots.free() <= 0:
            return
        for run in claim_order(await self._waiting_runs()):
            if self._closing or run.run_id in self._local:
                continue
            ticket = self._slots.take()
            if ticket is None:
                return
            now = self._clock()
            claimed = replace(
                run,
                lease_owner=self._replica_id,
                lease_expires_at=now + self._settings.lease_seconds,
                updated_at=now,
            )
            try:
                stored = await self._store.update_run(claimed)
            except (Conflict, NotFound):
                self._slots.release(ticket)  # another replica won the claim
                continue
            except BaseException:
                self._slots.release(ticket)
                raise
            resumed = run.state is not RunState.QUEUED
            logger.info("run taken over" if resumed else "queued run claimed",
                        extra={"session_id": run.session_id, "run_id": run.run_id,
                               "previous_owner": run.lease_owner})
            self._launch(_LocalRun(stored, ticket, resumed=resumed))


def _succeeded_at(finished_at: float) -> Callable[[AgentStatus], AgentStatus]:
    """A change marking an agent SUCCEEDED at ``finished_at``."""
    def change(a: AgentStatus) -> AgentStatus:
        return replace(a, state=AgentState.SUCCEEDED, error=None, finished_at=finished_at)

    return change
