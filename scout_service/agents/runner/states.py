"""The run state machine: execute, then end SUCCEEDED, FAILED or CANCELLED, or hand back."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from scout_service.agents import prompts
from scout_service.agents.recorder import EventLogUnavailable, RunTakenOver
from scout_service.agents.runner.local import Stop, _LocalRun
from scout_service.agents.runner.steps import _Steps
from scout_service.domain import AgentState, EventType, ReportKind, Run, RunState, run_ending
from scout_service.errors import FailedPrecondition, ScoutError, Unavailable

logger = logging.getLogger(__name__)

# Longest wait between tries to store a finished run's last event.
TERMINAL_EVENT_MAX_DELAY_S = 5.0


class _States(_Steps):
    """Drives one run to its end and records the terminal state and event."""

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
            lr.request_stop(Stop.LOST)
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
            if lr.stop is Stop.CANCEL:
                await self._finish_cancelled(lr)
            elif lr.stop is Stop.SHUTDOWN:
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
            lr.request_stop(Stop.CANCEL)
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
