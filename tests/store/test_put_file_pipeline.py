"""DynamoStore.put_file overlaps its chunk writes, and still cleans up exactly.

Up to ``UPLOAD_WRITES_IN_FLIGHT`` chunk puts run while the next pieces are
received. These tests watch the puts at the boto3 client (on moto's HTTP
server): how many run at once, that all end before the commit or the
cleanup, and that a failed, broken or cancelled upload leaves the previous
version readable and none of its own chunks in the table.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError  # type: ignore[import-untyped]

from scout_service.errors import ResourceExhausted, Unavailable
from scout_service.store import DynamoStore, StoreLimits
from scout_service.store.dynamodb import files as dynamodb_module

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

DAY = 24 * 3600
MB = 1024 * 1024
OLD = b"old version " * 20_000  # 240 KB: three chunks of 100 KB (store_limits)
NEW = bytes(range(256)) * (MB // 256)  # 1 MiB: eleven chunks


class TrackingClient:
    """Wraps a boto3 client: tracks chunk puts (running at once, order); can slow or fail them."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.delay = 0.0  # seconds each chunk put sleeps before it is sent
        self.fail_at: int | None = None  # this chunk put (1-based) cannot connect
        self.puts = 0
        self.running = 0
        self.max_running = 0
        self.log: list[str] = []  # calls in order; chunk puts as "put" … "put done"

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "meta" or not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            with self._lock:
                self.log.append(name)
            return attr(**kwargs)

        return call

    def put_item(self, **kwargs: Any) -> Any:
        if not kwargs["Item"]["sk"]["S"].startswith("BLOB#"):
            return self._inner.put_item(**kwargs)
        with self._lock:
            self.puts += 1
            number = self.puts
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            self.log.append("put")
        try:
            time.sleep(self.delay)
            if number == self.fail_at:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
            return self._inner.put_item(**kwargs)
        finally:
            with self._lock:
                self.running -= 1
                self.log.append("put done")

    def reset(self, *, delay: float = 0.0, fail_at: int | None = None) -> None:
        with self._lock:
            self.delay, self.fail_at = delay, fail_at
            self.puts = self.max_running = 0
            self.log.clear()


@pytest.fixture
def tracking(dynamo_client: Any) -> TrackingClient:
    return TrackingClient(dynamo_client)


@pytest.fixture
async def pstore(
    tracking: TrackingClient, dynamo_table: str, clock: Any, store_limits: StoreLimits
) -> AsyncIterator[DynamoStore]:
    """A DynamoStore with small (100 KB) chunks behind the tracking client."""
    store = DynamoStore(
        tracking,  # type: ignore[arg-type]
        table_name=dynamo_table,
        limits=store_limits,
        clock=clock,
        max_workers=8,
    )
    yield store
    await store.close()


