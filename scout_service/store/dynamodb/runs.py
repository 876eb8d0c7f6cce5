"""Runs and their progress events.

``create_run`` claims the session's single active-run slot, creates the RUN
item and records the request id in one transaction; ``update_run`` is
conditional on the caller's version and a terminal state releases the slot
in the same transaction. Events are write-once items keyed by sequence.
"""

from __future__ import annotations

from typing import Any

from scout_service import errors
from scout_service.domain import Page, ProgressEvent, Run
from scout_service.errors import Conflict, session_not_found
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import (
    ConditionFailed,
    NamedItem,
    TransactionCancelled,
    backoff,
    prefix_query,
)
from scout_service.store.dynamodb.core import WRITE_ATTEMPTS, DynamoBase
from scout_service.store.table import GSI_NAME


class RunsMixin(DynamoBase):
    """``Store``'s run and event operations on the table."""

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
            items: list[NamedItem] = [
                ("session", {
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
                }),
                ("item", {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            **self._key(sid, keys.run_sk(run.run_id)),
                            **codec.run_fields(run, version=1),
                            "ttl": codec.n(ttl),
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                }),
            ]
            if idem is not None:
                items.append((
                    "idempotency",
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
                    },
                ))
            try:
                await self._transact(items)
                return stored
            except TransactionCancelled as cancelled:
                if cancelled.collided:
                    await backoff(attempt)
                    continue
                if cancelled.failed("item"):
                    raise errors.run_exists(sid, run.run_id) from None
                if not (cancelled.failed("session") or cancelled.failed("idempotency")):
                    raise
                # Lost a race (or the ttl moved): re-read and decide again.
        raise Conflict(f"starting a run in session {sid} kept racing; retry")

    async def get_run(self, session_id: str, run_id: str) -> Run:
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
                    await self._transact([
                        ("item", {"Update": update}),
                        (
                            "session",
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
                        ),
                    ])
                    return rules.updated(run)
                except TransactionCancelled as cancelled:
                    if cancelled.failed("item") or not cancelled.failed("session"):
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
