"""Behind a load balancer: a replica with a maximum connection age sends clients away.

After ``SCOUT_MAX_CONNECTION_AGE_S`` the server sends GOAWAY; the client's
channel drops to IDLE and its next call opens a new connection (which a
balancer may route to another replica). Calls keep working throughout.
"""

from __future__ import annotations

import threading

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.server import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_an_old_connection_is_sent_away_and_calls_go_on(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server({"SCOUT_MAX_CONNECTION_AGE_S": "1",
                           "SCOUT_MAX_CONNECTION_AGE_GRACE_S": "5"})
    states: list[grpc.ChannelConnectivity] = []
    seen = threading.Lock()

    def note(state: grpc.ChannelConnectivity) -> None:
        with seen:
            states.append(state)

    with grpc.insecure_channel(server.address) as channel:
        channel.subscribe(note, try_to_connect=False)
        health = health_pb2_grpc.HealthStub(channel)
        check = health_pb2.HealthCheckRequest()
        assert health.Check(check, timeout=10).status == health_pb2.HealthCheckResponse.SERVING

        def sent_away() -> bool:
            with seen:
                ready = [i for i, s in enumerate(states) if s == grpc.ChannelConnectivity.READY]
                return bool(ready) and grpc.ChannelConnectivity.IDLE in states[ready[0]:]

        assert wait_for(sent_away, timeout=10)
        assert health.Check(check, timeout=10).status == health_pb2.HealthCheckResponse.SERVING
        channel.unsubscribe(note)
