"""A replica's streams of one run, and the store reader that feeds them.

When a run executes on another replica, its events reach this one only
through the store. Rather than each stream polling (N streams, N reads per
interval), a ``RunChannel`` keeps one follower task that polls
``read_events(after=cursor)`` every poll interval and offers what it finds
to all of the replica's subscribers of that run (DESIGN.md, "Scale").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from scout_service.domain import ProgressEvent, Run
from scout_service.errors import NotFound, ScoutError
from scout_service.progress.subscriber import Subscriber
from scout_service.store.base import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FollowSettings:
    """How a follower polls; see ``ProgressBroker`` for each value's meaning."""

    poll_interval: float
    page_size: int
    gap_timeout: float
    check_interval: float


class RunChannel:
    """The subscribers this replica has for one run."""

    def __init__(self, session_id: str, run_id: str) -> None:
        self.session_id = session_id
        self.run_id = run_id
        self.subscribers: set[Subscriber] = set()
        self.follower: asyncio.Task[None] | None = None
        # Once the terminal event went by, nothing more will come: no follower.
        self.terminal_seen = False
        # Wakes the follower early (the run became local, the last stream left).
        self.poke = asyncio.Event()
        # A stream moved back to here (it asked for more than was stored):
        # the follower reads from here on its next poll.
        self.rewind_to: int | None = None

    def rewind(self, sequence: int) -> None:
        """Make the follower offer stored events after ``sequence`` again."""
        self.rewind_to = sequence if self.rewind_to is None else min(self.rewind_to, sequence)

    def fan_out(self, event: ProgressEvent) -> None:
        """Offer an event to every subscriber; never blocks."""
        if event.type.is_terminal:
            self.terminal_seen = True
        # A snapshot: a subscription collected mid-loop may release itself.
        for subscriber in tuple(self.subscribers):
            subscriber.offer(event)

    @property
    def log_fields(self) -> dict[str, str]:
        """Structured logging fields."""
        return {"session_id": self.session_id, "run_id": self.run_id}


async def follow(
    channel: RunChannel,
    store: Store,
    settings: FollowSettings,
    *,
    is_local: Callable[[], bool],
    count_read: Callable[[], None],
    settle: Callable[[Run], Awaitable[None]],
) -> None:
    """Poll the store for a run executing elsewhere until nobody needs it.

    Stops when the terminal event was fanned out, when the last subscriber
    left, or right after one final read once the run became local (from then
    on ``publish`` feeds the streams; the final read delivers what the
    previous owner stored before the hand-over). A run whose owner died just
    goes quiet: polling continues so the events of whichever replica resumes
    it flow on, and the streams' heartbeats keep them open meanwhile. A run
    that already ended is not resumed, so when the periodic check finds one,
    ``settle`` makes sure its last event gets stored.
    """
    loop = asyncio.get_running_loop()
    cursor: int | None = None
    hole_since: float | None = None
    next_check = loop.time() + settings.check_interval
    failing = False
    next_poll = loop.time() + settings.poll_interval
    while channel.subscribers and not channel.terminal_seen:
        if not is_local():
            channel.poke.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(next_poll):
                    await channel.poke.wait()
            if not channel.subscribers or channel.terminal_seen:
                return
        started = loop.time()
        # Set once the run executes here: this read is the last one (a drain).
        handed_over = is_local()
        if cursor is None:
            # Start where the least advanced stream stands, so whatever a
            # stream's own replay read did not see is offered to it here.
            cursor = min(s.last for s in channel.subscribers)
        if channel.rewind_to is not None:
            cursor, channel.rewind_to = min(cursor, channel.rewind_to), None
        try:
            cursor, hole_since = await _read_new(
                channel, store, settings, cursor, hole_since, count_read
            )
            if loop.time() >= next_check:
                next_check = loop.time() + settings.check_interval
                run = await store.get_run(channel.session_id, channel.run_id)
                if run.state.is_terminal:
                    await settle(run)
            if failing:
                failing = False
                log.info("reading progress events works again", extra=channel.log_fields)
        except NotFound as exc:
            log.info("followed run is gone: %s", exc.message, extra=channel.log_fields)
            for subscriber in tuple(channel.subscribers):
                subscriber.gone = exc.message
                subscriber.wake.set()
            return
        except ScoutError as exc:
            # The store is unreachable for now: keep polling, streams heartbeat.
            if not failing:
                failing = True
                log.warning("reading progress events failed (retrying): %s", exc.message,
                            extra=channel.log_fields)
        if handed_over and is_local():
            return
        # Polls start every interval whatever the read and fan-out took, but
        # a slow store still gets a breather between two reads.
        next_poll = max(started + settings.poll_interval, loop.time() + settings.poll_interval / 4)


def gap_free_prefix(
    page: Sequence[ProgressEvent], after: int
) -> tuple[list[ProgressEvent], int | None]:
    """The events of ``page`` that follow ``after`` without a gap, and what lies past a gap.

    The second value is the first sequence after a hole (``None`` if none):
    with agents appending concurrently, event n+1 can be stored before n.
    """
    prefix: list[ProgressEvent] = []
    expected = after + 1
    for event in page:
        if event.sequence < expected:
            continue
        if event.sequence > expected:
            return prefix, event.sequence
        prefix.append(event)
        expected += 1
    return prefix, None


async def _read_new(
    channel: RunChannel,
    store: Store,
    settings: FollowSettings,
    cursor: int,
    hole_since: float | None,
    count_read: Callable[[], None],
) -> tuple[int, float | None]:
    """Read and fan out every stored event after ``cursor``, in order.

    Only gap-free prefixes are handed out. A hole that stays open for
    ``gap_timeout`` (its writer died between taking the sequence and storing
    the event) is skipped, so one lost event cannot stall every stream.
    Returns the new cursor and since when a hole has been open, if one is.
    """
    loop = asyncio.get_running_loop()
    while True:
        count_read()
        page = await store.read_events(
            channel.session_id, channel.run_id, after_sequence=cursor, limit=settings.page_size
        )
        prefix, beyond_hole = gap_free_prefix(page, cursor)
        if prefix:
            hole_since = None
        for event in prefix:
            channel.fan_out(event)
            if event.type.is_terminal:
                return event.sequence, None
        cursor = prefix[-1].sequence if prefix else cursor
        if beyond_hole is not None:
            now = loop.time()
            if hole_since is None:
                hole_since = now
            if now - hole_since < settings.gap_timeout:
                return cursor, hole_since
            log.warning("skipping progress events %d..%d that were never stored",
                        cursor + 1, beyond_hole - 1, extra=channel.log_fields)
            cursor, hole_since = beyond_hole - 1, None
            continue
        if len(page) < settings.page_size:
            return cursor, hole_since
