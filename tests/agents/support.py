"""Fakes and helpers for the agent runner's tests (MemoryStore + a recording broker)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from scout_service.agents import OfflineModel, ResearchRunner, RunnerSettings
from scout_service.domain import ProgressEvent, ReportKind, Run, Session
from scout_service.store import MemoryStore

EXAMPLE_PLAN = Path(__file__).resolve().parents[2] / "examples" / "nordic-meal-kits.md"

FAST = RunnerSettings(
    lease_seconds=2.0,
    lease_renew_interval_s=0.1,
    claim_interval_s=0.1,
    cancel_grace_s=0.5,
)


class RecordingSink:
    """The broker as the runner sees it: records marks and published events."""

    def __init__(self) -> None:
        self.events: list[ProgressEvent] = []
        self.local: set[str] = set()
        self.marked: list[str] = []
        self.unmarked: list[str] = []

    def mark_local(self, session_id: str, run_id: str) -> None:
        self.local.add(run_id)
        self.marked.append(run_id)

    def unmark_local(self, session_id: str, run_id: str) -> None:
        self.local.discard(run_id)
        self.unmarked.append(run_id)

    async def publish(self, event: ProgressEvent) -> None:
        self.events.append(event)


def plan_bytes() -> bytes:
    return EXAMPLE_PLAN.read_bytes()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def new_session(
    store: MemoryStore, files: dict[str, bytes] | None = None, owner: str = "alice"
) -> Session:
    session = await store.create_session(owner=owner, ttl_seconds=3600)
    for name, data in (files if files is not None else {"plan.md": plan_bytes()}).items():
        await store.put_file(session.session_id, name, "text/markdown", _one(data))
    return session


def offline_factory(delay_ms: int = 0, **per_kind: int) -> Callable[[ReportKind], Any]:
    """Offline models; ``market=0, legal=200`` … set the delay of one kind."""
    return lambda kind: OfflineModel(
        kind, delay_ms=per_kind.get(kind.name.lower(), delay_ms)
    )


def make_runner(
    store: MemoryStore,
    sink: RecordingSink | None = None,
    factory: Callable[[ReportKind], Any] | None = None,
    *,
    settings: RunnerSettings = FAST,
    replica_id: str = "replica-a",
    provider_name: str = "offline",
    **extra: Any,
) -> ResearchRunner:
    return ResearchRunner(
        store,
        sink or RecordingSink(),
        factory or offline_factory(),
        settings=settings,
        replica_id=replica_id,
        provider_name=provider_name,
        **extra,
    )


async def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.02
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def wait_terminal(store: MemoryStore, run: Run, timeout: float = 30.0) -> Run:
    """The run once it ended: stored in a terminal state *and* its last event stored.

    The runner writes the terminal state first (so that no replica resumes
    the run) and the last event after it (``_emit_terminal``, numbered by the
    run's ``last_sequence``): a test that read the events as soon as the state
    is terminal could miss that event.
    """
    latest = run

    async def done() -> bool:
        nonlocal latest
        latest = await store.get_run(run.session_id, run.run_id)
        if not latest.state.is_terminal:
            return False
        last = await store.read_events(run.session_id, run.run_id,
                                       after_sequence=latest.last_sequence - 1, limit=1)
        return bool(last)

    await wait_for(done, timeout=timeout)
    return latest


async def all_events(store: MemoryStore, run: Run) -> list[ProgressEvent]:
    return await store.read_events(run.session_id, run.run_id, after_sequence=0, limit=10_000)


def assert_no_gaps(events: list[ProgressEvent]) -> None:
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
