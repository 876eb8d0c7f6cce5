"""Reports and their versions.

Each save is a new version: the latest is REPORT# (one GetItem reads it)
and every version also has its REPORTV# item, which stays when a later save
replaces REPORT#; both share the blob's chunks. Versions past
``max_report_versions`` are pruned after a save.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import replace

from scout_service import errors
from scout_service.domain import Page, Report, ReportKind, ReportSource
from scout_service.errors import ScoutError, session_not_found
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import (
    Item,
    NamedItem,
    TransactionCancelled,
    logger,
    prefix_query,
    projection,
)
from scout_service.store.base import every_item
from scout_service.store.dynamodb.blobs import BlobsMixin


class ReportsMixin(BlobsMixin):
    """``Store``'s report operations on the table."""

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

        def more(item_ttl: int, replacing: Item | None) -> list[NamedItem]:
            # The latest version is written twice: as REPORT# (one GetItem
            # reads the latest) and as its REPORTV# item, which stays when a
            # later save replaces REPORT#. Both share the blob's chunks. No
            # condition needed: REPORT#'s own makes each version number unique.
            number = versioned(replacing).version
            items: list[NamedItem] = [("version", {"Put": {
                "TableName": self.table_name,
                "Item": body(keys.report_version_sk(kind.value, number), item_ttl, replacing),
            }})]
            kept_legacy[0] = (legacy is not None and replacing is not None
                              and "version" not in replacing
                              and replacing.get("version_id") == legacy.get("version_id"))
            if kept_legacy[0]:
                assert legacy is not None
                items.append(("legacy", {"Put": {"TableName": self.table_name, "Item": {
                    **legacy, **self._key(session_id, keys.report_version_sk(kind.value, 1)),
                    "version": codec.n(1), "ttl": codec.n(item_ttl)}}}))
            if idem is not None:
                items.append(("idempotency", {
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
                }))
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
            if idem is not None and cancelled.failed("idempotency"):
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
