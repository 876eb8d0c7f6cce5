"""The fleet's run queue: which waiting run a replica with a free slot claims next.

The queue is not a structure of its own: it is the part of the store's
ACTIVE_RUNS index whose lease nobody holds. A queued run is stored with no
lease owner and a lease that "expired" when it was created, so it sorts by
creation time, ahead of every held lease; a run whose replica died joins it
when its lease runs out. One query (``Store.list_resumable_runs`` up to now)
therefore reads the whole queue, oldest first, and a replica claims a run by
writing itself in as the lease owner, conditional on the version it read.

``claim_order`` makes that order fair across callers: runs whose replica
died come first (they have started; their agents' work is saved), then the
callers take turns. A run is queued with its turn (``Run.queue_turn``): how
many runs of the same owner were waiting when it was queued. Runs are
claimed by turn, and by age within a turn: every caller's first waiting run,
oldest of those first, then every caller's second, and so on. A burst of one
caller is interleaved with the others' runs instead of served before them,
and a run's turn does not change as the runs before it are claimed, so a
caller who arrives later still gets the next turn. ``GetRun`` reports a
queued run's place in this same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from scout_service.domain import Run, RunState


def claim_order(waiting: Sequence[Run]) -> list[Run]:
    """The waiting runs in the order replicas claim them (see the module docstring)."""
    keyed = []
    for position, run in enumerate(waiting):  # the index's order: oldest lease first
        if run.state.is_terminal:
            continue
        resumed = run.state is not RunState.QUEUED
        keyed.append(((0 if resumed else 1, 0 if resumed else run.queue_turn, position), run))
    return [run for _, run in sorted(keyed, key=lambda pair: pair[0])]


def turn_of(waiting: Sequence[Run], owner: str) -> int:
    """The turn of a run ``owner`` queues now: the owner's runs waiting already."""
    return sum(1 for run in waiting if run.owner == owner and run.state is RunState.QUEUED)


def queue_position(waiting: Sequence[Run], run_id: str) -> int:
    """1 for the run claimed next, 2 for the one after …; 0 when it is not waiting."""
    for place, run in enumerate(claim_order(waiting), start=1):
        if run.run_id == run_id:
            return place
    return 0


@dataclass(eq=False)
class Ticket:
    """One slot held by one run executing here; released once."""

    released: bool = False


class Slots:
    """At most ``limit`` runs execute on this replica; ``has_room`` is set while one more may."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running = 0
        self.has_room = asyncio.Event()
        self.has_room.set()

    def free(self) -> int:
        """Slots not held now."""
        return self.limit - self.running

    def take(self) -> Ticket | None:
        """A slot, or ``None`` when all are held."""
        if self.free() <= 0:
            return None
        self.running += 1
        if self.free() <= 0:
            self.has_room.clear()
        return Ticket()

    def release(self, ticket: Ticket) -> None:
        """Give the slot back (a second release of one ticket does nothing)."""
        if ticket.released:
            return
        ticket.released = True
        self.running -= 1
        self.has_room.set()
