"""``DynamoStore``: the Store on one DynamoDB table (layout in ``_keys``/``_codec``).

Every boto3 call runs on a bounded thread pool (never on the event loop) and
every botocore error is translated into ``scout_service.errors`` — both in
the base class, ``_access.TableAccess``. The rules this module keeps:

- Expired means gone: each read drops items whose ``ttl <= now`` in code
  (DynamoDB removes them lazily, days later).
- Things created inside a session are written in a transaction that checks
  the SESSION item is live and still has the ttl the child copies, so
  nothing lands in a dead session and children expire with their session.
- Blobs of any size: chunks first, the metadata item last (a reader never
  sees a partial blob), a fresh ``blob_id`` per version (versions never mix),
  the replaced version's chunks deleted afterwards — except a report's: each
  report version has its own REPORTV# item beside the latest (REPORT#), and
  its chunks go only when the version bound prunes it.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
import uuid
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from scout_service import errors
from scout_service.domain import (
    FileInfo,
    Findings,
    Page,
    ProgressEvent,
    Question,
    Report,
    ReportKind,
    ReportSource,
    Run,
    Session,
    Source,
)
from scout_service.errors import (
    Conflict,
    NotFound,
    ScoutError,
    Unavailable,
    session_not_found,
)
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import (
    ConditionFailed,
    Item,
    TableAccess,
    TransactionCancelled,
    backoff,
    logger,
    make_client,
    prefix_query,
    projection,
    with_live_filter,
)
from scout_service.store.base import Store, StoreLimits, every_item
from scout_service.store.table import DEFAULT_TABLE_NAME, GSI_NAME, check_table, create_table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoStore", "make_client"]

# How often a write re-reads and retries after losing a race it can resolve.
WRITE_ATTEMPTS = 5
# What an upload reads first: the session's ttl and file counters, the old version's blob.
_FILE_REF = (*codec.BLOB_REF, "size", codec.FILE_COUNT, codec.FILE_BYTES)
# Read timeout of a health probe (one attempt, no retries).
PROBE_TIMEOUT_S = 2.0
# Chunk writes of one upload that run while its next pieces are received
# (memory: this many chunks plus the re-cut buffer). Measured on 10 MB: 2 is
# ~20% faster than writing one at a time; 3 or 4 gain nothing more.
UPLOAD_WRITES_IN_FLIGHT = 2
# How long ``close()`` waits for uploads still running (and their cleanup):
# on shutdown the server cancels them, and their chunks must be deleted
# before the pools stop, or they would lie in the table until the session
# expires.
UPLOADS_DRAIN_S = 10.0


@dataclass(frozen=True)
class _FileUsage:
    """A session's files: how many, their bytes, and whether its item counts them yet."""

    held: int
    used: int
    counted: bool

    def room(self, limits: StoreLimits, replacing: Item | None) -> int:
        """Bytes a file replacing ``replacing`` (``None``: a new name) may have."""
        size = codec.get_i(replacing, "size", 0) if replacing is not None else None
        return limits.file_room(held=self.held, used=self.used, replaced=size)


class _ChunkWrites:
    """A blob's chunk writes, started in chunk order, at most ``limit`` running at once.

    A failed write surfaces (its own ScoutError) at the next ``wait_for_room``
    or ``wait_all``. Writes are never cancelled: a put already on the thread
    pool lands anyway, so after any failure ``settle`` waits until none runs,
    and only then may cleanup delete the chunks.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._running: list[asyncio.Task[object]] = []

    def start(self, write: Coroutine[Any, Any, object]) -> None:
        """Run ``write`` in the background (call ``wait_for_room`` first)."""
        self._running.append(asyncio.create_task(write))

    async def wait_for_room(self) -> None:
        """Return once another write may start; raises a failed write's error."""
        await self._until_fewer_than(self._limit)

    async def wait_all(self) -> None:
        """Return once every write succeeded; raises the first failure's error."""
        await self._until_fewer_than(1)

    async def settle(self) -> None:
        """Wait, whatever their outcome, until no write runs (never raises)."""
        if self._running:
            await asyncio.wait(self._running)  # does not cancel them
        for task in self._running:
            if not task.cancelled():
                task.exception()  # retrieved: the caller is raising its own error
        self._running.clear()

    async def _until_fewer_than(self, count: int) -> None:
        self._raise_failure()
        while len(self._running) >= count:
            await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
            self._raise_failure()

    def _raise_failure(self) -> None:
        """Drop succeeded writes; raise the first failed one's error (kept for ``settle``)."""
        for task in self._running:
            if task.done() and (task.cancelled() or task.exception() is not None):
                task.result()
        self._running = [task for task in self._running if not task.done()]


