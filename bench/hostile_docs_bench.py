"""Hostile documents: the replica's latency and memory while one is read (issue 17).

A fresh replica (so its peak RSS, ``VmHWM``, starts at idle) with a short
document time limit and one document worker. GetSession is called one at a
time, every 10 ms, first on the idle replica and then while StartResearch
reads, one after the other, the two hostile files of ``tests.support.
hostile_docs``: the slow PDF (its worker is killed at the time limit) and
the 1 MB .docx whose ZIP headers lie about an entry that inflates to 1 GB.
Rows: GetSession p99 meanwhile against the idle p99 of the same run
(target: under 100 ms), the server's peak RSS above idle (target: 512 MB),
and how long each StartResearch took to answer its reason.

    python -m bench.hostile_docs_bench [--quick]   this phase alone (~10 s)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field

import grpc

from bench.common import Latency, Replica, Row, Target, format_table, log, rss_kib

SECTION = "Hostile documents"
P99_BOUND_MS = 100.0
RSS_BOUND_MIB = 512.0
ANSWER_RATIO = 1.5  # the slow PDF's answer, against SCOUT_DOCUMENT_TIMEOUT_S
PROBE_INTERVAL_S = 0.01


def _vm_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@dataclass
class Probe:
    """GetSession latencies and the RSS of the replica and its workers meanwhile."""

    latencies: list[float] = field(default_factory=list)
    server_rss_kib: int = 0
    worker_rss_kib: int = 0


async def _probe(call: grpc.aio.UnaryUnaryMultiCallable, request: object,
                 metadata: tuple[tuple[str, str], ...], pid: int, stop: asyncio.Event,
                 seconds: float | None = None) -> Probe:
    probe = Probe()
    deadline = None if seconds is None else time.perf_counter() + seconds
    while not stop.is_set() and (deadline is None or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        await call(request, metadata=metadata, timeout=30)
        probe.latencies.append(time.perf_counter() - t0)
        probe.server_rss_kib = max(probe.server_rss_kib, rss_kib(pid))
        for child in _children(pid):
            probe.worker_rss_kib = max(probe.worker_rss_kib, _vm_kib(child, "VmRSS"))
        await asyncio.sleep(PROBE_INTERVAL_S)
    return probe


async def _measure(replica: Replica, token: str, timeout_s: float, idle_s: float
                   ) -> list[Row]:
    from scout.v1 import research_pb2, research_pb2_grpc, session_pb2, session_pb2_grpc
    from scout_client import AsyncScoutClient
    from tests.support.hostile_docs import lying_docx, slow_pdf

    metadata = (("authorization", f"Bearer {token}"),)
    files = {"slow.pdf": slow_pdf(), "bomb.docx": lying_docx(inflated_mib=1024)}
    sessions: dict[str, str] = {}
    async with AsyncScoutClient(replica.address, token=token) as scout:
        for name, data in files.items():
            sessions[name] = (await scout.create_session()).session_id
            await scout.upload_file(sessions[name], data, file_name=name)
        probe_sid = (await scout.create_session()).session_id
    async with grpc.aio.insecure_channel(replica.address) as channel:
        get = session_pb2_grpc.SessionServiceStub(channel).GetSession
        start = research_pb2_grpc.ResearchServiceStub(channel).StartResearch
        request = session_pb2.GetSessionRequest(session_id=probe_sid)
        for _ in range(50):  # warm-up: connection, caches
            await get(request, metadata=metadata, timeout=30)
        idle_rss = replica.rss_kib()
        idle = await _probe(get, request, metadata, replica.pid, asyncio.Event(), idle_s)
        stop = asyncio.Event()
        busy_task = asyncio.create_task(_probe(get, request, metadata, replica.pid, stop))
        answers: dict[str, tuple[str, float]] = {}
        try:
            for name, sid in sessions.items():
                t0 = time.perf_counter()
                try:
                    await start(research_pb2.StartResearchRequest(session_id=sid),
                                metadata=metadata, timeout=120)
                    reason = "OK (a run started)"
                except grpc.aio.AioRpcError as exc:
                    reason = _reason(exc)
                answers[name] = (reason, time.perf_counter() - t0)
        finally:
            stop.set()
            busy = await busy_task
    peak = _vm_kib(replica.pid, "VmHWM")
    for name, expected in (("slow.pdf", "DOCUMENT_TOO_SLOW"), ("bomb.docx", "DOCUMENT_TOO_LARGE")):
        if answers[name][0] != expected:
            raise RuntimeError(f"{name}: StartResearch answered {answers[name][0]}, "
                               f"expected {expected}")
    idle_lat, busy_lat = Latency.of(idle.latencies), Latency.of(busy.latencies)
    slow_s, bomb_s = answers["slow.pdf"][1], answers["bomb.docx"][1]
    return [
        Row("GetSession p99 @1 while hostile files are read", busy_lat.p99 * 1000, "ms",
            idle_lat.p99 * 1000, "same replica idle", target=Target("<=", P99_BOUND_MS, "value"),
            section=SECTION,
            note=f"{busy_lat.n} calls every {PROBE_INTERVAL_S * 1000:.0f} ms (p50 "
                 f"{busy_lat.p50 * 1000:.1f} ms, idle {idle_lat.p50 * 1000:.1f} ms) while the "
                 f"slow PDF held a worker {slow_s:.1f} s, then the 1 GB .docx"),
        Row("server RSS peak above idle while hostile files are read",
            (peak - idle_rss) / 1024, "MiB", None, f"idle {idle_rss / 1024:.0f} MiB",
            target=Target("<=", RSS_BOUND_MIB, "value"), section=SECTION,
            note=f"VmHWM {peak / 1024:.0f} MiB; the worker peaked at "
                 f"{busy.worker_rss_kib / 1024:.0f} MiB (its limit: SCOUT_DOCUMENT_MEMORY_MB)"),
        Row("slow PDF: StartResearch answers DOCUMENT_TOO_SLOW", slow_s, "s", timeout_s,
            "SCOUT_DOCUMENT_TIMEOUT_S", target=Target("<=", ANSWER_RATIO), section=SECTION,
            note="pypdf needs minutes for its first page; the worker is killed at the limit"),
        Row("1 GB lying .docx: StartResearch answers DOCUMENT_TOO_LARGE", bomb_s, "s",
            section=SECTION, note="refused while inflating, in 64 KB steps, at 4 KB + 64 KB"),
    ]


def _reason(exc: grpc.aio.AioRpcError) -> str:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(exc)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info.reason
    return exc.code().name


def measure(endpoint: str, table: str, token: str, token_hashes: str, *, quick: bool,
            extra_env: dict[str, str] | None = None) -> list[Row]:
    """This phase's rows, on a replica of its own (stopped at the end)."""
    timeout_s = 2.0 if quick else 5.0
    replica = Replica(endpoint, table, token_hashes, {
        "SCOUT_RATE_LIMIT_RPS": "1000000", "SCOUT_RATE_LIMIT_BURST": "10000000",
        "SCOUT_RESUME_SCAN_INTERVAL_S": "3600",
        "SCOUT_DOCUMENT_TIMEOUT_S": f"{timeout_s:g}", "SCOUT_DOCUMENT_WORKERS": "1",
        **(extra_env or {}),
    }).start()
    try:
        time.sleep(0.5)
        return asyncio.run(_measure(replica, token, timeout_s, idle_s=1.0 if quick else 3.0))
    except Exception:
        if replica.child is not None:
            log("the replica's last lines:\n" + replica.child.tail(40))
        raise
    finally:
        replica.stop()


def main() -> None:
    """This phase alone, on its own embedded DynamoDB."""
    from scout_service.store import EmbeddedDynamo, create_table

    parser = argparse.ArgumentParser(prog="python -m bench.hostile_docs_bench")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    token = "bench-token-" + "0" * 20
    hashes = f"bench:{hashlib.sha256(token.encode()).hexdigest()}"
    table = f"scout-bench-{uuid.uuid4().hex[:8]}"
    with EmbeddedDynamo() as dynamo:
        from bench.floor import boto3_client

        create_table(boto3_client(dynamo.endpoint_url), table)
        print(format_table(measure(dynamo.endpoint_url, table, token, hashes, quick=args.quick)))


if __name__ == "__main__":
    main()
