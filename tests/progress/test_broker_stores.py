"""The broker on each store implementation (``store`` fixture: MemoryStore, DynamoStore).

The unit tests (``test_broker.py``) pin down the semantics on MemoryStore;
this checks the parts that touch the store — paginated replay, the shared
follower, resuming after a sequence — against DynamoDB's HTTP endpoint too.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from scout_service.domain import (
    ALL_AGENTS,
    AgentStatus,
    EventType,
    ProgressEvent,
    ReportKind,
    Run,
    RunState,
)
from scout_service.progress import ProgressBroker
from scout_service.store.base import Store

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

AFTER = (0, 3, 0, 9)  # where the streams of each run start


def _event(session_id: str, run_id: str, sequence: int, terminal: bool) -> ProgressEvent:
    return ProgressEvent(
        session_id=session_id, run_id=run_id, sequence=sequence, created_at=time.time(),
        type=EventType.RUN_COMPLETED if terminal else EventType.TOOL_CALL,
        message=f"event {sequence}", agent=None if terminal else ReportKind.LEGAL,
        tool_name=None if terminal else "save_report", attributes={"n": str(sequence)},
    )


async def _run(store: Store, clock: Any) -> tuple[str, str]:
    session = await store.create_session(owner="alice", ttl_seconds=3600)
    run = await store.create_run(Run(
        session_id=session.session_id, run_id=str(uuid.uuid4()), state=RunState.RUNNING,
        created_at=clock(), updated_at=clock(), model_provider="offline", owner="alice",
        agents=tuple(AgentStatus(kind=kind) for kind in ALL_AGENTS),
    ))
    return run.session_id, run.run_id


async def _collect(stream: Any) -> list[ProgressEvent]:
    got: list[ProgressEvent] = []
    async with asyncio.timeout(30):
        async for event in stream:
            if event.type is not EventType.HEARTBEAT:
                got.append(event)
    return got


async def test_local_and_remote_runs_stream_exactly_once(store: Store, clock: Any) -> None:
    broker = ProgressBroker(store, poll_interval=0.02, heartbeat_interval=60, page_size=7)
    local = await _run(store, clock)
    remote = await _run(store, clock)
    broker.mark_local(*local)
    total = 30
    written: dict[tuple[str, str], list[ProgressEvent]] = {local: [], remote: []}

    async def write(key: tuple[str, str], publish: bool) -> None:
        for seq in range(1, total + 1):
            event = _event(*key, seq, terminal=seq == total)
            await store.append_event(event)
            if publish:
                await broker.publish(event)
            written[key].append(event)
            if seq == 10:
                # Streams open mid-run: part replayed (in pages of 7), part live.
                streams[key] = [
                    asyncio.create_task(_collect(broker.subscribe(*key, after_sequence=after)))
                    for after in AFTER
                ]
            await asyncio.sleep(0.005)

    streams: dict[tuple[str, str], list[asyncio.Task[list[ProgressEvent]]]] = {}
    started = time.monotonic()
    await asyncio.gather(write(local, True), write(remote, False))
    for key in (local, remote):
        results = await asyncio.gather(*streams[key])
        assert results == [written[key][after:] for after in AFTER]
    elapsed = time.monotonic() - started
    # Four streams of the remote run share one reader: ~1 read per poll interval
    # (a page of 7 may take two), where four pollers would make four.
    assert 0 < broker.store_reads <= elapsed / 0.02 * 1.5 + 3, (broker.store_reads, elapsed)
    assert broker.active_streams == 0
    # Resuming after the last one seen, once the run is over, just ends.
    assert await _collect(broker.subscribe(*remote, after_sequence=total)) == []
    await broker.close()
