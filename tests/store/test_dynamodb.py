"""DynamoStore against a real DynamoDB HTTP endpoint (moto's server, a subprocess).

What the contract suite cannot see: the items actually in the table (read
back with raw boto3 calls), behaviour under injected failures, concurrency,
DynamoDB's 1 MB query pages, table checks and an unreachable endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError  # type: ignore[import-untyped]

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
from scout_service.errors import Conflict, FailedPrecondition, NotFound, Unavailable
from scout_service.store import DynamoStore, StoreLimits, check_table, create_table, dynamodb
from scout_service.store._keys import create_idem_key

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

DAY = 24 * 3600
MB = 1024 * 1024


class RecordingClient:
    """Wraps a boto3 client: records each call and can fail chosen ones."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []
        self._lock = threading.Lock()
        # operation -> function(call number of that operation) -> raise or not
        self.failures: dict[str, Callable[[int], None]] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "meta" or not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            with self._lock:
                self.calls.append(name)
                number = self.calls.count(name)
            hook = self.failures.get(name)
            if hook is not None:
                hook(number)
            return attr(**kwargs)

        return call

    def lose_connection(self, operation: str, *, nth: int | None = None) -> None:
        """From now on, the ``nth`` next call of ``operation`` (all if None) cannot connect."""
        at = None if nth is None else self.calls.count(operation) + nth

        def hook(number: int) -> None:
            if at is None or number == at:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")

        self.failures[operation] = hook


@pytest.fixture
def recording(dynamo_client: Any) -> RecordingClient:
    return RecordingClient(dynamo_client)


@pytest.fixture
async def dstore(
    recording: RecordingClient, dynamo_table: str, clock: Any
) -> AsyncIterator[DynamoStore]:
    """A DynamoStore with the default (production) limits on a fresh table."""
    store = DynamoStore(recording, table_name=dynamo_table, clock=clock, max_workers=8)  # type: ignore[arg-type]
    yield store
    await store.close()


