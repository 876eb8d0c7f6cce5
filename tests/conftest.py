"""Shared fixtures: a controllable clock, a real DynamoDB HTTP endpoint, stores.

- Coroutine tests run on asyncio through anyio's pytest plugin: mark them
  (or the module: ``pytestmark = pytest.mark.anyio``); ``anyio_backend``
  below pins the backend to asyncio.
- ``dynamodb_endpoint`` starts moto's DynamoDB server as a subprocess on a
  free loopback port once per test session (``EmbeddedDynamo``); clients get
  fake credentials and a region explicitly, nothing comes from the env.
- ``dynamo_table`` is a fresh, uniquely named table per test, so tests never
  see each other's data.
- ``store`` runs a test against both ``MemoryStore`` and ``DynamoStore``.
"""

from __future__ import annotations

import os

# gRPC's fork handlers can deadlock a test process that forks server children
# (grpc/grpc#37259); the tests never need gRPC in a forked child. Set before
# grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

import functools  # noqa: E402
import time  # noqa: E402
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from scout_service.store import (
    DynamoStore,
    EmbeddedDynamo,
    MemoryStore,
    Store,
    StoreLimits,
    create_table,
    make_client,
)

REGION = "us-east-1"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Only asyncio: grpc.aio and the service run on it."""
    return "asyncio"


class FakeClock:
    """A clock that tests move by hand (``clock.advance(seconds)``)."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven clock starting at the real current time."""
    return FakeClock()


@pytest.fixture
def store_limits() -> StoreLimits:
    """Small limits so limit and chunking tests stay fast."""
    return StoreLimits(
        max_file_bytes=2 * 1024 * 1024,
        max_report_bytes=512 * 1024,
        chunk_bytes=100_000,
        max_ttl_seconds=7 * 24 * 3600,
    )


# -- DynamoDB ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """URL of moto's DynamoDB server, running for the whole test session."""
    with EmbeddedDynamo() as embedded:
        yield embedded.endpoint_url


def _make_client(endpoint_url: str, **config: Any) -> Any:
    return make_client(
        region=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **config,
    )


@pytest.fixture(scope="session")
def dynamo_client_factory(dynamodb_endpoint: str) -> Callable[..., Any]:
    """Build more clients for the endpoint (``make_client`` options as kwargs)."""
    return functools.partial(_make_client, dynamodb_endpoint)


@pytest.fixture(scope="session")
def dynamo_client(dynamodb_endpoint: str) -> Any:
    """One client shared by the session's tests (boto3 clients are thread-safe)."""
    return _make_client(dynamodb_endpoint)


@pytest.fixture
def dynamo_table(dynamo_client: Any) -> Iterator[str]:
    """A fresh table with Scout's layout, deleted after the test."""
    name = f"scout-test-{uuid.uuid4().hex[:12]}"
    create_table(dynamo_client, name)
    yield name
    dynamo_client.delete_table(TableName=name)


@pytest.fixture(params=["memory", "dynamodb"])
async def store(
    request: pytest.FixtureRequest, clock: FakeClock, store_limits: StoreLimits
) -> AsyncIterator[Store]:
    """Each implementation in turn, on the hand-driven clock."""
    if request.param == "memory":
        yield MemoryStore(limits=store_limits, clock=clock)
        return
    client = request.getfixturevalue("dynamo_client")
    table = request.getfixturevalue("dynamo_table")
    dynamo = DynamoStore(client, table_name=table, limits=store_limits, clock=clock, max_workers=8)
    yield dynamo
    await dynamo.close()
