"""What one research run costs DynamoDB: requests and bytes written, counted on the wire.

A replica of its own talks to moto through ``CountingProxy``; between a
snapshot before ``StartResearch`` and one after the run's terminal event
(plus a moment for the lease release), every request is counted by
operation, and the request bodies of writing operations are summed. The
replica's health ping (a GetItem of the key ``PING``) is counted apart.

The floor is what the run leaves in the table, each item written exactly
once: one PutItem per item (the run, its events, its reports and their
chunks), body bytes as botocore would send them, plus one read of the plan.
The ratio is the write amplification.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import ROOT, Replica, Row, log
from bench.counting_proxy import CountingProxy, Counts
from bench.floor import BotoFloor

PLAN = ROOT / "examples" / "nordic-meal-kits.md"
PING = "GetItem(health ping)"


_SINGLE_ITEM = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem"})
_KIND = re.compile(rb'"sk":\s*\{"S":\s*"([A-Z_]+)')


def classify(operation: str, body: bytes) -> str:
    """``GetItem SESSION``, ``PutItem EVENT`` …: the operation and the item kind it touches.

    The replica's health ping (a GetItem of the key ``PING``) gets a label of
    its own, so it can be left out of the run's count.
    """
    if operation == "GetItem" and b'"PING"' in body:
        return PING
    if operation in _SINGLE_ITEM and (m := _KIND.search(body)):
        return f"{operation} {m.group(1).decode('ascii')}"
    return operation


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value


def put_item_bytes(table: str, item: Mapping[str, Any]) -> int:
    """Body size of a PutItem of ``item`` as botocore sends it (compact JSON, base64 B)."""
    body = {"TableName": table, "Item": _plain(item)}
    return len(json.dumps(body, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True)
class RunCost:
    """One run's DynamoDB traffic and what it left behind."""

    counts: Counts
    items_left: int
    floor_bytes: int
    seconds: float
    state: str

    @property
    def requests(self) -> int:
        """Requests of the run itself (health pings excluded)."""
        return self.counts.total - self.counts.requests.get(PING, 0)

    def breakdown(self) -> str:
        """``PutItem 40, UpdateItem 12, …`` by count."""
        return ", ".join(f"{op} {n}" for op, n in self.counts.requests.most_common() if op != PING)


async def measure(replica: Replica, proxy: CountingProxy, boto: BotoFloor, token: str,
                  plan: Path = PLAN) -> RunCost:
    """One research run on ``replica`` (which must talk to DynamoDB through ``proxy``)."""
    from scout_client import AsyncScoutClient
    from scout_service.store import _keys as keys

    async with AsyncScoutClient(replica.address, token=token) as scout:
        session = await scout.create_session()
        sid = session.session_id
        await scout.upload_file(sid, plan)
        await asyncio.sleep(0.2)
        before = proxy.snapshot()
        t0 = time.perf_counter()
        run = await scout.start_research(sid)
        async for _ in scout.stream_progress(sid, run.run_id):
            pass
        seconds = time.perf_counter() - t0
        await asyncio.sleep(0.5)  # the lease release and last run update land after the event
        counts = proxy.snapshot() - before
        final = await scout.get_run(sid, run.run_id)
    from scout.v1 import research_pb2

    state = research_pb2.RunState.Name(final.state).removeprefix("RUN_STATE_")
    items = boto.query_all({
        "KeyConditionExpression": "session_id = :s",
        "ExpressionAttributeValues": {":s": {"S": sid}},
        "ConsistentRead": True,
    })
    plan_prefixes = (keys.SESSION_SK, keys.FILE_PREFIX)
    plan_blobs = {i["blob_id"]["S"] for i in items
                  if i["sk"]["S"].startswith(keys.FILE_PREFIX) and "blob_id" in i}
    left = [i for i in items
            if not i["sk"]["S"].startswith(plan_prefixes)
            and not any(i["sk"]["S"].startswith(f"{keys.BLOB_PREFIX}{b}#") for b in plan_blobs)]
    floor_bytes = sum(put_item_bytes(boto.table, i) for i in left)
    return RunCost(counts, len(left), floor_bytes, seconds, state)


def rows(cost: RunCost) -> list[Row]:
    """The two table rows of a run's cost."""
    note = f"run {cost.state} in {cost.seconds:.1f}s; {cost.breakdown()}"
    log(f"run cost: {note}")
    return [
        Row("DynamoDB requests per research run", cost.requests, "req",
            cost.items_left + 1, "1 write per item the run leaves + 1 plan read",
            section="Research", note=note),
        Row("DynamoDB bytes written per research run", cost.counts.write_bytes / 1024, "KiB",
            cost.floor_bytes / 1024, f"each of its {cost.items_left} items put once",
            section="Research"),
    ]
