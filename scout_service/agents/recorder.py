"""Progress events of one run: numbered without gaps, stored, then published.

The store is the record (a stream on another replica reads it); the broker
only fans events out to this replica's live streams. So an event is
published only after it is stored, and its sequence number is taken only
when the write succeeded: if the store is briefly unavailable the same
number is retried, and if it stays unavailable the run stops with
``EventLogUnavailable`` rather than leaving a hole.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from scout_service.domain import EventType, ProgressEvent, ReportKind
from scout_service.errors import Conflict, Unavailable
from scout_service.store.base import Store

logger = logging.getLogger(__name__)


class EventSink(Protocol):
    """What the runner needs of the progress broker."""

    def mark_local(self, session_id: str, run_id: str) -> None:
        """The run executes on this replica: its events arrive through ``publish``."""

    def unmark_local(self, session_id: str, run_id: str) -> None:
        """The run no longer executes here: follow it through the store."""

    async def publish(self, event: ProgressEvent) -> None:
        """Hand a stored event to this replica's live streams."""


class RunTakenOver(Exception):
    """Another replica owns the run now (a conditional write lost): stop quietly."""


class EventLogUnavailable(Unavailable):
    """The store refused an event after every retry; the run cannot go on."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of a store write that failed with ``Unavailable``."""

    attempts: int = 5
    base_delay_s: float = 0.05
    max_delay_s: float = 1.0

    def delays(self) -> list[float]:
        """The waits between attempts."""
        return [
            min(self.base_delay_s * (2**i), self.max_delay_s) for i in range(self.attempts - 1)
        ]


@dataclass
class EventRecorder:
    """Assigns sequence numbers for one run and writes its events in order."""

    store: Store
    sink: EventSink
    session_id: str
    run_id: str
    last_sequence: int = 0
    clock: Callable[[], float] = time.time
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    @classmethod
    async def resume(
        cls,
        store: Store,
        sink: EventSink,
        session_id: str,
        run_id: str,
        *,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
    ) -> EventRecorder:
        """A recorder that continues after the run's last stored event."""
        last = await store.last_event(session_id, run_id)
        return cls(
            store, sink, session_id, run_id,
            last_sequence=last.sequence if last is not None else 0,
            clock=clock, retry=retry or RetryPolicy(),
        )

    async def emit(
        self,
        type: EventType,
        message: str,
        *,
        agent: ReportKind | None = None,
        tool_name: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> ProgressEvent:
        """Store and publish the run's next event.

        Runs shielded: a caller cancelled mid-write (an agent timing out in a
        hook) does not leave a stored event with an unclaimed number behind.
        """
        write = asyncio.ensure_future(
            self._emit(type, message, agent, tool_name, dict(attributes or {}))
        )
        return await asyncio.shield(write)

    async def _emit(
        self,
        type: EventType,
        message: str,
        agent: ReportKind | None,
        tool_name: str | None,
        attributes: dict[str, str],
    ) -> ProgressEvent:
        async with self._lock:
            event = ProgressEvent(
                session_id=self.session_id,
                run_id=self.run_id,
                sequence=self.last_sequence + 1,
                created_at=self.clock(),
                type=type,
                message=message,
                agent=agent,
                tool_name=tool_name,
                attributes=attributes,
            )
            await self._append(event)
            self.last_sequence = event.sequence
        try:
            await self.sink.publish(event)
        except Exception:  # the event is stored: live streams catch up from the store
            logger.warning(
                "progress publish failed",
                extra={"session_id": self.session_id, "run_id": self.run_id,
                       "sequence": event.sequence},
                exc_info=True,
            )
        return event

    async def _append(self, event: ProgressEvent) -> None:
        delays = self.retry.delays()
        for attempt in range(self.retry.attempts):
            try:
                await self.store.append_event(event)
                return
            except Conflict:
                # The number is taken: by this very event when an earlier try
                # landed but its answer was lost (a retry here, or botocore's
                # own retry inside this call), or else by another replica.
                if await self._is_stored(event):
                    return
                raise RunTakenOver(
                    f"event {event.sequence} of run {event.run_id} was written by another replica"
                ) from None
            except Unavailable:
                if attempt == len(delays):
                    break
                logger.info(
                    "event append failed, retrying",
                    extra={"run_id": event.run_id, "sequence": event.sequence,
                           "attempt": attempt + 1},
                )
                await asyncio.sleep(delays[attempt])
        raise EventLogUnavailable(
            f"could not store progress event {event.sequence} of run {event.run_id}"
        )

    async def _is_stored(self, event: ProgressEvent) -> bool:
        stored = await self.store.read_events(
            event.session_id, event.run_id, after_sequence=event.sequence - 1, limit=1
        )
        return bool(stored) and stored[0].sequence == event.sequence and (
            stored[0].type, stored[0].message, stored[0].created_at, stored[0].agent
        ) == (event.type, event.message, event.created_at, event.agent)
