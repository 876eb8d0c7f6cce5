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
from scout_service.errors import Unavailable
from scout_service.store import MemoryStore

from .support import RecordingSink, assert_no_gaps, new_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

QUICK = RetryPolicy(attempts=4, base_delay_s=0.001)


class FlakyStore(MemoryStore):
    """Fails the next ``failures`` appends; ``lands`` makes a failed append still write."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.lands = False
        self.appends = 0

    async def append_event(self, event: ProgressEvent) -> None:
        self.appends += 1
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
