"""The progress broker in-process, on MemoryStore, against plain asyncio floors.

What each row compares:

- *fan-out*: deliveries per second of a burst of events to N streams through
  ``ProgressBroker`` (stored, published, replay/live switch, dedup), against
  N bare ``asyncio.Queue`` consumers fed with ``put_nowait`` — the least any
  in-process fan-out can cost.
- *local latency*: store → ``publish`` → stream, one event every few
  milliseconds, against the same queues.
- *remote latency*: an event stored by "another replica" reaches N streams
  through the one follower that polls the store; the floor is an ideal
  poller, whose delay is uniform over the poll interval.
- *remote store reads*: store reads per poll interval for N streams of one
  remote run, against N (one poller per stream).

    python -m bench.progress_bench [streams]
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.common import percentile
from scout_service.domain import ALL_AGENTS, AgentStatus, EventType, ProgressEvent, Run, RunState
from scout_service.progress import ProgressBroker
from scout_service.store import MemoryStore

POLL_INTERVAL = 0.05
EVENT_GAP = 0.004  # between paced events: quiet enough that latency is not queueing


class _Run:
    """A run whose events carry ``time.perf_counter()`` as ``created_at``."""

    def __init__(self, store: MemoryStore, session_id: str, run_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self.run_id = run_id
        self.sequence = 0

    def next(self, *, terminal: bool) -> ProgressEvent:
        self.sequence += 1
        return ProgressEvent(
            session_id=self.session_id, run_id=self.run_id, sequence=self.sequence,
            created_at=time.perf_counter(),
            type=EventType.RUN_COMPLETED if terminal else EventType.TOOL_CALL,
            message=f"event {self.sequence}",
        )


async def _new_run(store: MemoryStore) -> _Run:
    session = await store.create_session(owner="bench", ttl_seconds=3600)
    now = time.time()
    run = await store.create_run(Run(
        session_id=session.session_id, run_id=str(uuid.uuid4()), state=RunState.RUNNING,
        created_at=now, updated_at=now, model_provider="offline", owner="bench",
        agents=tuple(AgentStatus(kind=kind) for kind in ALL_AGENTS),
    ))
    return _Run(store, run.session_id, run.run_id)


def _broker(store: MemoryStore, streams: int) -> ProgressBroker:
    return ProgressBroker(store, poll_interval=POLL_INTERVAL, heartbeat_interval=3600,
                          max_streams=streams, max_streams_per_principal=streams)


async def _consume(broker: ProgressBroker, run: _Run, lat: list[float] | None) -> int:
    """Read a stream to its end; record each event's age on arrival if asked."""
    count = 0
    async for event in broker.subscribe(run.session_id, run.run_id):
        if event.type is EventType.HEARTBEAT:
            continue
        count += 1
        if lat is not None:
            lat.append(time.perf_counter() - event.created_at)
    return count


async def _queue_consume(queue: asyncio.Queue[ProgressEvent], lat: list[float] | None) -> int:
    count = 0
    while True:
        event = await queue.get()
        count += 1
        if lat is not None:
            lat.append(time.perf_counter() - event.created_at)
        if event.type.is_terminal:
            return count


async def _attached(broker: ProgressBroker, streams: int) -> None:
    """Wait until every stream finished its replay read (it is then live)."""
    while broker.live_streams < streams:
        await asyncio.sleep(0.001)


async def _emit(run: _Run, sink: Callable[[ProgressEvent], Any] | None, n: int,
                gap: float) -> None:
    for i in range(n):
        event = run.next(terminal=i == n - 1)
        await run.store.append_event(event)
        if sink is not None:
            result = sink(event)
            if asyncio.iscoroutine(result):
                await result
        if gap:
            await asyncio.sleep(gap)


async def _fanout(streams: int, events: int) -> tuple[float, float]:
    """Deliveries/s through the broker and through bare queues (a burst of events)."""
    store = MemoryStore()
    broker = _broker(store, streams)
    run = await _new_run(store)
    broker.mark_local(run.session_id, run.run_id)
    readers = [asyncio.create_task(_consume(broker, run, None)) for _ in range(streams)]
    await _attached(broker, streams)
    t0 = time.perf_counter()
    await _emit(run, broker.publish, events, 0)
    counts = await asyncio.gather(*readers)
    broker_rate = sum(counts) / (time.perf_counter() - t0)
    assert counts == [events] * streams, "broker lost or duplicated events"
    await broker.close()

    queues: list[asyncio.Queue[ProgressEvent]] = [asyncio.Queue() for _ in range(streams)]
    floor_readers = [asyncio.create_task(_queue_consume(q, None)) for q in queues]
    await asyncio.sleep(0)
    floor_run = await _new_run(store)
    t0 = time.perf_counter()
    await _emit(floor_run, lambda e: [q.put_nowait(e) for q in queues], events, 0)
    counts = await asyncio.gather(*floor_readers)
    floor_rate = sum(counts) / (time.perf_counter() - t0)
    return broker_rate, floor_rate


