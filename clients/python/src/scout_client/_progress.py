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
