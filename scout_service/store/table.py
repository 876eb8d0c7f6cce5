"""Creating and checking Scout's DynamoDB table.

``create_table`` backs ``scout-service create-table`` (and the embedded
default); ``check_table`` runs at start-up so the service refuses a table of
the wrong shape — e.g. the seed's table, keyed by ``session_id`` alone —
instead of failing on the first write.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from scout_service.errors import FailedPrecondition, ScoutError, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import KeySchemaElementTypeDef

logger = logging.getLogger(__name__)

DEFAULT_TABLE_NAME = "scout-sessions"
GSI_NAME = "gsi1"
TTL_ATTRIBUTE = "ttl"

_KEY_SCHEMA: list[KeySchemaElementTypeDef] = [
    {"AttributeName": "session_id", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
_GSI_KEY_SCHEMA: list[KeySchemaElementTypeDef] = [
    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
]
EXPECTED_SHAPE = (
    "partition key session_id (S), sort key sk (S), global secondary index gsi1 "
    "(gsi1pk S, gsi1sk S, projection ALL)"
)


def _missing(table_name: str) -> Unavailable:
    return Unavailable(
        f"DynamoDB table {table_name} not found: run `scout-service create-table`",
        reason="TABLE_NOT_FOUND",
    )


def _describe(client: DynamoDBClient, table_name: str) -> dict[str, Any] | None:
    try:
        table: dict[str, Any] = dict(client.describe_table(TableName=table_name)["Table"])
        return table
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise Unavailable(f"DynamoDB DescribeTable {table_name} failed: {error}") from None
    except BotoCoreError as error:
        raise Unavailable(f"DynamoDB cannot be reached: {error}") from None


def _shape_problems(table: dict[str, Any]) -> list[str]:
    """What differs from Scout's layout, in words (empty when it fits)."""
    problems = []
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}

    def describe(schema: list[dict[str, str]]) -> str:
        return ", ".join(
            f"{k['AttributeName']} {k['KeyType']} ({types.get(k['AttributeName'], '?')})"
            for k in schema
        )

    key_schema = table.get("KeySchema", [])
    if key_schema != _KEY_SCHEMA or types.get("session_id") != "S" or types.get("sk") != "S":
        problems.append(f"key schema is [{describe(key_schema)}]")
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes", [])}
    gsi = indexes.get(GSI_NAME)
    if gsi is None:
        problems.append(f"index {GSI_NAME} is missing")
    elif (
        gsi.get("KeySchema") != _GSI_KEY_SCHEMA
        or gsi.get("Projection", {}).get("ProjectionType") != "ALL"
        or types.get("gsi1pk") != "S"
        or types.get("gsi1sk") != "S"
    ):
        problems.append(
            f"index {GSI_NAME} is [{describe(gsi.get('KeySchema', []))}] projection "
            f"{gsi.get('Projection', {}).get('ProjectionType')}"
        )
    return problems


def _check_ttl(client: DynamoDBClient, table_name: str) -> None:
    try:
        description = client.describe_time_to_live(TableName=table_name)
    except (ClientError, BotoCoreError) as error:  # e.g. an emulator without TTL
        logger.warning("cannot read the table's TTL setting", extra={"error": str(error)})
        return
    ttl = description.get("TimeToLiveDescription", {})
    attribute = ttl.get("AttributeName")
    if attribute is not None and attribute != TTL_ATTRIBUTE:
        raise FailedPrecondition(
            f"table {table_name} expires items by attribute {attribute!r}, expected "
            f"{TTL_ATTRIBUTE!r}",
            reason="TABLE_SCHEMA_MISMATCH",
        )
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        # Reads still treat expired items as gone; only storage is not reclaimed.
        logger.warning(
            "TTL is not enabled on the table: expired sessions are hidden but never deleted",
            extra={"table": table_name},
        )


def check_table(client: DynamoDBClient, table_name: str) -> None:
    """Refuse a table that is missing or not shaped like Scout's.

    ``Unavailable`` when it does not exist (or cannot be reached);
    ``FailedPrecondition`` (reason ``TABLE_SCHEMA_MISMATCH``) describing
    expected and found shapes otherwise.
    """
    _check_shape(client, table_name)
    _check_ttl(client, table_name)


def _check_shape(client: DynamoDBClient, table_name: str) -> None:
    table = _describe(client, table_name)
    if table is None:
        raise _missing(table_name)
    problems = _shape_problems(table)
    if problems:
        raise FailedPrecondition(
            f"table {table_name} does not have Scout's layout: expected {EXPECTED_SHAPE}; "
            f"found: {'; '.join(problems)}",
            reason="TABLE_SCHEMA_MISMATCH",
        )


def create_table(client: DynamoDBClient, table_name: str, *, timeout: float = 120.0) -> bool:
    """Create the table (on-demand, TTL on ``ttl``) and wait until it is ACTIVE.

    Idempotent: returns ``False`` when a table of the right shape already
    exists (making sure its TTL is enabled); raises like ``check_table`` when
    one of another shape does.
    """
    created = False
    if _describe(client, table_name) is None:
        try:
            client.create_table(
                TableName=table_name,
                KeySchema=_KEY_SCHEMA,
                AttributeDefinitions=[
                    {"AttributeName": name, "AttributeType": "S"}
                    for name in ("session_id", "sk", "gsi1pk", "gsi1sk")
                ],
                BillingMode="PAY_PER_REQUEST",
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": GSI_NAME,
                        "KeySchema": _GSI_KEY_SCHEMA,
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
            created = True
        except ClientError as error:
            # Someone else is creating it right now: wait for theirs.
            if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise ScoutError(f"cannot create table {table_name}: {error}") from None
        except BotoCoreError as error:
            raise Unavailable(f"DynamoDB cannot be reached: {error}") from None
    _wait_active(client, table_name, timeout)
    _check_shape(client, table_name)
    _enable_ttl(client, table_name)
    if created:
        logger.info("created DynamoDB table", extra={"table": table_name})
    return created


def _wait_active(client: DynamoDBClient, table_name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        table = _describe(client, table_name)
        if table is not None and table.get("TableStatus") == "ACTIVE":
            gsi_states = {i.get("IndexStatus") for i in table.get("GlobalSecondaryIndexes", [])}
            if gsi_states <= {"ACTIVE", None}:
                return
        if time.monotonic() > deadline:
            raise Unavailable(f"table {table_name} did not become ACTIVE within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _enable_ttl(client: DynamoDBClient, table_name: str) -> None:
    try:
        status = client.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
        if status.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
            return
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    except ClientError as error:
        raise ScoutError(f"cannot enable TTL on table {table_name}: {error}") from None
    except BotoCoreError as error:
        raise Unavailable(f"DynamoDB cannot be reached: {error}") from None
