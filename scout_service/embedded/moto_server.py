"""moto's DynamoDB server with one request at a time (run by ``EmbeddedDynamo``).

``python -m moto.server`` serves requests on many threads and moto's
in-memory backend has no locking, so two concurrent conditional writes can
both pass their condition — DynamoDB never allows that, and Scout relies on
it (run versions, the active-run slot, event sequences). This entry point
runs the same WSGI app behind a lock, which makes every request atomic like
DynamoDB's. moto is pure Python under the GIL anyway, so little is lost.

moto's TransactWriteItems backs up every table it touches with a deep copy
before it starts, so each transaction costs O(table) — 30 ms and growing on
a table with a few thousand items, while every other request waits behind
the lock. ``back_up_items_not_tables`` makes it back up just the items the
transaction names and put those back when it is cancelled, which is what
DynamoDB's all-or-nothing promise needs (requests are serialized here, so
nothing else can change them meanwhile).

Because that patch reaches into moto's internals, the server proves it at
start-up before it listens (``check_transactions_roll_back``): a
transaction that changes an item, adds another and is then cancelled must
leave both as they were, through the same WSGI app every request uses. If a
moto upgrade broke that, the server refuses to start and says why.

It also exits on its own when the process that started it is gone (given
``--parent-pid``), so a service killed without stopping its embedded
endpoint does not leave a server behind.

Usage: ``python -m scout_service.embedded.moto_server -H 127.0.0.1 -p 5000 [--parent-pid N]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple
from werkzeug.test import Client

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WsgiApp) -> WsgiApp:
    """The WSGI app, one request at a time (the response fully built inside)."""
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return handle


Backup = tuple[Any, Any, Any, Any]  # (table, hash value, range value, item or None)


def back_up_items_not_tables() -> None:
    """Patch moto's TransactWriteItems to back up the items it names, not whole tables."""
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "backs_up_items", False):
        return

    class _NoTableCopies:
        """moto's module-level ``copy``, with a table's "copy" being the table itself."""

        @staticmethod
        def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def backups(backend: Any, transact_items: list[dict[str, Any]]) -> list[Backup]:
        found: list[Backup] = []
        for entry in transact_items:
            try:
                op_type, op = next(iter(entry.items()))
                table = backend.tables[op["TableName"]]
                key = op["Item"] if op_type == "Put" else op["Key"]
                hash_value = DynamoType(key[table.hash_key_attr])
                range_value = (DynamoType(key[table.range_key_attr])
                               if table.range_key_attr else None)
                item = table.get_item(hash_value, range_value)
            except Exception:  # noqa: BLE001 - moto rejects this entry before writing it
                continue
            found.append((table, hash_value, range_value, copy.deepcopy(item)))
        return found

    def restore(found: list[Backup]) -> None:
        for table, hash_value, range_value, item in reversed(found):
            if item is None:
                table.delete_item(hash_value, range_value)
            elif range_value is not None:
                table.items[hash_value][range_value] = item
            else:
                table.items[hash_value] = item

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        found = backups(self, transact_items)
        try:
            original(self, transact_items)
        except Exception:
            restore(found)
            raise

    transact_write_items.backs_up_items = True  # type: ignore[attr-defined]
    setattr(models, "copy", _NoTableCopies)  # noqa: B010 - moto's module global
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


class RollbackBroken(RuntimeError):
    """moto applied part of a cancelled transaction: atomicity is not what Scout needs."""


def check_transactions_roll_back(app: WsgiApp) -> None:
    """Prove on ``app`` that a cancelled TransactWriteItems changes nothing.

    On a scratch table: item ``a`` is stored; a transaction updates ``a``,
    puts a new ``b`` and then fails a condition check on a missing ``c``
    (last, so moto has applied the first two before it cancels). ``a`` must
    still hold its old value and ``b`` must not exist. Raises
    ``RollbackBroken`` otherwise; the table is deleted either way.
    """
    client = Client(app)
    table = f"scout-rollback-check-{uuid.uuid4().hex[:8]}"

    def call(target: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = client.post("/", data=json.dumps(body), headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/"
                             "dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        })
        return response.status_code, json.loads(response.get_data() or b"{}")

    def key(pk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}}

    status, answer = call("CreateTable", {
        "TableName": table, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    })
    if status != 200:
        raise RollbackBroken(f"could not create the check's table: {status} {answer}")
    try:
        call("PutItem", {"TableName": table, "Item": {**key("a"), "v": {"S": "old"}}})
        status, answer = call("TransactWriteItems", {"TransactItems": [
            {"Update": {"TableName": table, "Key": key("a"), "UpdateExpression": "SET v = :n",
                        "ExpressionAttributeValues": {":n": {"S": "new"}}}},
            {"Put": {"TableName": table, "Item": {**key("b"), "v": {"S": "new"}}}},
            {"ConditionCheck": {"TableName": table, "Key": key("c"),
                                "ConditionExpression": "attribute_exists(pk)"}},
        ]})
        if status != 400 or "TransactionCanceled" not in str(answer.get("__type", "")):
            raise RollbackBroken(f"a failing transaction was not cancelled: {status} {answer}")
        _, a = call("GetItem", {"TableName": table, "Key": key("a"), "ConsistentRead": True})
        _, b = call("GetItem", {"TableName": table, "Key": key("b"), "ConsistentRead": True})
        if a.get("Item", {}).get("v") != {"S": "old"} or "Item" in b:
            raise RollbackBroken(
                "a cancelled transaction left changes behind (item a: "
                f"{a.get('Item')}, item b: {b.get('Item')})")
    finally:
        call("DeleteTable", {"TableName": table})


def exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Exit this process once its parent is gone (it is re-parented then)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Parse ``-H``/``-p`` and serve until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does (this process only)
    # One log line per request is noise for an embedded store (and costs time).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    back_up_items_not_tables()
    app = serialized(DomainDispatcherApplication(create_backend_app))
    try:
        check_transactions_roll_back(app)
    except RollbackBroken as exc:
        from moto import __version__ as moto_version

        print(f"embedded DynamoDB refused to start: moto {moto_version}'s TransactWriteItems "
              f"no longer rolls back with Scout's patch ({exc}); use the moto version "
              "pinned in pyproject.toml", file=sys.stderr, flush=True)
        sys.exit(3)
    run_simple(
        args.host,
        args.port,
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
