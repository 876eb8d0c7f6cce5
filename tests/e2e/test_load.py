"""A bounded loopback load test of one replica (issue 4).

2,000 unary calls (GetSession on one session) are started at once over a
handful of grpc.aio channels, each with a 60 s deadline, against one real
replica whose rate limit is raised out of the way. Every call must succeed:
no CANCELLED (grpc's pending-call limits), no UNKNOWN or INTERNAL (the
server tripping over itself), no DEADLINE_EXCEEDED. The elapsed time is
printed, not asserted.
"""

from __future__ import annotations

import asyncio
import collections
import time
import urllib.request

import grpc
import grpc.aio
import pytest

from scout.v1 import session_pb2, session_pb2_grpc
from scout_client import ScoutClient
from tests.support.server import TOKENS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CALLS = 2000
CHANNELS = 8
DEADLINE_S = 60.0
TOKEN = TOKENS["alice"]


def get_session_ok_count(metrics_port: int) -> float:
    """scout_rpcs_total{method="GetSession",code="OK"} of the replica."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        for line in response.read().decode().splitlines():
            if (line.startswith("scout_rpcs_total{") and 'method="GetSession"' in line
                    and 'code="OK"' in line):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_burst_of_unary_calls_all_succeed(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server({"SCOUT_RATE_LIMIT_RPS": "1000000",
                           "SCOUT_RATE_LIMIT_BURST": "1000000"})
    with ScoutClient(server.address, token=TOKEN) as scout:
        sid = scout.create_session(labels={"test": "load"}).session_id
    ok_before = get_session_ok_count(server.metrics_port)

    async def burst() -> tuple[collections.Counter[str], float]:
        channels = [grpc.aio.insecure_channel(server.address) for _ in range(CHANNELS)]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(c.channel_ready() for c in channels)), 30)
            stubs = [session_pb2_grpc.SessionServiceStub(c) for c in channels]  # type: ignore[no-untyped-call]
            request = session_pb2.GetSessionRequest(session_id=sid)
            metadata = (("authorization", f"Bearer {TOKEN}"),)

            async def call(i: int) -> str:
                try:
                    response = await stubs[i % CHANNELS].GetSession(
                        request, timeout=DEADLINE_S, metadata=metadata)
                except grpc.aio.AioRpcError as error:
                    return f"{error.code().name}: {error.details()}"
                assert response.session.session_id == sid
                return "OK"

            started = time.monotonic()
            results = await asyncio.gather(*(call(i) for i in range(CALLS)))
            return collections.Counter(results), time.monotonic() - started
        finally:
            await asyncio.gather(*(c.close() for c in channels))

    outcomes, elapsed = asyncio.run(asyncio.wait_for(burst(), DEADLINE_S + 60))
    print(f"\n{CALLS} concurrent GetSession calls over {CHANNELS} channels: "
          f"{elapsed:.2f} s ({CALLS / elapsed:.0f} calls/s); outcomes {dict(outcomes)}")
    failures = {k: v for k, v in outcomes.items() if k != "OK"}
    assert not failures, failures
    assert outcomes["OK"] == CALLS
    # The server counted every one of them as answered OK.
    assert get_session_ok_count(server.metrics_port) - ok_before == CALLS