def raw_items(client: Any, table: str, partition: str) -> list[dict[str, Any]]:
    """Every item of a partition, expired or not, straight from the table."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "session_id = :p",
        "ExpressionAttributeValues": {":p": {"S": partition}},
        "ConsistentRead": True,
    }
    while True:
        response = client.query(**kwargs)
        items.extend(response["Items"])
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def sort_keys(client: Any, table: str, partition: str, prefix: str = "") -> list[str]:
    return [
        i["sk"]["S"] for i in raw_items(client, table, partition) if i["sk"]["S"].startswith(prefix)
    ]


async def stream(data: bytes, piece: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


def make_run(session_id: str, run_id: str, now: float) -> Run:
    return Run(
        session_id=session_id,
        run_id=run_id,
        state=RunState.QUEUED,
        created_at=now,
        updated_at=now,
        agents=tuple(AgentStatus(kind=k) for k in ALL_AGENTS),
        model_provider="offline",
        lease_expires_at=now + 30,
    )


async def test_big_file_and_report_round_trip_as_raw_chunks(
    dstore: DynamoStore, dynamo_client: Any, dynamo_table: str
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    data = hashlib.sha256(b"seed").digest() * (10 * MB // 32)  # 10 MB, not compressible
    info = await dstore.put_file(sid, "big.bin", "application/octet-stream", stream(data, 3 * MB))
    assert info.size == 10 * MB and info.sha256 == hashlib.sha256(data).hexdigest()
    _, body = await dstore.read_file(sid, "big.bin")
    assert body == data

    chunks = [
        i for i in raw_items(dynamo_client, dynamo_table, sid) if i["sk"]["S"].startswith("BLOB#")
    ]
    assert len(chunks) == -(-len(data) // dstore.limits.chunk_bytes)
    # Raw binary attributes, each under the chunk size (never base64 text).
    assert all(isinstance(c["data"]["B"], bytes) for c in chunks)
    assert all(len(c["data"]["B"]) <= dstore.limits.chunk_bytes for c in chunks)

    report = ("# Report\n" + "Ünïcödé text, " * 80_000)[:MB]
    await dstore.put_report(sid, ReportKind.FINAL, report, source=ReportSource.AGENT, author="f")
    got = await dstore.get_report(sid, ReportKind.FINAL)
    assert got.content == report
    assert got.sha256 == hashlib.sha256(report.encode()).hexdigest()


async def test_small_report_is_one_get_item(
    dstore: DynamoStore, recording: RecordingClient
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    await dstore.put_report(
        sid, ReportKind.MARKET, "m" * 4096, source=ReportSource.AGENT, author="m"
    )
    recording.calls.clear()
    assert (await dstore.get_report(sid, ReportKind.MARKET)).content == "m" * 4096
    assert recording.calls == ["get_item"]


async def test_report_versions_keep_their_chunks_until_pruned(
    recording: RecordingClient, dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    """Every version is a REPORTV# item; a pruned one takes its chunks along."""
    limits = StoreLimits(chunk_bytes=100_000, max_report_versions=2)
    store = DynamoStore(recording, table_name=dynamo_table, clock=clock, limits=limits)  # type: ignore[arg-type]
    try:
        sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
        big = "# v1\n" + "x" * 450_000  # five chunks
        await store.put_report(sid, ReportKind.LEGAL, big, source=ReportSource.AGENT, author="l")
        v1_chunks = set(sort_keys(dynamo_client, dynamo_table, sid, "BLOB#"))
        assert len(v1_chunks) == 5
        await store.put_report(sid, ReportKind.LEGAL, "v2", source=ReportSource.CALLER,
                               author="bob")
        # Replaced, not pruned: its chunks stay with its REPORTV# item.
        assert set(sort_keys(dynamo_client, dynamo_table, sid, "BLOB#")) == v1_chunks
        assert (await store.get_report(sid, ReportKind.LEGAL, 1)).content == big
        assert sort_keys(dynamo_client, dynamo_table, sid, "REPORTV#") == [
            "REPORTV#legal_report#000001", "REPORTV#legal_report#000002"]

        recording.calls.clear()
        assert (await store.get_report(sid, ReportKind.LEGAL)).content == "v2"
        assert recording.calls == ["get_item"]  # the latest is still one read

        await store.put_report(sid, ReportKind.LEGAL, "v3", source=ReportSource.AGENT,
                               author="l")
        assert sort_keys(dynamo_client, dynamo_table, sid, "BLOB#") == []
        assert sort_keys(dynamo_client, dynamo_table, sid, "REPORTV#") == [
            "REPORTV#legal_report#000002", "REPORTV#legal_report#000003"]

        await store.delete_session(sid)
        assert sort_keys(dynamo_client, dynamo_table, sid) == []
    finally:
        await store.close()


