"""Progress streams that survive disconnects, restarts and many replicas.

The runner stores every event (``store.append_event``) and then hands it to
``ProgressBroker.publish``; ``StreamProgress`` iterates
``ProgressBroker.subscribe``. The store is the source of truth, the broker
only makes the live part fast and cheap:

- A stream replays stored events after ``after_sequence``, then follows live
  ones, exactly once and in order, and ends after the run's terminal event.
  It registers for live events *before* its replay read, so nothing falls
  between the two; live events it already replayed are dropped, and a gap in
  what arrives live is filled from the store.
- Runs executing on this replica (``mark_local``) are fed by ``publish``
  alone. Runs executing elsewhere are fed by one follower per run per
  replica that polls the store (``follower.py``), however many streams
  watch them.
- Publishing never waits for a stream: each has a bounded inbox; one that
  overflows is marked behind and later catches up from the store.
- A quiet stream gets a ``HEARTBEAT`` (never stored) every
  ``heartbeat_interval``, so proxies keep it open while a run is resumed.
- ``close()`` ends every stream with ``Unavailable`` naming the sequence to
  resume after, on another replica.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Sequence

from scout_service import errors
from scout_service.domain import EventType, ProgressEvent, Run, run_ending
from scout_service.progress.follower import FollowSettings, RunChannel, follow, gap_free_prefix
from scout_service.progress.shared_reads import SharedReads
from scout_service.progress.subscriber import Subscriber, Subscription
from scout_service.store.base import Store

log = logging.getLogger(__name__)

# Longest pause between two store reads of a stream waiting for a missing event.
_MAX_GAP_RETRY = 5.0


class ProgressBroker:
    """Fans progress events out to this replica's streams.

    ``poll_interval``: how often a run executing on another replica is read
    from the store (the cross-replica delay). ``heartbeat_interval``: quiet
    time after which a stream gets a heartbeat. ``subscriber_buffer``: live
    events a stream may have waiting before it is switched to catching up
    from the store. ``max_streams`` / ``max_streams_per_principal``: open
    streams on this replica, in all and per caller. ``page_size``: events per
    store read. ``gap_timeout``: how long a missing sequence is waited for
    before it is skipped (its writer died before storing it). ``clock``:
    timestamps of heartbeats; waiting uses the event loop's monotonic clock.
    """

    def __init__(
        self,
        store: Store,
        *,
        poll_interval: float = 0.25,
        heartbeat_interval: float = 10.0,
        subscriber_buffer: int = 256,
        max_streams: int = 10_000,
        max_streams_per_principal: int = 100,
        clock: Callable[[], float] = time.time,
        page_size: int = 1000,
        gap_timeout: float = 30.0,
    ) -> None:
        if poll_interval <= 0 or heartbeat_interval <= 0:
            raise ValueError("poll_interval and heartbeat_interval must be positive")
        if subscriber_buffer < 1 or page_size < 1:
            raise ValueError("subscriber_buffer and page_size must be at least 1")
        self._store = store
        self._poll_interval = poll_interval
        self._heartbeat_interval = heartbeat_interval
        self._subscriber_buffer = subscriber_buffer
        self._max_streams = max_streams
        self._max_per_principal = max_streams_per_principal
        self._clock = clock
        self._page_size = page_size
        self._gap_timeout = gap_timeout
        self._follow = FollowSettings(
            poll_interval=poll_interval,
            page_size=page_size,
            gap_timeout=gap_timeout,
            # How often a follower checks that its run still exists.
            check_interval=max(heartbeat_interval, poll_interval),
        )
        self._local: set[tuple[str, str]] = set()
        self._channels: dict[tuple[str, str], RunChannel] = {}
        self._subscribers: set[Subscriber] = set()
        self._per_principal: dict[str, int] = {}
        self._closed = False
        # Store reads made by followers (the cost of following remote runs).
        self.store_reads = 0
        # Store reads made by streams themselves: replays and catch-ups.
        self.replay_reads = 0
        # Last events of ended runs stored here for a replica that died first.
        self.settled_endings = 0
        self._past_overflows = 0
        # Streams of one run opening (or catching up) together share their reads.
        self._runs: SharedReads[tuple[str, str], None, Run] = SharedReads(self._read_run)
        self._replays: SharedReads[tuple[str, str], int, list[ProgressEvent]] = SharedReads(
            self._read_events)

    # -- introspection ----------------------------------------------------------

    @property
    def active_streams(self) -> int:
        """Subscriptions holding a slot on this replica."""
        return len(self._subscribers)

    @property
    def live_streams(self) -> int:
        """Open streams past their replay read (they now receive live events)."""
        return sum(1 for s in self._subscribers if s.replayed)

    @property
    def active_followers(self) -> int:
        """Follower tasks polling the store for runs executing elsewhere."""
        return sum(1 for c in self._channels.values() if c.follower is not None)

    @property
    def buffered_events(self) -> int:
        """Live events waiting in all streams' inboxes (bounded by the buffer size)."""
        return sum(len(s.inbox) for s in self._subscribers)

    @property
    def overflows(self) -> int:
        """How often a stream fell behind and had to catch up from the store (cumulative)."""
        return self._past_overflows + sum(s.overflows for s in self._subscribers)

    # -- the runner's side --------------------------------------------------------

    def mark_local(self, session_id: str, run_id: str) -> None:
        """Note that the run starts (or resumes) executing here: ``publish`` feeds it."""
        key = (session_id, run_id)
        self._local.add(key)
        channel = self._channels.get(key)
        if channel is not None:
            channel.poke.set()  # the follower reads once more, then stops

    def unmark_local(self, session_id: str, run_id: str) -> None:
        """Note that the run stops executing here (it ended, or this replica shuts down)."""
        key = (session_id, run_id)
        self._local.discard(key)
        channel = self._channels.get(key)
        if channel is not None:
            # Not ended: it will resume elsewhere, so follow it through the store.
            self._ensure_follower(channel)

    async def publish(self, event: ProgressEvent) -> None:
        """Fan out an event that was just appended to the store.

        Costs no store access and never waits for a stream. Heartbeats are
        the broker's own business and are ignored here.
        """
        if event.type is EventType.HEARTBEAT:
            return
        channel = self._channels.get((event.session_id, event.run_id))
        if channel is not None:
            channel.fan_out(event)

    # -- the streams' side --------------------------------------------------------

    def subscribe(
        self, session_id: str, run_id: str, *, after_sequence: int = 0, principal: str = ""
    ) -> Subscription:
        """Open a stream of a run's events after ``after_sequence``.

        Limits are checked now (``ResourceExhausted``, reason
        ``TOO_MANY_STREAMS``) and the slot is held until the iterator ends,
        is closed or is collected. An unknown run raises ``NotFound`` at the
        first ``__anext__``; so does a run deleted while it is followed.
        """
        if self._closed:
            raise self._shutting_down(after_sequence)
        if after_sequence < 0:
            raise errors.InvalidArgument(f"after_sequence must be >= 0, got {after_sequence}")
        if len(self._subscribers) >= self._max_streams:
            raise errors.limit_exceeded(
                f"too many progress streams on this replica: the limit is {self._max_streams} "
                "(setting max_streams, SCOUT_MAX_STREAMS); retry later or on another replica",
                reason="TOO_MANY_STREAMS", limit="SCOUT_MAX_STREAMS", value=self._max_streams,
                setting="max_streams",
            )
        held = self._per_principal.get(principal, 0)
        if held >= self._max_per_principal:
            raise errors.limit_exceeded(
                f"caller {principal!r} has too many progress streams open on this replica: "
                f"the limit is {self._max_per_principal} (setting max_streams_per_principal, "
                "SCOUT_MAX_STREAMS_PER_PRINCIPAL); close some streams first",
                reason="TOO_MANY_STREAMS", limit="SCOUT_MAX_STREAMS_PER_PRINCIPAL",
                value=self._max_per_principal, setting="max_streams_per_principal",
            )
        subscriber = Subscriber(
            session_id, run_id, principal, after_sequence, self._subscriber_buffer
        )
        self._subscribers.add(subscriber)
        self._per_principal[principal] = held + 1
        return Subscription(subscriber, self._stream(subscriber), self._release)

    async def close(self) -> None:
        """Shut down: every open stream raises ``Unavailable``; followers stop."""
        self._closed = True
        for subscriber in tuple(self._subscribers):
            subscriber.shutting_down = True
            subscriber.wake.set()
        followers = [c.follower for c in self._channels.values() if c.follower is not None]
        for task in followers:
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
        await self._runs.close()
        await self._replays.close()

    # -- internals ------------------------------------------------------------------

    def _release(self, subscriber: Subscriber) -> None:
        """Give back a stream's slot and leave its run's channel (idempotent)."""
        if subscriber.released:
            return
        subscriber.released = True
        subscriber.cancel_timer()
        self._subscribers.discard(subscriber)
        self._past_overflows += subscriber.overflows
        left = self._per_principal.get(subscriber.principal, 0) - 1
        if left > 0:
            self._per_principal[subscriber.principal] = left
        else:
            self._per_principal.pop(subscriber.principal, None)
        subscriber.inbox.clear()
        channel = self._channels.get(subscriber.key)
        if channel is not None and subscriber in channel.subscribers:
            channel.subscribers.discard(subscriber)
            if not channel.subscribers:
                del self._channels[subscriber.key]
                channel.poke.set()  # its follower, if any, sees nobody left and stops

    def _attach(self, subscriber: Subscriber) -> None:
        """Register a stream for live events of its run (before its replay read)."""
        channel = self._channels.get(subscriber.key)
        if channel is None:
            channel = self._channels[subscriber.key] = RunChannel(*subscriber.key)
        channel.subscribers.add(subscriber)
        self._ensure_follower(channel)

    def _ensure_follower(self, channel: RunChannel) -> None:
        """Start the run's follower if it executes elsewhere and someone watches it."""
        key = (channel.session_id, channel.run_id)
        if (
            self._closed
            or key in self._local
            or channel.terminal_seen
            or not channel.subscribers
            or channel.follower is not None
        ):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (called from sync code): the next stream starts it
        task = loop.create_task(
            follow(
                channel,
                self._store,
                self._follow,
                is_local=lambda: key in self._local,
                count_read=self._count_read,
                settle=self._settle_ending,
            ),
            name=f"progress-follower-{channel.run_id}",
        )
        channel.follower = task
        task.add_done_callback(lambda t: self._follower_done(channel, t))

    def _follower_done(self, channel: RunChannel, task: asyncio.Task[None]) -> None:
        if channel.follower is task:
            channel.follower = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("progress follower crashed", exc_info=exc, extra=channel.log_fields)
            if self._channels.get((channel.session_id, channel.run_id)) is channel:
                self._ensure_follower(channel)

    def _count_read(self) -> None:
        self.store_reads += 1

    async def _settle_ending(self, run: Run) -> None:
        """Store the last event of an ended run whose replica died before storing it.

        The replica that ends a run writes the terminal state first and the
        terminal event second (its number is reserved in ``last_sequence``);
        killed in between, it leaves a run nobody resumes and streams that
        would wait forever. Once its lease has run out, the event is written
        here, with the same content (``run_ending``) and the conditional put
        every event gets: if the owner stores it after all, one of the two
        writes wins and both are the run's ending.
        """
        key = (run.session_id, run.run_id)
        if key in self._local or run.lease_expires_at > self._clock() or run.last_sequence < 1:
            return
        latest = await self._store.last_event(run.session_id, run.run_id)
        if latest is not None and latest.type.is_terminal:
            return
        # The reserved number, unless an event of the run landed on it after all
        # (an agent's write still running when the run ended): then the next one.
        sequence = max(run.last_sequence, latest.sequence + 1 if latest is not None else 1)
        type, message, attributes = run_ending(run)
        event = ProgressEvent(
            session_id=run.session_id, run_id=run.run_id, sequence=sequence,
            created_at=self._clock(), type=type, message=message, attributes=attributes,
        )
        try:
            await self._store.append_event(event)
        except errors.Conflict:
            return  # stored meanwhile, by its replica or another one settling it
        self.settled_endings += 1
        log.warning(
            "stored the last event (%s, sequence %d) of a run whose replica ended it "
            "but did not store it", type.value, sequence,
            extra={"session_id": run.session_id, "run_id": run.run_id},
        )

    def _shutting_down(self, sequence: int) -> errors.Unavailable:
        return errors.Unavailable(
            "server is shutting down; resume on another replica after sequence "
            f"{sequence}",
            reason="SHUTTING_DOWN",
            metadata={"after_sequence": str(sequence)},
        )

    def _check(self, subscriber: Subscriber) -> None:
        """Raise what ends a stream early: shutdown, or the run disappeared."""
        if subscriber.shutting_down:
            raise self._shutting_down(subscriber.position)
        if subscriber.gone is not None:
            raise errors.NotFound(subscriber.gone, reason="RUN_NOT_FOUND")

    def _heartbeat(self, subscriber: Subscriber) -> ProgressEvent:
        return ProgressEvent(
            session_id=subscriber.session_id,
            run_id=subscriber.run_id,
            sequence=subscriber.position,
            created_at=self._clock(),
            type=EventType.HEARTBEAT,
            message=(
                "Still working… no new progress in the last "
                f"{self._heartbeat_interval:g} s"
            ),
        )

    async def _stream(self, sub: Subscriber) -> AsyncGenerator[ProgressEvent, None]:
        """Deliver a run's events to one stream: replay, then live, exactly once.

        ``ready`` holds events read from the store (a gap-free run starting at
        ``sub.last + 1``); ``sub.inbox`` holds live ones. The store is read
        for the initial replay, after an inbox overflow, and when live events
        arrive with a gap before them.
        """
        try:
            self._check(sub)
            await self._runs.get(sub.key, None)  # NotFound propagates
            self._check(sub)
            self._attach(sub)
            loop = asyncio.get_running_loop()
            ready: deque[ProgressEvent] = deque()
            need_read = True  # the replay
            replayed = False
            hole_ahead: int | None = None  # first stored sequence beyond a hole
            gap_since: float | None = None
            gap_retry = self._poll_interval
            next_gap_read = 0.0
            quiet_since = loop.time()
            while True:
                self._check(sub)
                if sub.behind:
                    # Re-arm live buffering *before* the catch-up read: whatever
                    # is stored after that read is then sure to arrive live.
                    sub.behind = False
                    need_read = True
                event = ready.popleft() if ready else sub.inbox.pop(sub.last + 1, None)
                if event is not None:
                    sub.last = event.sequence
                    sub.inbox.pop(event.sequence, None)  # its live copy, if any
                    quiet_since = loop.time()
                    gap_since, hole_ahead, gap_retry = None, None, self._poll_interval
                    if event.sequence <= sub.skip_through:
                        # The caller had it already (it resumed past what was stored).
                        if event.type.is_terminal:
                            return
                        continue
                    yield event
                    if event.type.is_terminal:
                        return
                    continue
                gap = bool(sub.inbox) or hole_ahead is not None
                now = loop.time()
                if gap and gap_since is None:
                    gap_since, next_gap_read = now, now
                if gap and gap_since is not None and now - gap_since >= self._gap_timeout:
                    self._skip_hole(sub, hole_ahead)
                    gap_since, hole_ahead = None, None
                    continue
                if need_read or (gap and now >= next_gap_read):
                    shared = await self._replays.get(sub.key, sub.last)
                    self._check(sub)
                    # Read for streams further behind too: the part after this one.
                    page = [e for e in shared if e.sequence > sub.last]
                    prefix, hole_ahead = gap_free_prefix(page, sub.last)
                    ready.extend(prefix)
                    need_read = len(shared) >= self._page_size and hole_ahead is None
                    if gap:
                        next_gap_read = loop.time() + gap_retry
                        gap_retry = min(gap_retry * 2, _MAX_GAP_RETRY)
                    if not replayed:
                        replayed = sub.replayed = True
                        if not page and sub.last > 0:
                            if await self._past_the_end(sub):
                                return
                            self._check(sub)
                            need_read = need_read or sub.skip_through > 0  # restarted lower
                    continue
                if now - quiet_since >= self._heartbeat_interval:
                    quiet_since = now
                    yield self._heartbeat(sub)
                    continue
                deadline = quiet_since + self._heartbeat_interval
                if gap and gap_since is not None:
                    deadline = min(deadline, next_gap_read, gap_since + self._gap_timeout)
                # Nothing awaited since the checks above, so no wake-up is lost.
                sub.wake.clear()
                sub.wake_at(deadline)
                await sub.wake.wait()
        finally:
            self._release(sub)

    async def _read_run(self, key: tuple[str, str], _: Sequence[None]) -> Run:
        return await self._store.get_run(*key)

    async def _read_events(self, key: tuple[str, str], after: Sequence[int]
                           ) -> list[ProgressEvent]:
        """A page of stored events from where the furthest-behind asking stream stands."""
        self.replay_reads += 1
        return await self._store.read_events(*key, after_sequence=min(after),
                                             limit=self._page_size)

    async def _past_the_end(self, sub: Subscriber) -> bool:
        """For a caller resuming past every stored event: True if the run has ended.

        Then there is nothing to send and the stream ends at once. Otherwise
        the stream restarts from the last stored event, consuming events up
        to ``after_sequence`` without sending them: the run's terminal event
        may carry a number at or below it (the caller's number came from
        elsewhere, or was a guess), and must still end the stream.
        """
        latest = await self._store.last_event(sub.session_id, sub.run_id)
        if latest is not None and latest.type.is_terminal and latest.sequence <= sub.last:
            return True
        stored = latest.sequence if latest is not None else 0
        if stored < sub.last:
            # Live events offered meanwhile at or below sub.last were dropped;
            # the caller re-reads the store from ``stored`` next, so none is lost.
            sub.skip_through, sub.last = sub.last, stored
            channel = self._channels.get(sub.key)
            if channel is not None:
                channel.rewind(stored)
        return False

    def _skip_hole(self, sub: Subscriber, hole_ahead: int | None) -> None:
        """Give up on sequences that were never stored and move past them."""
        candidates = [
            s for s in (*sub.inbox, *([hole_ahead] if hole_ahead else [])) if s > sub.last + 1
        ]
        if not candidates:
            return
        target = min(candidates)
        log.warning(
            "progress events %d..%d never arrived; skipping them",
            sub.last + 1, target - 1,
            extra={"session_id": sub.session_id, "run_id": sub.run_id},
        )
        sub.last = target - 1
