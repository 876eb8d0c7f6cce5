"""The runner as the service sees it: start and stop it, cancel runs, ask questions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from scout_service.agents.queue import Ticket
from scout_service.agents.recorder import RunTakenOver
from scout_service.agents.runner.admission import _Admission
from scout_service.agents.runner.local import Stop, _LocalRun
from scout_service.domain import ReportKind, Run, Session
from scout_service.errors import Conflict, FailedPrecondition, Unavailable
from scout_service.research import questions
from scout_service.research.corpus import Corpus

logger = logging.getLogger(__name__)


class ResearchRunner(_Admission):
    """Starts, executes, cancels and resumes research runs on this replica."""

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
            calls=self._calls, meter=self._meter,
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
            and local.stop is not Stop.LOST
            and not local.run.state.is_terminal
        ):
            try:
                await self._update(local, lambda r: replace(r, cancel_requested=True))
            except RunTakenOver:
                pass
            else:
                local.request_stop(Stop.CANCEL)
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
                                       recorder=recorder, stop=Stop.CANCEL)
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
            lr.request_stop(Stop.SHUTDOWN)
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
