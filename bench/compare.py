"""Compare server variants on GetReport, each against raw GetItem in the same run.

    python -m bench.compare [--rounds 3] [--calls 300] [--throughput] VARIANT...

A VARIANT is ``LABEL[:KEY=VALUE[,KEY=VALUE…]][@CHECKOUT]``: a replica with
those settings added to its environment, run from another checkout if given
(a ``git worktree`` of a branch, say). Examples::

    python -m bench.compare base quiet:SCOUT_LOG_LEVEL=WARNING
    python -m bench.compare main@. change@../scout-change

Every variant and the bare grpc.aio + boto3 service read the same report
item. Each call is timed right after a raw GetItem of that item (so every
server starts from the same state: idle while another process worked), the
contenders take turns in a shuffled order, and the ratio printed is the
variant's p50 over the p50 of those raw calls. Differences of about 0.01×
are noise on a shared 2-core machine: look at several rounds. This is how
bench/RESULTS.md's breakdown of Scout's overhead was measured.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from bench import echo
from bench import floor as fl
from bench.__main__ import TOKEN, Mode, replica_env, token_env
from bench.common import ROOT, Latency, Replica, throughput_tasks
from bench.rpc_bench import CONCURRENCY, RpcBench, Sizes, report_content


@dataclass(frozen=True)
class Variant:
    """One replica to measure: a label, settings on top of the bench's, a checkout."""

    label: str
    env: dict[str, str] = field(default_factory=dict)
    tree: Path = ROOT


def parse_variant(spec: str) -> Variant:
    """``LABEL[:KEY=VALUE[,KEY=VALUE…]][@CHECKOUT]`` → Variant (``ValueError`` if malformed)."""
    spec, _, tree = spec.partition("@")
    label, _, settings = spec.partition(":")
    if not label:
        raise ValueError(f"variant {spec!r}: a label comes first")
    env: dict[str, str] = {}
    for pair in filter(None, settings.split(",")):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"variant {label!r}: {pair!r} is not KEY=VALUE")
        env[key] = value
    path = Path(tree).resolve() if tree else ROOT
    if not (path / "scout_service").is_dir():
        raise ValueError(f"variant {label!r}: {path} is not a Scout checkout")
    return Variant(label, env, path)


async def _rounds(contenders: Sequence[Callable[[], Awaitable[object]]],
                  raw: Callable[[], object], rounds: int, calls: int, throughput: bool,
                  raw_rate: Callable[[int], float]) -> list[tuple[float, list[float], list[float]]]:
    """Per round: raw p50 (s), each contender's p50 ratio, and (if asked) its rate ratio."""
    results = []
    for _ in range(rounds):
        samples: list[list[float]] = [[] for _ in contenders]
        raws: list[float] = []
        for i in range(calls + calls // 10):
            order = list(range(len(contenders)))
            random.shuffle(order)
            for k in order:
                t0 = time.perf_counter()
                raw()
                t1 = time.perf_counter()
                await contenders[k]()
                if i >= calls // 10:  # the first tenth warms up
                    samples[k].append(time.perf_counter() - t1)
                    raws.append(t1 - t0)
        floor = Latency.of(raws).p50
        ratios = [Latency.of(s).p50 / floor for s in samples]
        rates: list[float] = []
        if throughput:
            base = await asyncio.to_thread(raw_rate, 20 * CONCURRENCY)
            rates = [await throughput_tasks(c, 20 * CONCURRENCY, CONCURRENCY,
                                            warmup=CONCURRENCY) / base for c in contenders]
        results.append((floor, ratios, rates))
    return results


async def _measure(variants: Sequence[Variant], replicas: Sequence[Replica], bare_address: str,
                   boto: fl.BotoFloor, args: argparse.Namespace) -> None:
    from scout.v1 import report_pb2, types_pb2
    from scout_service.store import _keys as keys

    benches = [RpcBench(r.address, TOKEN, boto, Sizes.for_mode(True)) for r in replicas]
    sid = await benches[0].new_session()
    await benches[0].put_report(sid, types_pb2.REPORT_KIND_MARKET, report_content())
    sk = keys.report_sk("market_report")
    key = {"session_id": {"S": sid}, "sk": {"S": sk}}
    request = report_pb2.GetReportRequest(session_id=sid, kind=types_pb2.REPORT_KIND_MARKET)

    def get_report(bench: RpcBench) -> Callable[[], Awaitable[object]]:
        async def call() -> None:
            await bench.reports.GetReport(request, metadata=bench.metadata)
        return call

    bare_channel = grpc.aio.insecure_channel(bare_address, options=fl.CHANNEL_OPTIONS)
    bare_call = bare_channel.unary_unary(echo.GET_ITEM)
    bare_request = echo.get_item_request(sid, sk)

    async def bare() -> None:
        await bare_call(bare_request)

    contenders = [get_report(b) for b in benches] + [bare]
    labels = [v.label for v in variants] + ["bare grpc.aio + boto3"]
    try:
        results = await _rounds(contenders, lambda: boto.get_item(key), args.rounds, args.calls,
                                args.throughput,
                                lambda n: boto.get_throughput(key, n, CONCURRENCY))
    finally:
        await bare_channel.close()
        for bench in benches:
            await bench.close()
    width = max(len(label) for label in labels)
    for number, (floor, ratios, rates) in enumerate(results, 1):
        print(f"round {number}: raw GetItem p50 {floor * 1000:.2f} ms")
        for i, label in enumerate(labels):
            rate = f"   throughput @16 {rates[i]:.3f}×" if rates else ""
            print(f"  {label:<{width}}  p50 @1 {ratios[i]:.3f}×{rate}")


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the variants, start everything on one embedded DynamoDB, print the rounds."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="+", metavar="VARIANT")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per contender")
    parser.add_argument("--throughput", action="store_true",
                        help="also calls/s at 16 in flight against 16 boto3 threads")
    args = parser.parse_args(argv)
    try:
        variants = [parse_variant(v) for v in args.variants]
    except ValueError as exc:
        parser.error(str(exc))
    from scout_service.store import EmbeddedDynamo, create_table

    with EmbeddedDynamo() as dynamo:
        table = f"scout-compare-{uuid.uuid4().hex[:8]}"
        boto = fl.BotoFloor(fl.boto3_client(dynamo.endpoint_url), table)
        create_table(boto.client, table)
        bare = fl.EchoServer().start(dynamodb=dynamo.endpoint_url, table=table)
        replicas: list[Replica] = []
        try:
            for v in variants:
                replicas.append(Replica(dynamo.endpoint_url, table, token_env(),
                                        {**replica_env(Mode.of(False)), **v.env},
                                        tree=v.tree).start())
            asyncio.run(_measure(variants, replicas, bare.address, boto, args))
        finally:
            for replica in replicas:
                replica.stop()
            bare.stop()


if __name__ == "__main__":
    main()
