"""The floors: what the same work costs without Scout in the way.

Two kinds, both measured in the same run on the same endpoint as the rows
they are held against:

- **raw boto3** with one reused client (the same pool size and retry mode
  as the store's), reading and writing *the very items the server reads and
  writes* (its report, session and file items, found by their keys), so
  sizes match to the byte;
- **a bare grpc.aio echo** (``bench.echo``) in its own process: what an RPC,
  a stream or a process start costs before any Scout code runs.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3
import grpc
from botocore.config import Config

from bench import echo
from bench.common import (
    Child,
    Latency,
    clean_env,
    free_port,
    health_serving,
    measure_async,
    measure_sync,
    rss_kib,
    throughput_tasks,
    throughput_threads,
)

CHUNK_BYTES = 350 * 1000  # the store's chunk size (StoreLimits.chunk_bytes)
POOL = 16


def boto3_client(endpoint_url: str, pool: int = POOL) -> Any:
    """A DynamoDB client configured like the store's (standard retries, pool of 16)."""
    session = boto3.session.Session(aws_access_key_id="testing",
                                    aws_secret_access_key="testing", region_name="us-east-1")
    config = Config(retries={"mode": "standard", "max_attempts": 5},
                    max_pool_connections=pool, connect_timeout=3, read_timeout=30,
                    tcp_keepalive=True)
    return session.client("dynamodb", endpoint_url=endpoint_url, config=config)


def chunk_sizes(total: int, chunk: int = CHUNK_BYTES) -> list[int]:
    """Sizes of the chunks a blob of ``total`` bytes is cut into."""
    return [min(chunk, total - start) for start in range(0, total, chunk)]


