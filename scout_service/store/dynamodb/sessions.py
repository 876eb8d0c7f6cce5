"""Sessions: create (idempotent per owner and request id), read, list, extend, delete.

A session is its SESSION item; everything created inside it copies its ttl,
so ``extend_session`` moves every child's ttl (children first, the session
last) and ``delete_session`` removes the SESSION item first (the session is
gone at once) and the children after it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from scout_service.domain import Page, Session
from scout_service.errors import Conflict, ScoutError, session_not_found
from scout_service.store import _codec as codec
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store._access import ConditionFailed, Item, TransactionCancelled, backoff, logger
from scout_service.store.dynamodb.core import WRITE_ATTEMPTS, DynamoBase
from scout_service.store.table import GSI_NAME


class SessionsMixin(DynamoBase):
    """``Store``'s session operations on the table."""

    # -- sessions ---------------------------------------------------------------------

    async def create_session(
        self,
        *,
        owner: str,
        ttl_seconds: int,
        labels: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Session:
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
                await self._transact([
                    (
                        "session",
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": codec.session_item(session, idem=(idem_pk, idem_sk)),
                                "ConditionExpression": "attribute_not_exists(sk)",
                            }
                        },
                    ),
                    (
                        "idempotency",
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
                    ),
                ])
                return session
            except TransactionCancelled as cancelled:
                if cancelled.collided:
                    await backoff(attempt)
                    continue
                if not cancelled.failed("idempotency"):
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
