"""Event delivery latency through real replicas: store append → client receipt.

A run executes on replica A; one stream follows it through A (fed
in-process) and one through replica B (which only sees the run through the
store, polling every ``SCOUT_PROGRESS_POLL_MS``). For every live event the
latency is the client's receipt time minus the event's ``create_time``
(stamped by the runner just before it appends the event). The floor is the
bare grpc.aio echo measured in the same run: one Publish to one subscriber,
publish call → receipt.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence

import grpc

from bench import echo
from bench.common import Replica, Row, percentile
from bench.floor import CHANNEL_OPTIONS

SECTION = "Progress fan-out"
TERMINAL = {7, 8, 9}  # RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED
HEARTBEAT = 10


async def _follow(address: str, token: str, session_id: str, run_id: str,
                  opened: float) -> list[float]:
    """Latencies (s) of the live events one stream receives."""
    from scout_client import AsyncScoutClient

    latencies: list[float] = []
    async with AsyncScoutClient(address, token=token) as scout:
        async for event in scout.stream_progress(session_id, run_id=run_id, heartbeats=True):
            received = time.time()
            if event.type == HEARTBEAT:
                continue
            created = event.create_time.ToNanoseconds() / 1e9
            if created >= opened:  # replayed events measure nothing about delivery
                latencies.append(received - created)
            if event.type in TERMINAL:
                return latencies
    return latencies


async def replicas(owner: Replica, other: Replica, token: str, plan: bytes,
                   runs: int) -> tuple[list[float], list[float]]:
    """Latencies through the run's own replica and through another one."""
    from scout_client import AsyncScoutClient

    own: list[float] = []
    remote: list[float] = []
    async with AsyncScoutClient(owner.address, token=token) as scout:
        for _ in range(runs):
            sid = (await scout.create_session()).session_id
            await scout.upload_file(sid, plan, file_name="plan.md")
            run = await scout.start_research(sid)
            opened = time.time()
            a, b = await asyncio.wait_for(asyncio.gather(
                _follow(owner.address, token, sid, run.run_id, opened),
                _follow(other.address, token, sid, run.run_id, opened),
            ), 300)
            own += a
            remote += b
    return own, remote


async def echo_floor(address: str, samples: int) -> list[float]:
    """Bare grpc.aio: one Publish → the one subscriber's receipt, ``samples`` times."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as chan:
        publish = chan.unary_unary(echo.PUBLISH)
        for _ in range(samples):
            call = chan.unary_stream(echo.SUBSCRIBE)(echo.topic_request(1, 200))
            await call.initial_metadata()
            started = time.perf_counter()
            reached = asyncio.ensure_future(publish(echo.topic_request(1, 200)))
            async for _ in call:
                latencies.append(time.perf_counter() - started)
            (count,) = struct.unpack("<I", await reached)
            assert count >= 1
    return latencies


def rows(own: Sequence[float], remote: Sequence[float], floor: Sequence[float],
         poll_ms: int) -> list[Row]:
    """p50/p99 rows of both paths against the echo floor."""
    out: list[Row] = []
    for name, values, note in (
        ("delivery latency, stream on the run's replica", own, "fed in-process by the runner"),
        ("delivery latency, stream on another replica", remote,
         f"follows the store, polling every {poll_ms} ms"),
    ):
        for q in (50, 99):
            out.append(Row(
                f"{name} p{q}", percentile(values, q) * 1000, "ms",
                percentile(floor, q) * 1000, "bare grpc.aio publish → subscriber receipt",
                section=SECTION, note=f"store append → client receipt, {len(values)} events; "
                                      + note))
    return out
