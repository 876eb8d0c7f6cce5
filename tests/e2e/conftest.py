"""Fixtures that start real ``scout-service`` processes on the test DynamoDB."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.server import ServerProcess


@pytest.fixture
def start_server(dynamodb_endpoint: str) -> Iterator[Callable[..., ServerProcess]]:
    """Factory: start replicas on one fresh table; all are stopped at the end."""
    started: list[ServerProcess] = []
    table = f"scout-e2e-{uuid.uuid4().hex[:10]}"

    def start(extra_env: dict[str, str] | None = None, table_name: str | None = None
              ) -> ServerProcess:
        server = ServerProcess(dynamodb_endpoint, table_name or table, extra_env).start()
        started.append(server)
        return server

    yield start
    for server in started:
        try:
            server.stop(timeout=20)
        except Exception:  # noqa: BLE001 - teardown must stop the others too
            server.kill()


@pytest.fixture(scope="module")
def shared_server(dynamodb_endpoint: str) -> Iterator[ServerProcess]:
    """One replica shared by a module's tests (offline model, small delay)."""
    server = ServerProcess(
        dynamodb_endpoint, f"scout-e2e-{uuid.uuid4().hex[:10]}",
        {"SCOUT_OFFLINE_DELAY_MS": "1"},
    ).start()
    yield server
    try:
        server.stop(timeout=20)
    except Exception:  # noqa: BLE001
        server.kill()
