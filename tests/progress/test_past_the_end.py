"""Streams asked for events past what is stored end when the run ends (issue 17, item 5).

A caller resuming with ``after_sequence`` beyond the events stored so far
(its number came from another replica, or is a guess) must not be left on
heartbeats forever once the run ends with a terminal event whose sequence is
at or below that number — on the replica that executes the run (fed by
``publish``) and on one that follows it through the store.
"""

from __future__ import annotations

import asyncio

import pytest

from scout_service.domain import EventType
from scout_service.progress import ProgressBroker
from tests.progress.test_broker import CountingStore, collect, new_run

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

POLL = 0.02
HEARTBEAT = 0.05  # streams heartbeat while they wait: they must end anyway


@pytest.mark.parametrize("local", [True, False])
async def test_a_stream_past_the_stored_events_ends_when_the_run_ends(local: bool) -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=POLL, heartbeat_interval=HEARTBEAT)
    run = await new_run(store, broker, local=local)
    for _ in range(3):
        await run.emit(publish=local)
    # Past the three stored events, and past where the run will end (sequence 6).
    streams = [broker.subscribe(run.session_id, run.run_id, after_sequence=a) for a in (5, 6, 50)]
    tasks = [asyncio.create_task(collect(s, timeout=10, heartbeats=True)) for s in streams]
    await asyncio.sleep(3 * HEARTBEAT)  # replayed, waiting on heartbeats
    assert not any(t.done() for t in tasks)
    await run.emit(publish=local)
    await run.emit(publish=local)
    await run.emit(terminal=True, publish=local)
    loop = asyncio.get_running_loop()
    ended = loop.time()
    got = await asyncio.wait_for(asyncio.gather(*tasks), 5)
    # Within a poll interval of the end (plus scheduling slack), not a heartbeat later.
    assert loop.time() - ended < POLL + 0.5
    # Only what follows each caller's number: the terminal event (6) for the first.
    sent = [[e for e in events if e.type is not EventType.HEARTBEAT] for events in got]
    assert sent == [run.after(5), [], []]
    # Heartbeats carry where the caller stands, never a number before it.
    assert all(e.sequence >= 5 for e in got[0])
    assert all(e.sequence >= 50 for e in got[2])
    assert broker.active_streams == 0
    await broker.close()


@pytest.mark.parametrize("local", [True, False])
async def test_a_stream_past_the_stored_events_gets_those_after_its_number(local: bool) -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=POLL, heartbeat_interval=HEARTBEAT)
    run = await new_run(store, broker, local=local)
    await run.emit(publish=local)
    stream = broker.subscribe(run.session_id, run.run_id, after_sequence=3)
    task = asyncio.create_task(collect(stream, timeout=10))
    await asyncio.sleep(2 * POLL)
    for i in range(6):
        await run.emit(terminal=i == 5, publish=local)
    assert await asyncio.wait_for(task, 5) == run.after(3)
    await broker.close()


async def test_a_stream_past_the_end_of_an_ended_run_ends_at_once() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=POLL, heartbeat_interval=HEARTBEAT)
    run = await new_run(store, broker)
    for i in range(4):
        await run.emit(terminal=i == 3)
    broker.unmark_local(run.session_id, run.run_id)
    for after in (4, 5, 1000):
        stream = broker.subscribe(run.session_id, run.run_id, after_sequence=after)
        assert await collect(stream, timeout=1, heartbeats=True) == []
    assert broker.active_streams == 0
    await broker.close()
