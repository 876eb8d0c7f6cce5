"""RPC rows: Scout's calls through a real replica against raw boto3 on the same items.

Each RPC is timed through the generated stubs on one channel (the client
wrapper's channel options, a bearer token: what a caller pays), and its floor
is the DynamoDB work it cannot avoid done with raw boto3 on *the item the
server itself reads or writes*:

=============  ==========================================================
GetReport      GetItem of the report's item (ConsistentRead, ~4 KB)
GetSession     GetItem of the session item
ListReports    Query of the five report items (same projection, all pages)
PutReport      PutItem of a copy of the report item (same size)
UploadFile     PutItem of every 350 KB chunk of 10 MB, one after another
DownloadFile   GetItem of the file item + Query of its chunks (all pages)
=============  ==========================================================

Latency at 1 in flight is measured interleaved (RPC, floor, floor, RPC …) so
drift on a shared 2-core machine hits both alike; throughput at 16 in flight
is 16 asyncio tasks on the channel against 16 threads sharing one boto3
client, each measured twice in alternation (A B A B) and averaged.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from bench import echo
from bench import floor as fl
from bench.common import (
    Latency,
    Row,
    Target,
    latency_rows,
    log,
    throughput_tasks,
    throughput_threads,
)
from scout.v1 import report_pb2, report_pb2_grpc, session_pb2, session_pb2_grpc, types_pb2

REPORT_BYTES = 4 * 1024
FILE_BYTES = 10 * 1024 * 1024
UPLOAD_MESSAGE = 1024 * 1024  # the client's DEFAULT_CHUNK_SIZE
CONCURRENCY = 16

GET_REPORT_P50 = Target("<=", 1.3)
GET_REPORT_THROUGHPUT = Target(">=", 0.85)
UPLOAD_THROUGHPUT = Target(">=", 0.7)  # set for a 10 MB file: --quick's 1 MB rows have none


@dataclass(frozen=True)
class Sizes:
    """How much work each row does (``quick`` shrinks everything)."""

    latency_n: int
    throughput_total: int
    file_bytes: int
    blob_n: int

    @classmethod
    def for_mode(cls, quick: bool) -> Sizes:
        """Full run (~1 minute of RPC rows) or a smoke test."""
        if quick:
            return cls(latency_n=30, throughput_total=96, file_bytes=1024 * 1024, blob_n=2)
        return cls(latency_n=400, throughput_total=1600, file_bytes=FILE_BYTES, blob_n=5)


def report_content(size: int = REPORT_BYTES) -> str:
    """A Markdown report of exactly ``size`` ASCII bytes."""
    text = "# Market report\n\n" + "The Nordic meal-kit market grows steadily. " * (size // 40)
    return text[:size]


async def interleaved(
    rpc: Callable[[], Awaitable[object]], raw: Callable[[], object], n: int, warmup: int,
    *others: Callable[[], Awaitable[object]],
) -> tuple[Latency, ...]:
    """Latency of ``rpc``, ``raw`` (and ``others``), one in flight, taking turns.

    The order rotates every round, so drift and any after-effect of one call
    on the next (a warm cache, a scheduler decision) hit every contender alike.
    Returns one ``Latency`` per contender, in argument order.
    """
    contenders: list[Callable[[], object]] = [rpc, raw, *others]
    samples: list[list[float]] = [[] for _ in contenders]
    for i in range(warmup + n):
        for j in range(len(contenders)):
            k = (i + j) % len(contenders)
            t0 = time.perf_counter()
            result = contenders[k]()
            if inspect.isawaitable(result):
                await result
            elapsed = time.perf_counter() - t0
            if i >= warmup:
                samples[k].append(elapsed)
    return tuple(Latency.of(s) for s in samples)


async def alternating_rates(
    rpc: Callable[[], Awaitable[object]], raw: Callable[[int], float], total: int,
    *others: Callable[[], Awaitable[object]], rounds: int = 4,
) -> tuple[float, ...]:
    """Calls/s of ``rpc`` (16 tasks), of ``raw(n)`` (its own rate for n calls), of ``others``.

    ``rounds`` short turns each (A B C A B C …), averaged: a burst of other
    work on the machine then lands on every side instead of on one.
    """
    share = max(CONCURRENCY, total // rounds)
    rates: list[list[float]] = [[] for _ in range(2 + len(others))]
    for _ in range(rounds):
        rates[0].append(await throughput_tasks(rpc, share, CONCURRENCY, warmup=CONCURRENCY))
        rates[1].append(await asyncio.to_thread(raw, share))
        for i, other in enumerate(others):
            rates[2 + i].append(
                await throughput_tasks(other, share, CONCURRENCY, warmup=CONCURRENCY))
    return tuple(sum(r) / rounds for r in rates)


class SessionPool:
    """Sessions lent one call at a time, so no two concurrent writes hit one session.

    Concurrent PutReport/UploadFile calls on the same report or file are
    conflicts the store resolves by retrying; the throughput rows measure
    independent callers, as the boto3 floor's threads are (each its own item).
    """

    def __init__(self, session_ids: list[str]) -> None:
        self._free: asyncio.Queue[str] = asyncio.Queue()
        for sid in session_ids:
            self._free.put_nowait(sid)

    async def call(self, fn: Callable[[str], Awaitable[object]]) -> None:
        """``fn(session_id)`` with a session nobody else is using."""
        sid = await self._free.get()
        try:
            await fn(sid)
        finally:
            self._free.put_nowait(sid)


@dataclass
class RpcBench:
    """The RPC rows against one replica."""

    address: str
    token: str
    boto: fl.BotoFloor
    sizes: Sizes
    echo_unary: tuple[Latency, float] | None = None
    echo_address: str | None = None
    # A second replica with SCOUT_DYNAMODB_LEAN_READS=false: what the lean reads save.
    boto3_reads_address: str | None = None

    def __post_init__(self) -> None:
        from scout_client._channel import channel_options

        self.channel = grpc.aio.insecure_channel(self.address, options=channel_options())
        self.metadata = (("authorization", f"Bearer {self.token}"),)
        self.sessions = session_pb2_grpc.SessionServiceStub(self.channel)
        self.reports = report_pb2_grpc.ReportServiceStub(self.channel)

    async def close(self) -> None:
        """Close the channel."""
        await self.channel.close()

    async def new_session(self) -> str:
        """A fresh session owned by the bench principal."""
        reply = await self.sessions.CreateSession(
            session_pb2.CreateSessionRequest(request_id=str(uuid.uuid4())),
            metadata=self.metadata)
        return str(reply.session.session_id)

    async def delete_sessions(self, session_ids: list[str]) -> None:
        """DeleteSession each: keeps moto's table small for the phases after."""
        for sid in session_ids:
            await self.sessions.DeleteSession(session_pb2.DeleteSessionRequest(session_id=sid),
                                              metadata=self.metadata)

    async def put_report(self, sid: str, kind: int, content: str) -> None:
        """PutReport with a fresh request id (what the client does)."""
        await self.reports.PutReport(report_pb2.PutReportRequest(
            session_id=sid, kind=kind, content=content, request_id=str(uuid.uuid4())),
            metadata=self.metadata)

    async def upload(self, sid: str, name: str, data: bytes) -> None:
        """UploadFile: a header message, then 1 MiB messages (the client's default)."""
        async def requests() -> Any:
            yield session_pb2.UploadFileRequest(
                session_id=sid, file_name=name, content_type="application/octet-stream",
                size_bytes=len(data))
            view = memoryview(data)
            for start in range(0, len(data), UPLOAD_MESSAGE):
                yield session_pb2.UploadFileRequest(
                    chunk=bytes(view[start:start + UPLOAD_MESSAGE]))

        await self.sessions.UploadFile(requests(), metadata=self.metadata, timeout=300)

    async def download(self, sid: str, name: str) -> int:
        """DownloadFile; returns the bytes received."""
        received = 0
        call = self.sessions.DownloadFile(
            session_pb2.DownloadFileRequest(session_id=sid, file_name=name),
            metadata=self.metadata, timeout=300)
        async for message in call:
            received += len(message.chunk)
        return received

    # -- the rows ------------------------------------------------------------------------

    async def run(self) -> list[Row]:
        """Every RPC row, in table order."""
        from scout_service.store import _keys as keys

        sz = self.sizes
        warm = max(10, sz.latency_n // 10)
        rows: list[Row] = []
        sid = await self.new_session()
        content = report_content()
        kinds = [types_pb2.REPORT_KIND_MARKET, types_pb2.REPORT_KIND_COMPETITION,
                 types_pb2.REPORT_KIND_PRICE, types_pb2.REPORT_KIND_LEGAL,
                 types_pb2.REPORT_KIND_FINAL]
        for kind in kinds:
            await self.put_report(sid, kind, content)
        pk = {"S": sid}
        report_key = {"session_id": pk, "sk": {"S": keys.report_sk("market_report")}}
        session_key = {"session_id": pk, "sk": {"S": keys.SESSION_SK}}
        report_item = self.boto.get_item(report_key)
        if not report_item:
            raise RuntimeError(f"report item {report_key} not found: did the key layout change?")
        echo_note = ""
        if self.echo_unary is not None:
            echo_note = f"echo RPC alone: {self.echo_unary[0].p50 * 1000:.2f} ms"

        # GetReport
        log("GetReport")
        get_report = report_pb2.GetReportRequest(session_id=sid, kind=types_pb2.REPORT_KIND_MARKET)

        async def rpc_get_report() -> None:
            await self.reports.GetReport(get_report, metadata=self.metadata)

        bare: list[Callable[[], Awaitable[object]]] = []
        if self.echo_address is not None:  # bare grpc.aio + boto3 on a pool: Scout's shape
            bare_channel = grpc.aio.insecure_channel(self.echo_address,
                                                     options=fl.CHANNEL_OPTIONS)
            bare_call = bare_channel.unary_unary(echo.GET_ITEM)
            bare_request = echo.get_item_request(sid, keys.report_sk("market_report"))

            async def bare_get() -> None:
                await bare_call(bare_request)

            bare.append(bare_get)
        boto3_only: list[Callable[[], Awaitable[object]]] = []
        if self.boto3_reads_address is not None:
            boto3_channel = grpc.aio.insecure_channel(self.boto3_reads_address,
                                                      options=fl.CHANNEL_OPTIONS)
            boto3_reports = report_pb2_grpc.ReportServiceStub(boto3_channel)

            async def boto3_get_report() -> None:
                await boto3_reports.GetReport(get_report, metadata=self.metadata)

            boto3_only.append(boto3_get_report)
        lat, raw, *bare_lat = await interleaved(
            rpc_get_report, lambda: self.boto.get_item(report_key), sz.latency_n, warm, *bare,
            *boto3_only)
        rows += latency_rows("GetReport (4 KB)", lat, raw, "boto3 get_item",
                             p50_target=GET_REPORT_P50, section="RPCs", note=echo_note)
        rate, raw_rate, *bare_rate = await alternating_rates(
            rpc_get_report,
            lambda n: self.boto.get_throughput(report_key, n, CONCURRENCY), sz.throughput_total,
            *bare, *boto3_only)
        rows.append(Row("GetReport throughput @16", rate, "/s", raw_rate, "boto3 get_item ×16 "
                        "threads", target=GET_REPORT_THROUGHPUT, section="RPCs"))
        if bare:
            await bare_channel.close()
            rows += [
                Row("bare grpc.aio + boto3 get_item p50 @1", bare_lat[0].p50 * 1000, "ms",
                    raw.p50 * 1000, "boto3 get_item", section="RPCs",
                    note="the same item through a service with nothing but grpc.aio and "
                         "boto3 on a pool: Scout's architectural floor"),
                Row("bare grpc.aio + boto3 get_item throughput @16", bare_rate[0], "/s",
                    raw_rate, "boto3 get_item ×16 threads", section="RPCs"),
            ]
        if boto3_only:
            await boto3_channel.close()
            rows += [
                Row("GetReport, reads through boto3 p50 @1", bare_lat[-1].p50 * 1000, "ms",
                    raw.p50 * 1000, "boto3 get_item", section="RPCs",
                    note="a second replica with SCOUT_DYNAMODB_LEAN_READS=false: Scout "
                         "without the lean read path (store/_lean.py)"),
                Row("GetReport, reads through boto3 throughput @16", bare_rate[-1], "/s",
                    raw_rate, "boto3 get_item ×16 threads", section="RPCs"),
            ]

        # GetSession
        log("GetSession")
        get_session = session_pb2.GetSessionRequest(session_id=sid)

        async def rpc_get_session() -> None:
            await self.sessions.GetSession(get_session, metadata=self.metadata)

        lat, raw = await interleaved(rpc_get_session, lambda: self.boto.get_item(session_key),
                                     sz.latency_n, warm)
        rows += latency_rows("GetSession", lat, raw, "boto3 get_item", section="RPCs")
        rate, raw_rate = await alternating_rates(
            rpc_get_session,
            lambda n: self.boto.get_throughput(session_key, n, CONCURRENCY), sz.throughput_total)
        rows.append(Row("GetSession throughput @16", rate, "/s", raw_rate,
                        "boto3 get_item ×16", section="RPCs"))

        # PutReport, in sessions of its own (each call leaves an idempotency record)
        log("PutReport")
        put_sid = await self.new_session()
        put_copy = {**report_item, "session_id": {"S": put_sid}, "sk": {"S": "BENCH#put-floor"}}

        async def rpc_put_report() -> None:
            await self.put_report(put_sid, types_pb2.REPORT_KIND_PRICE, content)

        def raw_put() -> None:
            self.boto.client.put_item(TableName=self.boto.table, Item=put_copy)

        lat, raw = await interleaved(rpc_put_report, raw_put, sz.latency_n // 2, warm // 2)
        rows += latency_rows("PutReport (4 KB)", lat, raw, "boto3 put_item", section="RPCs",
                             note="a BatchGetItem (session, old report, request record) and a "
                                  "3-item TransactWriteItems, against one put_item")
        put_sessions = [await self.new_session() for _ in range(CONCURRENCY)]
        put_pool = SessionPool(list(put_sessions))

        async def rpc_put_many() -> None:
            await put_pool.call(
                lambda s: self.put_report(s, types_pb2.REPORT_KIND_PRICE, content))

        rate, raw_rate = await alternating_rates(
            rpc_put_many,
            lambda n: self.boto.put_throughput(put_copy, n, CONCURRENCY), sz.throughput_total // 4)
        rows.append(Row("PutReport throughput @16", rate, "/s", raw_rate,
                        "boto3 put_item ×16", section="RPCs"))
        await self.delete_sessions([put_sid, *put_sessions])

        # ListReports
        log("ListReports")
        listing = self.boto.query_all({
            "KeyConditionExpression": "session_id = :s AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":s": pk, ":p": {"S": keys.REPORT_PREFIX}},
            "ConsistentRead": True,
        })
        attributes = sorted({a for item in listing for a in item} - {"data"})
        names = {f"#a{i}": a for i, a in enumerate(attributes)}
        list_query = {
            "KeyConditionExpression": "session_id = :s AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":s": pk, ":p": {"S": keys.REPORT_PREFIX}},
            "ExpressionAttributeNames": names,
            "ProjectionExpression": ", ".join(names),
            "ConsistentRead": True,
        }
        list_reports = report_pb2.ListReportsRequest(session_id=sid)

        async def rpc_list_reports() -> None:
            await self.reports.ListReports(list_reports, metadata=self.metadata)

        lat, raw = await interleaved(rpc_list_reports, lambda: self.boto.query_all(list_query),
                                     sz.latency_n // 2, warm // 2)
        rows += latency_rows("ListReports (5)", lat, raw, "boto3 query", section="RPCs")
        rate, raw_rate = await alternating_rates(
            rpc_list_reports,
            lambda n: self.boto.query_throughput(list_query, n, CONCURRENCY),
            sz.throughput_total // 2)
        rows.append(Row("ListReports throughput @16", rate, "/s", raw_rate,
                        "boto3 query ×16", section="RPCs"))

        await self.delete_sessions([sid])
        floor_sid = await self.new_session()
        rows += await self.file_rows(floor_sid)
        await self.delete_sessions([floor_sid])
        return rows

    async def file_rows(self, sid: str) -> list[Row]:
        """UploadFile and DownloadFile of ``file_bytes`` against raw chunk writes and reads.

        ``sid`` is a session for the floor's own chunk items.
        """
        from scout_service.store import _keys as keys

        sz = self.sizes
        mb = sz.file_bytes / 1e6
        label = f"{sz.file_bytes / 1024 / 1024:g} MB"
        data = bytes(range(256)) * (sz.file_bytes // 256)
        rows: list[Row] = []
        # A small file is mostly per-call work: the target holds for 10 MB only.
        upload_target = UPLOAD_THROUGHPUT if sz.file_bytes >= FILE_BYTES else None

        log(f"UploadFile {label}")
        # Every upload is a new file in a session of its own: replacing a file
        # also deletes the old version's chunks, which the floor does not do.
        name = "bench.bin"
        fresh = [await self.new_session() for _ in range(sz.blob_n + 1 + CONCURRENCY)]
        one_at_a_time = iter(fresh[:sz.blob_n + 1])
        lat, raw = await interleaved(
            lambda: self.upload(next(one_at_a_time), name, data),
            lambda: self.boto.write_chunks(sid, "one", fl.chunk_sizes(sz.file_bytes), data),
            sz.blob_n, 1)
        rows += latency_rows(f"UploadFile ({label})", lat, raw, "boto3 put_item of its "
                             "350 KB chunks", section="Files")
        rows.append(Row(f"UploadFile ({label}) throughput @1", mb / lat.mean, "MB/s",
                        mb / raw.mean, "boto3 chunk put_items", target=upload_target,
                        section="Files"))
        await asyncio.to_thread(self.boto.delete_bench_chunks, sid)
        at_once = iter(fresh[sz.blob_n + 1:])

        async def upload_many() -> None:
            await self.upload(next(at_once), name, data)

        rate = await throughput_tasks(upload_many, CONCURRENCY, CONCURRENCY)
        raw_rate = await asyncio.to_thread(
            self.boto.blob_write_throughput, sid, sz.file_bytes, CONCURRENCY, CONCURRENCY)
        await asyncio.to_thread(self.boto.delete_bench_chunks, sid)
        rows.append(Row(f"UploadFile ({label}) throughput @16", mb * rate, "MB/s",
                        mb * raw_rate, "boto3 chunk put_items ×16 threads",
                        target=upload_target, section="Files"))
        await self.delete_sessions(fresh[1:])
        sid = fresh[0]  # downloads read its file

        log(f"DownloadFile {label}")
        file_item = self.boto.get_item({"session_id": {"S": sid},
                                        "sk": {"S": keys.file_sk(name)}})
        blob_id, count = file_item["blob_id"]["S"], int(file_item["chunk_count"]["N"])
        read_request = fl.blob_read_request(sid, blob_id, count)

        def raw_read() -> None:
            self.boto.get_item({"session_id": {"S": sid}, "sk": {"S": keys.file_sk(name)}})
            self.boto.query_all(read_request)

        got = await self.download(sid, name)
        if got != sz.file_bytes:
            raise RuntimeError(f"DownloadFile returned {got} bytes, expected {sz.file_bytes}")
        lat, raw = await interleaved(lambda: self.download(sid, name), raw_read, sz.blob_n, 1)
        rows += latency_rows(f"DownloadFile ({label})", lat, raw, "boto3 get_item + query "
                             "of its chunks", section="Files")
        rows.append(Row(f"DownloadFile ({label}) throughput @1", mb / lat.mean, "MB/s",
                        mb / raw.mean, "boto3 get_item + query", section="Files"))

        async def download_one() -> None:
            await self.download(sid, name)

        rate = await throughput_tasks(download_one, CONCURRENCY, CONCURRENCY)
        raw_rate = await asyncio.to_thread(throughput_threads, raw_read, CONCURRENCY,
                                           CONCURRENCY)
        rows.append(Row(f"DownloadFile ({label}) throughput @16", mb * rate, "MB/s",
                        mb * raw_rate, "boto3 get_item + query ×16", section="Files"))
        await self.delete_sessions([sid])
        return rows
