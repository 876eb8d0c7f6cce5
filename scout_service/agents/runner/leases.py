"""Leases: renewal, abandoning a run lost to another replica, and the claim scan."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from scout_service import tracing
from scout_service.agents.queue import claim_order
from scout_service.agents.recorder import RunTakenOver
from scout_service.agents.runner.local import Stop, _LocalRun
from scout_service.agents.runner.states import _States
from scout_service.domain import Run, RunState
from scout_service.errors import Conflict, NotFound, Unavailable

logger = logging.getLogger(__name__)

# Most waiting runs one read of the queue returns (a bound on its cost; fairness
# and queue positions look at these oldest ones).
QUEUE_READ_LIMIT = 1000


class _Leases(_States):
    """Keeps the leases of local runs and claims waiting runs while a slot is free."""

    def _launch(self, lr: _LocalRun) -> None:
        self._local[lr.key] = lr
        self._broker.mark_local(lr.run.session_id, lr.key)
        lr.task = asyncio.create_task(tracing.in_run(
            self._execute(lr), "research run", session_id=lr.run.session_id, run_id=lr.key),
            name=f"scout-run-{lr.key}")

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

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self._settings.lease_renew_interval_s)
            for lr in list(self._local.values()):
                if lr.stop is Stop.LOST or lr.done.is_set():
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
        lr.request_stop(Stop.LOST)
        for task in list(lr.agent_tasks.values()):
            task.cancel()
        if lr.task is not None:
            lr.task.cancel()
        logger.info("run abandoned: lease lost", extra={"run_id": lr.key})

    async def _waiting_runs(self) -> list[Run]:
        """The fleet's queue as the index shows it now: one query (``agents/queue.py``)."""
        limit = min(self._settings.max_queued_runs + self._settings.max_concurrent_runs + 1,
                    QUEUE_READ_LIMIT)
        # Up to the end of this millisecond (the index's resolution): a run queued
        # a moment ago counts.
        waiting = await self._store.list_resumable_runs(
            lease_expired_before=self._clock() + 0.001, limit=limit)
        return [r for r in waiting if r.run_id not in self._local and not r.state.is_terminal]

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
