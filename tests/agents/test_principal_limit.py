"""SCOUT_MAX_RUNS_PER_PRINCIPAL: unfinished runs one owner may have on a replica."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from scout_service.agents import ResearchRunner, RunnerSettings
from scout_service.config import load_settings
from scout_service.domain import Run, RunState, Session
from scout_service.errors import FailedPrecondition, ResourceExhausted
from scout_service.store import MemoryStore
from scout_service.wiring import runner_settings

from .support import FAST, RecordingSink, make_runner, new_session, offline_factory, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

# Slow enough that a run stays unfinished for the whole test unless cancelled.
SLOW_MS = 200


def _limited(limit: int, *, concurrent: int = 4, queued: int = 16) -> RunnerSettings:
    return replace(FAST, max_runs_per_principal=limit, max_concurrent_runs=concurrent,
                   max_queued_runs=queued)


async def _start(runner: ResearchRunner, session: Session, request_id: str | None = None) -> Run:
    return await runner.start_research(session, request_id=request_id, file_names=[])


async def _stop_all(runner: ResearchRunner, runs: list[Run]) -> None:
    for run in runs:
        try:
            await runner.cancel(run.session_id, run.run_id)
        except Exception:  # noqa: BLE001 - already ended
            pass
    await runner.shutdown(1.0)


async def test_at_the_bound_refuses_below_it_accepts() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=_limited(2))
    sessions = [await new_session(store, owner="alice") for _ in range(3)]
    first = await _start(runner, sessions[0])
    second = await _start(runner, sessions[1])  # below the bound (1 of 2): accepted
    assert first.state is RunState.RUNNING and second.state is RunState.RUNNING

    with pytest.raises(ResourceExhausted) as err:
        await _start(runner, sessions[2])
    assert err.value.reason == "TOO_MANY_RUNS"
    assert err.value.metadata == {"limit": "SCOUT_MAX_RUNS_PER_PRINCIPAL", "limit_value": "2"}
    assert "SCOUT_MAX_RUNS_PER_PRINCIPAL" in err.value.message
    assert "is 2" in err.value.message
    # refused before a run was created: the session has none
    assert (await store.list_runs(sessions[2].session_id, page_size=10)).items == []
    await _stop_all(runner, [first, second])


async def test_queued_runs_count_too() -> None:
    store = MemoryStore()
    settings = _limited(2, concurrent=1, queued=10)
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=settings)
    sessions = [await new_session(store, owner="alice") for _ in range(3)]
    first = await _start(runner, sessions[0])
    second = await _start(runner, sessions[1])
    assert first.state is RunState.RUNNING and second.state is RunState.QUEUED
    with pytest.raises(ResourceExhausted) as err:
        await _start(runner, sessions[2])
    assert err.value.reason == "TOO_MANY_RUNS"  # not RUN_QUEUE_FULL: the queue has room
    await _stop_all(runner, [first, second])


async def test_other_principals_are_unaffected() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=_limited(1))
    alice = [await new_session(store, owner="alice") for _ in range(2)]
    bob = [await new_session(store, owner="bob") for _ in range(2)]
    a1 = await _start(runner, alice[0])
    with pytest.raises(ResourceExhausted):
        await _start(runner, alice[1])
    b1 = await _start(runner, bob[0])  # bob has his own allowance
    assert b1.state is RunState.RUNNING
    with pytest.raises(ResourceExhausted):
        await _start(runner, bob[1])
    await _stop_all(runner, [a1, b1])


async def test_a_finished_run_frees_the_slot() -> None:
    store, sink = MemoryStore(), RecordingSink()
    runner = make_runner(store, sink, factory=offline_factory(0), settings=_limited(1))
    sessions = [await new_session(store, owner="alice") for _ in range(2)]
    first = await _start(runner, sessions[0])
    with pytest.raises(ResourceExhausted):
        await _start(runner, sessions[1])
    await wait_for(lambda: first.run_id in sink.unmarked)  # finished and gone from here
    assert (await store.get_run(first.session_id, first.run_id)).state is RunState.SUCCEEDED
    second = await _start(runner, sessions[1])
    assert second.state is RunState.RUNNING
    await _stop_all(runner, [second])


async def test_a_cancelled_run_frees_the_slot() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=_limited(1))
    sessions = [await new_session(store, owner="alice") for _ in range(2)]
    first = await _start(runner, sessions[0])
    with pytest.raises(ResourceExhausted):
        await _start(runner, sessions[1])
    cancelled = await runner.cancel(first.session_id, first.run_id)
    assert cancelled.state is RunState.CANCELLED
    second = await _start(runner, sessions[1])
    await _stop_all(runner, [second])


async def test_concurrent_starts_of_one_owner_cannot_overshoot() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=_limited(2))
    sessions = [await new_session(store, owner="alice") for _ in range(6)]
    results = await asyncio.gather(*(_start(runner, s) for s in sessions),
                                   return_exceptions=True)
    started = [r for r in results if isinstance(r, Run)]
    refused = [r for r in results if isinstance(r, ResourceExhausted)]
    assert len(started) == 2 and len(refused) == 4, results
    assert {r.reason for r in refused} == {"TOO_MANY_RUNS"}
    await _stop_all(runner, started)


async def test_a_refused_start_does_not_hold_a_slot() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=_limited(1))
    empty = await new_session(store, files={}, owner="alice")
    session = await new_session(store, owner="alice")
    with pytest.raises(FailedPrecondition) as err:
        await _start(runner, empty)
    assert err.value.reason == "NO_DOCUMENTS"
    run = await _start(runner, session)  # the failed admission left nothing counted
    await _stop_all(runner, [run])


async def test_a_retry_at_the_bound_gets_its_run() -> None:
    store = MemoryStore()
    runner = make_runner(store, factory=offline_factory(SLOW_MS), settings=_limited(1))
    session = await new_session(store, owner="alice")
    run = await _start(runner, session, request_id="req-1")
    again = await _start(runner, session, request_id="req-1")
    assert again.run_id == run.run_id
    await _stop_all(runner, [run])


def test_the_limit_comes_from_settings() -> None:
    assert RunnerSettings().max_runs_per_principal == 4
    settings = load_settings({"SCOUT_MAX_RUNS_PER_PRINCIPAL": "7", "SCOUT_EMBEDDED_DYNAMODB": "1"})
    assert runner_settings(settings).max_runs_per_principal == 7
    with pytest.raises(ValueError):
        RunnerSettings(max_runs_per_principal=0)
