"""What a run gathers besides reports: its sources, findings and questions.

Each is written in a transaction that checks the session is live with the
ttl the items copy, so nothing lands in a dead session and everything
expires with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from scout_service import errors
from scout_service.domain import Findings, Page, Question, ReportKind, Source
from scout_service.errors import session_not_found
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import (
    Item,
    NamedItem,
    TransactionCancelled,
    prefix_query,
    with_live_filter,
)
from scout_service.store.dynamodb.core import DynamoBase


class ResearchMixin(DynamoBase):
    """``Store``'s source, question and findings operations on the table."""

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
        items: list[NamedItem] = [("session", self._session_check(sid, ttl))]
        items += [
            (f"source {source.source_id}",
             {"Put": {"TableName": self.table_name, "Item": codec.source_item(source, ttl),
                      "ConditionExpression": "attribute_not_exists(sk)"}})
            for source in sources
        ]
        try:
            await self._transact(items)
        except TransactionCancelled as cancelled:
            if cancelled.failed("session"):
                raise session_not_found(sid) from None
            taken = [s.source_id for s in sources if cancelled.failed(f"source {s.source_id}")]
            if taken:
                raise errors.source_exists(run_id, taken) from None
            raise

    async def list_sources(
        self, session_id: str, run_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Source]:
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
        items: list[NamedItem] = [
            ("session", self._session_check(sid, ttl)),
            ("item", {"Put": {
                "TableName": self.table_name,
                "ConditionExpression": "attribute_not_exists(sk)",
                "Item": {**self._key(sid, keys.question_sk(question.question_id)), **fields,
                         "ttl": codec.n(ttl)}}}),
        ]
        if question.request_id is not None:
            items.append(("idempotency", {"Put": {
                "TableName": self.table_name,
                "Item": {**self._key(sid, keys.idem_sk(keys.OP_ASK_QUESTION, question.request_id)),
                         **fields, "ttl": codec.n(ttl)},
                "ConditionExpression": "attribute_not_exists(sk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }}))
        try:
            await self._transact(items)
        except TransactionCancelled as cancelled:
            if cancelled.failed("session"):
                raise session_not_found(sid) from None
            if question.request_id is not None and cancelled.failed("idempotency"):
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
        items: list[NamedItem] = [
            ("session", self._session_check(sid, ttl)),
            ("item", {"Put": {"TableName": self.table_name,
                              "Item": codec.findings_item(findings, ttl)}}),
        ]
        try:
            await self._transact(items)
        except TransactionCancelled as cancelled:
            if cancelled.failed("session"):
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
