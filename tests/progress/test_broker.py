"""The progress broker: exactly-once streams across reconnects, replicas and slow readers.

Everything runs on ``MemoryStore``. A *local* run is one this replica
executes: the test appends each event and then publishes it, as the runner
does. A *remote* run is executed by "another replica": the test only
appends to the store, so events can reach streams through the broker's
follower alone. ``CountingStore`` counts ``read_events`` calls and can
suspend a random number of times around each read, so publishes interleave
with the streams' reads at random points (the switch-over races).
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace

import pytest

from scout_service.domain import (
    ALL_AGENTS,
    AgentState,
    AgentStatus,
    EventType,
    ProgressEvent,
    ReportKind,
    Run,
    RunState,
    run_ending,
)
from scout_service.errors import NotFound, ResourceExhausted, Unavailable
from scout_service.progress import ProgressBroker, Subscription
from scout_service.store import MemoryStore

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

QUIET = 60.0  # a heartbeat interval no test reaches


class CountingStore(MemoryStore):
    """MemoryStore that counts event reads, may jitter them, and may fail them."""

    def __init__(self, rng: random.Random | None = None) -> None:
        super().__init__()
        self.reads = 0
        self.rng = rng
        self.failing = False
        # Run once, inside the next read, before / after the store is looked at.
        self.before_next_read: Callable[[], Awaitable[None]] | None = None
        self.after_next_read: Callable[[], Awaitable[None]] | None = None

    async def _jitter(self) -> None:
        if self.rng is not None:
            for _ in range(self.rng.randint(0, 3)):
                await asyncio.sleep(0)

    async def read_events(
        self, session_id: str, run_id: str, *, after_sequence: int, limit: int = 1000
    ) -> list[ProgressEvent]:
        self.reads += 1
        if self.failing:
            raise Unavailable("store is down (test)")
        await self._jitter()
        hook, self.before_next_read = self.before_next_read, None
        if hook is not None:
            await hook()
        events = await super().read_events(
            session_id, run_id, after_sequence=after_sequence, limit=limit
        )
        # Suspending *after* the read lets events be appended and published
        # between the store's snapshot and the stream seeing it.
        await self._jitter()
        hook, self.after_next_read = self.after_next_read, None
        if hook is not None:
            await hook()
        return events


class FakeRun:
    """One run and its event writer (the runner on this or another replica)."""

    def __init__(self, store: MemoryStore, broker: ProgressBroker, session_id: str, run_id: str):
        self.store = store
        self.broker = broker
        self.session_id = session_id
        self.run_id = run_id
        self.sequence = 0
        self.events: list[ProgressEvent] = []

    def make(self, sequence: int, *, terminal: bool = False) -> ProgressEvent:
        return ProgressEvent(
            session_id=self.session_id,
            run_id=self.run_id,
            sequence=sequence,
            created_at=time.time(),
            type=EventType.RUN_COMPLETED if terminal else EventType.TOOL_CALL,
            message=f"event {sequence}",
            agent=None if terminal else ReportKind.MARKET,
            attributes={"n": str(sequence)},
        )

    async def emit(self, *, terminal: bool = False, publish: bool = True) -> ProgressEvent:
        """Store the next event and (for a local run) publish it."""
        self.sequence += 1
        event = self.make(self.sequence, terminal=terminal)
        await self.store.append_event(event)
        if publish:
            await self.broker.publish(event)
        self.events.append(event)
        return event

    def after(self, sequence: int) -> list[ProgressEvent]:
        return [e for e in self.events if e.sequence > sequence]


async def new_run(store: MemoryStore, broker: ProgressBroker, *, local: bool = True) -> FakeRun:
    session = await store.create_session(owner="alice", ttl_seconds=3600)
    now = time.time()
    run = await store.create_run(
        Run(
            session_id=session.session_id,
            run_id=str(uuid.uuid4()),
            state=RunState.RUNNING,
            created_at=now,
            updated_at=now,
            agents=tuple(AgentStatus(kind=kind) for kind in ALL_AGENTS),
            model_provider="offline",
            owner="alice",
        )
    )
    if local:
        broker.mark_local(run.session_id, run.run_id)
    return FakeRun(store, broker, run.session_id, run.run_id)


async def collect(stream: AsyncIterator[ProgressEvent], *, timeout: float = 10.0,
                  heartbeats: bool = False) -> list[ProgressEvent]:
    """Everything a stream yields until it ends (heartbeats dropped unless asked)."""
    got: list[ProgressEvent] = []
    async with asyncio.timeout(timeout):
        async for event in stream:
            if heartbeats or event.type is not EventType.HEARTBEAT:
                got.append(event)
    return got


async def take(stream: AsyncIterator[ProgressEvent], n: int, *, timeout: float = 5.0
               ) -> list[ProgressEvent]:
    """The next ``n`` non-heartbeat events."""
    got: list[ProgressEvent] = []
    async with asyncio.timeout(timeout):
        while len(got) < n:
            event = await anext(stream)
            if event.type is not EventType.HEARTBEAT:
                got.append(event)
    return got


async def eventually(predicate: object, *, timeout: float = 5.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


def seqs(events: Sequence[ProgressEvent]) -> list[int]:
    return [e.sequence for e in events]


# -- exactly once, in order ----------------------------------------------------------------


async def random_schedule(rng: random.Random, seen: dict[str, int]) -> None:
    """One run written while streams open at random moments and random positions."""
    store = CountingStore(rng)
    broker = ProgressBroker(
        store,
        poll_interval=0.005,
        heartbeat_interval=QUIET,
        # Tiny buffers and pages force overflow catch-ups and paginated replays.
        subscriber_buffer=rng.choice([1, 2, 5, 256]),
        page_size=rng.choice([1, 3, 1000]),
    )
    local = rng.random() < 0.7
    run = await new_run(store, broker, local=local)
    total = rng.randint(5, 60)

    async def produce() -> None:
        for i in range(total):
            await run.emit(terminal=i == total - 1, publish=local)
            for _ in range(rng.randint(0, 2)):
                await asyncio.sleep(0)

    async def consume(after: int) -> tuple[int, list[ProgressEvent]]:
        seen["live" if not producer.done() else "after_end"] += 1
        stream = broker.subscribe(run.session_id, run.run_id, after_sequence=after)
        return after, await collect(stream)

    producer = asyncio.create_task(produce())
    consumers = []
    for _ in range(rng.randint(1, 6)):
        for _ in range(rng.randint(0, 12)):
            await asyncio.sleep(0)
        consumers.append(asyncio.create_task(consume(rng.randint(0, run.sequence))))
    async with asyncio.timeout(10):
        await producer
        consumers.append(asyncio.create_task(consume(rng.randint(0, total))))
        results = await asyncio.gather(*consumers)
    for after, got in results:
        assert got == run.after(after), f"after={after} local={local}"
    assert broker.active_streams == 0
    seen["remote"] += not local
    seen["overflows"] += broker.overflows
    seen["reads_paged"] += broker.replay_reads > len(results)
    await broker.close()


@pytest.mark.timeout(90)
async def test_replay_then_live_is_exactly_once_under_random_interleavings() -> None:
    rng = random.Random(20240601)
    # What the random schedules exercised, so the test cannot pass vacuously.
    seen = {"live": 0, "after_end": 0, "remote": 0, "overflows": 0, "reads_paged": 0}
    for _ in range(50):
        await random_schedule(rng, seen)
    assert all(count >= 5 for count in seen.values()), seen


async def test_a_stream_opened_after_the_run_ended_replays_and_ends() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, heartbeat_interval=QUIET, page_size=4)
    run = await new_run(store, broker)
    for i in range(10):
        await run.emit(terminal=i == 9)
    broker.unmark_local(run.session_id, run.run_id)

    assert await collect(broker.subscribe(run.session_id, run.run_id)) == run.events
    assert await collect(
        broker.subscribe(run.session_id, run.run_id, after_sequence=6)
    ) == run.after(6)
    # Resuming after the terminal event: nothing left, the stream ends at once.
    assert await collect(
        broker.subscribe(run.session_id, run.run_id, after_sequence=10), timeout=1
    ) == []
    assert broker.active_streams == 0
    assert broker.active_followers == 0


async def test_an_unknown_run_raises_not_found() -> None:
    store = CountingStore()
    broker = ProgressBroker(store)
    run = await new_run(store, broker)
    stream = broker.subscribe(run.session_id, "no-such-run")
    with pytest.raises(NotFound):
        await asyncio.wait_for(anext(stream), 2)
    assert broker.active_streams == 0


async def test_a_local_run_is_fed_by_publish_without_store_reads() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run = await new_run(store, broker)
    for _ in range(3):
        await run.emit()
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 3) == run.events
    reads_after_replay = store.reads
    for i in range(50):
        await run.emit(terminal=i == 49)
        await asyncio.sleep(0.001)
    assert await collect(stream) == run.after(3)
    assert store.reads == reads_after_replay == 1
    assert broker.store_reads == 0


@pytest.mark.parametrize("when", ["before", "after"])
async def test_the_switch_from_replay_to_live_has_no_gap_and_no_duplicate(when: str) -> None:
    # "before": event 2 is stored and published after the stream registered but
    # before the replay's snapshot, so it comes both ways and must count once.
    # "after": it is stored after the snapshot, so it comes live only.
    store = CountingStore()
    broker = ProgressBroker(store, heartbeat_interval=QUIET, gap_timeout=QUIET)
    run = await new_run(store, broker)
    await run.emit()

    async def second_event() -> None:
        await run.emit()

    setattr(store, f"{when}_next_read", second_event)
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 2) == run.events
    await run.emit(terminal=True)
    assert await collect(stream) == run.after(2)
    assert broker.replay_reads == 1  # neither case needed another read


async def test_a_gap_in_live_events_is_filled_from_the_store_at_once() -> None:
    # An event that was stored but never published here (e.g. written just
    # before a hand-over) must not wait for the gap timeout.
    store = CountingStore()
    broker = ProgressBroker(store, heartbeat_interval=QUIET, gap_timeout=QUIET)
    run = await new_run(store, broker)
    await run.emit()
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 1) == run.events
    await run.emit(publish=False)
    await run.emit(terminal=True)
    assert await collect(stream, timeout=2) == run.after(1)


async def test_events_stored_out_of_order_are_delivered_in_order() -> None:
    # Two agents take sequences 1 and 2; the second one's write lands first.
    store = CountingStore()
    broker = ProgressBroker(store, heartbeat_interval=QUIET)
    run = await new_run(store, broker)
    stream = broker.subscribe(run.session_id, run.run_id)
    first_next = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.01)
    one, two, three = run.make(1), run.make(2), run.make(3, terminal=True)
    for event in (two, one, three):
        await store.append_event(event)
        await broker.publish(event)
        await asyncio.sleep(0.001)
    assert [await asyncio.wait_for(first_next, 2), *await collect(stream)] == [one, two, three]


async def test_a_follower_only_hands_out_gap_free_prefixes() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET,
                            gap_timeout=QUIET)
    run = await new_run(store, broker, local=False)
    stream = broker.subscribe(run.session_id, run.run_id)
    first_next = asyncio.create_task(anext(stream))
    await eventually(lambda: broker.replay_reads == 1)
    one, two, three = run.make(1), run.make(2), run.make(3, terminal=True)
    await store.append_event(two)
    await asyncio.sleep(0.05)  # the follower sees 2 without 1 and waits
    await store.append_event(one)
    await store.append_event(three)
    assert [await asyncio.wait_for(first_next, 2), *await collect(stream)] == [one, two, three]
    assert broker.replay_reads == 1  # the stream never had to fill a gap itself


@pytest.mark.parametrize("local", [True, False])
async def test_a_sequence_never_stored_is_skipped_after_the_gap_timeout(local: bool) -> None:
    # The writer of event 3 died between taking the sequence and storing it.
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET, gap_timeout=0.2)
    run = await new_run(store, broker, local=local)
    stream = broker.subscribe(run.session_id, run.run_id)
    first = asyncio.create_task(anext(stream))
    await asyncio.sleep(0.02)
    events = [run.make(1), run.make(2), run.make(4), run.make(5, terminal=True)]
    for event in events:
        await store.append_event(event)
        if local:
            await broker.publish(event)
    started = time.monotonic()
    got = [await asyncio.wait_for(first, 2), *await collect(stream, timeout=3)]
    assert got == events
    assert time.monotonic() - started >= 0.15  # it did wait for the missing event first


# -- following runs of other replicas ---------------------------------------------------------


async def test_a_remote_run_is_followed_to_its_terminal_event() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run = await new_run(store, broker, local=False)
    await run.emit(publish=False)

    async def other_replica() -> None:
        for i in range(30):
            await asyncio.sleep(0.003)
            await run.emit(terminal=i == 29, publish=False)

    streams = [broker.subscribe(run.session_id, run.run_id, after_sequence=a) for a in (0, 1)]
    lagging = broker.subscribe(run.session_id, run.run_id)
    assert await take(lagging, 1) == run.events[:1]
    writer = asyncio.create_task(other_replica())
    got = await asyncio.gather(*(collect(s) for s in streams))
    await writer
    assert got == [run.events, run.after(1)]
    assert broker.store_reads > 0
    # The lagging stream's replay, then one read shared by the two opened together;
    # the follower did the rest.
    assert broker.replay_reads == 2
    # Once the terminal event went by, nobody polls, though a stream is still open.
    await eventually(lambda: broker.active_followers == 0)
    reads = store.reads
    await asyncio.sleep(0.05)
    assert store.reads == reads
    assert await collect(lagging) == run.after(1)


async def test_a_follower_reads_all_pages_in_one_poll() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.2, heartbeat_interval=QUIET, page_size=2)
    run = await new_run(store, broker, local=False)
    stream = broker.subscribe(run.session_id, run.run_id)
    first = asyncio.create_task(anext(stream))
    await eventually(lambda: broker.replay_reads == 1)
    for i in range(12):
        await run.emit(terminal=i == 11, publish=False)
    started = time.monotonic()
    assert [await asyncio.wait_for(first, 2), *await collect(stream)] == run.events
    # One poll (0.2 s) carries all six pages, not six polls.
    assert time.monotonic() - started < 0.6


@pytest.mark.timeout(60)
async def test_200_streams_of_a_remote_run_share_their_store_reads() -> None:
    poll = 0.05
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=poll, heartbeat_interval=QUIET,
                            max_streams_per_principal=1000)
    run = await new_run(store, broker, local=False)
    for _ in range(5):
        await run.emit(publish=False)

    started = time.monotonic()
    streams = [broker.subscribe(run.session_id, run.run_id) for _ in range(200)]
    readers = [asyncio.create_task(collect(s)) for s in streams]
    await eventually(lambda: len(broker._subscribers) == 200
                     and all(sub.last == 5 for sub in broker._subscribers))  # replayed
    assert broker.active_followers == 1
    for i in range(60):
        await asyncio.sleep(0.015)
        await run.emit(terminal=i == 59, publish=False)
    results = await asyncio.gather(*readers)
    elapsed = time.monotonic() - started

    assert all(got == run.events for got in results)
    assert len(run.events) == 65
    # One reader polls for all 200 streams: ~1 read per interval, not 200.
    assert broker.store_reads <= elapsed / poll * 1.5 + 3, (broker.store_reads, elapsed)
    # The 200 replays asked together, so they shared a read (not one each), and no
    # stream polled by itself.
    assert broker.replay_reads <= 2
    assert store.reads == broker.store_reads + broker.replay_reads
    await eventually(lambda: broker.active_followers == 0)


async def test_a_remote_run_whose_replica_died_is_followed_when_it_resumes_elsewhere() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=0.05)
    run = await new_run(store, broker, local=False)
    for _ in range(3):
        await run.emit(publish=False)
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 3) == run.events
    # Replica A is gone: the stream stays open on heartbeats, the follower polls on.
    reads = broker.store_reads
    beats = [await asyncio.wait_for(anext(stream), 2) for _ in range(3)]
    assert [b.type for b in beats] == [EventType.HEARTBEAT] * 3
    assert [b.sequence for b in beats] == [3, 3, 3]
    assert broker.store_reads > reads
    # Replica B resumes the run and writes on.
    for i in range(3):
        await run.emit(terminal=i == 2, publish=False)
    assert await collect(stream) == run.after(3)


async def test_a_followed_run_that_starts_executing_here_switches_to_publish() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run = await new_run(store, broker, local=False)
    stream = broker.subscribe(run.session_id, run.run_id)
    reader = asyncio.create_task(collect(stream))
    for _ in range(10):  # replica A
        await run.emit(publish=False)
        await asyncio.sleep(0.002)
    await run.emit(publish=False)  # A's last event, stored just before it died
    # This replica resumes the run: from now on events are published.
    broker.mark_local(run.session_id, run.run_id)
    await eventually(lambda: broker.active_followers == 0)
    reads = store.reads
    for i in range(10):
        await run.emit(terminal=i == 9)
        await asyncio.sleep(0.002)
    broker.unmark_local(run.session_id, run.run_id)
    assert await asyncio.wait_for(reader, 5) == run.events
    assert store.reads == reads  # fed by publish alone


async def test_a_local_run_handed_to_another_replica_is_followed_through_the_store() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run = await new_run(store, broker)
    stream = broker.subscribe(run.session_id, run.run_id)
    reader = asyncio.create_task(collect(stream))
    for _ in range(5):
        await run.emit()
        await asyncio.sleep(0.002)
    # This replica shuts its runner down; the run resumes elsewhere.
    broker.unmark_local(run.session_id, run.run_id)
    assert broker.active_followers == 1
    for i in range(5):
        await run.emit(terminal=i == 4, publish=False)
        await asyncio.sleep(0.002)
    assert await asyncio.wait_for(reader, 5) == run.events


async def test_a_followed_run_that_is_deleted_ends_its_streams_with_not_found() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=0.05)
    run = await new_run(store, broker, local=False)
    await run.emit(publish=False)
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 1) == run.events
    await store.delete_session(run.session_id)
    with pytest.raises(NotFound):
        await collect(stream, timeout=3)
    assert broker.active_streams == 0


async def test_a_follower_rides_out_a_store_outage() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=0.05)
    run = await new_run(store, broker, local=False)
    await run.emit(publish=False)
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 1) == run.events
    store.failing = True
    await run.emit(publish=False)
    beat = await asyncio.wait_for(anext(stream), 2)
    assert beat.type is EventType.HEARTBEAT and beat.sequence == 1
    store.failing = False
    await run.emit(terminal=True, publish=False)
    assert await collect(stream) == run.after(1)


# -- slow readers ---------------------------------------------------------------------------


async def test_a_slow_reader_neither_blocks_nor_bloats_and_catches_up_from_the_store() -> None:
    buffer = 16
    store = CountingStore()
    broker = ProgressBroker(store, subscriber_buffer=buffer, heartbeat_interval=QUIET)
    run = await new_run(store, broker)
    await run.emit()
    slow = broker.subscribe(run.session_id, run.run_id)
    assert await take(slow, 1) == run.events  # attached, then it stops reading

    fast_streams = [broker.subscribe(run.session_id, run.run_id) for _ in range(3)]
    for s in fast_streams:
        assert await take(s, 1) == run.events
    fast = [asyncio.create_task(collect(s)) for s in fast_streams]

    most_buffered = 0
    publish_time = 0.0
    for i in range(2, 1001):
        started = time.perf_counter()
        await run.emit(terminal=i == 1000)
        publish_time += time.perf_counter() - started
        most_buffered = max(most_buffered, broker.buffered_events)
        if i % 8 == 0:
            await asyncio.sleep(0)
    fast_results = await asyncio.wait_for(asyncio.gather(*fast), 5)

    assert all(got == run.after(1) for got in fast_results)
    assert broker.overflows >= 1  # the slow reader fell behind ...
    assert most_buffered <= 4 * buffer  # ... and nothing grew without bound
    assert publish_time < 2.0
    reads = store.reads
    assert await collect(slow) == run.after(1)  # ... and it still got everything, once
    assert store.reads > reads  # by reading the store


# -- heartbeats -------------------------------------------------------------------------------


async def test_a_quiet_stream_gets_heartbeats_carrying_the_latest_sequence() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, heartbeat_interval=0.05)
    run = await new_run(store, broker)
    for _ in range(3):
        await run.emit()
    stream = broker.subscribe(run.session_id, run.run_id)
    assert await take(stream, 3) == run.events
    quiet_since = time.monotonic()
    beats = [await asyncio.wait_for(anext(stream), 2) for _ in range(2)]
    assert time.monotonic() - quiet_since >= 0.09
    for beat in beats:
        assert beat.type is EventType.HEARTBEAT
        assert beat.sequence == 3
        assert beat.agent is None
        assert "Still working" in beat.message
        assert (beat.session_id, beat.run_id) == (run.session_id, run.run_id)
    stored = await store.last_event(run.session_id, run.run_id)
    assert stored is not None and stored.sequence == 3  # heartbeats are not stored
    await run.emit(terminal=True)
    assert await collect(stream) == run.after(3)


# -- limits -----------------------------------------------------------------------------------


async def test_stream_limits_apply_at_the_bound_and_slots_come_back() -> None:
    store = CountingStore()
    broker = ProgressBroker(
        store, heartbeat_interval=QUIET, max_streams=4, max_streams_per_principal=2
    )
    run = await new_run(store, broker)
    await run.emit()

    def open_(principal: str) -> Subscription:
        return broker.subscribe(run.session_id, run.run_id, principal=principal)

    a1, a2 = open_("alice"), open_("alice")
    with pytest.raises(ResourceExhausted) as per_caller:
        open_("alice")
    assert per_caller.value.reason == "TOO_MANY_STREAMS"
    assert "2" in per_caller.value.message
    assert "max_streams_per_principal" in per_caller.value.message
    b1, b2 = open_("bob"), open_("bob")
    assert broker.active_streams == 4
    with pytest.raises(ResourceExhausted) as replica_wide:
        open_("carol")
    assert replica_wide.value.reason == "TOO_MANY_STREAMS"
    assert "4" in replica_wide.value.message and "max_streams" in replica_wide.value.message

    # Closed before ever being read: the slot comes back.
    await a1.aclose()
    a3 = open_("alice")
    # Dropped before ever being read: the slot comes back too.
    await b1.aclose()
    dropped = open_("bob")
    with pytest.raises(ResourceExhausted):
        open_("bob")
    del dropped
    gc.collect()
    b1 = open_("bob")
    # Dropped after reading, without closing: collected, the slot comes back.
    assert await take(a2, 1) == run.events
    del a2
    gc.collect()
    await eventually(lambda: broker.active_streams == 3)
    # Dropped while a task awaits its next event: the stream keeps its slot
    # and keeps getting live events.
    carol = open_("carol")
    assert await take(carol, 1) == run.events
    pending = asyncio.create_task(anext(carol))
    del carol
    await asyncio.sleep(0.01)
    gc.collect()
    assert broker.active_streams == 4
    # Cancelled while waiting (the client went away).
    waiting = asyncio.create_task(collect(b1))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert broker.active_streams == 3
    # Ended after the terminal event.
    await run.emit(terminal=True)
    assert await collect(b2) == run.events
    assert await collect(a3) == run.events
    assert await asyncio.wait_for(pending, 2) == run.events[-1]
    del pending  # the task holds the awaitable, which holds the stream
    gc.collect()
    await eventually(lambda: broker.active_streams == 0)
    # ... and the full quota is available again.
    again = [open_(p) for p in ("alice", "alice", "bob", "bob")]
    assert broker.active_streams == 4
    for stream in again:
        await stream.aclose()
    assert broker.active_streams == 0


# -- shutdown ---------------------------------------------------------------------------------


async def test_close_ends_every_stream_with_unavailable() -> None:
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    local = await new_run(store, broker)
    remote = await new_run(store, broker, local=False)
    for _ in range(2):
        await local.emit()
        await remote.emit(publish=False)
    waiting, idle = (broker.subscribe(r.session_id, r.run_id) for r in (local, remote))
    for stream in (waiting, idle):
        assert len(await take(stream, 2)) == 2
    unread = broker.subscribe(local.session_id, local.run_id, after_sequence=1)
    pending = asyncio.create_task(anext(waiting))
    await asyncio.sleep(0.02)
    assert broker.active_followers == 1

    await asyncio.wait_for(broker.close(), 2)
    assert broker.active_followers == 0  # stopped, though its stream is still open

    for attempt in (pending, anext(idle)):
        with pytest.raises(Unavailable) as raised:
            await asyncio.wait_for(attempt, 2)
        assert "resume on another replica after sequence 2" in raised.value.message
        assert raised.value.metadata["after_sequence"] == "2"
    with pytest.raises(Unavailable, match="after sequence 1"):
        await asyncio.wait_for(anext(unread), 2)
    with pytest.raises(Unavailable):
        broker.subscribe(local.session_id, local.run_id)
    assert broker.active_followers == 0
    assert broker.active_streams == 0


# -- reconnects --------------------------------------------------------------------------------


async def read_with_breaks(
    rng: random.Random, store: CountingStore, broker: ProgressBroker, seen: dict[str, int]
) -> None:
    """Follow one run through many short-lived streams, each resuming the last."""
    local = rng.random() < 0.5
    run = await new_run(store, broker, local=local)
    total = rng.randint(10, 40)

    async def produce() -> None:
        for i in range(total):
            await run.emit(terminal=i == total - 1, publish=local)
            if rng.random() < 0.3:
                await asyncio.sleep(0)

    producer = asyncio.create_task(produce())
    first = last = rng.randint(0, 5)
    got: list[ProgressEvent] = []
    async with asyncio.timeout(10):
        while not (got and got[-1].type.is_terminal):
            stream = broker.subscribe(run.session_id, run.run_id, after_sequence=last)
            for _ in range(rng.randint(1, 8)):
                try:
                    event = await anext(stream)
                except StopAsyncIteration:
                    break
                seen["live" if not producer.done() else "stored"] += 1
                got.append(event)
                last = event.sequence
            await stream.aclose()
        await producer
    assert got == run.after(first)
    seen["runs"] += 1


@pytest.mark.timeout(60)
async def test_random_breaks_and_resumes_deliver_every_event_exactly_once() -> None:
    rng = random.Random(7)
    store = CountingStore(rng)
    broker = ProgressBroker(store, poll_interval=0.002, heartbeat_interval=QUIET,
                            subscriber_buffer=8)
    seen = {"live": 0, "stored": 0, "runs": 0}
    for _ in range(100):
        await read_with_breaks(rng, store, broker, seen)
    assert seen["runs"] == 100 and seen["live"] > 100 and seen["stored"] > 100, seen
    assert broker.active_streams == 0
    await eventually(lambda: broker.active_followers == 0)
    await broker.close()


# -- a run that ended without its last event -------------------------------------------------


class Clock:
    """Wall time the test moves: lease expiry is judged on it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


