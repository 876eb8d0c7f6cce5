"""Blobs of any size, shared by files and reports.

Chunks first, the metadata item last (a reader never sees a partial blob),
a fresh ``blob_id`` per version (versions never mix), the replaced
version's chunks deleted afterwards; after a failed or cancelled write its
chunks are deleted only when its commit surely did not land.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

from scout_service import errors
from scout_service.errors import Conflict, NotFound, ScoutError
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import Item, NamedItem, TransactionCancelled, backoff, logger
from scout_service.store.dynamodb.core import WRITE_ATTEMPTS, DynamoBase


class ChunkWrites:
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


class BlobsMixin(DynamoBase):
    """Chunk writes and reads, the conditional commit of a blob's metadata, and cleanup."""

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
        extra: Callable[[int, Item | None], list[NamedItem]] = lambda _ttl, _old: [],
        guard: Callable[[int, Item | None], dict[str, Any]] | None = None,
        refused: Callable[[Item | None], Awaitable[None]] | None = None,
        ref: Sequence[str] = codec.BLOB_REF,
    ) -> tuple[Item | None, int]:
        """Write a blob's metadata item (chunks already written) and return the old one.

        The Put is conditional on the version it replaces, so two concurrent
        replacements each learn which version they superseded (and delete its
        chunks, none leak). If the session's ttl moved meanwhile, the new
        chunks follow it and the commit is retried.

        ``build(ttl, old)`` is the new metadata item (named "item") and
        ``extra(ttl, old)`` the transaction's further named items, given the
        version being replaced.
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
                await self._transact([
                    ("session", session_item),
                    ("item", {"Put": {"TableName": self.table_name, "Item": item, **condition}}),
                    *more,
                ])
                return old, ttl
            except TransactionCancelled as cancelled:
                if cancelled.collided:
                    await backoff(attempt)
                    continue
                if cancelled.failed("item"):
                    old = await self._get_raw(session_id, sk, ref)
                if cancelled.failed("session"):
                    new_ttl = await self._live_ttl(session_id)  # NotFound when gone
                    if new_ttl != ttl:
                        ttl = new_ttl
                        await self._fan_out(
                            [functools.partial(self._set_ttl, k, ttl) for k in chunks]
                        )
                    elif refused is not None:
                        await refused(old)
                if any(cancelled.failed(name) for name, _ in more):
                    raise
                if not cancelled.failed("session") and not cancelled.failed("item"):
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
