"""The event recorder: gapless sequences through store outages, and lost ownership."""

from __future__ import annotations

import pytest

from scout_service.agents.recorder import (
    EventLogUnavailable,
    EventRecorder,
    RetryPolicy,
    RunTakenOver,
)
from scout_service.domain import EventType, ProgressEvent
from scout_service.errors import Conflict, Unavailable
from scout_service.store import MemoryStore

from .support import RecordingSink, assert_no_gaps, new_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

QUICK = RetryPolicy(attempts=4, base_delay_s=0.001)


class FlakyStore(MemoryStore):
    """Fails the next ``failures`` appends; ``lands`` makes a failed append still write.

    ``retried_inside`` makes the next append behave like botocore retrying a
    PutItem whose answer was lost: it writes, then reports the condition failed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.lands = False
        self.retried_inside = False
        self.appends = 0

    async def append_event(self, event: ProgressEvent) -> None:
        self.appends += 1
        if self.retried_inside:
            self.retried_inside = False
            await super().append_event(event)
            raise Conflict(f"event {event.sequence} exists", reason="EVENT_EXISTS")
        if self.failures:
            self.failures -= 1
            if self.lands:
                await super().append_event(event)
            raise Unavailable("throttled")
        await super().append_event(event)


async def test_retries_keep_the_sequence_without_gaps() -> None:
    store, sink = FlakyStore(), RecordingSink()
    session = await new_session(store, files={})
    recorder = EventRecorder(store, sink, session.session_id, "run-1", retry=QUICK)
    await recorder.emit(EventType.RUN_STARTED, "started")
    store.failures = 2
    await recorder.emit(EventType.HEARTBEAT, "still here")
    store.failures, store.lands = 1, True  # the write landed but the answer was lost
    await recorder.emit(EventType.HEARTBEAT, "again")
    await recorder.emit(EventType.RUN_COMPLETED, "done")
    events = await store.read_events(session.session_id, "run-1", after_sequence=0)
    assert_no_gaps(events)
    assert [e.message for e in events] == ["started", "still here", "again", "done"]
    assert [e.sequence for e in sink.events] == [1, 2, 3, 4]


async def test_a_write_that_landed_under_the_clients_own_retry_is_not_a_takeover() -> None:
    """A lost answer retried inside the DynamoDB client surfaces as a failed condition."""
    store, sink = FlakyStore(), RecordingSink()
    session = await new_session(store, files={})
    recorder = EventRecorder(store, sink, session.session_id, "run-1", retry=QUICK)
    await recorder.emit(EventType.RUN_STARTED, "started")
    store.retried_inside = True
    await recorder.emit(EventType.RUN_COMPLETED, "done")
    events = await store.read_events(session.session_id, "run-1", after_sequence=0)
    assert [(e.sequence, e.type) for e in events] == [
        (1, EventType.RUN_STARTED), (2, EventType.RUN_COMPLETED)]
    assert [e.sequence for e in sink.events] == [1, 2]


async def test_a_lasting_outage_stops_the_run_without_skipping_a_number() -> None:
    store, sink = FlakyStore(), RecordingSink()
    session = await new_session(store, files={})
    recorder = EventRecorder(store, sink, session.session_id, "run-1", retry=QUICK)
    store.failures = 10
    with pytest.raises(EventLogUnavailable):
        await recorder.emit(EventType.RUN_STARTED, "started")
    assert recorder.last_sequence == 0 and sink.events == []
    store.failures = 0
    assert (await recorder.emit(EventType.RUN_STARTED, "started")).sequence == 1


async def test_another_writer_of_the_same_run_means_it_was_taken_over() -> None:
    store = MemoryStore()
    session = await new_session(store, files={})
    mine = EventRecorder(store, RecordingSink(), session.session_id, "run-1", retry=QUICK)
    theirs = await EventRecorder.resume(store, RecordingSink(), session.session_id, "run-1")
    await theirs.emit(EventType.RUN_STARTED, "resumed elsewhere")
    with pytest.raises(RunTakenOver):
        await mine.emit(EventType.HEARTBEAT, "late")
    resumed = await EventRecorder.resume(store, RecordingSink(), session.session_id, "run-1")
    assert resumed.last_sequence == 1