@dataclass
class BotoFloor:
    """Raw boto3 calls on the server's table with one shared client."""

    client: Any
    table: str

    # -- single items ------------------------------------------------------------

    def get_item(self, key: dict[str, Any]) -> dict[str, Any]:
        """A strongly consistent GetItem, as the store does it."""
        item: dict[str, Any] = self.client.get_item(
            TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})
        return item

    def get_latency(self, key: dict[str, Any], n: int, warmup: int) -> Latency:
        """GetItem latency, one in flight."""
        return measure_sync(lambda: self.get_item(key), n, warmup)

    def get_throughput(self, key: dict[str, Any], total: int, concurrency: int) -> float:
        """GetItem calls/s with ``concurrency`` threads."""
        return throughput_threads(lambda: self.get_item(key), total, concurrency,
                                  warmup=concurrency)

    def put_latency(self, item: dict[str, Any], n: int, warmup: int) -> Latency:
        """PutItem latency of ``item`` (overwriting itself), one in flight."""
        return measure_sync(lambda: self.client.put_item(TableName=self.table, Item=item),
                            n, warmup)

    def put_throughput(self, item: dict[str, Any], total: int, concurrency: int) -> float:
        """PutItem calls/s; each thread writes its own copy of ``item``."""
        copies = [{**item, "sk": {"S": f"{item['sk']['S']}#{i}"}} for i in range(concurrency)]
        slot = iter(range(10**9))

        def put() -> None:
            self.client.put_item(TableName=self.table, Item=copies[next(slot) % concurrency])

        return throughput_threads(put, total, concurrency, warmup=concurrency)

    def query_latency(self, request: dict[str, Any], n: int, warmup: int) -> Latency:
        """Query latency (all pages), one in flight."""
        return measure_sync(lambda: self.query_all(request), n, warmup)

    def query_throughput(self, request: dict[str, Any], total: int, concurrency: int) -> float:
        """Queries/s with ``concurrency`` threads."""
        return throughput_threads(lambda: self.query_all(request), total, concurrency,
                                  warmup=concurrency)

    def query_all(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Every page of a query."""
        items: list[dict[str, Any]] = []
        start = None
        while True:
            kwargs = dict(request)
            if start:
                kwargs["ExclusiveStartKey"] = start
            response = self.client.query(TableName=self.table, **kwargs)
            items.extend(response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                return items

    # -- blobs ---------------------------------------------------------------------

    def write_chunks(self, session_id: str, slot: str, sizes: Sequence[int],
                     payload: bytes) -> None:
        """Write one blob's chunks one after another, as the store does (PutItem each)."""
        ttl = {"N": str(int(time.time()) + 3600)}
        for i, size in enumerate(sizes):
            self.client.put_item(TableName=self.table, Item={
                "session_id": {"S": session_id}, "sk": {"S": f"BENCHBLOB#{slot}#{i:05d}"},
                "data": {"B": payload[:size]}, "ttl": ttl,
            })

    def blob_write_latency(self, session_id: str, total: int, n: int) -> Latency:
        """Time to write a ``total``-byte blob's chunks, one blob at a time."""
        sizes = chunk_sizes(total)
        payload = bytes(range(256)) * (CHUNK_BYTES // 256 + 1)
        return measure_sync(lambda: self.write_chunks(session_id, "one", sizes, payload), n, 1)

    def blob_write_throughput(self, session_id: str, total: int, blobs: int,
                              concurrency: int) -> float:
        """Blobs/s with ``concurrency`` blobs written at once (each sequential inside)."""
        sizes = chunk_sizes(total)
        payload = bytes(range(256)) * (CHUNK_BYTES // 256 + 1)
        slot = iter(range(10**9))
        return throughput_threads(
            lambda: self.write_chunks(session_id, f"t{next(slot) % concurrency}", sizes, payload),
            blobs, concurrency)

    def delete_bench_chunks(self, session_id: str) -> None:
        """Remove the BENCHBLOB# items (they would count against nothing, but use memory)."""
        items = self.query_all({
            "KeyConditionExpression": "session_id = :s AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":s": {"S": session_id}, ":p": {"S": "BENCHBLOB#"}},
            "ProjectionExpression": "session_id, sk",
        })
        for start in range(0, len(items), 25):
            self.client.batch_write_item(RequestItems={self.table: [
                {"DeleteRequest": {"Key": k}} for k in items[start:start + 25]]})


def blob_read_request(session_id: str, blob_id: str, count: int) -> dict[str, Any]:
    """The chunk query the store makes to read a blob (``_read_chunks``)."""
    from scout_service.store import _keys as keys

    return {
        "KeyConditionExpression": "session_id = :sid AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {
            ":sid": {"S": session_id},
            ":first": {"S": keys.blob_sk(blob_id, 0)},
            ":last": {"S": keys.blob_sk(blob_id, max(0, count - 1))},
        },
        "ConsistentRead": True,
    }


# -- the echo floor -------------------------------------------------------------------


@dataclass
class EchoServer:
    """``bench.echo`` in a child process, timed from Popen to SERVING."""

    child: Child | None = None
    port: int = 0
    startup_s: float = 0.0

    @property
    def address(self) -> str:
        """host:port."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """Its process id."""
        assert self.child is not None
        return self.child.pid

    def start(self, timeout: float = 30.0, dynamodb: str | None = None,
              table: str = "") -> EchoServer:
        """Start and wait for SERVING (with ``dynamodb``, its GetItem method works)."""
        self.port = free_port()
        args = ["--port", str(self.port)]
        if dynamodb:
            args += ["--dynamodb", dynamodb, "--table", table]
        self.child = Child("bench.echo", args, clean_env({"PYTHONUNBUFFERED": "1"})).start()
        self.startup_s = health_serving(self.address, timeout) - self.child.started_at
        return self

    def rss_kib(self) -> int:
        """Its resident set size now."""
        return rss_kib(self.pid)

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.child is not None:
            self.child.stop()


CHANNEL_OPTIONS = [("grpc.max_receive_message_length", echo.MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", echo.MAX_MESSAGE_BYTES)]


async def echo_unary(address: str, reply_bytes: int, n: int, total: int,
                     concurrency: int) -> tuple[Latency, float]:
    """Unary echo: latency at 1 in flight and calls/s at ``concurrency``."""
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        call = channel.unary_unary(echo.UNARY)
        request = echo.unary_request(reply_bytes)

        async def once() -> None:
            await call(request)

        lat = await measure_async(once, n, warmup=max(20, n // 10))
        rate = await throughput_tasks(once, total, concurrency, warmup=concurrency)
        return lat, rate


async def echo_get_item(address: str, session_id: str, sk: str, n: int, total: int,
                        concurrency: int) -> tuple[Latency, float]:
    """The echo server's GetItem (bare grpc.aio + boto3 on a pool): latency and calls/s."""
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        call = channel.unary_unary(echo.GET_ITEM)
        request = echo.get_item_request(session_id, sk)

        async def once() -> None:
            await call(request)

        lat = await measure_async(once, n, warmup=max(20, n // 10))
        rate = await throughput_tasks(once, total, concurrency, warmup=concurrency)
        return lat, rate


async def echo_download(address: str, total: int, message: int, n: int) -> Latency:
    """Time to stream ``total`` bytes down in ``message``-byte messages."""
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        call = channel.unary_stream(echo.STREAM)
        request = echo.stream_request(max(1, total // message), message)

        async def once() -> None:
            async for _ in call(request):
                pass

        return await measure_async(once, n, warmup=1)


async def echo_upload(address: str, total: int, message: int, n: int) -> Latency:
    """Time to stream ``total`` bytes up in ``message``-byte messages."""
    payload = b"u" * message
    count = max(1, total // message)
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        call = channel.stream_unary(echo.UPLOAD)

        async def requests() -> Any:
            for _ in range(count):
                yield payload

        async def once() -> None:
            await call(requests())

        return await measure_async(once, n, warmup=1)


@dataclass(frozen=True)
class FanOut:
    """One fan-out measurement: subscribing, then one publish to every stream."""

    streams: int
    events_per_stream: int
    delivered: int
    errors: int
    open_seconds: float
    seconds: float
    first_receipt: float = 0.0
    last_receipt: float = 0.0

    @property
    def events_per_s(self) -> float:
        """Events received by all streams together per second, from the publish on."""
        return self.delivered / self.seconds if self.seconds else 0.0

    @property
    def fanout_events_per_s(self) -> float:
        """Deliveries per second from the first stream's receipt to the last one's."""
        spread = self.last_receipt - self.first_receipt
        return self.delivered / spread if spread > 0 else 0.0


async def echo_fanout(address: str, streams: int, events: int, size: int,
                      channels: int) -> FanOut:
    """One publisher, ``streams`` subscribers, ``events`` events each (the broker floor)."""
    chans = [grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
             for _ in range(channels)]
    try:
        delivered = 0
        errors = 0
        subscribed = 0
        receipts: list[float] = []
        all_subscribed = asyncio.Event()

        async def subscriber(i: int) -> None:
            nonlocal delivered, errors, subscribed
            call = chans[i % channels].unary_stream(echo.SUBSCRIBE)(
                echo.topic_request(events, size))
            try:
                await call.initial_metadata()
                subscribed += 1
                if subscribed == streams:
                    all_subscribed.set()
                async for _ in call:
                    delivered += 1
                    receipts.append(time.perf_counter())
            except grpc.RpcError:
                errors += 1

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(subscriber(i)) for i in range(streams)]
        await asyncio.wait_for(all_subscribed.wait(), 60)
        open_seconds = time.perf_counter() - t0
        publish = chans[0].unary_unary(echo.PUBLISH)
        t1 = time.perf_counter()
        (reached,) = struct.unpack("<I", await publish(echo.topic_request(events, size)))
        await asyncio.wait_for(asyncio.gather(*tasks), 120)
        seconds = time.perf_counter() - t1
        errors += streams - reached
        return FanOut(streams, events, delivered, errors, open_seconds, seconds,
                      min(receipts, default=0.0), max(receipts, default=0.0))
    finally:
        for chan in chans:
            await chan.close()


async def echo_rss_with_streams(server: EchoServer, streams: int, channels: int) -> int:
    """The echo server's RSS (KiB) while ``streams`` streams are open on it."""
    chans = [grpc.aio.insecure_channel(server.address, options=CHANNEL_OPTIONS)
             for _ in range(channels)]
    calls = []
    try:
        request = echo.stream_request(1, 200, hold=True)
        for i in range(streams):
            calls.append(chans[i % channels].unary_stream(echo.STREAM)(request))
        await asyncio.gather(*(call.read() for call in calls))  # every stream is open
        await asyncio.sleep(0.3)
        return server.rss_kib()
    finally:
        for call in calls:
            call.cancel()
        for chan in chans:
            await chan.close()
