"""The fleet-wide run queue (issue 23) with several runners on one MemoryStore."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import replace
from typing import Any

import pytest

from scout_service.agents.queue import claim_order, queue_position, turn_of
from scout_service.domain import AgentStatus, EventType, ReportKind, Run, RunState
from scout_service.store import MemoryStore

from .support import (
    FAST,
    all_events,
    assert_no_gaps,
    make_runner,
    new_session,
    offline_factory,
    wait_for,
    wait_terminal,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]

ONE_SLOT = replace(FAST, max_concurrent_runs=1, max_runs_per_principal=100)


def _run(run_id: str, owner: str, created: float, state: RunState = RunState.QUEUED,
         turn: int = 0) -> Run:
    return Run(session_id=f"s-{run_id}", run_id=run_id, state=state, created_at=created,
               updated_at=created, agents=(AgentStatus(ReportKind.FINAL),),
               model_provider="offline", owner=owner, lease_expires_at=created,
               queue_turn=turn)


def test_claim_order_takes_callers_in_turn_and_resumptions_first() -> None:
    burst: list[Run] = []
    for i in range(5):
        burst.append(_run(f"a{i}", "alice", 1.0 + i, turn=turn_of(burst, "alice")))
    late: list[Run] = []
    for name, owner, at in (("b0", "bob", 10.0), ("c0", "carol", 11.0), ("b1", "bob", 12.0)):
        late.append(_run(name, owner, at, turn=turn_of([*burst, *late], owner)))
    orphan = _run("x", "dave", 20.0, RunState.RUNNING)  # its replica died mid-run
    waiting = [*burst, *late, orphan]
    order = [r.run_id for r in claim_order(waiting)]
    assert order == ["x", "a0", "b0", "c0", "a1", "b1", "a2", "a3", "a4"]
    assert queue_position(waiting, "b0") == 3
    assert queue_position(waiting, "a4") == 9
    assert queue_position(waiting, "gone") == 0
    # Turns hold as runs are claimed: with a0 gone, b0 is next, not a1.
    assert [r.run_id for r in claim_order(waiting[1:-1])][:2] == ["b0", "c0"]


async def _sessions(store: MemoryStore, count: int, owner: str = "alice") -> list[Any]:
    return [await new_session(store, owner=owner) for _ in range(count)]


async def test_runs_accepted_by_one_runner_spread_and_run_once() -> None:
    store = MemoryStore()
    runners = [make_runner(store, factory=offline_factory(15), settings=ONE_SLOT,
                           replica_id=name) for name in ("a", "b", "c")]
    for runner in runners:
        await runner.start()
    sessions = await _sessions(store, 9)
    runs = [await runners[0].start_research(s, request_id=None, file_names=[])
            for s in sessions]
    assert [r.state for r in runs].count(RunState.QUEUED) == 8
    done = [await wait_terminal(store, run, timeout=60) for run in runs]
    await asyncio.gather(*(r.shutdown(1) for r in runners))

    assert all(d.state is RunState.SUCCEEDED for d in done)
    finals = collections.Counter()
    for runner in runners:
        for (run_id, kind), count in runner.invocation_counts.items():
            if kind is ReportKind.FINAL:
                finals[runner._replica_id] += count
            assert count == 1, (runner._replica_id, run_id, kind)
    assert set(finals) == {"a", "b", "c"}, finals
    assert sum(finals.values()) == 9
    for run in runs:
        events = await all_events(store, run)
        assert_no_gaps(events)
        assert [e.type for e in events].count(EventType.RUN_STARTED) == 1


async def test_a_queued_run_is_cancelled_where_it_waits() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(100), settings=ONE_SLOT)
    await runner.start()
    busy, waiting = await _sessions(store, 2)
    first = await runner.start_research(busy, request_id=None, file_names=[])
    second = await runner.start_research(waiting, request_id=None, file_names=[])
    assert second.state is RunState.QUEUED

    cancelled = await runner.cancel(second.session_id, second.run_id)
    assert cancelled.state is RunState.CANCELLED
    events = await all_events(store, second)
    assert [e.type for e in events] == [EventType.RUN_QUEUED, EventType.RUN_CANCELLED]
    assert runner.invocation_counts[(second.run_id, ReportKind.FINAL)] == 0
    await runner.cancel(first.session_id, first.run_id)
    await runner.shutdown(1)


async def test_a_draining_runner_claims_nothing() -> None:
    store = MemoryStore()
    accepting = make_runner(store, factory=offline_factory(60), settings=ONE_SLOT,
                            replica_id="accepting")
    draining = make_runner(store, settings=ONE_SLOT, replica_id="draining")
    await accepting.start()
    await draining.start()
    await draining.shutdown(1)
    first, second = [await accepting.start_research(s, request_id=None, file_names=[])
                     for s in await _sessions(store, 2)]
    assert second.state is RunState.QUEUED
    await wait_terminal(store, second, timeout=60)
    assert not any(draining.invocation_counts.values())
    assert accepting.invocation_counts[(second.run_id, ReportKind.FINAL)] == 1
    await accepting.shutdown(1)


class CountingStore(MemoryStore):
    """Counts reads of the queue."""

    def __init__(self) -> None:
        super().__init__()
        self.queue_reads = 0

    async def list_resumable_runs(self, *, lease_expired_before: float, limit: int) -> list[Run]:
        self.queue_reads += 1
        return await super().list_resumable_runs(
            lease_expired_before=lease_expired_before, limit=limit)


async def test_polling_is_one_read_per_interval_and_none_while_full() -> None:
    store = CountingStore()
    settings = replace(ONE_SLOT, claim_interval_s=0.1)
    busy = make_runner(store, factory=offline_factory(2000), settings=settings,
                       replica_id="busy")
    await busy.start()
    sessions = await _sessions(store, 6)
    first = await busy.start_research(sessions[0], request_id=None, file_names=[])
    queued = [await busy.start_research(s, request_id=None, file_names=[])
              for s in sessions[1:]]
    assert first.state is RunState.RUNNING
    assert all(r.state is RunState.QUEUED for r in queued)
    # Full: its claim loop waits for a slot and reads nothing, however many wait.
    before = store.queue_reads
    await asyncio.sleep(1.0)
    assert store.queue_reads == before

    idle = make_runner(store, factory=offline_factory(2000),
                       settings=replace(settings, max_concurrent_runs=1), replica_id="idle")
    await idle.start()
    await wait_for(lambda: idle._slots.free() == 0)
    # Once full too, neither reads: five runs waiting cost nothing per run.
    before = store.queue_reads
    await asyncio.sleep(1.0)
    assert store.queue_reads == before
    for run in (first, *queued):
        await busy.cancel(run.session_id, run.run_id)
    await asyncio.gather(busy.shutdown(1), idle.shutdown(1))


async def test_with_a_free_slot_one_read_per_interval_whatever_the_queue() -> None:
    store = CountingStore()
    runner = make_runner(store, settings=replace(ONE_SLOT, claim_interval_s=0.2))
    await runner.start()
    await asyncio.sleep(1.0)
    reads = store.queue_reads
    assert 3 <= reads <= 7, reads  # ~5 in 1 s at 0.2 s
    await runner.shutdown(1)


async def test_fairness_across_callers_in_the_order_runs_start() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(5), settings=ONE_SLOT)
    alice = await _sessions(store, 4, owner="alice")
    bob = await _sessions(store, 1, owner="bob")
    runs = [await runner.start_research(s, request_id=None, file_names=[]) for s in alice]
    late = await runner.start_research(bob[0], request_id=None, file_names=[])
    # alice's burst came first, yet bob's run is next after alice's oldest waiting one.
    assert await runner.queue_position(await store.get_run(late.session_id, late.run_id)) == 2
    await runner.start()
    done = [await wait_terminal(store, r, timeout=60) for r in (*runs, late)]
    started = {d.run_id: min(a.started_at or 0 for a in d.agents if a.started_at)
               for d in done}
    order = sorted(started, key=started.__getitem__)
    assert order.index(late.run_id) == 2, order  # alice's running one, alice's 2nd, then bob
    await runner.shutdown(1)
