"""Store latency against the floor: DynamoStore vs raw boto3 on the same endpoint.

Starts an embedded DynamoDB (moto's server on loopback), creates a table and
times, over N interleaved iterations,

- ``DynamoStore.get_report`` of a ~4 KB report against a raw ``get_item`` of
  an identical copy of its item (the target: p50 within 1.3x), and
- ``DynamoStore.put_report`` against a raw ``put_item``.

The raw calls use one reused client, the same kind the store uses. Run it
with ``python -m bench.store_bench [--iterations N]``; ``run(iterations)``
returns the rows for ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from scout_service.domain import ReportKind, ReportSource
from scout_service.store import DynamoStore, EmbeddedDynamo, create_table, make_client

REPORT_BYTES = 4 * 1024
GET_REPORT_TARGET = 1.3


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _row(name: str, baseline: str, store: list[float], raw: list[float]) -> dict[str, Any]:
    p50, p99 = statistics.median(store), _percentile(store, 0.99)
    raw50, raw99 = statistics.median(raw), _percentile(raw, 0.99)
    return {
        "name": name,
        "baseline": baseline,
        "iterations": len(store),
        "p50_ms": p50 * 1000,
        "p99_ms": p99 * 1000,
        "baseline_p50_ms": raw50 * 1000,
        "baseline_p99_ms": raw99 * 1000,
        "ratio_p50": p50 / raw50,
        "ratio_p99": p99 / raw99,
    }


async def _measure(
    iterations: int,
    store_call: Callable[[], Awaitable[object]],
    raw_call: Callable[[], object],
) -> tuple[list[float], list[float]]:
    """Interleave store and raw calls (alternating which goes first) so drift
    and any after-effect of one call on the next hit both equally."""
    warmup = max(5, iterations // 10)
    store_times: list[float] = []
    raw_times: list[float] = []
    for i in range(warmup + iterations):
        for first in (i % 2 == 0, i % 2 == 1):
            started = time.perf_counter()
            if first:
                await store_call()
            else:
                raw_call()
            elapsed = time.perf_counter() - started
            if i >= warmup:
                (store_times if first else raw_times).append(elapsed)
    return store_times, raw_times


async def _bench(
    endpoint: str, credentials: dict[str, str], iterations: int
) -> list[dict[str, Any]]:
    client = make_client(
        region="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
    )
    table = f"scout-bench-{uuid.uuid4().hex[:8]}"
    create_table(client, table)
    store = DynamoStore(client, table_name=table)
    try:
        session = await store.create_session(owner="bench", ttl_seconds=3600)
        sid = session.session_id
        content = ("# Market report\n" + "Lorem ipsum dolor sit amet. " * 200)[:REPORT_BYTES]
        await store.put_report(
            sid, ReportKind.MARKET, content, source=ReportSource.CALLER, author="bench"
        )
        # The floor reads an identical copy of the stored report item (same
        # size, same attributes) under another key with the same client.
        stored = client.get_item(
            TableName=table,
            Key={"session_id": {"S": sid}, "sk": {"S": "REPORT#market_report"}},
            ConsistentRead=True,
        )["Item"]
        raw_key = {"session_id": {"S": "raw-" + sid}, "sk": {"S": "REPORT#market_report"}}
        raw_item: dict[str, Any] = {**stored, **raw_key}
        client.put_item(TableName=table, Item=raw_item)

        get_store, get_raw = await _measure(
            iterations,
            lambda: store.get_report(sid, ReportKind.MARKET),
            lambda: client.get_item(TableName=table, Key=raw_key, ConsistentRead=True),
        )
        put_store, put_raw = await _measure(
            iterations,
            lambda: store.put_report(
                sid, ReportKind.PRICE, content, source=ReportSource.CALLER, author="bench"
            ),
            lambda: client.put_item(TableName=table, Item=raw_item),
        )
        return [
            _row("get_report", "raw get_item", get_store, get_raw),
            _row("put_report", "raw put_item", put_store, put_raw),
        ]
    finally:
        await store.close()
        client.delete_table(TableName=table)
        client.close()


def run(iterations: int = 300) -> list[dict[str, Any]]:
    """Start an embedded DynamoDB, measure, and return one row per operation."""
    with EmbeddedDynamo() as dynamo:
        return asyncio.run(_bench(dynamo.endpoint_url, dict(dynamo.credentials), iterations))


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The rows as a small text table, ratio first."""
    lines = [
        f"{'operation':<12} {'p50 ms':>8} {'p99 ms':>8} {'floor':<14} {'p50 ms':>8} "
        f"{'p99 ms':>8}  ratio"
    ]
    for r in rows:
        lines.append(
            f"{r['name']:<12} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['baseline']:<14} "
            f"{r['baseline_p50_ms']:>8.2f} {r['baseline_p99_ms']:>8.2f}  "
            f"{r['name']} p50 {r['ratio_p50']:.2f}x {r['baseline']} (p99 {r['ratio_p99']:.2f}x)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI: print the table; exit 1 if get_report misses its 1.3x target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args(argv)
    rows = run(args.iterations)
    print(format_rows(rows))
    get = next(r for r in rows if r["name"] == "get_report")
    if get["ratio_p50"] > GET_REPORT_TARGET:
        print(f"get_report p50 is above the {GET_REPORT_TARGET}x target")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
