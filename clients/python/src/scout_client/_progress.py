"""The resume logic of StreamProgress, shared by the sync and asyncio clients.

A progress stream can break at any moment: a replica restarts, a load
balancer drops an idle connection, a deadline passes. Events carry a per-run
`sequence` with no gaps, so the clients reconnect with `after_sequence` set
to the last event they delivered and the run id pinned, and the caller sees
every event exactly once, in order, up to the run's terminal event.
"""

from __future__ import annotations

import random
from typing import Final

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import research_pb2
from scout_client.errors import UnavailableError, from_rpc_error

#: Reconnects in a row without a new event before stream_progress gives up.
DEFAULT_MAX_RECONNECTS: Final = 10

TERMINAL_EVENT_TYPES: Final = frozenset(
    {
        research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED,
        research_pb2.PROGRESS_EVENT_TYPE_RUN_FAILED,
        research_pb2.PROGRESS_EVENT_TYPE_RUN_CANCELLED,
    }
)

# Transport failures that grpc reports as INTERNAL or UNKNOWN rather than
# UNAVAILABLE: the stream broke, the server did not refuse the request.
_BROKEN_STREAM_MARKERS: Final = (
    "rst_stream",
    "connection reset",
    "stream removed",
    "socket closed",
    "goaway",
    "broken pipe",
    "connection aborted",
    "end of stream",
)


def is_resumable(error: grpc.RpcError) -> bool:
    """Tell whether a broken progress stream is worth reconnecting.

    UNAVAILABLE and DEADLINE_EXCEEDED always are; INTERNAL and UNKNOWN only
    when their message shows a broken transport (RST_STREAM, a reset
    connection). Everything else (NOT_FOUND, PERMISSION_DENIED ...) is the
    server's answer and would only repeat.
    """
    code_method = getattr(error, "code", None)
    if not callable(code_method):
        return False
    code = code_method()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return True
    if code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
        text = (error.details() or "").lower()
        return any(marker in text for marker in _BROKEN_STREAM_MARKERS)
    return False


class ProgressCursor:
    """Where a followed progress stream stands, and what to deliver next."""

    def __init__(self, session_id: str, run_id: str, after_sequence: int, heartbeats: bool):
        self.session_id = session_id
        self.run_id = run_id
        self.last_sequence = after_sequence
        self.heartbeats = heartbeats
        #: Events delivered so far (heartbeats excluded).
        self.delivered = 0
        #: True once the run's terminal event was delivered.
        self.done = False

    def request(self) -> research_pb2.StreamProgressRequest:
        """Return the request that (re)opens the stream where it stopped."""
        return research_pb2.StreamProgressRequest(
            session_id=self.session_id,
            run_id=self.run_id,
            after_sequence=self.last_sequence,
        )

    def accept(self, event: research_pb2.ProgressEvent) -> bool:
        """Record an event from the stream; return whether to deliver it.

        Heartbeats never move the resume point (their sequence repeats the
        latest stored one). Events at or below the resume point are repeats
        from a replay and are dropped, as are events of another run once the
        cursor has pinned one.
        """
        if self.run_id and event.run_id and event.run_id != self.run_id:
            return False
        if event.type == research_pb2.PROGRESS_EVENT_TYPE_HEARTBEAT:
            return self.heartbeats
        if event.sequence <= self.last_sequence:
            return False
        if not self.run_id:
            self.run_id = event.run_id
        self.last_sequence = event.sequence
        self.delivered += 1
        self.done = event.type in TERMINAL_EVENT_TYPES
        return True


class Backoff:
    """Exponential backoff with jitter between reconnects."""

    def __init__(self, initial: float, maximum: float, multiplier: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self._next = initial

    def reset(self) -> None:
        """Start over from the initial delay (after the stream made progress)."""
        self._next = self.initial

    def next_delay(self) -> float:
        """Return the next delay: between half and all of the current step."""
        delay = self._next
        self._next = min(self._next * self.multiplier, self.maximum)
        return delay * random.uniform(0.5, 1.0)


class ProgressFollower:
    """The reconnect loop of stream_progress, minus the I/O both clients do.

    Per connection a client sends `connect()`, passes each response to
    `accept()` (delivering the event when it says so, stopping once `done`),
    hands a grpc error to `failed()` (which raises what is not resumed), and
    finally asks `reconnect_delay()`: None to end, else seconds to sleep.
    """

    def __init__(
        self,
        cursor: ProgressCursor,
        *,
        resume: bool,
        max_reconnects: int | None,
        initial_backoff: float,
        max_backoff: float,
    ) -> None:
        self.cursor = cursor
        self.resume = resume
        self.max_reconnects = max_reconnects
        self.backoff = Backoff(initial_backoff, max_backoff)
        self._fruitless = 0
        self._delivered_before = 0
        self._last_error: grpc.RpcError | None = None

    @property
    def done(self) -> bool:
        """True once the run's terminal event was delivered."""
        return self.cursor.done

    def connect(self) -> research_pb2.StreamProgressRequest:
        """Start a connection; return its request."""
        self._delivered_before = self.cursor.delivered
        self._last_error = None
        return self.cursor.request()

    def accept(self, response: research_pb2.StreamProgressResponse) -> bool:
        """Record a response; return whether to deliver its event."""
        return self.cursor.accept(response.event)

    def failed(self, error: grpc.RpcError) -> None:
        """Record a broken connection; raise its ScoutError unless it is resumed."""
        if not self.resume or not is_resumable(error):
            raise from_rpc_error(error) from error
        self._last_error = error

    def reconnect_delay(self) -> float | None:
        """After a connection ended: None to stop, else the backoff before the next.

        Raises the last error (or UnavailableError) once `max_reconnects`
        reconnects in a row brought no new event.
        """
        if not self.resume:
            return None  # the server ended the stream; without resume that is the end
        if self.cursor.delivered > self._delivered_before:
            self._fruitless = 0
            self.backoff.reset()
        self._fruitless += 1
        if self.max_reconnects is not None and self._fruitless > self.max_reconnects:
            if self._last_error is not None:
                raise from_rpc_error(self._last_error) from self._last_error
            raise UnavailableError(
                "the progress stream kept ending before the run's terminal event",
                reason="STREAM_ENDED_EARLY",
            )
        return self.backoff.next_delay()