async def ended_without_last_event(store: MemoryStore, broker: ProgressBroker, *,
                                   lease_expires_at: float) -> tuple[FakeRun, Run]:
    """A remote run whose replica stored SUCCEEDED (legal failed), then died before event 3."""
    run = await new_run(store, broker, local=False)
    await run.emit(publish=False)
    await run.emit(publish=False)
    stored = await store.get_run(run.session_id, run.run_id)
    agents = tuple(
        replace(a, state=AgentState.FAILED if a.kind is ReportKind.LEGAL else AgentState.SUCCEEDED)
        for a in stored.agents
    )
    ended = await store.update_run(replace(
        stored, state=RunState.SUCCEEDED, agents=agents, last_sequence=3, finished_at=time.time(),
        lease_owner="dead-replica", lease_expires_at=lease_expires_at))
    return run, ended


async def test_a_run_whose_replica_died_before_its_last_event_still_ends_its_streams() -> None:
    """The follower stores the missing RUN_COMPLETED once the dead replica's lease runs out."""
    store, clock = MemoryStore(), Clock()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=0.05, clock=clock)
    run, ended = await ended_without_last_event(store, broker,
                                                lease_expires_at=clock.now + 30)
    stream = broker.subscribe(run.session_id, run.run_id)
    assert seqs(await take(stream, 2)) == [1, 2]
    await asyncio.sleep(0.3)  # several checks while the lease still holds: the owner may finish
    assert broker.settled_endings == 0
    assert (await store.last_event(run.session_id, run.run_id)).sequence == 2  # type: ignore[union-attr]

    clock.now += 31  # the lease ran out: nobody will write event 3 but a reader
    rest = await collect(stream)
    assert seqs(rest) == [3]
    assert rest[0].type is EventType.RUN_COMPLETED
    assert (rest[0].type, rest[0].message, dict(rest[0].attributes)) == run_ending(ended)
    assert rest[0].message.endswith("Missing: legal_report.")
    assert broker.settled_endings == 1
    stored = await store.read_events(run.session_id, run.run_id, after_sequence=0)
    assert seqs(stored) == [1, 2, 3] and stored[-1] == rest[0]