async def test_a_report_stored_before_versions_reads_as_version_1(
    dstore: DynamoStore, dynamo_client: Any, dynamo_table: str
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    await dstore.put_report(sid, ReportKind.MARKET, "old", source=ReportSource.AGENT, author="m")
    # What a replica without versions left behind: REPORT# alone, no version attribute.
    dynamo_client.delete_item(TableName=dynamo_table, Key={
        "session_id": {"S": sid}, "sk": {"S": "REPORTV#market_report#000001"}})
    dynamo_client.update_item(
        TableName=dynamo_table, Key={"session_id": {"S": sid}, "sk": {"S": "REPORT#market_report"}},
        UpdateExpression="REMOVE version")
    assert (await dstore.get_report(sid, ReportKind.MARKET)).version == 1
    assert (await dstore.get_report(sid, ReportKind.MARKET, 1)).content == "old"
    listed = await dstore.list_report_versions(sid, ReportKind.MARKET, page_size=10)
    assert [r.version for r in listed.items] == [1]
    saved = await dstore.put_report(sid, ReportKind.MARKET, "new", source=ReportSource.CALLER,
                                    author="bob")
    assert saved.version == 2
    assert (await dstore.get_report(sid, ReportKind.MARKET)).content == "new"
    # The report it replaced is kept as version 1, not lost.
    assert (await dstore.get_report(sid, ReportKind.MARKET, 1)).content == "old"
    listed = await dstore.list_report_versions(sid, ReportKind.MARKET, page_size=10)
    assert [r.version for r in listed.items] == [2, 1]


async def test_a_chunked_report_stored_before_versions_is_kept_with_its_chunks(
    dstore: DynamoStore, dynamo_client: Any, dynamo_table: str
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    old = "# old\n" + "o" * 700_000
    await dstore.put_report(sid, ReportKind.MARKET, old, source=ReportSource.AGENT, author="m")
    dynamo_client.delete_item(TableName=dynamo_table, Key={
        "session_id": {"S": sid}, "sk": {"S": "REPORTV#market_report#000001"}})
    dynamo_client.update_item(
        TableName=dynamo_table, Key={"session_id": {"S": sid}, "sk": {"S": "REPORT#market_report"}},
        UpdateExpression="REMOVE version")
    await dstore.put_report(sid, ReportKind.MARKET, "new", source=ReportSource.CALLER,
                            author="bob", request_id="edit-1")
    assert (await dstore.get_report(sid, ReportKind.MARKET, 1)).content == old
    again = await dstore.put_report(sid, ReportKind.MARKET, "other", source=ReportSource.CALLER,
                                    author="bob", request_id="edit-1")
    assert again.version == 2


async def test_session_ttl_in_the_past_reads_as_gone_while_items_remain(
    dstore: DynamoStore, dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    await dstore.put_report(sid, ReportKind.MARKET, "m", source=ReportSource.AGENT, author="m")
    past = str(int(clock()) - 10)
    held = {"SESSION", "REPORT#market_report", "REPORTV#market_report#000001"}
    for sk in held:
        dynamo_client.update_item(
            TableName=dynamo_table,
            Key={"session_id": {"S": sid}, "sk": {"S": sk}},
            UpdateExpression="SET #ttl = :t",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues={":t": {"N": past}},
        )
    with pytest.raises(NotFound):
        await dstore.get_session(sid)
    with pytest.raises(NotFound):
        await dstore.get_report(sid, ReportKind.MARKET)
    with pytest.raises(NotFound):
        await dstore.put_report(sid, ReportKind.PRICE, "p", source=ReportSource.AGENT, author="p")
    with pytest.raises(NotFound):
        await dstore.extend_session(sid, DAY)
    assert (await dstore.list_sessions("alice", page_size=10)).items == []
    # DynamoDB has not deleted anything yet: the items are still there.
    assert set(sort_keys(dynamo_client, dynamo_table, sid)) == held


async def test_crash_between_chunk_writes_leaves_old_version(
    dstore: DynamoStore, recording: RecordingClient, dynamo_client: Any, dynamo_table: str
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    old = b"old version " * 50_000  # 600 KB: two chunks
    await dstore.put_file(sid, "plan.pdf", "application/pdf", stream(old, 64 * 1024))
    old_chunks = set(sort_keys(dynamo_client, dynamo_table, sid, "BLOB#"))
    assert len(old_chunks) == 2

    # The 3rd chunk write of the new version fails and so does every cleanup:
    # as if the process died mid-upload.
    recording.lose_connection("put_item", nth=3)
    recording.lose_connection("batch_write_item")
    new = b"new version " * 200_000
    with pytest.raises(Unavailable):
        await dstore.put_file(sid, "plan.pdf", "application/pdf", stream(new, MB))
    recording.failures.clear()

    orphans = set(sort_keys(dynamo_client, dynamo_table, sid, "BLOB#")) - old_chunks
    # Chunks 0 and 1 of the new version are in the table (and the ones written
    # alongside the failing 3rd, up to UPLOAD_WRITES_IN_FLIGHT at once) …
    assert 2 <= len(orphans) <= 2 + dynamodb.UPLOAD_WRITES_IN_FLIGHT - 1
    info, body = await dstore.read_file(sid, "plan.pdf")  # … but nobody can read them
    assert body == old and info.sha256 == hashlib.sha256(old).hexdigest()

    # With a working cleanup, a failed upload removes its chunks.
    recording.lose_connection("put_item", nth=2)
    with pytest.raises(Unavailable):
        await dstore.put_file(sid, "plan.pdf", "application/pdf", stream(new, MB))
    recording.failures.clear()
    assert set(sort_keys(dynamo_client, dynamo_table, sid, "BLOB#")) - old_chunks == orphans
    assert (await dstore.read_file(sid, "plan.pdf"))[1] == old

    # A successful replace removes the old version's chunks.
    await dstore.put_file(sid, "plan.pdf", "application/pdf", stream(new, MB))
    assert (await dstore.read_file(sid, "plan.pdf"))[1] == new
    assert not old_chunks & set(sort_keys(dynamo_client, dynamo_table, sid, "BLOB#"))


async def test_oversized_stream_removes_its_chunks(
    dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    limits = StoreLimits(max_file_bytes=MB, chunk_bytes=100_000)
    store = DynamoStore(dynamo_client, table_name=dynamo_table, limits=limits, clock=clock)
    try:
        sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
        with pytest.raises(Exception) as caught:
            await store.put_file(
                sid, "x.bin", "application/octet-stream", stream(b"z" * (2 * MB), 50_000)
            )
        assert getattr(caught.value, "reason", None) == "FILE_TOO_LARGE"
        assert sort_keys(dynamo_client, dynamo_table, sid) == ["SESSION"]
    finally:
        await store.close()


async def test_uploads_refused_by_the_session_limits_leave_no_chunks_and_exact_counters(
    dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    """Racing chunked uploads: the refused ones' chunks are gone, the counters match the files."""
    limits = StoreLimits(chunk_bytes=100_000, max_files_per_session=2, max_session_bytes=10**9)
    store = DynamoStore(dynamo_client, table_name=dynamo_table, limits=limits, clock=clock)
    try:
        sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
        names = [f"f{i}.bin" for i in range(6)]
        results = await asyncio.gather(
            *(store.put_file(sid, n, "application/octet-stream", stream(n.encode() * 100_000,
                                                                         60_000))
              for n in names),
            return_exceptions=True)
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(refused) == 4 and all(getattr(r, "reason", "") == "TOO_MANY_FILES"
                                         for r in refused), refused
        files = (await store.list_files(sid, page_size=10)).items
        items = raw_items(dynamo_client, dynamo_table, sid)
        chunks = [i for i in items if i["sk"]["S"].startswith("BLOB#")]
        session = next(i for i in items if i["sk"]["S"] == "SESSION")
        assert len(chunks) == sum(-(-f.size // 100_000) for f in files)  # no orphans
        assert session["file_count"] == {"N": "2"}
        assert session["file_bytes"] == {"N": str(sum(f.size for f in files))}
    finally:
        await store.close()


async def test_a_session_from_before_the_counters_is_counted_from_its_files(
    dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    limits = StoreLimits(max_files_per_session=3)
    store = DynamoStore(dynamo_client, table_name=dynamo_table, limits=limits, clock=clock)
    try:
        sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
        for name in ("a", "b"):
            await store.put_file(sid, name, "text/plain", stream(b"12345", 5))
        dynamo_client.update_item(  # what a session written by an older Scout looks like
            TableName=dynamo_table, Key={"session_id": {"S": sid}, "sk": {"S": "SESSION"}},
            UpdateExpression="REMOVE file_count, file_bytes")
        await store.put_file(sid, "c", "text/plain", stream(b"1234567", 7))
        with pytest.raises(Exception) as caught:
            await store.put_file(sid, "d", "text/plain", stream(b"1", 1))
        assert getattr(caught.value, "reason", None) == "TOO_MANY_FILES"
        session = next(i for i in raw_items(dynamo_client, dynamo_table, sid)
                       if i["sk"]["S"] == "SESSION")
        assert (session["file_count"], session["file_bytes"]) == ({"N": "3"}, {"N": "17"})
    finally:
        await store.close()


async def test_concurrent_run_updates_exactly_one_wins(dstore: DynamoStore, clock: Any) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    run = await dstore.create_run(make_run(sid, "run-1", clock()))

    for _ in range(5):
        current = await dstore.get_run(sid, run.run_id)
        results = await asyncio.gather(
            dstore.update_run(replace(current, lease_owner="replica-a")),
            dstore.update_run(replace(current, lease_owner="replica-b")),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        assert len(winners) == 1, results
        assert all(isinstance(r, Conflict) for r in results if isinstance(r, BaseException))
        stored = await dstore.get_run(sid, run.run_id)
        assert stored.version == current.version + 1 == winners[0].version
        assert stored.lease_owner == winners[0].lease_owner

    # Terminal writes race through the transaction that frees the slot.
    current = await dstore.get_run(sid, run.run_id)
    results = await asyncio.gather(
        dstore.update_run(replace(current, state=RunState.SUCCEEDED)),
        dstore.update_run(replace(current, state=RunState.CANCELLED)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1, results
    assert (await dstore.get_run(sid, run.run_id)).state is winners[0].state
    assert (await dstore.get_session(sid)).active_run_id is None


async def test_concurrent_create_run_one_active(dstore: DynamoStore, clock: Any) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    results = await asyncio.gather(
        *(dstore.create_run(make_run(sid, f"run-{i}", clock())) for i in range(4)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, Run)]
    assert len(created) == 1, results
    assert all(isinstance(r, FailedPrecondition) for r in results if not isinstance(r, Run))
    assert (await dstore.get_session(sid)).active_run_id == created[0].run_id


async def test_extend_moves_every_items_ttl(
    dstore: DynamoStore, dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    session = await dstore.create_session(owner="alice", ttl_seconds=3600, request_id="req-1")
    sid = session.session_id
    await dstore.put_file(sid, "a.bin", "application/octet-stream", stream(b"a" * 800_000, MB))
    await dstore.put_file(sid, "b.txt", "text/plain", stream(b"b", 1))
    await dstore.put_report(
        sid, ReportKind.MARKET, "m", source=ReportSource.CALLER, author="x", request_id="put-1"
    )
    run = await dstore.create_run(replace(make_run(sid, "run-1", clock()), request_id="start-1"))
    for seq in range(1, 4):
        await dstore.append_event(
            ProgressEvent(sid, run.run_id, seq, clock(), EventType.TOOL_CALL, f"e{seq}")
        )
    before = raw_items(dynamo_client, dynamo_table, sid)
    assert len(before) >= 12

    extended = await dstore.extend_session(sid, 5 * DAY)
    assert extended.expires_at == int(clock()) + 5 * DAY
    after = raw_items(dynamo_client, dynamo_table, sid)
    assert {i["sk"]["S"] for i in after} == {i["sk"]["S"] for i in before}
    assert {i["ttl"]["N"] for i in after} == {str(extended.expires_at)}
    idem_pk, idem_sk = create_idem_key("alice", "req-1")
    record = dynamo_client.get_item(
        TableName=dynamo_table, Key={"session_id": {"S": idem_pk}, "sk": {"S": idem_sk}}
    )["Item"]
    assert record["ttl"]["N"] == str(extended.expires_at)


async def test_delete_leaves_no_item_behind(
    dstore: DynamoStore, dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY, request_id="r")).session_id
    keep = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    await dstore.put_file(keep, "k.txt", "text/plain", stream(b"keep", 4))
    await dstore.put_file(sid, "a.bin", "application/octet-stream", stream(b"a" * 1_500_000, MB))
    await dstore.put_report(sid, ReportKind.LEGAL, "l", source=ReportSource.AGENT, author="l")
    await dstore.create_run(make_run(sid, "run-1", clock()))
    for seq in range(1, 61):  # more than two BatchWriteItem batches
        await dstore.append_event(
            ProgressEvent(sid, "run-1", seq, clock(), EventType.HEARTBEAT, "beat")
        )
    assert len(raw_items(dynamo_client, dynamo_table, sid)) > 60

    await dstore.delete_session(sid)
    assert raw_items(dynamo_client, dynamo_table, sid) == []
    idem_pk, _ = create_idem_key("alice", "r")
    assert raw_items(dynamo_client, dynamo_table, idem_pk) == []
    assert sort_keys(dynamo_client, dynamo_table, keep) == ["FILE#k.txt", "SESSION"]
    # Not in the active-runs index any more either.
    assert await dstore.list_resumable_runs(lease_expired_before=clock() + DAY, limit=10) == []


async def test_read_events_follows_pages_past_one_mb(
    dstore: DynamoStore, recording: RecordingClient, clock: Any
) -> None:
    sid = (await dstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    big = "x" * 100_000  # 40 events of ~100 KB: about 4 MB in all
    await asyncio.gather(
        *(
            dstore.append_event(
                ProgressEvent(sid, "run-1", seq, clock(), EventType.TOOL_CALL, f"{seq}:{big}")
            )
            for seq in range(1, 41)
        )
    )
    recording.calls.clear()
    events = await dstore.read_events(sid, "run-1", after_sequence=0)
    assert [e.sequence for e in events] == list(range(1, 41))
    assert all(e.message == f"{e.sequence}:{big}" for e in events)
    assert recording.calls.count("query") >= 4  # DynamoDB stops each page at 1 MB

    tail = await dstore.read_events(sid, "run-1", after_sequence=35, limit=3)
    assert [e.sequence for e in tail] == [36, 37, 38]


def test_check_table_refuses_the_seed_shape(dynamo_client: Any, dynamo_table: str) -> None:
    check_table(dynamo_client, dynamo_table)  # the right shape passes
    assert create_table(dynamo_client, dynamo_table) is False  # idempotent
    ttl = dynamo_client.describe_time_to_live(TableName=dynamo_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")

    seed = dynamo_table + "-seed"
    dynamo_client.create_table(
        TableName=seed,
        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        with pytest.raises(FailedPrecondition) as caught:
            check_table(dynamo_client, seed)
        assert caught.value.reason == "TABLE_SCHEMA_MISMATCH"
        assert "sort key sk" in caught.value.message  # what was expected
        assert "session_id HASH (S)" in caught.value.message  # what was found
        with pytest.raises(FailedPrecondition):
            create_table(dynamo_client, seed)
    finally:
        dynamo_client.delete_table(TableName=seed)

    with pytest.raises(Unavailable) as missing:
        check_table(dynamo_client, dynamo_table + "-missing")
    assert "scout-service create-table" in missing.value.message


async def test_missing_table_is_unavailable(dynamo_client: Any, clock: Any) -> None:
    store = DynamoStore(dynamo_client, table_name="no-such-table", clock=clock)
    try:
        with pytest.raises(Unavailable) as caught:
            await store.get_session("x")
        assert "scout-service create-table" in caught.value.message
        with pytest.raises(Unavailable):
            await store.ping()
    finally:
        await store.close()


async def test_unreachable_endpoint_is_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    store = DynamoStore.from_config(
        table_name="t",
        region="us-east-1",
        endpoint_url=closed,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        connect_timeout=0.5,
        read_timeout=0.5,
        max_attempts=2,
    )
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable) as caught:
            await store.get_session("x")
        assert closed in caught.value.message
        with pytest.raises(Unavailable):
            await store.ping()
    finally:
        await store.close()
    assert time.monotonic() - started < 15


async def test_store_works_against_a_client_from_the_factory(
    dynamo_client_factory: Any, dynamo_table: str
) -> None:
    client = dynamo_client_factory(max_attempts=2)
    store = DynamoStore(client, table_name=dynamo_table)
    try:
        await store.check()
        await store.ping()
        session = await store.create_session(owner="o", ttl_seconds=60)
        assert (await store.get_session(session.session_id)).owner == "o"
    finally:
        await store.close()


def test_embedded_server_exits_with_its_parent() -> None:
    """A process killed without stop() must not leave its moto server running."""
    script = (
        "import time\n"
        "from scout_service.store import EmbeddedDynamo\n"
        "embedded = EmbeddedDynamo().start()\n"
        "print(embedded._process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        server_pid = int(parent.stdout.readline())
        os.kill(server_pid, 0)  # running
    finally:
        parent.kill()
        parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"moto server {server_pid} outlived its parent")