class DynamoStore(TableAccess, Store):
    """The Store on one DynamoDB table (see module docstring)."""

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
    ) -> DynamoStore:
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

    # -- sessions ---------------------------------------------------------------------

    async def create_session(
        self,
        *,
        owner: str,
        ttl_seconds: int,
        labels: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Session:
        """See ``Store.create_session``."""
        for attempt in range(WRITE_ATTEMPTS):
            now = self._clock()
            session = rules.new_session(owner, ttl_seconds, labels, now)
            if request_id is None:
                await self._run(
                    self._client.put_item,
                    TableName=self.table_name,
                    Item=codec.session_item(session),
                    ConditionExpression="attribute_not_exists(sk)",
                )
                return session
            idem_pk, idem_sk = keys.create_idem_key(owner, request_id)
            try:
                await self._run(
                    self._client.transact_write_items,
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": codec.session_item(session, idem=(idem_pk, idem_sk)),
                                "ConditionExpression": "attribute_not_exists(sk)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": {
                                    **codec.key(idem_pk, idem_sk),
                                    "target": codec.s(session.session_id),
                                    "ttl": codec.n(session.expires_at),
                                },
                                # An expired record is as good as none.
                                "ConditionExpression": "attribute_not_exists(sk) OR #ttl <= :now",
                                "ExpressionAttributeNames": {"#ttl": "ttl"},
                                "ExpressionAttributeValues": {":now": codec.n(now)},
                            }
                        },
                    ],
                )
                return session
            except TransactionCancelled as cancelled:
                if cancelled.collided:
                    await backoff(attempt)
                    continue
                if not cancelled.failed(1):
                    raise
            # The request id is taken: return its session if that is still live.
            record = await self._get(idem_pk, idem_sk)
            if record is None:
                continue  # it expired meanwhile
            target = codec.get_s(record, "target")
            item = await self._get(target, keys.SESSION_SK)
            if item is not None:
                return codec.session_from(item)
            # A leftover record of a deleted session: drop it.
            await self._drop_create_record(idem_pk, idem_sk, target)
        raise Conflict("CreateSession lost too many races on its request id; retry")

    async def _drop_create_record(self, idem_pk: str, idem_sk: str, session_id: str) -> None:
        """Delete a CreateSession idempotency record if it still points at the session.

        Conditional, because the request id may already name a newer session.
        """
        try:
            await self._run(
                self._client.delete_item,
                TableName=self.table_name,
                Key=codec.key(idem_pk, idem_sk),
                ConditionExpression="target = :target",
                ExpressionAttributeValues={":target": codec.s(session_id)},
            )
        except ConditionFailed:
            pass

    async def get_session(self, session_id: str) -> Session:
        """See ``Store.get_session``."""
        item = await self._get(session_id, keys.SESSION_SK)
        if item is None:
            raise session_not_found(session_id)
        return codec.session_from(item)

    async def list_sessions(
        self, owner: str | None, *, page_size: int, page_token: str | None = None
    ) -> Page[Session]:
        """See ``Store.list_sessions``.

        One owner: a query of the owner's GSI partition, newest first. All
        owners (operators only): a full scan sorted in memory — fine for an
        admin listing, not for a hot path.
        """
        if owner is None:
            return await self._list_all_sessions(page_size, page_token)
        items, token = await self._list_page(
            listing=keys.LIST_SESSIONS,
            scope=owner,
            page_size=page_size,
            page_token=page_token,
            query={
                "IndexName": GSI_NAME,
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": {":pk": codec.s(keys.owner_pk(owner))},
                "ScanIndexForward": False,
            },
        )
        return Page(items=[codec.session_from(i) for i in items], next_token=token)

    async def _list_all_sessions(self, page_size: int, page_token: str | None) -> Page[Session]:
        cursor = None
        if page_token:
            cursor = keys.decode_token(page_token, keys.LIST_ALL_SESSIONS, "*")["gsi1sk"]
        now = self._clock()
        rows: list[Item] = []
        start: Item | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "FilterExpression": "sk = :sk AND #ttl > :now",
                "ExpressionAttributeNames": {"#ttl": "ttl"},
                "ExpressionAttributeValues": {
                    ":sk": codec.s(keys.SESSION_SK),
                    ":now": codec.n(now),
                },
                "ConsistentRead": True,
            }
            if start is not None:
                request["ExclusiveStartKey"] = start
            response = await self._run(self._client.scan, **request)
            rows.extend(
                i
                for i in response.get("Items", [])
                if rules.is_live(codec.ttl_of(i), now)
                and (cursor is None or codec.get_s(i, "gsi1sk") < cursor)
            )
            start = response.get("LastEvaluatedKey")
            if start is None:
                break
        rows.sort(key=lambda i: codec.get_s(i, "gsi1sk"), reverse=True)
        page = rows[:page_size]
        token = None
        if len(rows) > page_size:
            token = keys.encode_token(
                keys.LIST_ALL_SESSIONS, "*", {"gsi1sk": codec.get_s(page[-1], "gsi1sk")}
            )
        return Page(items=[codec.session_from(i) for i in page], next_token=token)

    async def extend_session(self, session_id: str, ttl_seconds: int) -> Session:
        """See ``Store.extend_session``.

        Children first, the SESSION item last: until the session itself moves
        nothing outlives it. A second sweep after that catches children that
        a concurrent writer created with the old ttl in between.
        """
        await self._live_ttl(session_id)
        new_ttl = rules.expiry(self._clock(), ttl_seconds)
        children = [
            {"session_id": i["session_id"], "sk": i["sk"]}
            for i in await self._item_keys(session_id)
            if i["sk"]["S"] != keys.SESSION_SK
        ]
        await self._fan_out(
            [functools.partial(self._set_ttl, child, new_ttl) for child in children]
        )
        try:
            response = await self._run(
                self._client.update_item,
                TableName=self.table_name,
                Key=self._key(session_id, keys.SESSION_SK),
                UpdateExpression="SET #ttl = :ttl",
                ConditionExpression="attribute_exists(sk) AND #ttl > :now",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":ttl": codec.n(new_ttl),
                    ":now": codec.n(self._clock()),
                },
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            raise session_not_found(session_id) from None
        item: Item = response["Attributes"]
        idem_pk, idem_sk = codec.opt_s(item, "idem_pk"), codec.opt_s(item, "idem_sk")
        if idem_pk is not None and idem_sk is not None:
            await self._set_ttl(codec.key(idem_pk, idem_sk), new_ttl)
        late = [
            {"session_id": i["session_id"], "sk": i["sk"]}
            for i in await self._item_keys(session_id)
            if codec.ttl_of(i) != new_ttl
        ]
        await self._fan_out([functools.partial(self._set_ttl, k, new_ttl) for k in late])
        return codec.session_from(item)

    async def delete_session(self, session_id: str) -> None:
        """See ``Store.delete_session``.

        The SESSION item goes first (conditional on being live), so the
        session is gone at once; the rest is batch-deleted after it.
        """
        try:
            response = await self._run(
                self._client.delete_item,
                TableName=self.table_name,
                Key=self._key(session_id, keys.SESSION_SK),
                ConditionExpression="attribute_exists(sk) AND #ttl > :now",
                ExpressionAttributeNames={"#ttl": "ttl"},
                ExpressionAttributeValues={":now": codec.n(self._clock())},
                ReturnValues="ALL_OLD",
            )
        except ConditionFailed:
            raise session_not_found(session_id) from None
        old: Item = response.get("Attributes", {})
        idem_pk, idem_sk = codec.opt_s(old, "idem_pk"), codec.opt_s(old, "idem_sk")
        if idem_pk is not None and idem_sk is not None:
            await self._drop_create_record(idem_pk, idem_sk, session_id)
        children = [
            {"session_id": i["session_id"], "sk": i["sk"]}
            for i in await self._item_keys(session_id)
        ]
        try:
            await self._batch_delete(children)
        except ScoutError as error:
            # The session already reads as gone; leftovers expire with its ttl.
            logger.error(
                "session deleted but some of its items were not",
                extra={"session_id": session_id, "error": error.message},
            )

    # -- blobs ------------------------------------------------------------------------

    def _chunk_write(
        self, session_id: str, blob_id: str, written: list[Item], data: bytes, ttl: int
    ) -> Coroutine[Any, Any, object]:
        """The write of a blob's next chunk; notes its key at once, for cleanup."""
        chunk_key = self._key(session_id, keys.blob_sk(blob_id, len(written)))
        written.append(chunk_key)  # before the write: a timed-out put may still land
        return self._run(
            self._client.put_item,
            TableName=self.table_name,
            Item={**chunk_key, "data": codec.b(data), "ttl": codec.n(ttl)},
        )

    def _chunk_keys(self, session_id: str, blob_id: str, count: int) -> list[Item]:
        return [self._key(session_id, keys.blob_sk(blob_id, i)) for i in range(count)]

    async def _read_chunks(
        self, session_id: str, blob_id: str, count: int, what: str
    ) -> AsyncIterator[bytes]:
        """The chunks of one blob version in order; fails loudly on any gap."""
        expected = 0
        async for items, _ in self._query_pages(
            KeyConditionExpression="session_id = :sid AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":sid": codec.s(session_id),
                ":first": codec.s(keys.blob_sk(blob_id, 0)),
                ":last": codec.s(keys.blob_sk(blob_id, max(0, count - 1))),
            },
            ConsistentRead=True,
        ):
            now = self._clock()
            for item in items:
                if not rules.is_live(codec.ttl_of(item), now):
                    raise NotFound(f"{what} expired while being read")
                if item["sk"]["S"] != keys.blob_sk(blob_id, expected):
                    raise errors.blob_replaced(what)
                expected += 1
                yield bytes(item["data"]["B"])
        if expected != count:
            raise errors.blob_replaced(what)

    async def _commit_blob(
        self,
        session_id: str,
        sk: str,
        build: Callable[[int, Item | None], Item],
        old: Item | None,
        ttl: int,
        *,
        chunks: Sequence[Item],
        extra: Callable[[int, Item | None], list[dict[str, Any]]] = lambda _ttl, _old: [],
        guard: Callable[[int, Item | None], dict[str, Any]] | None = None,
        refused: Callable[[Item | None], Awaitable[None]] | None = None,
        ref: Sequence[str] = codec.BLOB_REF,
    ) -> tuple[Item | None, int]:
        """Write a blob's metadata item (chunks already written) and return the old one.

        The Put is conditional on the version it replaces, so two concurrent
        replacements each learn which version they superseded (and delete its
        chunks, none leak). If the session's ttl moved meanwhile, the new
        chunks follow it and the commit is retried.

        ``build(ttl, old)`` is the new metadata item and ``extra(ttl, old)``
        the transaction's further items, given the version being replaced.
        ``guard(ttl, old)`` is the transaction's session item (default: the
        session is live with ``ttl``); when it fails with the ttl unchanged,
        ``refused(old)`` raises what it refused, or returns to retry. ``ref``:
        the attributes of ``old`` to read again after a concurrent replace.
        """
        for attempt in range(WRITE_ATTEMPTS):
            item = build(ttl, old)
            more = extra(ttl, old)
            session_item = (guard(ttl, old) if guard is not None
                            else self._session_check(session_id, ttl))
            if old is None:
                condition: dict[str, Any] = {
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            else:
                condition = {
                    "ConditionExpression": "version_id = :old",
                    "ExpressionAttributeValues": {":old": old["version_id"]},
                }
            try:
                await self._run(
                    self._client.transact_write_items,
                    TransactItems=[
                        session_item,
                        {"Put": {"TableName": self.table_name, "Item": item, **condition}},
                        *more,
                    ],
                )
                return old, ttl
            except TransactionCancelled as cancelled:
                if cancelled.collided:
                    await backoff(attempt)
                    continue
                if cancelled.failed(1):
                    old = await self._get_raw(session_id, sk, ref)
                if cancelled.failed(0):
                    new_ttl = await self._live_ttl(session_id)  # NotFound when gone
                    if new_ttl != ttl:
                        ttl = new_ttl
                        await self._fan_out(
                            [functools.partial(self._set_ttl, k, ttl) for k in chunks]
                        )
                    elif refused is not None:
                        await refused(old)
                if any(cancelled.failed(i) for i in range(2, 2 + len(more))):
                    raise
                if not cancelled.failed(0) and not cancelled.failed(1):
                    raise
        raise Conflict(f"{sk} keeps changing concurrently; retry")

    async def _discard_unless_committed(
        self,
        session_id: str,
        sk: str,
        blob_id: str,
        written: list[Item],
        commit: asyncio.Future[tuple[Item | None, int]] | None,
        what: str,
        landed: Callable[[Item | None], Awaitable[None]] | None = None,
    ) -> None:
        """After a failed or cancelled blob write: delete its chunks only if surely unused.

        A commit whose outcome is unknown (the caller gave up, or the reply was
        lost and the retries failed) may have landed: deleting its chunks then
        would leave a listed file that can never be read. So wait for an
        in-flight commit, then ask the metadata item which blob it points at;
        when that cannot be known, keep the chunks (they expire with the
        session) rather than risk the data. ``landed(old)`` is what a commit
        that landed after all does next (default: drop the replaced version).
        """
        if not written:
            return
        if commit is not None:
            try:
                old, _ = await commit
            except BaseException:  # noqa: BLE001 - its outcome is checked below
                pass
            else:  # it landed after all: the new version is live, drop the one it replaced
                if landed is not None:
                    await landed(old)
                else:
                    await self._drop_old_version(session_id, old, what)
                return
            try:
                meta = await self._get_raw(session_id, sk, codec.BLOB_REF)
            except ScoutError:
                logger.warning("keeping chunks of %s: cannot tell whether its commit landed",
                               what, extra={"session_id": session_id})
                return
            if meta is not None and meta.get("blob_id", {}).get("S") == blob_id:
                return
        await self._delete_quietly(written, f"chunks of {what}", session_id=session_id)

    async def _drop_old_version(self, session_id: str, old: Item | None, what: str) -> None:
        """After a replace: delete the superseded version's chunks (best effort)."""
        if old is None or "blob_id" not in old:
            return
        blob_id = codec.get_s(old, "blob_id")
        count = codec.get_i(old, "chunk_count")
        await self._delete_quietly(
            self._chunk_keys(session_id, blob_id, count),
            f"old chunks of {what}",
            session_id=session_id,
            blob_id=blob_id,
        )

    # -- files ------------------------------------------------------------------------

    async def put_file(
        self,
        session_id: str,
        name: str,
        content_type: str,
        chunks: AsyncIterable[bytes],
        *,
        declared_size: int | None = None,
    ) -> FileInfo:
        """See ``Store.put_file``.

        Incoming pieces of any size are re-cut into ``chunk_bytes`` chunks and
        written as they fill, up to ``UPLOAD_WRITES_IN_FLIGHT`` writes running
        while the next pieces arrive (memory: that many chunks plus one being
        filled); a blob that ends up small is written inline instead. All
        writes have succeeded before the commit, and none runs any more when
        cleanup starts.
        """
        sk = keys.file_sk(name)
        found = await self._batch_get(
            [(session_id, keys.SESSION_SK), (session_id, sk)], _FILE_REF
        )
        session = found.get((session_id, keys.SESSION_SK))
        if session is None or not rules.is_live(codec.ttl_of(session), self._clock()):
            raise session_not_found(session_id)
        ttl = codec.get_i(session, "ttl")
        old = found.get((session_id, sk))
        usage = await self._file_usage(session_id, session)
        room = usage.room(self.limits, old)
        if declared_size is not None:
            self.limits.check_file_size(name, declared_size, room)

        blob_id = uuid.uuid4().hex
        commit: asyncio.Future[tuple[Item | None, int]] | None = None
        cleanup: asyncio.Future[None] | None = None
        ended = self._upload_started()
        digest = hashlib.sha256()
        buffer = bytearray()
        size = 0
        written: list[Item] = []
        writes = _ChunkWrites(UPLOAD_WRITES_IN_FLIGHT)
        step = self.limits.chunk_bytes
        try:
            async for piece in chunks:
                size += len(piece)
                self.limits.check_file_size(name, size, room)
                digest.update(piece)
                buffer += piece
                # Past the inline size the blob is chunked: flush full chunks.
                while size > self._inline_max and len(buffer) >= step:
                    await writes.wait_for_room()
                    writes.start(self._chunk_write(
                        session_id, blob_id, written, bytes(buffer[:step]), ttl))
                    del buffer[:step]
            inline = size <= self._inline_max
            if not inline and buffer:
                await writes.wait_for_room()
                writes.start(self._chunk_write(session_id, blob_id, written, bytes(buffer), ttl))
            await writes.wait_all()
            info = rules.new_file(session_id, name, content_type, size, digest.hexdigest(),
                                  self._clock())
            count = len(written)

            def build(item_ttl: int, _replacing: Item | None) -> Item:
                return {
                    **self._key(session_id, sk),
                    "content_type": codec.s(content_type),
                    "size": codec.n(info.size),
                    "sha256": codec.s(info.sha256),
                    "created_at": codec.n(info.created_at),
                    "ttl": codec.n(item_ttl),
                    **codec.blob_fields(
                        uuid.uuid4().hex if inline else blob_id,
                        bytes(buffer) if inline else None,
                        None if inline else blob_id,
                        count,
                    ),
                }

            def counted(item_ttl: int, replacing: Item | None) -> dict[str, Any]:
                return self._count_file(session_id, item_ttl, usage, replacing, size)

            async def refused(replacing: Item | None) -> None:
                # The session's files changed since it was read: read them
                # again, and refuse this one if it no longer fits.
                nonlocal usage
                fresh = await self._get(session_id, keys.SESSION_SK, _FILE_REF)
                if fresh is None:
                    raise session_not_found(session_id)
                usage = await self._file_usage(session_id, fresh)
                if size > usage.room(self.limits, replacing):
                    raise errors.session_too_large(self.limits.max_session_bytes)

            commit = asyncio.ensure_future(self._commit_blob(
                session_id, sk, build, old, ttl, chunks=written,
                guard=counted, refused=refused, ref=_FILE_REF,
            ))
            old, _ = await asyncio.shield(commit)
        except BaseException:

            async def clean_up() -> None:
                await writes.settle()  # so no chunk lands after its cleanup
                await self._discard_unless_committed(
                    session_id, sk, blob_id, written, commit, f"file {name!r}")

            cleanup = asyncio.ensure_future(clean_up())
            await asyncio.shield(cleanup)
            raise
        finally:
            # A cancelled caller stops waiting for its cleanup; close() does not.
            self._upload_ends(ended, cleanup)
        await self._drop_old_version(session_id, old, f"file {name!r}")
        return info

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

    async def _file_usage(self, session_id: str, session: Item) -> _FileUsage:
        """How many files the session holds and their bytes, from its counters.

        A session created before the counters existed is counted once from
        its listing; its first commit then stores the counters.
        """
        if codec.FILE_COUNT in session:
            return _FileUsage(codec.get_i(session, codec.FILE_COUNT),
                              codec.get_i(session, codec.FILE_BYTES), counted=True)
        held = used = 0
        async for info in every_item(
            lambda token: self.list_files(session_id, page_size=1000, page_token=token)
        ):
            held, used = held + 1, used + info.size
        return _FileUsage(held, used, counted=False)

    def _count_file(self, session_id: str, ttl: int, usage: _FileUsage,
                    replacing: Item | None, size: int) -> dict[str, Any]:
        """The commit's session item: live with ``ttl``, room for the file, and it counted.

        The room is checked by DynamoDB against the counters as they are when
        the transaction applies, so concurrent uploads cannot together pass
        a limit each of them alone respects.
        """
        added = 0 if replacing is not None else 1
        grown = size - (codec.get_i(replacing, "size", 0) if replacing is not None else 0)
        values: dict[str, Any] = {":ttl": codec.n(ttl), ":now": codec.n(self._clock())}
        condition = "attribute_exists(sk) AND #ttl = :ttl AND #ttl > :now"
        if usage.counted:
            update = "SET #count = #count + :added, #bytes = #bytes + :grown"
            condition += " AND #count <= :count_room AND #bytes <= :bytes_room"
            values.update({
                ":added": codec.n(added), ":grown": codec.n(grown),
                ":count_room": codec.n(self.limits.max_files_per_session - added),
                ":bytes_room": codec.n(self.limits.max_session_bytes - grown),
            })
        else:  # the first commit since counters exist: store them, once
            update = "SET #count = :count, #bytes = :bytes"
            condition += " AND attribute_not_exists(#count)"
            values.update({":count": codec.n(usage.held + added),
                           ":bytes": codec.n(usage.used + grown)})
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": self._key(session_id, keys.SESSION_SK),
                "UpdateExpression": update,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {
                    "#ttl": "ttl", "#count": codec.FILE_COUNT, "#bytes": codec.FILE_BYTES,
                },
                "ExpressionAttributeValues": values,
            }
        }

    async def get_file(self, session_id: str, name: str) -> FileInfo:
        """See ``Store.get_file``."""
        item = await self._get(session_id, keys.file_sk(name), codec.FILE_META)
        if item is None:
            raise errors.file_not_found(session_id, name)
        return codec.file_from(session_id, item)

    async def open_file(self, session_id: str, name: str) -> tuple[FileInfo, AsyncIterator[bytes]]:
        """See ``Store.open_file``."""
        item = await self._get(session_id, keys.file_sk(name))
        if item is None:
            raise errors.file_not_found(session_id, name)
        info = codec.file_from(session_id, item)
        if "data" in item:
            data = bytes(item["data"]["B"])
            step = self.limits.chunk_bytes

            async def inline() -> AsyncIterator[bytes]:
                for start in range(0, len(data), step):
                    yield data[start : start + step]

            return info, inline()
        blob_id = codec.get_s(item, "blob_id")
        count = codec.get_i(item, "chunk_count")
        return info, self._read_chunks(session_id, blob_id, count, f"file {name!r}")

    async def list_files(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[FileInfo]:
        """See ``Store.list_files``."""
        items, token = await self._list_page(
            listing=keys.LIST_FILES,
            scope=session_id,
            page_size=page_size,
            page_token=page_token,
            query=prefix_query(session_id, keys.FILE_PREFIX, codec.FILE_META),
        )
        return Page(items=[codec.file_from(session_id, i) for i in items], next_token=token)

    # -- reports ----------------------------------------------------------------------

    async def put_report(
        self,
        session_id: str,
        kind: ReportKind,
        content: str,
        *,
        source: ReportSource,
        author: str,
        run_id: str | None = None,
        request_id: str | None = None,
        cited: Sequence[str] = (),
        sources_run_id: str | None = None,
    ) -> Report:
        """See ``Store.put_report``."""
        raw = content.encode("utf-8")
        self.limits.check_report(kind, raw)
        sk = keys.report_sk(kind.value)
        wanted = [(session_id, keys.SESSION_SK), (session_id, sk)]
        idem = keys.idem_sk(keys.OP_PUT_REPORT, request_id) if request_id is not None else None
        if idem is not None:
            wanted.append((session_id, idem))
        found = await self._batch_get(wanted, (*codec.BLOB_REF, *codec.REPORT_META))
        now = self._clock()
        session = found.get((session_id, keys.SESSION_SK))
        if session is None or not rules.is_live(codec.ttl_of(session), now):
            raise session_not_found(session_id)
        record = found.get((session_id, idem)) if idem is not None else None
        if record is not None and rules.is_live(codec.ttl_of(record), now):
            return codec.report_from(session_id, kind, record, None)
        ttl = codec.get_i(session, "ttl")
        old = found.get((session_id, sk))

        report = rules.new_report(
            session_id, kind, raw, source=source, author=author, run_id=run_id,
            cited=cited, sources_run_id=sources_run_id, now=self._clock(),
        )
        inline = len(raw) <= self._inline_max
        blob_id = uuid.uuid4().hex
        written: list[Item] = []
        # A report stored before versions existed (REPORT# without a version)
        # is kept as version 1: its whole item is copied to REPORTV# in the commit.
        legacy = (await self._get(session_id, sk)
                  if old is not None and "version" not in old else None)
        kept_legacy = [False]

        def versioned(replacing: Item | None) -> Report:
            # The next version of the one replaced (re-read after a lost race).
            after = None if replacing is None else codec.get_i(replacing, "version", 1)
            return replace(report, version=rules.next_version(after))

        def body(item_sk: str, item_ttl: int, replacing: Item | None) -> Item:
            return {
                **self._key(session_id, item_sk),
                **codec.report_fields(versioned(replacing)),
                "ttl": codec.n(item_ttl),
                **codec.blob_fields(
                    uuid.uuid4().hex if inline else blob_id,
                    raw if inline else None,
                    None if inline else blob_id,
                    len(written),
                ),
            }

        def build(item_ttl: int, replacing: Item | None) -> Item:
            return body(sk, item_ttl, replacing)

        def more(item_ttl: int, replacing: Item | None) -> list[dict[str, Any]]:
            # The latest version is written twice: as REPORT# (one GetItem
            # reads the latest) and as its REPORTV# item, which stays when a
            # later save replaces REPORT#. Both share the blob's chunks. No
            # condition needed: REPORT#'s own makes each version number unique.
            number = versioned(replacing).version
            items: list[dict[str, Any]] = [{"Put": {
                "TableName": self.table_name,
                "Item": body(keys.report_version_sk(kind.value, number), item_ttl, replacing),
            }}]
            kept_legacy[0] = (legacy is not None and replacing is not None
                              and "version" not in replacing
                              and replacing.get("version_id") == legacy.get("version_id"))
            if kept_legacy[0]:
                assert legacy is not None
                items.append({"Put": {"TableName": self.table_name, "Item": {
                    **legacy, **self._key(session_id, keys.report_version_sk(kind.value, 1)),
                    "version": codec.n(1), "ttl": codec.n(item_ttl)}}})
            if idem is not None:
                items.append({
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {**self._key(session_id, idem),
                                 **codec.report_fields(versioned(replacing)),
                                 "ttl": codec.n(item_ttl)},
                        # An expired record is as good as none.
                        "ConditionExpression": "attribute_not_exists(sk) OR #ttl <= :now",
                        "ExpressionAttributeNames": {"#ttl": "ttl"},
                        "ExpressionAttributeValues": {":now": codec.n(self._clock())},
                    }
                })
            return items

        async def after_commit(replaced: Item | None) -> None:
            if replaced is not None and "version" not in replaced and not kept_legacy[0]:
                # Stored before versions existed and not kept: nothing else uses its chunks.
                await self._drop_old_version(session_id, replaced, kind.value)
            await self._prune_versions(session_id, kind, versioned(replaced).version)

        commit: asyncio.Future[tuple[Item | None, int]] | None = None
        try:
            if not inline:
                step = self.limits.chunk_bytes
                for start in range(0, len(raw), step):
                    await self._chunk_write(
                        session_id, blob_id, written, raw[start : start + step], ttl
                    )
            commit = asyncio.ensure_future(self._commit_blob(
                session_id, sk, build, old, ttl, chunks=written, extra=more,
                ref=(*codec.BLOB_REF, "version"),
            ))
            old, _ = await asyncio.shield(commit)
        except TransactionCancelled as cancelled:  # definitive: the commit did not happen
            await self._delete_quietly(written, "chunks of a report", session_id=session_id)
            if idem is not None and cancelled.failed(3 + kept_legacy[0]):
                # A concurrent retry with the same request id won: its result.
                record = await self._get(session_id, idem)
                if record is not None:
                    return codec.report_from(session_id, kind, record, None)
            raise
        except BaseException:
            await asyncio.shield(self._discard_unless_committed(
                session_id, sk, blob_id, written, commit, kind.value, landed=after_commit))
            raise
        await after_commit(old)
        return versioned(old)

    async def _prune_versions(self, session_id: str, kind: ReportKind, latest: int) -> None:
        """Delete the versions (and their chunks) the version bound no longer keeps.

        Best effort, like the cleanup of a replaced file: what stays expires
        with the session. Every version up to the bound's edge is looked for,
        so one missed cleanup is caught by the next save.
        """
        oldest_kept = latest - self.limits.max_report_versions + 1
        if oldest_kept <= 1:
            return
        query = {
            "KeyConditionExpression": "session_id = :sid AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":sid": codec.s(session_id),
                ":first": codec.s(keys.report_version_sk(kind.value, 0)),
                ":last": codec.s(keys.report_version_sk(kind.value, oldest_kept - 1)),
            },
            **projection(("sk", "blob_id", "chunk_count")),
        }
        try:
            doomed = [i async for page, _ in self._query_pages(**query) for i in page]
        except ScoutError as error:
            logger.warning("could not prune old report versions: %s", error.message,
                           extra={"session_id": session_id})
            return
        chunk_keys = [
            k for i in doomed if "blob_id" in i
            for k in self._chunk_keys(session_id, codec.get_s(i, "blob_id"),
                                      codec.get_i(i, "chunk_count"))
        ]
        # The version items first: a reader then finds no version rather than
        # one whose chunks are gone.
        await self._delete_quietly([self._key(session_id, i["sk"]["S"]) for i in doomed],
                                   f"old versions of {kind.value}", session_id=session_id)
        await self._delete_quietly(chunk_keys, f"chunks of old versions of {kind.value}",
                                   session_id=session_id)

    async def get_report(
        self, session_id: str, kind: ReportKind, version: int | None = None
    ) -> Report:
        """See ``Store.get_report``: one GetItem for a report stored inline.

        The latest version is REPORT#; an explicit one is its REPORTV# item
        (a miss reads which versions exist, for the error).
        """
        if version is None:
            item = await self._get(session_id, keys.report_sk(kind.value))
            if item is None:
                raise errors.report_not_found(kind.title, session_id)
            return await self._report_of(session_id, kind, item)
        item = await self._get(session_id, keys.report_version_sk(kind.value, version))
        if item is not None:
            return await self._report_of(session_id, kind, item)
        stored = [r.version async for r in every_item(lambda token: self.list_report_versions(
            session_id, kind, page_size=1000, page_token=token))]
        if not stored:
            raise errors.report_not_found(kind.title, session_id)
        if version in stored:  # a report stored before versions existed (REPORT# only)
            latest = await self.get_report(session_id, kind)
            if latest.version == version:
                return latest
        raise errors.version_not_found(kind.title, session_id, version, stored)

    async def _report_of(self, session_id: str, kind: ReportKind, item: Item) -> Report:
        """The report of a REPORT# or REPORTV# item, its content read inline or from chunks."""
        if "data" in item:
            raw = bytes(item["data"]["B"])
        else:
            parts = self._read_chunks(
                session_id,
                codec.get_s(item, "blob_id"),
                codec.get_i(item, "chunk_count"),
                kind.title,
            )
            raw = b"".join([part async for part in parts])
        return codec.report_from(session_id, kind, item, raw.decode("utf-8"))

    async def list_report_versions(
        self, session_id: str, kind: ReportKind, *, page_size: int,
        page_token: str | None = None,
    ) -> Page[Report]:
        """See ``Store.list_report_versions``: one Query of the kind's REPORTV# items."""
        query = prefix_query(session_id, keys.report_versions_prefix(kind.value),
                             codec.REPORT_META)
        query["ScanIndexForward"] = False
        items, token = await self._list_page(
            listing=keys.LIST_REPORT_VERSIONS,
            scope=keys.report_versions_scope(session_id, kind.value),
            page_size=page_size,
            page_token=page_token,
            query=query,
        )
        if not items and not page_token:
            # A report stored before versions existed has no REPORTV# item yet.
            legacy = await self._get(session_id, keys.report_sk(kind.value), codec.REPORT_META)
            items = [legacy] if legacy is not None and "version" not in legacy else []
        return Page(items=[codec.report_from(session_id, kind, i, None) for i in items],
                    next_token=token)

    async def list_reports(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Report]:
        """See ``Store.list_reports``."""
        items, token = await self._list_page(
            listing=keys.LIST_REPORTS,
            scope=session_id,
            page_size=page_size,
            page_token=page_token,
            query=prefix_query(session_id, keys.REPORT_PREFIX, codec.REPORT_META),
        )
        return Page(
            items=[
                codec.report_from(session_id, codec.report_kind_of(i["sk"]["S"]), i, None)
                for i in items
            ],
            next_token=token,
        )

    # -- sources ----------------------------------------------------------------------

    async def put_sources(self, sources: Sequence[Source]) -> None:
        """See ``Store.put_sources``: one transaction, each id written only if absent.

        The session's ttl is read first (sources expire with it) and checked
        in the same transaction, so no source outlives a session that is
        deleted or extended meanwhile.
        """
        if not sources:
            return
        rules.check_source_batch(sources)
        sid, run_id = sources[0].session_id, sources[0].run_id
        ttl = await self._live_ttl(sid)
        items: list[dict[str, Any]] = [self._session_check(sid, ttl)]
        items += [
            {"Put": {"TableName": self.table_name, "Item": codec.source_item(source, ttl),
                     "ConditionExpression": "attribute_not_exists(sk)"}}
            for source in sources
        ]
        try:
            await self._run(self._client.transact_write_items, TransactItems=items)
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise session_not_found(sid) from None
            taken = [s.source_id for i, s in enumerate(sources, start=1) if cancelled.failed(i)]
            if taken:
                raise errors.source_exists(run_id, taken) from None
            raise

    async def list_sources(
        self, session_id: str, run_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Source]:
        """See ``Store.list_sources``."""
        items, token = await self._list_page(
            listing=keys.LIST_SOURCES,
            scope=keys.sources_scope(session_id, run_id),
            page_size=page_size,
            page_token=page_token,
            query=prefix_query(session_id, keys.source_prefix(run_id), None),
        )
        return Page(items=[codec.source_from(i) for i in items], next_token=token)

    # -- questions ------------------------------------------------------------------

    async def put_question(self, question: Question) -> Question:
        """See ``Store.put_question``: one transaction checking the session's ttl.

        With a ``request_id``, the idempotency record is written in the same
        transaction, only if absent; a lost race returns the stored winner
        (``ALL_OLD`` of the record).
        """
        sid = question.session_id
        ttl = await self._live_ttl(sid)
        fields = codec.question_fields(question)
        items: list[dict[str, Any]] = [
            self._session_check(sid, ttl),
            {"Put": {"TableName": self.table_name,
                     "ConditionExpression": "attribute_not_exists(sk)",
                     "Item": {**self._key(sid, keys.question_sk(question.question_id)), **fields,
                              "ttl": codec.n(ttl)}}},
        ]
        if question.request_id is not None:
            items.append({"Put": {
                "TableName": self.table_name,
                "Item": {**self._key(sid, keys.idem_sk(keys.OP_ASK_QUESTION, question.request_id)),
                         **fields, "ttl": codec.n(ttl)},
                "ConditionExpression": "attribute_not_exists(sk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }})
        try:
            await self._run(self._client.transact_write_items, TransactItems=items)
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise session_not_found(sid) from None
            if question.request_id is not None and cancelled.failed(2):
                winner = await self.find_question(sid, question.request_id)
                if winner is not None:
                    return winner
            raise
        return question

    async def find_question(self, session_id: str, request_id: str) -> Question | None:
        """See ``Store.find_question``: one GetItem of the idempotency record."""
        item = await self._get(session_id, keys.idem_sk(keys.OP_ASK_QUESTION, request_id))
        if item is None or not rules.is_live(codec.ttl_of(item), self._clock()):
            return None
        return codec.question_from(session_id, item)

    async def list_questions(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Question]:
        """See ``Store.list_questions``."""
        await self.get_session(session_id)
        items, token = await self._list_page(
            listing=keys.LIST_QUESTIONS, scope=session_id, page_size=page_size,
            page_token=page_token,
            query=prefix_query(session_id, keys.QUESTION_PREFIX, None),
        )
        return Page(items=[codec.question_from(session_id, i) for i in items], next_token=token)

    # -- findings -------------------------------------------------------------------

    async def put_findings(self, findings: Findings) -> None:
        """See ``Store.put_findings``: one put, conditional on the session's ttl.

        The session's ttl is read first (findings expire with it) and checked
        in the same transaction, as for sources.
        """
        sid = findings.session_id
        ttl = await self._live_ttl(sid)
        items = [
            self._session_check(sid, ttl),
            {"Put": {"TableName": self.table_name, "Item": codec.findings_item(findings, ttl)}},
        ]
        try:
            await self._run(self._client.transact_write_items, TransactItems=items)
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise session_not_found(sid) from None
            raise

    async def list_findings(self, session_id: str) -> list[Findings]:
        """See ``Store.list_findings``: one Query (five small items at most)."""
        now = self._clock()
        query = with_live_filter(prefix_query(session_id, keys.FINDINGS_PREFIX, None), now)

        async def items() -> list[Item]:
            return [i async for page, _ in self._query_pages(**query) for i in page
                    if rules.is_live(codec.ttl_of(i), now)]

        _, found_items = await asyncio.gather(self.get_session(session_id), items())
        found = {f.kind: f for f in map(codec.findings_from, found_items)}
        return [found[kind] for kind in ReportKind if kind in found]

    # -- runs -------------------------------------------------------------------------

    async def create_run(self, run: Run) -> Run:
        """See ``Store.create_run``.

        One transaction claims the session's active-run slot (a conditional
        update of SESSION), creates the RUN item and records the request id.
        """
        sid = run.session_id
        idem = (
            keys.idem_sk(keys.OP_START_RESEARCH, run.request_id)
            if run.request_id is not None
            else None
        )
        stored = rules.first_version(run)
        for attempt in range(WRITE_ATTEMPTS):
            wanted = [(sid, keys.SESSION_SK)] + ([(sid, idem)] if idem is not None else [])
            found = await self._batch_get(wanted, ("ttl", "active_run_id", "target"))
            now = self._clock()
            session = found.get((sid, keys.SESSION_SK))
            if session is None or not rules.is_live(codec.ttl_of(session), now):
                raise session_not_found(sid)
            record = found.get((sid, idem)) if idem is not None else None
            if record is not None and rules.is_live(codec.ttl_of(record), now):
                return await self.get_run(sid, codec.get_s(record, "target"))
            rules.check_run_slot(sid, codec.opt_s(session, "active_run_id"))
            ttl = codec.get_i(session, "ttl")
            claim = "SET latest_run_id = :rid" + (
                ", active_run_id = :rid" if rules.claims_slot(run) else ""
            )
            items: list[dict[str, Any]] = [
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": self._key(sid, keys.SESSION_SK),
                        "UpdateExpression": claim,
                        "ConditionExpression": (
                            "attribute_exists(sk) AND #ttl = :ttl AND #ttl > :now"
                            " AND attribute_not_exists(active_run_id)"
                        ),
                        "ExpressionAttributeNames": {"#ttl": "ttl"},
                        "ExpressionAttributeValues": {
                            ":rid": codec.s(run.run_id),
                            ":ttl": codec.n(ttl),
                            ":now": codec.n(now),
                        },
                    }
                },
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            **self._key(sid, keys.run_sk(run.run_id)),
                            **codec.run_fields(run, version=1),
                            "ttl": codec.n(ttl),
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
            ]
            if idem is not None:
                items.append(
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                **self._key(sid, idem),
                                "target": codec.s(run.run_id),
                                "ttl": codec.n(ttl),
                            },
                            "ConditionExpression": "attribute_not_exists(sk) OR #ttl <= :now",
                            "ExpressionAttributeNames": {"#ttl": "ttl"},
                            "ExpressionAttributeValues": {":now": codec.n(now)},
                        }
                    }
                )
            try:
                await self._run(self._client.transact_write_items, TransactItems=items)
                return stored
            except TransactionCancelled as cancelled:
                if cancelled.collided:
                    await backoff(attempt)
                    continue
                if cancelled.failed(1):
                    raise errors.run_exists(sid, run.run_id) from None
                if not (cancelled.failed(0) or cancelled.failed(2)):
                    raise
                # Lost a race (or the ttl moved): re-read and decide again.
        raise Conflict(f"starting a run in session {sid} kept racing; retry")

    async def get_run(self, session_id: str, run_id: str) -> Run:
        """See ``Store.get_run``."""
        item = await self._get(session_id, keys.run_sk(run_id))
        if item is None:
            raise errors.run_not_found(session_id, run_id)
        return codec.run_from(item)

    async def list_runs(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Run]:
        """See ``Store.list_runs``: run ids are time-ordered, so newest first."""
        query = prefix_query(session_id, keys.RUN_PREFIX, None)
        query["ScanIndexForward"] = False
        items, token = await self._list_page(
            listing=keys.LIST_RUNS,
            scope=session_id,
            page_size=page_size,
            page_token=page_token,
            query=query,
        )
        return Page(items=[codec.run_from(i) for i in items], next_token=token)

    def _run_update(self, run: Run) -> dict[str, Any]:
        """An Update of a RUN item conditional on the caller's version."""
        fields = codec.run_fields(run, version=run.version + 1)
        names: dict[str, str] = {"#ttl": "ttl", "#version": "version"}
        values: dict[str, Any] = {
            ":expected": codec.n(run.version),
            ":now": codec.n(self._clock()),
        }
        sets = []
        for index, (attr, value) in enumerate(fields.items()):
            names[f"#a{index}"] = attr
            values[f":v{index}"] = value
            sets.append(f"#a{index} = :v{index}")
        removes = [a for a in (*codec.RUN_OPTIONAL, "gsi1pk", "gsi1sk") if a not in fields]
        for index, attr in enumerate(removes):
            names[f"#r{index}"] = attr
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        return {
            "TableName": self.table_name,
            "Key": self._key(run.session_id, keys.run_sk(run.run_id)),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(sk) AND #version = :expected AND #ttl > :now",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    async def update_run(self, run: Run) -> Run:
        """See ``Store.update_run``.

        A terminal state also releases the session's active-run slot in the
        same transaction (if this run holds it).
        """
        update = self._run_update(run)
        try:
            if run.state.is_terminal:
                try:
                    await self._run(
                        self._client.transact_write_items,
                        TransactItems=[
                            {"Update": update},
                            {
                                "Update": {
                                    "TableName": self.table_name,
                                    "Key": self._key(run.session_id, keys.SESSION_SK),
                                    "UpdateExpression": "REMOVE active_run_id",
                                    "ConditionExpression": (
                                        "attribute_exists(sk) AND active_run_id = :rid"
                                    ),
                                    "ExpressionAttributeValues": {":rid": codec.s(run.run_id)},
                                }
                            },
                        ],
                    )
                    return rules.updated(run)
                except TransactionCancelled as cancelled:
                    if cancelled.failed(0) or not cancelled.failed(1):
                        raise
                    # The slot is not this run's: just write the run.
            await self._run(self._client.update_item, **update)
        except (ConditionFailed, TransactionCancelled):
            if await self._get(run.session_id, keys.run_sk(run.run_id), ("ttl",)) is None:
                raise errors.run_not_found(run.session_id, run.run_id) from None
            raise errors.run_version_conflict(run.run_id, run.version) from None
        return rules.updated(run)

    async def list_resumable_runs(self, *, lease_expired_before: float, limit: int) -> list[Run]:
        """See ``Store.list_resumable_runs``: one query of the ACTIVE_RUNS index partition."""
        runs: list[Run] = []
        if limit <= 0:
            return runs
        async for items, _ in self._query_pages(
            IndexName=GSI_NAME,
            KeyConditionExpression="gsi1pk = :pk AND gsi1sk < :cutoff",
            ExpressionAttributeValues={
                ":pk": codec.s(keys.ACTIVE_RUNS),
                ":cutoff": codec.s(keys.millis(lease_expired_before)),
            },
            ScanIndexForward=True,
        ):
            now = self._clock()
            for item in items:
                if rules.is_live(codec.ttl_of(item), now):
                    run = codec.run_from(item)
                    if not run.state.is_terminal:
                        runs.append(run)
                        if len(runs) >= limit:
                            return runs
        return runs

    # -- events -----------------------------------------------------------------------

    async def append_event(self, event: ProgressEvent) -> None:
        """See ``Store.append_event``."""
        rules.check_sequence(event.sequence)
        ttl = await self._live_ttl(event.session_id)
        try:
            await self._run(
                self._client.put_item,
                TableName=self.table_name,
                Item=codec.event_item(event, ttl),
                ConditionExpression="attribute_not_exists(sk)",
            )
        except ConditionFailed:
            raise errors.event_exists(event.run_id, event.sequence) from None

    async def read_events(
        self, session_id: str, run_id: str, *, after_sequence: int, limit: int = 1000
    ) -> list[ProgressEvent]:
        """See ``Store.read_events``: follows LastEvaluatedKey past 1 MB pages."""
        first = max(0, after_sequence) + 1
        if limit <= 0 or first > keys.MAX_SEQUENCE:
            return []
        events: list[ProgressEvent] = []
        async for items, _ in self._query_pages(
            limit=limit,
            KeyConditionExpression="session_id = :sid AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":sid": codec.s(session_id),
                ":first": codec.s(keys.event_sk(run_id, first)),
                ":last": codec.s(keys.event_sk(run_id, keys.MAX_SEQUENCE)),
            },
            ConsistentRead=True,
        ):
            now = self._clock()
            events.extend(codec.event_from(i) for i in items if rules.is_live(codec.ttl_of(i), now))
        return events[:limit]

    async def last_event(self, session_id: str, run_id: str) -> ProgressEvent | None:
        """See ``Store.last_event``."""
        response = await self._read(
            "Query",
            TableName=self.table_name,
            KeyConditionExpression="session_id = :sid AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":sid": codec.s(session_id),
                ":prefix": codec.s(f"{keys.EVENT_PREFIX}{run_id}#"),
            },
            ScanIndexForward=False,
            Limit=1,
            ConsistentRead=True,
        )
        items = response.get("Items", [])
        if not items or not rules.is_live(codec.ttl_of(items[0]), self._clock()):
            return None
        return codec.event_from(items[0])

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
