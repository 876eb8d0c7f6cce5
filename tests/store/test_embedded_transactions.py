"""The embedded DynamoDB's TransactWriteItems: all or nothing, with item-level backups.

``scout_service.store._moto_server`` replaces moto's whole-table backup with
a backup of the items a transaction names. These tests hold the rollback to
DynamoDB's promise through the real HTTP endpoint (a cancelled transaction
leaves every item it named exactly as it was, whichever of its operations
failed), and check in-process that no table is copied any more.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from scout_service.store._moto_server import back_up_items_not_tables
from scout_service.store.table import create_table


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"session_id": {"S": pk}, "sk": {"S": sk}}


def item(pk: str, sk: str, **attrs: str) -> dict[str, Any]:
    return {**key(pk, sk), **{name: {"S": value} for name, value in attrs.items()}}


def seed(client: Any, table: str) -> dict[str, Any]:
    """Three items a transaction will update, delete and check; the scan of them all."""
    for sk, note in (("B", "b0"), ("C", "c0"), ("D", "d0")):
        client.put_item(TableName=table, Item=item("p", sk, note=note, payload="x" * 1000))
    return scan(client, table)


def scan(client: Any, table: str) -> dict[str, Any]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return {i["sk"]["S"]: i for i in items}


def ops(table: str, failing_at: int) -> list[dict[str, Any]]:
    """Put a new A, update B, delete C, check D; the op at ``failing_at`` cannot hold."""
    never = {"ConditionExpression": "attribute_not_exists(sk)"}
    transact: list[dict[str, Any]] = [
        {"Put": {"TableName": table, "Item": item("p", "A", note="a1")}},
        {"Update": {"TableName": table, "Key": key("p", "B"),
                    "UpdateExpression": "SET note = :n REMOVE payload",
                    "ExpressionAttributeValues": {":n": {"S": "b1"}}}},
        {"Delete": {"TableName": table, "Key": key("p", "C")}},
        {"ConditionCheck": {"TableName": table, "Key": key("p", "D"),
                            "ConditionExpression": "attribute_exists(sk)"}},
    ]
    op = next(iter(transact[failing_at].values()))
    op.update(never)
    if failing_at == 0:  # the new item: make it exist first so the condition fails
        op["ConditionExpression"] = "attribute_exists(sk)"
    return transact


@pytest.mark.parametrize("failing_at", [0, 1, 2, 3])
def test_a_cancelled_transaction_leaves_every_item_as_it_was(
    dynamo_client: Any, dynamo_table: str, failing_at: int
) -> None:
    before = seed(dynamo_client, dynamo_table)

    with pytest.raises(ClientError) as raised:
        dynamo_client.transact_write_items(TransactItems=ops(dynamo_table, failing_at))

    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in raised.value.response["CancellationReasons"]]
    assert reasons[failing_at] == "ConditionalCheckFailed"
    assert scan(dynamo_client, dynamo_table) == before


def test_a_transaction_that_holds_applies_every_operation(
    dynamo_client: Any, dynamo_table: str
) -> None:
    seed(dynamo_client, dynamo_table)
    transact = ops(dynamo_table, 3)
    transact[3]["ConditionCheck"]["ConditionExpression"] = "attribute_exists(sk)"

    dynamo_client.transact_write_items(TransactItems=transact)

    after = scan(dynamo_client, dynamo_table)
    assert sorted(after) == ["A", "B", "D"]
    assert after["A"]["note"] == {"S": "a1"}
    assert after["B"]["note"] == {"S": "b1"} and "payload" not in after["B"]


def test_the_same_item_twice_is_refused_and_changes_nothing(
    dynamo_client: Any, dynamo_table: str
) -> None:
    before = seed(dynamo_client, dynamo_table)
    put = {"Put": {"TableName": dynamo_table, "Item": item("p", "B", note="b9")}}

    with pytest.raises(ClientError) as raised:
        dynamo_client.transact_write_items(TransactItems=[put, copy.deepcopy(put)])

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert scan(dynamo_client, dynamo_table) == before


def test_no_table_is_copied(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: the patched backend copies the named items, never a table."""
    from moto.dynamodb.models.table import Table

    back_up_items_not_tables()
    copied: list[type] = []
    real_deepcopy = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        copied.append(type(value))
        return real_deepcopy(value, memo)

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        create_table(client, "t")
        before = seed(client, "t")
        monkeypatch.setattr(copy, "deepcopy", counting)
        with pytest.raises(ClientError):
            client.transact_write_items(TransactItems=ops("t", 3))
        monkeypatch.undo()
        assert scan(client, "t") == before

    assert copied, "the transaction backed nothing up"
    assert Table not in copied


# -- the start-up self-check ---------------------------------------------------------------


def _in_process_app() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from scout_service.store._moto_server import serialized

    return serialized(DomainDispatcherApplication(create_backend_app))


def test_the_start_up_check_passes_on_the_patched_moto() -> None:
    from scout_service.store._moto_server import check_transactions_roll_back

    back_up_items_not_tables()
    check_transactions_roll_back(_in_process_app())  # raises if anything stayed behind


def test_the_start_up_check_catches_a_rollback_that_leaves_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb import models

    from scout_service.store._moto_server import RollbackBroken, check_transactions_roll_back

    back_up_items_not_tables()
    working = models.DynamoDBBackend.transact_write_items

    def leaky(self: Any, transact_items: list[dict[str, Any]]) -> None:
        working(self, transact_items[:1])  # the first change lands outside the transaction
        working(self, transact_items)

    monkeypatch.setattr(models.DynamoDBBackend, "transact_write_items", leaky)
    with pytest.raises(RollbackBroken, match="left changes behind"):
        check_transactions_roll_back(_in_process_app())