async def test_settling_an_ending_stored_meanwhile_changes_nothing() -> None:
    """The owner (or another replica) stored the event between the check and the write."""
    store = MemoryStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run, ended = await ended_without_last_event(store, broker, lease_expires_at=0.0)
    owners = run.make(3, terminal=True)
    real_last_event = store.last_event

    async def last_event_then_owner_writes(session_id: str, run_id: str) -> ProgressEvent | None:
        latest = await real_last_event(session_id, run_id)
        await store.append_event(owners)  # lands before the settling write
        return latest

    store.last_event = last_event_then_owner_writes  # type: ignore[method-assign]
    await broker._settle_ending(ended)
    assert broker.settled_endings == 0
    stored = await store.read_events(run.session_id, run.run_id, after_sequence=0)
    assert stored[-1] == owners and seqs(stored) == [1, 2, 3]


async def test_a_run_ending_on_this_replica_is_left_to_its_runner() -> None:
    """A local run's runner is still retrying its last event: the broker writes nothing."""
    store = MemoryStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run, ended = await ended_without_last_event(store, broker, lease_expires_at=0.0)
    broker.mark_local(run.session_id, run.run_id)
    await broker._settle_ending(ended)
    assert broker.settled_endings == 0
    assert (await store.last_event(run.session_id, run.run_id)).sequence == 2  # type: ignore[union-attr]


