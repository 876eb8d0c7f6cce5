"""The store contract: MemoryStore and DynamoStore must both pass every test.

The ``store`` fixture (tests/conftest.py) runs each test once per
implementation, on a hand-driven clock (``clock.advance``) so expiry can be
tested without waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from typing import Any

import pytest

from scout_service.domain import (
    ALL_AGENTS,
    AgentStatus,
    EventType,
    ProgressEvent,
    ReportKind,
    ReportSource,
    Run,
    RunState,
)
from scout_service.errors import (
    Conflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from scout_service.store._keys import encode_token
from scout_service.store.base import StoreLimits

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

DAY = 24 * 3600


async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def make_run(
    session_id: str,
    run_id: str,
    *,
    clock: Any,
    request_id: str | None = None,
    state: RunState = RunState.QUEUED,
    lease_expires_at: float = 0.0,
) -> Run:
    return Run(
        session_id=session_id,
        run_id=run_id,
        state=state,
        created_at=clock(),
        updated_at=clock(),
        agents=tuple(AgentStatus(kind=kind) for kind in ALL_AGENTS),
        model_provider="offline",
        file_names=("plan.md",),
        request_id=request_id,
        owner="alice",
        lease_owner="replica-a",
        lease_expires_at=lease_expires_at,
    )


def make_event(
    session_id: str, run_id: str, sequence: int, *, clock: Any, **extra: Any
) -> ProgressEvent:
    return ProgressEvent(
        session_id=session_id,
        run_id=run_id,
        sequence=sequence,
        created_at=clock(),
        type=extra.pop("type", EventType.TOOL_CALL),
        message=extra.pop("message", f"event {sequence}"),
        **extra,
    )


# -- sessions ---------------------------------------------------------------------------


async def test_create_and_get_session(store: Any, clock: Any) -> None:
    created = await store.create_session(owner="alice", ttl_seconds=3600, labels={"team": "x"})
    assert created.owner == "alice"
    assert created.expires_at == int(clock()) + 3600
    assert dict(created.labels) == {"team": "x"}
    assert created.latest_run_id is None and created.active_run_id is None

    fetched = await store.get_session(created.session_id)
    assert fetched.session_id == created.session_id
    assert fetched.owner == "alice"
    assert fetched.expires_at == created.expires_at
    assert fetched.created_at == pytest.approx(created.created_at)
    assert dict(fetched.labels) == {"team": "x"}

    with pytest.raises(NotFound):
        await store.get_session("00000000-0000-4000-8000-000000000000")


async def test_list_sessions_pages_newest_first_own_owner_only(store: Any, clock: Any) -> None:
    mine = []
    for _ in range(5):
        mine.append((await store.create_session(owner="alice", ttl_seconds=DAY)).session_id)
        clock.advance(1)
    theirs = [(await store.create_session(owner="bob", ttl_seconds=DAY)).session_id]

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await store.list_sessions("alice", page_size=2, page_token=token)
        pages += 1
        assert len(page.items) <= 2
        seen.extend(s.session_id for s in page.items)
        assert all(s.owner == "alice" for s in page.items)
        token = page.next_token
        if token is None:
            break
    assert seen == list(reversed(mine))
    assert pages >= 3

    everyone = await store.list_sessions(None, page_size=100)
    assert [s.session_id for s in everyone.items] == theirs + list(reversed(mine))
    assert everyone.next_token is None

    first = await store.list_sessions(None, page_size=4)
    rest = await store.list_sessions(None, page_size=4, page_token=first.next_token)
    assert [s.session_id for s in (*first.items, *rest.items)] == theirs + list(reversed(mine))


async def test_idempotent_create_session(store: Any, clock: Any) -> None:
    first = await store.create_session(owner="alice", ttl_seconds=DAY, request_id="req-1")
    again = await store.create_session(owner="alice", ttl_seconds=DAY, request_id="req-1")
    assert again.session_id == first.session_id
    other_owner = await store.create_session(owner="bob", ttl_seconds=DAY, request_id="req-1")
    assert other_owner.session_id != first.session_id
    fresh = await store.create_session(owner="alice", ttl_seconds=DAY, request_id="req-2")
    assert fresh.session_id != first.session_id
    listed = await store.list_sessions("alice", page_size=10)
    assert {s.session_id for s in listed.items} == {first.session_id, fresh.session_id}

    # Once the session is deleted the request id no longer points anywhere.
    await store.delete_session(first.session_id)
    after_delete = await store.create_session(owner="alice", ttl_seconds=DAY, request_id="req-1")
    assert after_delete.session_id != first.session_id


async def test_extend_session_keeps_everything_alive(store: Any, clock: Any) -> None:
    session = await store.create_session(owner="alice", ttl_seconds=100, request_id="r")
    sid = session.session_id
    await store.put_file(sid, "plan.md", "text/markdown", stream([b"# plan"]))
    await store.put_report(sid, ReportKind.MARKET, "market", source=ReportSource.AGENT, author="a")
    await store.put_report(sid, ReportKind.MARKET, "edit", source=ReportSource.CALLER, author="b")
    run = await store.create_run(make_run(sid, "run-0001", clock=clock))
    await store.append_event(make_event(sid, run.run_id, 1, clock=clock))

    extended = await store.extend_session(sid, 1000)
    assert extended.expires_at == int(clock()) + 1000
    clock.advance(500)  # past the old expiry, before the new one
    assert (await store.get_session(sid)).expires_at == extended.expires_at
    assert (await store.get_file(sid, "plan.md")).size == 6
    assert (await store.read_file(sid, "plan.md"))[1] == b"# plan"
    assert (await store.get_report(sid, ReportKind.MARKET)).content == "edit"
    assert (await store.get_report(sid, ReportKind.MARKET, 1)).content == "market"
    assert (await store.get_run(sid, run.run_id)).run_id == run.run_id
    assert [e.sequence for e in await store.read_events(sid, run.run_id, after_sequence=0)] == [1]
    again = await store.create_session(owner="alice", ttl_seconds=100, request_id="r")
    assert again.session_id == sid

    clock.advance(600)
    with pytest.raises(NotFound):
        await store.extend_session(sid, 1000)


async def test_delete_session(store: Any, clock: Any) -> None:
    session = await store.create_session(owner="alice", ttl_seconds=DAY)
    sid = session.session_id
    await store.put_file(sid, "plan.md", "text/plain", stream([b"x" * 250_000]))
    await store.put_report(sid, ReportKind.LEGAL, "legal", source=ReportSource.AGENT, author="a")
    await store.put_report(sid, ReportKind.LEGAL, "edit", source=ReportSource.CALLER, author="b")
    await store.delete_session(sid)
    with pytest.raises(NotFound):
        await store.get_session(sid)
    with pytest.raises(NotFound):
        await store.get_file(sid, "plan.md")
    with pytest.raises(NotFound):
        await store.get_report(sid, ReportKind.LEGAL)
    with pytest.raises(NotFound):
        await store.get_report(sid, ReportKind.LEGAL, 1)
    assert (await store.list_report_versions(sid, ReportKind.LEGAL, page_size=10)).items == []
    with pytest.raises(NotFound):
        await store.delete_session(sid)
    assert (await store.list_sessions("alice", page_size=10)).items == []
    assert (await store.list_files(sid, page_size=10)).items == []


# -- files ------------------------------------------------------------------------------


async def test_small_file_round_trip(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    data = b"hello, plan\n" * 10
    info = await store.put_file(sid, "plan.txt", "text/plain", stream([data[:7], data[7:]]))
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.content_type == "text/plain"

    got = await store.get_file(sid, "plan.txt")
    assert (got.size, got.sha256, got.name) == (info.size, info.sha256, "plan.txt")
    meta, chunks = await store.open_file(sid, "plan.txt")
    assert meta.sha256 == info.sha256
    assert b"".join([c async for c in chunks]) == data

    with pytest.raises(NotFound):
        await store.get_file(sid, "missing.txt")
    with pytest.raises(NotFound):
        await store.open_file(sid, "missing.txt")


async def test_multi_chunk_file_round_trip_and_replace(store: Any, store_limits: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    data = bytes(range(256)) * 1500  # 384 000 bytes: four chunks of 100 000
    assert len(data) > 3 * store_limits.chunk_bytes
    # Incoming pieces of odd sizes, one bigger than a chunk.
    parts = [data[:7777], data[7777:260_000], *split(data[260_000:], 3333)]
    info = await store.put_file(sid, "deck.pdf", "application/pdf", stream(parts))
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()

    meta, chunks = await store.open_file(sid, "deck.pdf")
    received = [c async for c in chunks]
    assert b"".join(received) == data
    assert all(len(c) <= store_limits.chunk_bytes for c in received)
    assert meta.sha256 == info.sha256

    # Replace with a small version: readers see only the new bytes.
    await store.put_file(sid, "deck.pdf", "application/pdf", stream([b"v2"]))
    assert (await store.read_file(sid, "deck.pdf"))[1] == b"v2"
    # And back to a big one.
    await store.put_file(sid, "deck.pdf", "application/pdf", stream(split(data[::-1], 50_000)))
    assert (await store.read_file(sid, "deck.pdf"))[1] == data[::-1]


async def test_empty_file(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    info = await store.put_file(sid, "empty.txt", "text/plain", stream([]))
    assert info.size == 0 and info.sha256 == hashlib.sha256(b"").hexdigest()
    assert (await store.read_file(sid, "empty.txt"))[1] == b""


async def test_list_files_by_name_with_pages(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    names = ["c.txt", "a.txt", "b.md", "d.pdf", "e.docx"]
    for name in names:
        await store.put_file(sid, name, "text/plain", stream([name.encode()]))
    seen: list[str] = []
    token = None
    while True:
        page = await store.list_files(sid, page_size=2, page_token=token)
        seen.extend(f.name for f in page.items)
        token = page.next_token
        if token is None:
            break
    assert seen == sorted(names)


async def test_put_file_needs_a_live_session(store: Any, clock: Any) -> None:
    with pytest.raises(NotFound):
        await store.put_file("no-such-session", "a.txt", "text/plain", stream([b"x"]))
    sid = (await store.create_session(owner="alice", ttl_seconds=10)).session_id
    clock.advance(11)
    with pytest.raises(NotFound):
        await store.put_file(sid, "a.txt", "text/plain", stream([b"x"]))


# -- reports ----------------------------------------------------------------------------


async def test_report_put_get_replace_list(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    with pytest.raises(NotFound):
        await store.get_report(sid, ReportKind.MARKET)

    first = await store.put_report(
        sid,
        ReportKind.MARKET,
        "# Märkte v1",
        source=ReportSource.AGENT,
        author="market",
        run_id="r1",
    )
    assert first.content is None
    assert first.size == len("# Märkte v1".encode())
    assert first.sha256 == hashlib.sha256("# Märkte v1".encode()).hexdigest()
    got = await store.get_report(sid, ReportKind.MARKET)
    assert got.content == "# Märkte v1"
    assert (got.source, got.author, got.run_id) == (ReportSource.AGENT, "market", "r1")

    await store.put_report(sid, ReportKind.MARKET, "# v2", source=ReportSource.CALLER, author="bob")
    got = await store.get_report(sid, ReportKind.MARKET)
    assert (got.content, got.source, got.author, got.run_id) == (
        "# v2",
        ReportSource.CALLER,
        "bob",
        None,
    )

    big = "x" * 300_000 + "ü" * 20_000  # chunked in DynamoDB
    await store.put_report(sid, ReportKind.FINAL, big, source=ReportSource.AGENT, author="final")
    assert (await store.get_report(sid, ReportKind.FINAL)).content == big
    await store.put_report(sid, ReportKind.FINAL, "short", source=ReportSource.AGENT, author="f")
    assert (await store.get_report(sid, ReportKind.FINAL)).content == "short"

    await store.put_report(sid, ReportKind.LEGAL, "legal", source=ReportSource.AGENT, author="l")
    listed = await store.list_reports(sid, page_size=2)
    rest = await store.list_reports(sid, page_size=2, page_token=listed.next_token)
    kinds = [r.kind for r in (*listed.items, *rest.items)]
    assert kinds == sorted(
        [ReportKind.FINAL, ReportKind.LEGAL, ReportKind.MARKET], key=lambda k: k.value
    )
    assert all(r.content is None for r in (*listed.items, *rest.items))


async def test_report_put_is_idempotent(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    first = await store.put_report(
        sid, ReportKind.PRICE, "one", source=ReportSource.CALLER, author="bob", request_id="p1"
    )
    again = await store.put_report(
        sid, ReportKind.PRICE, "two", source=ReportSource.CALLER, author="bob", request_id="p1"
    )
    assert again.sha256 == first.sha256 == hashlib.sha256(b"one").hexdigest()
    assert again.updated_at == pytest.approx(first.updated_at)
    assert (await store.get_report(sid, ReportKind.PRICE)).content == "one"
    await store.put_report(
        sid, ReportKind.PRICE, "three", source=ReportSource.CALLER, author="bob", request_id="p2"
    )
    assert (await store.get_report(sid, ReportKind.PRICE)).content == "three"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def all_versions(store: Any, sid: str, kind: ReportKind, page_size: int) -> list[Any]:
    found, token = [], None
    while True:
        page = await store.list_report_versions(sid, kind, page_size=page_size, page_token=token)
        found.extend(page.items)
        token = page.next_token
        if not token:
            return found


async def test_every_save_is_a_new_version_and_old_ones_stay_readable(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    assert (await store.list_report_versions(sid, ReportKind.LEGAL, page_size=10)).items == []
    big = "# Legal v1 [S1]\n" + "ä" * 200_000  # chunked in DynamoDB
    first = await store.put_report(
        sid, ReportKind.LEGAL, big, source=ReportSource.AGENT, author="legal",
        run_id="r1", cited=("S1",), sources_run_id="r1",
    )
    edit = await store.put_report(
        sid, ReportKind.LEGAL, "# Legal, edited", source=ReportSource.CALLER, author="bob",
    )
    rerun = await store.put_report(
        sid, ReportKind.LEGAL, "# Legal v3 [S2]", source=ReportSource.AGENT, author="legal",
        run_id="r2", cited=("S2",), sources_run_id="r2",
    )
    assert (first.version, edit.version, rerun.version) == (1, 2, 3)
    await store.put_report(sid, ReportKind.MARKET, "m", source=ReportSource.AGENT, author="m")

    latest = await store.get_report(sid, ReportKind.LEGAL)
    assert (latest.version, latest.content) == (3, "# Legal v3 [S2]")
    old = await store.get_report(sid, ReportKind.LEGAL, 1)
    assert (old.content, old.sha256, old.version) == (big, sha(big), 1)
    assert (old.cited, old.sources_run_id, old.run_id) == (("S1",), "r1", "r1")
    edited = await store.get_report(sid, ReportKind.LEGAL, 2)
    assert (edited.content, edited.source, edited.author) == (
        "# Legal, edited", ReportSource.CALLER, "bob")
    assert (edited.cited, edited.sources_run_id) == ((), None)
    assert (await store.get_report(sid, ReportKind.LEGAL, 3)).sha256 == sha("# Legal v3 [S2]")

    listed = await all_versions(store, sid, ReportKind.LEGAL, page_size=2)
    assert [(r.version, r.sha256) for r in listed] == [
        (3, sha("# Legal v3 [S2]")), (2, sha("# Legal, edited")), (1, sha(big))]
    assert all(r.content is None and r.kind is ReportKind.LEGAL for r in listed)
    # ListReports shows each kind once, at its latest version.
    reports = (await store.list_reports(sid, page_size=10)).items
    assert sorted((r.kind.value, r.version) for r in reports) == [
        ("legal_report", 3), ("market_report", 1)]

    with pytest.raises(NotFound) as missing:
        await store.get_report(sid, ReportKind.LEGAL, 4)
    assert missing.value.reason == "REPORT_VERSION_NOT_FOUND"
    assert missing.value.metadata["stored_versions"] == "1,2,3"
    assert "1-3" in missing.value.message
    with pytest.raises(NotFound) as none:
        await store.get_report(sid, ReportKind.PRICE, 1)
    assert none.value.reason == "REPORT_NOT_FOUND"


@pytest.mark.parametrize("store_limits", [StoreLimits(chunk_bytes=100_000,
                                                      max_report_versions=3)])
async def test_versions_past_the_bound_are_pruned_oldest_first(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    texts = [f"# v{n}\n" + ("x" * 250_000 if n % 2 else "") for n in range(1, 6)]
    for text in texts:
        await store.put_report(sid, ReportKind.PRICE, text, source=ReportSource.AGENT, author="p")
    listed = await all_versions(store, sid, ReportKind.PRICE, page_size=10)
    assert [r.version for r in listed] == [5, 4, 3]
    for n in (3, 4, 5):
        assert (await store.get_report(sid, ReportKind.PRICE, n)).content == texts[n - 1]
    for n in (1, 2):
        with pytest.raises(NotFound) as pruned:
            await store.get_report(sid, ReportKind.PRICE, n)
        assert pruned.value.reason == "REPORT_VERSION_NOT_FOUND"
        assert pruned.value.metadata["stored_versions"] == "3,4,5"


async def test_an_idempotent_retry_adds_no_version(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    await store.put_report(sid, ReportKind.PRICE, "a", source=ReportSource.AGENT, author="p")
    first = await store.put_report(
        sid, ReportKind.PRICE, "b", source=ReportSource.CALLER, author="bob", request_id="x")
    again = await store.put_report(
        sid, ReportKind.PRICE, "c", source=ReportSource.CALLER, author="bob", request_id="x")
    assert first.version == again.version == 2
    assert [r.version for r in await all_versions(store, sid, ReportKind.PRICE, 10)] == [2, 1]


async def test_concurrent_saves_get_distinct_versions(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    saved = await asyncio.gather(*(
        store.put_report(sid, ReportKind.MARKET, f"m{n}", source=ReportSource.AGENT, author="m")
        for n in range(4)
    ))
    assert sorted(r.version for r in saved) == [1, 2, 3, 4]
    for report in saved:
        got = await store.get_report(sid, ReportKind.MARKET, report.version)
        assert got.sha256 == report.sha256


async def test_version_listing_tokens_are_scoped(store: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    for text in ("a", "b"):
        await store.put_report(sid, ReportKind.MARKET, text, source=ReportSource.AGENT, author="m")
        await store.put_report(sid, ReportKind.LEGAL, text, source=ReportSource.AGENT, author="l")
    page = await store.list_report_versions(sid, ReportKind.MARKET, page_size=1)
    assert page.next_token
    with pytest.raises(InvalidArgument):
        await store.list_report_versions(sid, ReportKind.LEGAL, page_size=1,
                                         page_token=page.next_token)
    with pytest.raises(InvalidArgument):
        await store.list_reports(sid, page_size=1, page_token=page.next_token)


async def test_put_report_needs_a_live_session(store: Any) -> None:
    with pytest.raises(NotFound):
        await store.put_report(
            "nope", ReportKind.PRICE, "x", source=ReportSource.CALLER, author="b"
        )


# -- runs -------------------------------------------------------------------------------


async def test_create_run_single_active_slot_and_idempotency(store: Any, clock: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    run = await store.create_run(make_run(sid, "run-0001", clock=clock, request_id="start-1"))
    assert run.version == 1
    session = await store.get_session(sid)
    assert (session.active_run_id, session.latest_run_id) == ("run-0001", "run-0001")

    with pytest.raises(FailedPrecondition) as caught:
        await store.create_run(make_run(sid, "run-0002", clock=clock))
    assert caught.value.reason == "RUN_IN_PROGRESS"
    assert "run-0001" in caught.value.message

    # A retried StartResearch (same request id, a new run id) returns the first run.
    again = await store.create_run(make_run(sid, "run-0003", clock=clock, request_id="start-1"))
    assert again.run_id == "run-0001"
    with pytest.raises(NotFound):
        await store.get_run(sid, "run-0003")

    done = await store.update_run(replace(run, state=RunState.SUCCEEDED, finished_at=clock()))
    assert done.version == 2
    session = await store.get_session(sid)
    assert session.active_run_id is None and session.latest_run_id == "run-0001"

    second = await store.create_run(make_run(sid, "run-0004", clock=clock))
    assert second.version == 1
    assert (await store.get_session(sid)).active_run_id == "run-0004"
    # The idempotent retry still resolves to the first run, now finished.
    retried = await store.create_run(make_run(sid, "run-0005", clock=clock, request_id="start-1"))
    assert (retried.run_id, retried.state) == ("run-0001", RunState.SUCCEEDED)


async def test_create_run_needs_a_live_session(store: Any, clock: Any) -> None:
    with pytest.raises(NotFound):
        await store.create_run(make_run("nope", "run-0001", clock=clock))
    sid = (await store.create_session(owner="alice", ttl_seconds=10)).session_id
    clock.advance(10)
    with pytest.raises(NotFound):
        await store.create_run(make_run(sid, "run-0001", clock=clock))


async def test_run_round_trip_and_listing(store: Any, clock: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    ids = []
    for n in range(1, 4):
        run = await store.create_run(make_run(sid, f"run-{n:04d}", clock=clock))
        ids.append(run.run_id)
        await store.update_run(replace(run, state=RunState.FAILED, error="boom"))
    fetched = await store.get_run(sid, "run-0002")
    assert fetched.state is RunState.FAILED and fetched.error == "boom"
    assert fetched.agents == tuple(AgentStatus(kind=kind) for kind in ALL_AGENTS)
    assert fetched.file_names == ("plan.md",)
    assert fetched.version == 2

    page = await store.list_runs(sid, page_size=2)
    rest = await store.list_runs(sid, page_size=2, page_token=page.next_token)
    assert [r.run_id for r in (*page.items, *rest.items)] == list(reversed(ids))


async def test_update_run_conflicts_on_stale_version(store: Any, clock: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    run = await store.create_run(make_run(sid, "run-0001", clock=clock))
    agents = tuple(
        replace(a, state=a.state if a.kind is not ReportKind.MARKET else a.state.RUNNING)
        for a in run.agents
    )
    running = await store.update_run(replace(run, state=RunState.RUNNING, agents=agents))
    assert running.version == 2
    assert (await store.get_run(sid, run.run_id)).agent(ReportKind.MARKET).state.value == "RUNNING"

    with pytest.raises(Conflict):
        await store.update_run(replace(run, state=RunState.CANCELLED))  # still version 1
    stored = await store.get_run(sid, run.run_id)
    assert (stored.state, stored.version) == (RunState.RUNNING, 2)
    assert (await store.get_session(sid)).active_run_id == run.run_id

    with pytest.raises(NotFound):
        await store.update_run(replace(run, run_id="run-9999"))


async def test_list_resumable_runs(store: Any, clock: Any) -> None:
    now = clock()
    sids = [(await store.create_session(owner="o", ttl_seconds=DAY)).session_id for _ in range(3)]
    stale_a = await store.create_run(
        make_run(sids[0], "run-a", clock=clock, lease_expires_at=now - 60)
    )
    await store.create_run(make_run(sids[1], "run-b", clock=clock, lease_expires_at=now + 60))
    stale_c = await store.create_run(
        make_run(sids[2], "run-c", clock=clock, lease_expires_at=now - 30)
    )

    found = await store.list_resumable_runs(lease_expired_before=now, limit=10)
    assert [r.run_id for r in found] == ["run-a", "run-c"]
    assert found[0].version == 1
    assert [
        r.run_id for r in await store.list_resumable_runs(lease_expired_before=now, limit=1)
    ] == ["run-a"]

    # A renewed lease and a finished run are no longer resumable.
    await store.update_run(replace(stale_a, lease_expires_at=now + 120))
    await store.update_run(replace(stale_c, state=RunState.CANCELLED))
    assert await store.list_resumable_runs(lease_expired_before=now, limit=10) == []
    clock.advance(DAY)
    assert await store.list_resumable_runs(lease_expired_before=clock(), limit=10) == []


# -- events -----------------------------------------------------------------------------


async def test_events_append_read_duplicate_last(store: Any, clock: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    assert await store.last_event(sid, "run-1") is None
    assert await store.read_events(sid, "run-1", after_sequence=0) == []
    for seq in range(1, 6):
        await store.append_event(
            make_event(
                sid,
                "run-1",
                seq,
                clock=clock,
                agent=ReportKind.MARKET if seq % 2 else None,
                tool_name="save_report" if seq == 3 else None,
                attributes={"n": str(seq)},
            )
        )
    await store.append_event(make_event(sid, "run-2", 1, clock=clock, type=EventType.RUN_STARTED))

    events = await store.read_events(sid, "run-1", after_sequence=2)
    assert [e.sequence for e in events] == [3, 4, 5]
    assert events[0].tool_name == "save_report" and events[0].agent is ReportKind.MARKET
    assert events[1].agent is None and dict(events[1].attributes) == {"n": "4"}
    assert events[0].message == "event 3" and events[0].type is EventType.TOOL_CALL
    assert [
        e.sequence for e in await store.read_events(sid, "run-1", after_sequence=0, limit=2)
    ] == [
        1,
        2,
    ]
    assert await store.read_events(sid, "run-1", after_sequence=5) == []

    with pytest.raises(Conflict):
        await store.append_event(make_event(sid, "run-1", 3, clock=clock, message="dup"))
    assert (await store.read_events(sid, "run-1", after_sequence=2, limit=1))[
        0
    ].message == "event 3"

    last = await store.last_event(sid, "run-1")
    assert last is not None and last.sequence == 5
    other = await store.last_event(sid, "run-2")
    assert other is not None and other.type is EventType.RUN_STARTED


async def test_concurrent_appends_of_one_sequence_one_wins(store: Any, clock: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    results = await asyncio.gather(
        *(
            store.append_event(make_event(sid, "r", 1, clock=clock, message=f"w{i}"))
            for i in range(4)
        ),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None)


# -- expiry -----------------------------------------------------------------------------


async def test_expired_items_read_as_absent(store: Any, clock: Any) -> None:
    session = await store.create_session(owner="alice", ttl_seconds=60, request_id="req")
    sid = session.session_id
    await store.put_file(sid, "plan.md", "text/markdown", stream([b"plan"]))
    await store.put_report(sid, ReportKind.MARKET, "m", source=ReportSource.AGENT, author="a")
    await store.create_run(make_run(sid, "run-0001", clock=clock, lease_expires_at=clock() - 5))
    await store.append_event(make_event(sid, "run-0001", 1, clock=clock))

    clock.advance(59)
    assert (await store.get_session(sid)).session_id == sid
    clock.advance(1)  # ttl <= now: gone
    with pytest.raises(NotFound):
        await store.get_session(sid)
    with pytest.raises(NotFound):
        await store.get_file(sid, "plan.md")
    with pytest.raises(NotFound):
        await store.open_file(sid, "plan.md")
    with pytest.raises(NotFound):
        await store.get_report(sid, ReportKind.MARKET)
    with pytest.raises(NotFound):
        await store.get_run(sid, "run-0001")
    assert await store.read_events(sid, "run-0001", after_sequence=0) == []
    assert await store.last_event(sid, "run-0001") is None
    assert (await store.list_sessions("alice", page_size=10)).items == []
    assert (await store.list_files(sid, page_size=10)).items == []
    assert (await store.list_reports(sid, page_size=10)).items == []
    assert (await store.list_runs(sid, page_size=10)).items == []
    assert await store.list_resumable_runs(lease_expired_before=clock(), limit=10) == []
    with pytest.raises(NotFound):
        await store.delete_session(sid)
    with pytest.raises(NotFound):
        await store.append_event(make_event(sid, "run-0001", 2, clock=clock))
    # The idempotency record expired with its session.
    fresh = await store.create_session(owner="alice", ttl_seconds=60, request_id="req")
    assert fresh.session_id != sid


# -- limits -----------------------------------------------------------------------------


async def test_file_limits(store: Any, store_limits: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    limit = store_limits.max_file_bytes
    consumed = []

    async def watched() -> AsyncIterator[bytes]:
        consumed.append(True)
        yield b"x"

    with pytest.raises(ResourceExhausted) as caught:
        await store.put_file(
            sid, "big.bin", "application/octet-stream", watched(), declared_size=limit + 1
        )
    assert caught.value.reason == "FILE_TOO_LARGE"
    assert "2 MB" in caught.value.message
    assert consumed == []  # refused before reading (or writing) anything

    original = b"o" * 150_000
    await store.put_file(sid, "big.bin", "application/octet-stream", stream([original]))
    with pytest.raises(ResourceExhausted) as caught:
        await store.put_file(
            sid, "big.bin", "application/octet-stream", stream([b"n" * 100_000] * 30)
        )
    assert caught.value.reason == "FILE_TOO_LARGE"
    assert (await store.read_file(sid, "big.bin"))[1] == original

    exact = b"e" * limit
    info = await store.put_file(
        sid, "exact.bin", "application/octet-stream", stream(split(exact, 500_000))
    )
    assert info.size == limit


async def test_session_file_count_and_bytes_limits(store: Any) -> None:
    store.limits = replace(store.limits, max_files_per_session=3, max_session_bytes=250_000)
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    for name in ("a", "b", "c"):
        await store.put_file(sid, name, "text/plain", stream([name.encode() * 50_000]))
    with pytest.raises(ResourceExhausted) as caught:
        await store.put_file(sid, "d", "text/plain", stream([b"d"]))
    assert caught.value.reason == "TOO_MANY_FILES"
    assert "SCOUT_MAX_FILES_PER_SESSION" in caught.value.message
    await store.put_file(sid, "b", "text/plain", stream([b"B" * 100_000]))  # a new version fits

    consumed = []

    async def watched() -> AsyncIterator[bytes]:
        consumed.append(True)
        yield b"x"

    # 200 KB held of 250 KB: "c" (50 KB) may grow to 100 KB, not one byte more.
    with pytest.raises(ResourceExhausted) as caught:
        await store.put_file(sid, "c", "text/plain", watched(), declared_size=100_001)
    assert caught.value.reason == "SESSION_TOO_LARGE" and consumed == []
    with pytest.raises(ResourceExhausted) as caught:
        await store.put_file(sid, "c", "text/plain", stream(split(b"C" * 100_001, 40_000)))
    assert caught.value.reason == "SESSION_TOO_LARGE"
    assert (await store.read_file(sid, "c"))[1] == b"c" * 50_000  # the old version stays
    await store.put_file(sid, "c", "text/plain", stream(split(b"C" * 100_000, 40_000)))
    listed = (await store.list_files(sid, page_size=10)).items
    assert [(f.name, f.size) for f in listed] == [("a", 50_000), ("b", 100_000),
                                                 ("c", 100_000)]


async def _racing_uploads(store: Any, sid: str, names: list[str], size: int
                          ) -> tuple[list[str], list[str]]:
    """Upload ``names`` at once, each in several pieces; which landed, which were refused."""
    async def pieces(name: str) -> AsyncIterator[bytes]:
        for _ in range(4):
            await asyncio.sleep(0)  # let the uploads interleave
            yield name.encode()[:1] * (size // 4)

    results = await asyncio.gather(
        *(store.put_file(sid, n, "application/octet-stream", pieces(n)) for n in names),
        return_exceptions=True,
    )
    refused = [n for n, r in zip(names, results, strict=True) if isinstance(r, ResourceExhausted)]
    others = [r for r in results if isinstance(r, BaseException)
              and not isinstance(r, ResourceExhausted)]
    assert others == []
    return [n for n in names if n not in refused], refused


async def test_concurrent_uploads_cannot_pass_the_session_limits(store: Any) -> None:
    """Each upload alone fits when it starts; together they must not exceed the limits."""
    store.limits = replace(store.limits, max_files_per_session=3, max_session_bytes=10**9)
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    landed, refused = await _racing_uploads(store, sid, [f"f{i}" for i in range(8)], 200_000)
    assert len(landed) == 3 and len(refused) == 5
    listed = (await store.list_files(sid, page_size=10)).items
    assert sorted(f.name for f in listed) == sorted(landed)
    for name in landed:
        assert (await store.read_file(sid, name))[1] == name.encode()[:1] * 200_000

    store.limits = replace(store.limits, max_files_per_session=100, max_session_bytes=1_000_000)
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    landed, refused = await _racing_uploads(store, sid, [f"g{i}" for i in range(6)], 300_000)
    assert len(landed) == 3 and len(refused) == 3  # 3 x 300 KB fit in 1 MB, a fourth does not
    assert sum(f.size for f in (await store.list_files(sid, page_size=10)).items) == 900_000


async def test_report_limit(store: Any, store_limits: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    too_big = "y" * (store_limits.max_report_bytes + 1)
    with pytest.raises(ResourceExhausted) as caught:
        await store.put_report(
            sid, ReportKind.FINAL, too_big, source=ReportSource.AGENT, author="f"
        )
    assert caught.value.reason == "REPORT_TOO_LARGE"
    assert "MB" in caught.value.message
    with pytest.raises(NotFound):
        await store.get_report(sid, ReportKind.FINAL)


# -- page tokens ------------------------------------------------------------------------


async def test_garbage_page_tokens_are_invalid_argument(store: Any, clock: Any) -> None:
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    other = (await store.create_session(owner="bob", ttl_seconds=DAY)).session_id
    for name in ("a", "b", "c"):
        await store.put_file(other, name, "text/plain", stream([b"x"]))
    others_token = (await store.list_files(other, page_size=1)).next_token
    assert others_token is not None
    for _ in range(3):
        await store.create_session(owner="bob", ttl_seconds=DAY)
    bobs_token = (await store.list_sessions("bob", page_size=1)).next_token
    assert bobs_token is not None

    bad_tokens = [
        "garbage",
        "!!!",
        "e30",  # {}
        others_token,  # another session's token
        encode_token("files", sid, {"session_id": sid, "sk": "RUN#x"}),  # wrong shape
        encode_token("reports", sid, {"session_id": sid, "sk": "REPORT#x"}),  # other listing
        encode_token("files", sid, {"session_id": sid, "sk": "FILE#x", "extra": "1"}),
    ]
    for token in bad_tokens:
        with pytest.raises(InvalidArgument) as caught:
            await store.list_files(sid, page_size=10, page_token=token)
        assert caught.value.message == "page_token is not valid for this listing"
    for call in (store.list_reports, store.list_runs):
        with pytest.raises(InvalidArgument):
            await call(sid, page_size=10, page_token=others_token)
    with pytest.raises(InvalidArgument):
        await store.list_sessions("alice", page_size=10, page_token=bobs_token)
    with pytest.raises(InvalidArgument):
        await store.list_sessions(None, page_size=10, page_token=bobs_token)
    # The genuine token still works for its own listing.
    assert len((await store.list_sessions("bob", page_size=10, page_token=bobs_token)).items) == 3
