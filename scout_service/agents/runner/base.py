"""The runner's wiring and the conditional writes every layer above records state with."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import replace

from scout_service.agents.calls import ModelCalls
from scout_service.agents.queue import Slots
from scout_service.agents.recorder import EventRecorder, EventSink, RunTakenOver
from scout_service.agents.runner.local import ModelFactory, Stop, _keep_threads_untraced, _LocalRun
from scout_service.agents.runner.settings import RunnerSettings
from scout_service.agents.usage import UsageMeter
from scout_service.documents.isolation import ExtractionLimits, IsolatedExtractor
from scout_service.domain import AgentStatus, ReportKind, Run
from scout_service.errors import Conflict, Unavailable
from scout_service.research.index import CorpusCache
from scout_service.research.web import WebResearch
from scout_service.store.base import Store


class _RunnerCore:
    """The runner's collaborators and its writes of the stored run."""

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
                        lr.request_stop(Stop.LOST)
                        raise RunTakenOver(f"run {current.run_id} is owned by "
                                           f"{fresh.lease_owner!r} now") from None
                    if fresh.cancel_requested and lr.stop is None:
                        lr.request_stop(Stop.CANCEL)
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