async def test_streams_opened_together_share_reads_yet_each_starts_where_it_asked() -> None:
    """One read serves streams at different positions; one already past the end just ends."""
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run = await new_run(store, broker, local=False)
    for i in range(3):
        await run.emit(terminal=i == 2, publish=False)
    afters = [0, 1, 3, 0, 2, 3]
    streams = [broker.subscribe(run.session_id, run.run_id, after_sequence=a) for a in afters]
    got = await asyncio.gather(*(collect(s, timeout=5) for s in streams))
    assert got == [run.after(a) for a in afters]
    assert broker.replay_reads == 1  # not one per stream


async def test_a_stream_reading_when_the_broker_closes_ends_with_unavailable() -> None:
    """Its shared read may finish; the stream then ends the shutdown way, never CANCELLED."""
    store = CountingStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=QUIET)
    run = await new_run(store, broker, local=False)
    await run.emit(publish=False)
    held = asyncio.Event()
    store.before_next_read = held.wait
    stream = broker.subscribe(run.session_id, run.run_id)
    first = asyncio.create_task(anext(stream))
    await eventually(lambda: store.reads == 1)  # the replay is in flight
    closing = asyncio.create_task(broker.close())
    await asyncio.sleep(0.01)
    held.set()
    with pytest.raises(Unavailable) as caught:
        await first
    assert caught.value.reason == "SHUTTING_DOWN"
    await closing


async def test_an_ending_is_settled_after_an_event_that_took_its_reserved_number() -> None:
    """An agent's write still running when the run ended landed on the reserved number."""
    store = MemoryStore()
    broker = ProgressBroker(store, poll_interval=0.01, heartbeat_interval=0.05)
    run, ended = await ended_without_last_event(store, broker, lease_expires_at=0.0)
    await run.emit(publish=False)  # event 3, where RUN_COMPLETED was to go
    got = await collect(broker.subscribe(run.session_id, run.run_id))
    assert seqs(got) == [1, 2, 3, 4]
    assert got[-1].type is EventType.RUN_COMPLETED and broker.settled_endings == 1
