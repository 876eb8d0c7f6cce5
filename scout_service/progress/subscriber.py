"""One progress stream's delivery state, and the iterator handed to the servicer.

A ``Subscriber`` is shared by two sides: the feeding side (``publish`` on the
replica that executes the run, or the follower that polls the store for a
run executing elsewhere) calls ``offer``, which never blocks and never
buffers more than ``capacity`` events; the stream side (the broker's
delivery loop) drains it in sequence order. Everything runs on one event
loop, so no locks: a method without ``await`` is atomic.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType

from scout_service.domain import ProgressEvent


class Subscriber:
    """Live events waiting for one stream, plus where that stream stands."""

    __slots__ = (
        "session_id",
        "run_id",
        "principal",
        "capacity",
        "last",
        "skip_through",
        "inbox",
        "behind",
        "wake",
        "shutting_down",
        "gone",
        "released",
        "replayed",
        "overflows",
        "timer",
        "timer_at",
    )

    def __init__(
        self, session_id: str, run_id: str, principal: str, after_sequence: int, capacity: int
    ) -> None:
        self.session_id = session_id
        self.run_id = run_id
        self.principal = principal
        self.capacity = capacity
        # The sequence of the last event handed to the stream's reader.
        self.last = after_sequence
        # Set when the caller asked for events after a sequence that was not
        # stored yet: ``last`` then restarts from what is stored, and events
        # up to here are consumed without being sent (the caller had them),
        # so the run's terminal event still ends the stream whatever its number.
        self.skip_through = 0
        # Live events not yet delivered, by sequence (all > last once purged).
        self.inbox: dict[int, ProgressEvent] = {}
        # Set when the inbox overflowed: live events are ignored until the
        # stream has caught up from the store (it clears the flag first).
        self.behind = False
        self.wake = asyncio.Event()
        self.shutting_down = False
        # Why the run can no longer be followed (it was deleted or expired).
        self.gone: str | None = None
        self.released = False
        # Its first store read (the replay) is done: from here on it is live.
        self.replayed = False
        self.overflows = 0
        # One pending wake-up call for heartbeats and gap retries, re-armed only
        # when a sooner one is needed, so a busy stream schedules no timers.
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0

    @property
    def position(self) -> int:
        """Where the caller stands: the sequence to resume after."""
        return max(self.last, self.skip_through)

    @property
    def key(self) -> tuple[str, str]:
        """The run this stream follows."""
        return self.session_id, self.run_id

    def wake_at(self, when: float) -> None:
        """Make sure ``wake`` is set at ``when`` (loop time) at the latest."""
        if self.timer is not None:
            if self.timer_at <= when:
                return  # an earlier wake-up is pending; the stream re-arms then
            self.timer.cancel()
        self.timer_at = when
        self.timer = asyncio.get_running_loop().call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        self.wake.set()

    def cancel_timer(self) -> None:
        """Drop the pending wake-up (the stream is over)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def offer(self, event: ProgressEvent) -> None:
        """Queue a live event without ever blocking the caller.

        On overflow the whole inbox is dropped and the subscriber marked
        ``behind``: the stream then reads what it missed from the store, so a
        slow reader costs the store a few reads instead of costing the
        publisher memory or time.
        """
        sequence = event.sequence
        if self.behind or sequence <= self.last or sequence in self.inbox:
            return
        if len(self.inbox) >= self.capacity:
            self.inbox.clear()
            self.behind = True
            self.overflows += 1
        else:
            self.inbox[sequence] = event
        self.wake.set()


class Subscription(AsyncIterator[ProgressEvent]):
    """The iterator ``ProgressBroker.subscribe`` returns.

    It holds one of the replica's stream slots from creation (so limits are
    checked when the caller subscribes, not at the first ``__anext__``) until
    the stream ends, ``aclose()`` is called, or the object is garbage —
    whichever comes first. Usable as ``async with broker.subscribe(...) as s``.
    """

    def __init__(
        self,
        subscriber: Subscriber,
        stream: AsyncGenerator[ProgressEvent, None],
        release: Callable[[Subscriber], None],
    ) -> None:
        self._subscriber = subscriber
        self._stream = stream
        self._release = release
        self._started = False

    @property
    def last_sequence(self) -> int:
        """The sequence of the last event delivered (``after_sequence`` before any)."""
        return self._subscriber.position

    def __aiter__(self) -> Subscription:
        return self

    def __anext__(self) -> Awaitable[ProgressEvent]:
        # Once started, the generator releases the slot itself when it ends,
        # fails, is cancelled or is collected (asyncio's async-generator
        # finalizer closes it); handing out its awaitable saves a coroutine
        # per event.
        self._started = True
        return self._stream.__anext__()

    async def aclose(self) -> None:
        """End the subscription and release its slot."""
        try:
            await self._stream.aclose()
        finally:
            self._release(self._subscriber)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # A caller that drops the iterator without ever reading it must not
        # leak a slot (a generator never started has no finalizer to run).
        # A started one may still be awaited by a task that kept only the
        # awaitable; it releases the slot itself when it ends.
        if not self._started:
            self._release(self._subscriber)
