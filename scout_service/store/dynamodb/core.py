"""``DynamoBase``: what every part of ``DynamoStore`` stands on.

The client and its bounded thread pool (from ``TableAccess``), the limits,
the health probe with a client and a thread of its own, the table's
creation and check, and the bookkeeping that lets ``close()`` wait for
uploads still cleaning up. The entity modules beside it (sessions, files,
reports, research, runs) are mixins over this class.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Self

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from scout_service.errors import Unavailable
from scout_service.store import _keys as keys
from scout_service.store._access import TableAccess, logger, make_client
from scout_service.store.base import Store, StoreLimits
from scout_service.store.table import DEFAULT_TABLE_NAME, check_table, create_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


# How often a write re-reads and retries after losing a race it can resolve.
WRITE_ATTEMPTS = 5

# Read timeout of a health probe (one attempt, no retries).
PROBE_TIMEOUT_S = 2.0
# How long ``close()`` waits for uploads still running (and their cleanup):
# on shutdown the server cancels them, and their chunks must be deleted
# before the pools stop, or they would lie in the table until the session
# expires.
UPLOADS_DRAIN_S = 10.0


class DynamoBase(TableAccess, Store):
    """The client, pools, limits, probe and table admin shared by every entity mixin."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        limits: StoreLimits | None = None,
        max_workers: int = 16,
        clock: Callable[[], float] = time.time,
        owns_client: bool = False,
        lean_reads: bool = True,
    ) -> None:
        super().__init__(
            client,
            lean_reads=lean_reads,
            table_name=table_name,
            max_workers=max_workers,
            clock=clock,
            owns_client=owns_client,
        )
        self.limits = limits or StoreLimits()
        self._inline_max = min(keys.INLINE_MAX_BYTES, self.limits.chunk_bytes)
        # Health probes get a client and a thread of their own, with one short
        # attempt: a hung store must turn health NOT_SERVING within seconds,
        # and hung probes must not take threads from real calls.
        self._probe_client = client
        self._probe_executor = ThreadPoolExecutor(1, thread_name_prefix="scout-store-probe")
        # One future per put_file still running or cleaning up (``close`` waits).
        self._uploads: set[asyncio.Future[None]] = set()

    @classmethod
    def from_config(
        cls,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        region: str,
        endpoint_url: str | None = None,
        limits: StoreLimits | None = None,
        max_workers: int = 16,
        clock: Callable[[], float] = time.time,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        max_attempts: int = 5,
        lean_reads: bool = True,
    ) -> Self:
        """A store with its own client (closed by ``close()``)."""
        client = make_client(
            region=region,
            endpoint_url=endpoint_url,
            max_pool_connections=max_workers,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
        )
        store = cls(
            client,
            table_name=table_name,
            limits=limits,
            max_workers=max_workers,
            clock=clock,
            owns_client=True,
            lean_reads=lean_reads,
        )
        store._probe_client = make_client(
            region=region,
            endpoint_url=endpoint_url,
            max_pool_connections=1,
            connect_timeout=1.0,
            read_timeout=PROBE_TIMEOUT_S,
            max_attempts=1,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
        )
        return store

    def _upload_started(self) -> asyncio.Future[None]:
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._uploads.add(ended)
        ended.add_done_callback(self._uploads.discard)
        return ended

    @staticmethod
    def _upload_ends(ended: asyncio.Future[None], cleanup: asyncio.Future[None] | None) -> None:
        """Mark an upload over, once its cleanup (if it has one) has finished."""
        def over(_: object = None) -> None:
            if not ended.done():
                ended.set_result(None)

        if cleanup is None or cleanup.done():
            over()
        else:
            cleanup.add_done_callback(over)

    async def _drain_uploads(self) -> None:
        """Let running uploads end and delete their chunks before the pools stop.

        On shutdown the server has cancelled their calls; each then deletes
        the chunks it wrote. Bounded: what is still running after
        ``UPLOADS_DRAIN_S`` is left to expire with its session.
        """
        if not self._uploads:
            return
        _, pending = await asyncio.wait(set(self._uploads), timeout=UPLOADS_DRAIN_S)
        if pending:
            logger.warning("closing with %d uploads still running; their chunks expire "
                           "with their sessions", len(pending))

    # -- life -------------------------------------------------------------------------

    async def ping(self) -> None:
        """One cheap data-plane read (a GetItem of a key that never exists), bounded in time."""
        loop = asyncio.get_running_loop()
        call = functools.partial(
            self._probe_client.get_item,
            TableName=self.table_name,
            Key=self._key("PING", "PING"),
            ProjectionExpression="sk",
        )
        try:
            await asyncio.wait_for(
                loop.run_in_executor(self._probe_executor, call), PROBE_TIMEOUT_S + 1
            )
        except TimeoutError:
            raise Unavailable(
                f"the store did not answer a probe within {PROBE_TIMEOUT_S + 1:g} s",
                reason="STORE_UNAVAILABLE",
            ) from None
        except ClientError as error:
            raise self._translate(error) from None
        except BotoCoreError as error:
            raise Unavailable(f"DynamoDB at {self._endpoint} cannot be reached: {error}",
                              reason="STORE_UNAVAILABLE") from None

    async def close(self) -> None:
        """Let uploads clean up, then stop the pools and close the clients this store built."""
        await self._drain_uploads()
        self._probe_executor.shutdown(wait=False, cancel_futures=True)
        if self._probe_client is not self._client:
            self._probe_client.close()
        await super().close()

    async def create_table(self) -> bool:
        """``create_table`` on the pool (idempotent); True when it was created."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, create_table, self._client, self.table_name
        )

    async def check(self) -> None:
        """``check_table`` on the pool: refuse a missing or wrongly shaped table."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, check_table, self._client, self.table_name)
