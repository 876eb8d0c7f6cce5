"""Files: streamed uploads under the session's file limits, reads and listings.

The session item counts its files and their bytes; each upload's commit
checks those counters in the same transaction, so concurrent uploads cannot
together pass a limit each of them alone respects.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

from scout_service import errors
from scout_service.domain import FileInfo, Page
from scout_service.errors import session_not_found
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import Item, prefix_query
from scout_service.store.base import StoreLimits, every_item
from scout_service.store.dynamodb.blobs import BlobsMixin, ChunkWrites

# What an upload reads first: the session's ttl and file counters, the old version's blob.
_FILE_REF = (*codec.BLOB_REF, "size", codec.FILE_COUNT, codec.FILE_BYTES)
# Chunk writes of one upload that run while its next pieces are received
# (memory: this many chunks plus the re-cut buffer). Measured on 10 MB: 2 is
# ~20% faster than writing one at a time; 3 or 4 gain nothing more.
UPLOAD_WRITES_IN_FLIGHT = 2


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


class FilesMixin(BlobsMixin):
    """``Store``'s file operations on the table."""

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
        writes = ChunkWrites(UPLOAD_WRITES_IN_FLIGHT)
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
        item = await self._get(session_id, keys.file_sk(name), codec.FILE_META)
        if item is None:
            raise errors.file_not_found(session_id, name)
        return codec.file_from(session_id, item)

    async def open_file(self, session_id: str, name: str) -> tuple[FileInfo, AsyncIterator[bytes]]:
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
        items, token = await self._list_page(
            listing=keys.LIST_FILES,
            scope=session_id,
            page_size=page_size,
            page_token=page_token,
            query=prefix_query(session_id, keys.FILE_PREFIX, codec.FILE_META),
        )
        return Page(items=[codec.file_from(session_id, i) for i in items], next_token=token)
