"""Admission: per-owner limits, slots, and runs started here or queued for the fleet."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from scout_service.agents.ids import uuid7
from scout_service.agents.queue import queue_position, turn_of
from scout_service.agents.recorder import EventLogUnavailable, EventRecorder, RunTakenOver
from scout_service.agents.runner.leases import _Leases
from scout_service.agents.runner.local import Stop, _LocalRun
from scout_service.domain import AgentStatus, Brief, EventType, ReportKind, Run, RunState, Session
from scout_service.errors import (
    Conflict,
    FailedPrecondition,
    ResourceExhausted,
    Unavailable,
    limit_exceeded,
)

logger = logging.getLogger(__name__)


class _Admission(_Leases):
    """Admits a new run: executing here on a free slot, or queued."""

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
                raise limit_exceeded(
                    f"{owner!r} has {unfinished} unfinished research runs (executing on this "
                    f"replica or queued) and the limit (SCOUT_MAX_RUNS_PER_PRINCIPAL) is "
                    f"{limit}; wait for one to finish or cancel one",
                    reason="TOO_MANY_RUNS", limit="SCOUT_MAX_RUNS_PER_PRINCIPAL", value=limit,
                )
            return await self._admit(session, request_id=request_id, file_names=file_names,
                                     brief=brief or Brief(), waiting=waiting)
        finally:
            self._admitting[owner] -= 1
            if self._admitting[owner] <= 0:
                del self._admitting[owner]

    async def queue_position(self, run: Run) -> int:
        """A QUEUED run's place in the fleet's queue (1: claimed next); 0 if not waiting."""
        if run.state is not RunState.QUEUED:
            return 0
        return queue_position(await self._waiting_runs(), run.run_id)

    def _unfinished_runs_of(self, owner: str) -> int:
        """Runs of ``owner`` executing here, plus those being admitted."""
        local = sum(
            1 for lr in self._local.values()
            if lr.run.owner == owner and lr.stop is not Stop.LOST and not lr.done.is_set()
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