async def _local_latency(streams: int, events: int) -> tuple[list[float], list[float]]:
    store = MemoryStore()
    broker = _broker(store, streams)
    run = await _new_run(store)
    broker.mark_local(run.session_id, run.run_id)
    lat: list[float] = []
    readers = [asyncio.create_task(_consume(broker, run, lat)) for _ in range(streams)]
    await _attached(broker, streams)
    await _emit(run, broker.publish, events, EVENT_GAP)
    await asyncio.gather(*readers)
    await broker.close()

    floor: list[float] = []
    queues: list[asyncio.Queue[ProgressEvent]] = [asyncio.Queue() for _ in range(streams)]
    floor_readers = [asyncio.create_task(_queue_consume(q, floor)) for q in queues]
    floor_run = await _new_run(store)
    await _emit(floor_run, lambda e: [q.put_nowait(e) for q in queues], events, EVENT_GAP)
    await asyncio.gather(*floor_readers)
    return lat, floor


async def _remote(streams: int, events: int) -> tuple[list[float], float, float]:
    """Latency through the follower, and its store reads per poll interval."""
    store = MemoryStore()
    broker = _broker(store, streams)
    run = await _new_run(store)  # not marked local: another replica executes it
    lat: list[float] = []
    readers = [asyncio.create_task(_consume(broker, run, lat)) for _ in range(streams)]
    await _attached(broker, streams)
    reads0, t0 = broker.store_reads, time.perf_counter()
    await _emit(run, None, events, EVENT_GAP * 1.7)  # not a divisor of the poll interval
    await asyncio.gather(*readers)
    elapsed = time.perf_counter() - t0
    reads = broker.store_reads - reads0
    await broker.close()
    return lat, reads / (elapsed / POLL_INTERVAL), elapsed


async def _measure(streams: int, events: int) -> list[dict[str, Any]]:
    broker_rate, floor_rate = await _fanout(streams, min(events, 250))
    local, local_floor = await _local_latency(streams, events)
    remote, reads_per_poll, _ = await _remote(streams, events)
    ms = 1000.0
    return [
        {
            "name": f"fan-out to {streams} streams, local run",
            "value": broker_rate, "unit": "deliveries/s", "floor": floor_rate,
            "ratio": broker_rate / floor_rate, "baseline": "bare asyncio.Queue per stream",
        },
        {
            "name": f"publish→receive, local run, {streams} streams",
            "p50_ms": percentile(local, 50) * ms, "p99_ms": percentile(local, 99) * ms,
            "baseline_p50_ms": percentile(local_floor, 50) * ms,
            "baseline_p99_ms": percentile(local_floor, 99) * ms,
            "baseline": "bare asyncio.Queue per stream",
        },
        {
            "name": f"store→receive, remote run (polled), {streams} streams",
            "p50_ms": percentile(remote, 50) * ms, "p99_ms": percentile(remote, 99) * ms,
            "baseline_p50_ms": POLL_INTERVAL / 2 * ms, "baseline_p99_ms": POLL_INTERVAL * 0.99 * ms,
            "baseline": f"ideal poller every {POLL_INTERVAL * ms:g} ms",
        },
        {
            "name": f"store reads per poll interval, remote run, {streams} streams",
            "value": reads_per_poll, "unit": "reads", "floor": float(streams),
            "ratio": reads_per_poll / streams, "baseline": "one poller per stream",
            "target": "<= 0.01" if streams >= 150 else None,
        },
    ]


def run(streams: int = 1000, events: int = 200) -> list[dict[str, Any]]:
    """Measure, print a table, and return one dict per row (see the module docstring)."""
    rows = asyncio.run(_measure(streams, events))
    print(f"{'measure':<58} {'value':>14} {'floor':>14} {'ratio':>8}")
    for row in rows:
        if "p50_ms" in row:
            for q in ("p50", "p99"):
                value, floor = row[f"{q}_ms"], row[f"baseline_{q}_ms"]
                print(f"{row['name'] + ' ' + q:<58} {value:>11.3f} ms {floor:>11.3f} ms "
                      f"{value / floor:>7.2f}×")
        else:
            print(f"{row['name']:<58} {row['value']:>14,.1f} {row['floor']:>14,.1f} "
                  f"{row['ratio']:>7.3f}×")
    return rows


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
