"""stream_progress resumes broken streams: every event once, in order, to the end."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scout.v1 import research_pb2
from scout_client import (
    AsyncScoutClient,
    InternalError,
    NotFoundError,
    PermissionDeniedError,
    ScoutClient,
    UnavailableError,
)
from scout_client._progress import ProgressCursor, is_resumable

from .fake_server import Failure, FakeScout, FakeServer

pytestmark = pytest.mark.timeout(60)

T = research_pb2
FAST = {"initial_backoff": 0.001, "max_backoff": 0.01}


def long_run(count: int) -> list[research_pb2.ProgressEvent]:
    """`count` events: run started, tool calls ..., run completed."""
    events = [
        research_pb2.ProgressEvent(
            sequence=seq,
            type=T.PROGRESS_EVENT_TYPE_TOOL_CALL,
            agent=1 + seq % 5,
            tool_name="search",
            display_message=f"event {seq}",
        )
        for seq in range(1, count + 1)
    ]
    events[0].type = T.PROGRESS_EVENT_TYPE_RUN_STARTED
    events[-1].type = T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    return events


def breaking(rng: random.Random, rounds: int, most: int = 6) -> Callable[[], int | None]:
    """A break plan: the first `rounds` connections break after 0..most events."""
    plan = iter([rng.randint(0, most) for _ in range(rounds)])
    return lambda: next(plan, None)


@pytest.fixture
def scout(server: FakeServer) -> Iterator[ScoutClient]:
    with ScoutClient(server.address) as client:
        yield client


def check_resume_requests(fake: FakeScout, run_id: str, initial_after: int = 0) -> None:
    """Each reconnect asked for the pinned run, after the last event sent before it."""
    delivered = initial_after
    for request, sent in zip(fake.progress_requests, fake.progress_sent, strict=True):
        assert request.after_sequence == delivered
        if request is not fake.progress_requests[0]:
            assert request.run_id == run_id
        delivered = max([delivered, *sent])


def test_thirty_broken_streams_deliver_every_event_once(
    scout: ScoutClient, fake: FakeScout
) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(150))
    fake.break_after = breaking(random.Random(20240521), rounds=30)

    seen = list(scout.stream_progress(sid, run.run_id, max_reconnects=50, **FAST))

    assert [e.sequence for e in seen] == list(range(1, 151))
    assert [e.display_message for e in seen] == [f"event {n}" for n in range(1, 151)]
    assert seen[-1].type == T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    assert len(fake.progress_requests) == 31
    check_resume_requests(fake, run.run_id)


def test_resume_pins_the_run_learned_from_the_first_event(
    scout: ScoutClient, fake: FakeScout
) -> None:
    sid = scout.create_session().session_id
    followed = fake.add_run(sid, events=long_run(40))
    plan = breaking(random.Random(7), rounds=10)
    newer: list[research_pb2.Run] = []

    def break_and_start_another_run() -> int | None:
        if not newer:  # a newer run becomes the session's latest meanwhile
            newer.append(fake.add_run(sid, events=long_run(5)))
        return plan()

    fake.break_after = break_and_start_another_run
    seen = list(scout.stream_progress(sid, max_reconnects=30, **FAST))  # no run_id given

    assert fake.progress_requests[0].run_id == ""
    assert {r.run_id for r in fake.progress_requests[1:]} == {followed.run_id}
    assert [e.sequence for e in seen] == list(range(1, 41))
    assert {e.run_id for e in seen} == {followed.run_id}
    check_resume_requests(fake, followed.run_id)


def test_resume_starts_after_the_callers_sequence(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(60))
    fake.break_after = breaking(random.Random(99), rounds=12)
    seen = list(scout.stream_progress(sid, run.run_id, after_sequence=25, **FAST))
    assert [e.sequence for e in seen] == list(range(26, 61))
    check_resume_requests(fake, run.run_id, initial_after=25)


def test_replayed_duplicates_are_dropped(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(50))
    fake.replay_overlap = 4  # the server resends some events after each reconnect
    fake.break_after = breaking(random.Random(1), rounds=15, most=8)
    seen = list(scout.stream_progress(sid, run.run_id, max_reconnects=30, **FAST))
    assert [e.sequence for e in seen] == list(range(1, 51))


def test_heartbeats_are_swallowed_and_never_move_the_resume_point(
    scout: ScoutClient, fake: FakeScout
) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(30))
    fake.heartbeat_every = 1  # a heartbeat carrying the latest sequence (30) before each event
    fake.break_after = breaking(random.Random(5), rounds=10)

    seen = list(scout.stream_progress(sid, run.run_id, **FAST))
    assert [e.sequence for e in seen] == list(range(1, 31))
    assert all(e.type != T.PROGRESS_EVENT_TYPE_HEARTBEAT for e in seen)
    check_resume_requests(fake, run.run_id)

    fake.progress_requests.clear()
    fake.progress_sent.clear()
    fake.break_after = breaking(random.Random(6), rounds=10)
    with_beats = list(scout.stream_progress(sid, run.run_id, heartbeats=True, **FAST))
    beats = [e for e in with_beats if e.type == T.PROGRESS_EVENT_TYPE_HEARTBEAT]
    real = [e.sequence for e in with_beats if e.type != T.PROGRESS_EVENT_TYPE_HEARTBEAT]
    assert beats and all(b.sequence == 30 for b in beats)
    assert real == list(range(1, 31))
    check_resume_requests(fake, run.run_id)


def test_rst_stream_internal_error_resumes(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(20))
    fake.break_with = Failure(grpc.StatusCode.INTERNAL, "Received RST_STREAM with error code 2")
    fake.break_after = breaking(random.Random(2), rounds=5)
    seen = list(scout.stream_progress(sid, run.run_id, **FAST))
    assert [e.sequence for e in seen] == list(range(1, 21))


def test_other_internal_errors_are_raised(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(20))
    fake.break_with = Failure(grpc.StatusCode.INTERNAL, "invariant broken")
    fake.break_after = breaking(random.Random(2), rounds=1, most=0)
    with pytest.raises(InternalError, match="invariant broken"):
        list(scout.stream_progress(sid, run.run_id, **FAST))
    assert len(fake.progress_requests) == 1


def test_deadline_on_a_stalled_stream_reconnects(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(12))
    fake.stall_after, fake.stall_seconds = 4, 5.0  # the first connection hangs after 4 events
    started = time.monotonic()
    seen = list(scout.stream_progress(sid, run.run_id, timeout=0.5, **FAST))
    assert [e.sequence for e in seen] == list(range(1, 13))
    assert fake.progress_requests[1].after_sequence == 4
    assert time.monotonic() - started < 4


def test_non_retryable_error_on_reconnect_is_raised(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(20))
    calls = iter([3])

    def break_then_vanish() -> int | None:
        fake.fail("StreamProgress", grpc.StatusCode.NOT_FOUND, reason="SESSION_NOT_FOUND")
        return next(calls, None)

    fake.break_after = break_then_vanish
    seen: list[int] = []
    with pytest.raises(NotFoundError) as gone:
        for event in scout.stream_progress(sid, run.run_id, **FAST):
            seen.append(event.sequence)
    assert seen == [1, 2, 3] and gone.value.reason == "SESSION_NOT_FOUND"
    assert fake.calls["StreamProgress"] == 2  # one reconnect, refused, not retried


def test_permission_denied_is_raised_at_once(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(5))
    fake.fail("StreamProgress", grpc.StatusCode.PERMISSION_DENIED)
    with pytest.raises(PermissionDeniedError):
        list(scout.stream_progress(sid, run.run_id, **FAST))
    assert fake.calls["StreamProgress"] == 1


def test_reconnects_are_bounded(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(10))
    fake.break_after = lambda: 0  # never delivers anything
    with pytest.raises(UnavailableError, match="replica going away"):
        list(scout.stream_progress(sid, run.run_id, max_reconnects=3, **FAST))
    assert len(fake.progress_requests) == 4


def test_progress_resets_the_reconnect_budget(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(20))
    fake.break_after = lambda: 1  # one event per connection, twenty breaks
    seen = list(scout.stream_progress(sid, run.run_id, max_reconnects=2, **FAST))
    assert [e.sequence for e in seen] == list(range(1, 21))


def test_without_resume_a_break_raises(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(10))
    fake.break_after = breaking(random.Random(0), rounds=1, most=0)
    with pytest.raises(UnavailableError):
        list(scout.stream_progress(sid, run.run_id, resume=False))
    assert len(fake.progress_requests) == 1


def test_a_stream_that_ends_before_the_terminal_event(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(10)[:6])  # no terminal event stored
    assert [e.sequence for e in scout.stream_progress(sid, run.run_id, resume=False)] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    with pytest.raises(UnavailableError) as early:
        list(scout.stream_progress(sid, run.run_id, max_reconnects=2, **FAST))
    assert early.value.reason == "STREAM_ENDED_EARLY"
    assert [r.after_sequence for r in fake.progress_requests[1:]] == [0, 6, 6]


def test_closing_the_iterator_cancels_the_stream(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = fake.add_run(sid, events=long_run(10))
    fake.stall_after, fake.stall_seconds = 2, 10.0
    events = scout.stream_progress(sid, run.run_id)
    assert [next(events).sequence, next(events).sequence] == [1, 2]
    events.close()
    deadline = time.monotonic() + 5
    while fake.streams_closed == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.streams_closed == 1  # long before the 10 s stall could have ended it


def test_async_thirty_broken_streams(server: FakeServer, fake: FakeScout) -> None:
    async def follow() -> tuple[str, list[research_pb2.ProgressEvent]]:
        async with AsyncScoutClient(server.address) as scout:
            sid = (await scout.create_session()).session_id
            run = fake.add_run(sid, events=long_run(120))
            fake.heartbeat_every = 7
            fake.break_after = breaking(random.Random(424242), rounds=30)
            stream = scout.stream_progress(sid, run.run_id, max_reconnects=50, **FAST)
            return run.run_id, [event async for event in stream]

    run_id, seen = asyncio.run(asyncio.wait_for(follow(), 40))
    assert [e.sequence for e in seen] == list(range(1, 121))
    assert len(fake.progress_requests) == 31
    check_resume_requests(fake, run_id)


def test_async_non_retryable_and_early_close(server: FakeServer, fake: FakeScout) -> None:
    async def flow() -> None:
        async with AsyncScoutClient(server.address) as scout:
            sid = (await scout.create_session()).session_id
            run = fake.add_run(sid, events=long_run(10))
            fake.fail("StreamProgress", grpc.StatusCode.NOT_FOUND, reason="RUN_NOT_FOUND")
            with pytest.raises(NotFoundError):
                async for _ in scout.stream_progress(sid, run.run_id):
                    pass
            fake.stall_after, fake.stall_seconds = 1, 10.0
            stream = scout.stream_progress(sid, run.run_id)
            first = await anext(stream)
            assert first.sequence == 1
            await stream.aclose()  # type: ignore[attr-defined]
            for _ in range(250):  # the first stream ended with NOT_FOUND, this one cancelled
                if fake.streams_closed == 2:
                    break
                await asyncio.sleep(0.02)
            assert fake.streams_closed == 2

    asyncio.run(asyncio.wait_for(flow(), 20))


# -- the cursor alone -------------------------------------------------------------


def _event(seq: int, kind: int = T.PROGRESS_EVENT_TYPE_TOOL_CALL) -> research_pb2.ProgressEvent:
    return research_pb2.ProgressEvent(run_id="r", sequence=seq, type=kind)


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=60),
    cuts=st.lists(
        st.tuples(st.integers(0, 10), st.integers(0, 5), st.booleans()), min_size=0, max_size=40
    ),
)
def test_cursor_delivers_each_event_once_whatever_the_server_replays(
    total: int, cuts: list[tuple[int, int, bool]]
) -> None:
    """A model of the reconnect loop: each connection replays from the cursor's
    request (minus an overlap), may send a heartbeat, and stops after a few events."""
    events = [_event(seq) for seq in range(1, total + 1)]
    events[-1].type = T.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    cursor = ProgressCursor("s", "", 0, heartbeats=False)
    delivered: list[int] = []
    plan = iter(cuts)
    while not cursor.done:
        budget, overlap, beat = next(plan, (total, 0, False))
        after = max(0, cursor.request().after_sequence - overlap)
        stream = [e for e in events if e.sequence > after][: budget or 1]
        if beat:
            stream.insert(0, _event(total, T.PROGRESS_EVENT_TYPE_HEARTBEAT))
        for event in stream:
            if cursor.accept(event):
                delivered.append(event.sequence)
            if cursor.done:
                break
    assert delivered == list(range(1, total + 1))
    assert cursor.run_id == "r"


class _Err(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("code", "details", "resumable"),
    [
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", True),
        (grpc.StatusCode.INTERNAL, "Received RST_STREAM with error code 2", True),
        (grpc.StatusCode.UNKNOWN, "Stream removed", True),
        (grpc.StatusCode.INTERNAL, "Connection reset by peer", True),
        (grpc.StatusCode.INTERNAL, "bad state", False),
        (grpc.StatusCode.NOT_FOUND, "session gone", False),
        (grpc.StatusCode.INVALID_ARGUMENT, "bad", False),
        (grpc.StatusCode.PERMISSION_DENIED, "no", False),
        (grpc.StatusCode.UNAUTHENTICATED, "no", False),
        (grpc.StatusCode.CANCELLED, "Cancelled", False),
    ],
)
def test_is_resumable(code: grpc.StatusCode, details: str, resumable: bool) -> None:
    assert is_resumable(_Err(code, details)) is resumable