async def stream(data: bytes, piece: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


def blob_keys(client: Any, table: str) -> set[str]:
    """Sort keys of every chunk item in the table (a raw scan)."""
    found: set[str] = set()
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        response = client.scan(**kwargs)
        found |= {i["sk"]["S"] for i in response["Items"] if i["sk"]["S"].startswith("BLOB#")}
        if "LastEvaluatedKey" not in response:
            return found
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


async def until_a_write_runs(tracking: TrackingClient) -> None:
    """Wait until a chunk put is on its way (the stream fails or stalls mid-write)."""
    for _ in range(5000):
        if tracking.running:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("no chunk write ever ran")


async def with_old_version(store: DynamoStore, client: Any, table: str) -> tuple[str, set[str]]:
    """A session holding ``plan.bin`` = OLD; its id and the old chunks' keys."""
    sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
    await store.put_file(sid, "plan.bin", "application/octet-stream", stream(OLD, 64 * 1024))
    old_chunks = blob_keys(client, table)
    assert len(old_chunks) == 3
    return sid, old_chunks


async def assert_nothing_left(
    store: DynamoStore,
    tracking: TrackingClient,
    client: Any,
    table: str,
    sid: str,
    old_chunks: set[str],
) -> None:
    """After a failed upload: no put ran past it, none comes later, the old version is intact."""
    assert tracking.running == 0
    puts = tracking.puts
    await asyncio.sleep(3 * tracking.delay + 0.1)
    assert (tracking.puts, tracking.running) == (puts, 0), "a chunk put ran after put_file ended"
    # Every put had ended before cleanup started, so none landed after it.
    last_put = max(i for i, call in enumerate(tracking.log) if call == "put done")
    assert tracking.log.index("batch_write_item") > last_put
    assert "transact_write_items" not in tracking.log  # never committed
    assert blob_keys(client, table) == old_chunks
    info, body = await store.read_file(sid, "plan.bin")
    assert body == OLD and info.sha256 == hashlib.sha256(OLD).hexdigest()


@pytest.mark.parametrize("limit", [2, 3])
async def test_chunk_writes_overlap_up_to_the_limit(
    pstore: DynamoStore,
    tracking: TrackingClient,
    dynamo_client: Any,
    dynamo_table: str,
    monkeypatch: pytest.MonkeyPatch,
    limit: int,
) -> None:
    monkeypatch.setattr(dynamodb_module, "UPLOAD_WRITES_IN_FLIGHT", limit)
    sid, old_chunks = await with_old_version(pstore, dynamo_client, dynamo_table)
    tracking.reset(delay=0.05)

    info = await pstore.put_file(sid, "plan.bin", "application/octet-stream", stream(NEW, MB))

    assert tracking.puts == 11
    assert tracking.max_running == limit  # overlapped, and never more than the limit
    assert tracking.running == 0  # all done when put_file returns …
    last_put = max(i for i, call in enumerate(tracking.log) if call == "put done")
    assert tracking.log.index("transact_write_items") > last_put  # … and before the commit
    chunks = blob_keys(dynamo_client, dynamo_table)
    assert len(chunks) == 11 and not chunks & old_chunks
    assert [int(sk.rsplit("#", 1)[1]) for sk in sorted(chunks)] == list(range(11))
    read, body = await pstore.read_file(sid, "plan.bin")
    assert body == NEW and info.sha256 == read.sha256 == hashlib.sha256(NEW).hexdigest()


def test_default_limit_is_small() -> None:
    assert 2 <= dynamodb_module.UPLOAD_WRITES_IN_FLIGHT <= 4


@pytest.mark.parametrize("fail_at", [5, 11], ids=["middle", "last"])
async def test_failed_chunk_write_leaves_old_version_and_no_chunks(
    pstore: DynamoStore,
    tracking: TrackingClient,
    dynamo_client: Any,
    dynamo_table: str,
    fail_at: int,
) -> None:
    sid, old_chunks = await with_old_version(pstore, dynamo_client, dynamo_table)
    tracking.reset(delay=0.05, fail_at=fail_at)

    with pytest.raises(Unavailable):  # the write's own error, as ``_run`` translated it
        await pstore.put_file(sid, "plan.bin", "application/octet-stream", stream(NEW, MB))

    assert tracking.puts >= fail_at
    await assert_nothing_left(pstore, tracking, dynamo_client, dynamo_table, sid, old_chunks)


class StreamBroke(Exception):
    """The caller's stream failed (a client gone, a caller-side limit …)."""


@pytest.mark.parametrize("how", ["raises", "too large"])
async def test_failing_stream_waits_for_writes_then_cleans_up(
    pstore: DynamoStore,
    tracking: TrackingClient,
    dynamo_client: Any,
    dynamo_table: str,
    how: str,
) -> None:
    sid, old_chunks = await with_old_version(pstore, dynamo_client, dynamo_table)
    tracking.reset(delay=0.1)

    async def pieces() -> AsyncIterator[bytes]:
        while True:  # 500 KB pieces; store_limits allow 2 MB
            yield NEW[:500_000]
            await until_a_write_runs(tracking)  # the stream fails while writes run
            if how == "raises":
                raise StreamBroke("the client went away")

    expected = StreamBroke if how == "raises" else ResourceExhausted
    with pytest.raises(expected):
        await pstore.put_file(sid, "plan.bin", "application/octet-stream", pieces())

    await assert_nothing_left(pstore, tracking, dynamo_client, dynamo_table, sid, old_chunks)


async def test_cancelled_upload_waits_for_writes_then_cleans_up(
    pstore: DynamoStore, tracking: TrackingClient, dynamo_client: Any, dynamo_table: str
) -> None:
    sid, old_chunks = await with_old_version(pstore, dynamo_client, dynamo_table)
    tracking.reset(delay=0.1)
    stalled = asyncio.Event()

    async def pieces() -> AsyncIterator[bytes]:
        yield NEW[:500_000]
        stalled.set()
        await asyncio.Event().wait()  # the client stops sending

    upload = asyncio.create_task(
        pstore.put_file(sid, "plan.bin", "application/octet-stream", pieces())
    )
    await stalled.wait()
    await until_a_write_runs(tracking)  # the call is cancelled while writes run
    upload.cancel()
    with pytest.raises(asyncio.CancelledError):
        await upload

    await assert_nothing_left(pstore, tracking, dynamo_client, dynamo_table, sid, old_chunks)


async def test_small_file_goes_inline_without_chunk_writes(
    pstore: DynamoStore, tracking: TrackingClient, dynamo_client: Any, dynamo_table: str
) -> None:
    sid = (await pstore.create_session(owner="alice", ttl_seconds=DAY)).session_id
    small = b"tiny " * 1000
    await pstore.put_file(sid, "small.txt", "text/plain", stream(small, 1000))
    assert tracking.puts == 0 and blob_keys(dynamo_client, dynamo_table) == set()
    assert (await pstore.read_file(sid, "small.txt"))[1] == small


async def test_10_mb_round_trip_is_byte_identical(
    tracking: TrackingClient, dynamo_client: Any, dynamo_table: str, clock: Any
) -> None:
    store = DynamoStore(tracking, table_name=dynamo_table, clock=clock)  # type: ignore[arg-type]
    try:
        data = hashlib.sha256(b"seed").digest() * (10 * MB // 32)
        sid = (await store.create_session(owner="alice", ttl_seconds=DAY)).session_id
        info = await store.put_file(sid, "big.bin", "application/octet-stream", stream(data, MB))
        assert tracking.puts == -(-len(data) // store.limits.chunk_bytes)
        assert 1 <= tracking.max_running <= dynamodb_module.UPLOAD_WRITES_IN_FLIGHT
        read, body = await store.read_file(sid, "big.bin")
        assert body == data
        assert info.sha256 == read.sha256 == hashlib.sha256(data).hexdigest()
        assert info.size == read.size == len(data)
    finally:
        await store.close()
