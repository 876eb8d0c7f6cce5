"""Access to Scout's table: the thread pool, error translation, paging.

``TableAccess`` is the base of ``DynamoStore``: it runs every boto3 call on a
bounded thread pool (never on the event loop), turns every botocore error
into a ``scout_service.errors`` exception (conditional-write failures into
``ConditionFailed`` / ``TransactionCancelled``, which the store interprets),
and holds the read helpers that drop expired items.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from scout_service.errors import Conflict, ScoutError, Unavailable, session_not_found
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._lean import READ_METHODS, LeanReads, register

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

R = TypeVar("R")
Item = dict[str, Any]

# Error codes that mean "try again later", after botocore's own retries.
UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "TransactionInProgressException",
        "LimitExceededException",
    }
)
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "AccessDeniedException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
        "IncompleteSignatureException",
    }
)
BATCH_WRITE_MAX = 25  # DynamoDB's BatchWriteItem limit


NamedItem = tuple[str, dict[str, Any]]
"""A transaction item with the name a cancellation reports it by ("session", "item", ...)."""


class TransactionCancelled(Conflict):
    """A cancelled transaction; ``codes[i]`` is the reason of item ``i``, named ``names[i]``."""

    def __init__(self, message: str, codes: list[str]) -> None:
        super().__init__(message)
        self.codes = codes
        self.names: list[str] = []  # set by ``TableAccess._transact``

    def failed(self, which: int | str) -> bool:
        """True when item ``which`` (a position, or any item of that name) failed its condition."""
        if isinstance(which, int):
            return which < len(self.codes) and self.codes[which] == "ConditionalCheckFailed"
        return any(name == which and self.failed(i) for i, name in enumerate(self.names))

    @property
    def failed_names(self) -> list[str]:
        """The names of the items whose condition failed, in transaction order."""
        return [name for i, name in enumerate(self.names) if self.failed(i)]

    @property
    def collided(self) -> bool:
        """True when it only met another in-flight transaction: just retry."""
        return "TransactionConflict" in self.codes and "ConditionalCheckFailed" not in self.codes


class ConditionFailed(Conflict):
    """A ConditionalCheckFailed; a Conflict if no caller interprets it."""


def make_client(
    *,
    region: str,
    endpoint_url: str | None = None,
    max_pool_connections: int = 16,
    connect_timeout: float = 3.0,
    read_timeout: float = 10.0,
    max_attempts: int = 5,
    aws_access_key_id: str | None = None,
    aws_secret_access_key: str | None = None,
    aws_session_token: str | None = None,
) -> DynamoDBClient:
    """The one low-level DynamoDB client a store uses, built from its own Session.

    Standard retry mode (with backoff) on throttling and 5xx; the connection
    pool matches the store's thread pool so no thread waits for a socket.
    The session is registered with the lean read path, which signs with its
    credentials.
    """
    session = boto3.session.Session(
        aws_access_key_id=aws_access_key_id,
        aws_secret_access_key=aws_secret_access_key,
        aws_session_token=aws_session_token,
        region_name=region,
    )
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        max_pool_connections=max_pool_connections,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tcp_keepalive=True,
    )
    client: DynamoDBClient = session.client("dynamodb", endpoint_url=endpoint_url, config=config)
    register(client, session)
    return client


class TableAccess:
    """The plumbing under ``DynamoStore`` (see module docstring)."""

    def __init__(
        self,
        client: DynamoDBClient,
        *,
        table_name: str,
        max_workers: int = 16,
        clock: Callable[[], float] = time.time,
        owns_client: bool = False,
        lean_reads: bool = True,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._owns_client = owns_client
        self._clock = clock
        self._max_workers = max_workers
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="scout-dynamodb")
        self._endpoint = client.meta.endpoint_url
        self._lean = LeanReads.for_client(client) if lean_reads else None

    async def _run(self, fn: Callable[..., R], **kwargs: Any) -> R:
        """Run one boto3 call on the pool, translating its errors.

        Requests are plain dicts built by ``_codec``; the typed client still
        types each response.
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, **kwargs))
        except ClientError as error:
            raise self._translate(error) from None
        except BotoCoreError as error:
            raise Unavailable(
                f"DynamoDB at {self._endpoint} cannot be reached: {error}",
                reason="STORE_UNAVAILABLE",
            ) from None

    @property
    def lean_read_counts(self) -> tuple[int, int]:
        """Reads the lean path answered and declined; (0, 0) when it is off."""
        if self._lean is None:
            return (0, 0)
        return (self._lean.answered, self._lean.declined)

    def _read_now(self, operation: str, request: dict[str, Any]) -> Any:
        """One read on the pool: the lean path (``_lean``), else the botocore client."""
        if self._lean is not None:
            answer = self._lean.read(operation, request)
            if answer is not None:
                return answer
        return getattr(self._client, READ_METHODS[operation])(**request)

    async def _read(self, operation: str, **request: Any) -> Any:
        """A GetItem, Query or BatchGetItem answer, shaped as botocore's (see ``_lean``)."""
        return await self._run(self._read_now, operation=operation, request=request)

    def _translate(self, error: ClientError) -> ScoutError:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        message = str(details.get("Message", ""))
        operation = error.operation_name
        if code == "ConditionalCheckFailedException":
            return ConditionFailed(f"{operation}: a concurrent change won the conditional write")
        if code == "TransactionCanceledException":
            reasons = error.response.get("CancellationReasons") or []
            codes = [str(r.get("Code", "None")) for r in reasons]
            if any(c in ("ThrottlingError", "ProvisionedThroughputExceeded") for c in codes):
                return Unavailable(f"DynamoDB is throttling {operation}; retry later")
            return TransactionCancelled(f"{operation} cancelled: {codes}", codes)
        if code == "TransactionConflictException":
            return Conflict(f"{operation} collided with a concurrent transaction; retry")
        if code == "ResourceNotFoundException":
            return Unavailable(
                f"DynamoDB table {self.table_name} not found: run `scout-service create-table`",
                reason="TABLE_NOT_FOUND",
            )
        if code in UNAVAILABLE_CODES:
            return Unavailable(f"DynamoDB {operation} failed ({code}); retry later")
        if code in CREDENTIAL_CODES:
            return Unavailable(
                f"DynamoDB refused the credentials ({code}): {message}",
                reason="STORE_ACCESS_DENIED",
            )
        logger.error(
            "unexpected DynamoDB error",
            extra={"operation": operation, "code": code, "error_message": message},
        )
        return ScoutError(f"DynamoDB {operation} failed ({code}): {message}", reason="STORE_ERROR")

    def _key(self, session_id: str, sk: str) -> Item:
        return codec.key(session_id, sk)

    async def _get(
        self, session_id: str, sk: str, attributes: Sequence[str] | None = None
    ) -> Item | None:
        """A live item by key (strongly consistent), or None."""
        kwargs: dict[str, Any] = {}
        if attributes is not None:
            kwargs.update(projection(attributes))
        response = await self._read(
            "GetItem",
            TableName=self.table_name,
            Key=self._key(session_id, sk),
            ConsistentRead=True,
            **kwargs,
        )
        item: Item | None = response.get("Item")
        if item is None or not rules.is_live(codec.ttl_of(item), self._clock()):
            return None
        return item

    async def _batch_get(
        self, wanted: Sequence[tuple[str, str]], attributes: Sequence[str]
    ) -> dict[tuple[str, str], Item]:
        """Items (live or not) of up to 100 keys in one round trip.

        Unprocessed keys are retried with backoff. Callers check liveness:
        the version a blob replaces matters even when it already expired.
        """
        request: dict[str, Any] = {
            self.table_name: {
                "Keys": [self._key(pk, sk) for pk, sk in wanted],
                "ConsistentRead": True,
                **projection(("session_id", "sk", *attributes)),
            }
        }
        found: dict[tuple[str, str], Item] = {}
        for attempt in range(8):
            response = await self._read("BatchGetItem", RequestItems=request)
            for item in response.get("Responses", {}).get(self.table_name, []):
                found[(item["session_id"]["S"], item["sk"]["S"])] = item
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
            await backoff(attempt)
        else:
            raise Unavailable("DynamoDB kept throttling a BatchGetItem; retry later")
        return found

    async def _query_pages(
        self, *, limit: int | None = None, **kwargs: Any
    ) -> AsyncIterator[tuple[list[Item], Item | None]]:
        """Query pages (items, LastEvaluatedKey) until ``limit`` items were evaluated."""
        start: Item | None = kwargs.pop("ExclusiveStartKey", None)
        evaluated = 0
        while True:
            request = dict(kwargs)
            if start is not None:
                request["ExclusiveStartKey"] = start
            if limit is not None:
                request["Limit"] = limit - evaluated
            response = await self._read("Query", TableName=self.table_name, **request)
            items: list[Item] = list(response.get("Items", []))
            evaluated += int(response.get("ScannedCount", len(items)))
            start = response.get("LastEvaluatedKey")
            yield items, start
            if start is None or (limit is not None and evaluated >= limit):
                return

    async def _list_page(
        self,
        *,
        listing: str,
        scope: str,
        page_size: int,
        page_token: str | None,
        query: dict[str, Any],
    ) -> tuple[list[Item], str | None]:
        """One page of live items of a listing, with the token for the next one."""
        start: Item | None = None
        if page_token:
            start = codec.attr_key(keys.decode_token(page_token, listing, scope))
        live: list[Item] = []
        last: Item | None = None
        # Expired items are filtered out after Limit counted them, so keep
        # querying until the page is full or the listing ends.
        while len(live) < page_size:
            now = self._clock()
            request = with_live_filter(query, now)
            if start is not None:
                request["ExclusiveStartKey"] = start
            request["Limit"] = page_size - len(live)
            response = await self._read("Query", TableName=self.table_name, **request)
            live.extend(i for i in response.get("Items", []) if rules.is_live(codec.ttl_of(i), now))
            last = start = response.get("LastEvaluatedKey")
            if start is None:
                break
        token = None
        if last is not None:
            token = keys.encode_token(listing, scope, codec.plain_key(last))
        return live, token

    async def _fan_out(self, calls: Sequence[Callable[[], Awaitable[None]]]) -> None:
        """Run many small calls concurrently, at most ``max_workers`` at a time."""
        limit = asyncio.Semaphore(self._max_workers)

        async def bounded(call: Callable[[], Awaitable[None]]) -> None:
            async with limit:
                await call()

        await asyncio.gather(*(bounded(call) for call in calls))

    async def _batch_delete(self, item_keys: Sequence[Item]) -> None:
        """Delete keys 25 at a time, retrying unprocessed ones with backoff."""
        for start in range(0, len(item_keys), BATCH_WRITE_MAX):
            pending: list[dict[str, Any]] = [
                {"DeleteRequest": {"Key": k}} for k in item_keys[start : start + BATCH_WRITE_MAX]
            ]
            for attempt in range(10):
                response = await self._run(
                    self._client.batch_write_item, RequestItems={self.table_name: pending}
                )
                unprocessed: Any = response.get("UnprocessedItems", {})
                pending = list(unprocessed.get(self.table_name, []))
                if not pending:
                    break
                await backoff(attempt)
            else:
                raise Unavailable(f"DynamoDB left {len(pending)} deletes unprocessed")

    async def _delete_quietly(self, item_keys: Sequence[Item], what: str, **log: str) -> None:
        """Best-effort cleanup (orphans still expire with the session)."""
        if not item_keys:
            return
        try:
            await self._batch_delete(item_keys)
        except ScoutError as error:
            logger.warning("could not delete %s", what, extra={**log, "error": error.message})

    async def _item_keys(self, session_id: str) -> list[Item]:
        """Key and ttl of every item in a session's partition."""
        found: list[Item] = []
        async for items, _ in self._query_pages(
            KeyConditionExpression="session_id = :sid",
            ExpressionAttributeValues={":sid": codec.s(session_id)},
            ProjectionExpression="session_id, sk, #ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ConsistentRead=True,
        ):
            found.extend(items)
        return found

    async def _set_ttl(self, item_key: Item, ttl: int) -> None:
        """Move one item's ttl, unless it was deleted meanwhile (no resurrection)."""
        try:
            await self._run(
                self._client.update_item,
                TableName=self.table_name,
                Key=item_key,
                UpdateExpression="SET #ttl = :ttl",
                ConditionExpression="attribute_exists(sk)",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":ttl": codec.n(ttl)},
            )
        except ConditionFailed:
            pass

    async def _get_raw(self, session_id: str, sk: str, attributes: Sequence[str]) -> Item | None:
        """An item whether expired or not (to learn which version to replace)."""
        response = await self._read(
            "GetItem",
            TableName=self.table_name,
            Key=self._key(session_id, sk),
            ConsistentRead=True,
            **projection(attributes),
        )
        item: Item | None = response.get("Item")
        return item

    async def _live_ttl(self, session_id: str) -> int:
        """The ttl of a live session; ``NotFound`` otherwise."""
        item = await self._get(session_id, keys.SESSION_SK, ("ttl",))
        if item is None:
            raise session_not_found(session_id)
        return codec.get_i(item, "ttl")

    async def _transact(self, items: Sequence[NamedItem]) -> None:
        """One TransactWriteItems of named items; a cancellation names the items that failed."""
        try:
            await self._run(self._client.transact_write_items,
                            TransactItems=[item for _, item in items])
        except TransactionCancelled as cancelled:
            cancelled.names = [name for name, _ in items]
            raise

    def _session_check(self, session_id: str, ttl: int) -> dict[str, Any]:
        """A transaction item: the session exists, is live and still has ``ttl``."""
        return {
            "ConditionCheck": {
                "TableName": self.table_name,
                "Key": self._key(session_id, keys.SESSION_SK),
                "ConditionExpression": "attribute_exists(sk) AND #ttl = :ttl AND #ttl > :now",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": {
                    ":ttl": codec.n(ttl),
                    ":now": codec.n(self._clock()),
                },
            }
        }

    async def close(self) -> None:
        """Stop the thread pool (and close the client if this store built it)."""
        await asyncio.to_thread(self._executor.shutdown, True)
        if self._lean is not None:
            self._lean.close()
        if self._owns_client:
            self._client.close()


def projection(attributes: Sequence[str]) -> dict[str, Any]:
    """A ProjectionExpression with every name aliased (many are reserved words)."""
    names = {f"#p{i}": attr for i, attr in enumerate(attributes)}
    return {
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }


def prefix_query(session_id: str, prefix: str, attributes: Sequence[str] | None) -> dict[str, Any]:
    query: dict[str, Any] = {
        "KeyConditionExpression": "session_id = :sid AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":sid": codec.s(session_id), ":prefix": codec.s(prefix)},
        "ConsistentRead": True,
    }
    if attributes is not None:
        query.update(projection(attributes))
    return query


def with_live_filter(query: dict[str, Any], now: float) -> dict[str, Any]:
    """The query plus a server-side ``#ttl > now`` filter (less data on the wire)."""
    request = dict(query)
    names = dict(request.get("ExpressionAttributeNames", {}))
    names["#live_ttl"] = "ttl"
    values = dict(request.get("ExpressionAttributeValues", {}))
    values[":live_now"] = codec.n(now)
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = values
    request["FilterExpression"] = "#live_ttl > :live_now"
    return request


async def backoff(attempt: int) -> None:
    """Exponential backoff with full jitter, capped at ~2 s."""
    await asyncio.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
