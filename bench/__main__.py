"""``make bench``: measure Scout against its floors and print one table.

One run, one DynamoDB endpoint (moto's server, ``EmbeddedDynamo``), one
table. Floors and Scout are measured on it back to back; see ``rpc_bench``,
``streams_bench``, ``run_cost``, ``hostile_docs_bench``, ``evidence_bench``,
``model_bench`` and ``floor`` for what each row compares, and ``slots_bench``
for the run-slot row.
The other engineers' benches (``store_bench``, ``progress_bench``,
``research_bench``) join the table when present.

    python -m bench            the full run (~3-4 minutes on 2 cores), appended
                               to bench/RESULTS.md
    python -m bench --quick    a smoke test of every phase at toy sizes; records nothing
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import importlib
import inspect
import os
import statistics
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import (
    delivery_bench,
    evidence_bench,
    hostile_docs_bench,
    model_bench,
    results,
    run_cost,
    slots_bench,
    streams_bench,
)
from bench import floor as fl
from bench.common import Replica, Row, Target, format_table, load_average, log
from bench.counting_proxy import CountingProxy
from bench.rpc_bench import RpcBench, Sizes

TOKEN = "bench-token-" + "0" * 20
PRINCIPAL = "bench"
STREAMS = 1000
CHANNELS = 8
# Per streamed chunk of the offline model: the run must still execute once
# every stream is open, however long opening takes; it is then cancelled.
STREAMS_DELAY_MS = 20_000
RESEARCH_DELAY_MS = 100
STORE_SECTION = "Store (in-process, own endpoint)"
BROKER_SECTION = "Broker (in-process)"
FANOUT_ERRORS = Target("==", 0, on="value")
RESEARCH_SPEEDUP = Target(">=", 3.0)


@dataclass(frozen=True)
class Mode:
    """Sizes of one invocation."""

    quick: bool
    streams: int
    channels: int
    startups: int
    delay_ms: int

    @classmethod
    def of(cls, quick: bool) -> Mode:
        """Full or smoke-test sizes."""
        if quick:
            return cls(True, streams=40, channels=2, startups=1, delay_ms=5000)
        return cls(False, streams=STREAMS, channels=CHANNELS, startups=3,
                   delay_ms=STREAMS_DELAY_MS)


@dataclass
class Run:
    """Everything one invocation measured, and what it could not."""

    mode: Mode
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, rows: Sequence[Row]) -> None:
        """Rows in table order."""
        self.rows.extend(rows)

    def note(self, text: str) -> None:
        """A line under the table (and on stderr now)."""
        log(f"NOTE: {text}")
        self.notes.append(text)

    @contextlib.contextmanager
    def section(self, name: str, server: Replica | None = None) -> Iterator[None]:
        """Run a phase; a failure is noted and the rest of the benchmark goes on."""
        t0 = time.perf_counter()
        log(f"{name} …")
        try:
            yield
        except Exception as exc:  # one broken phase must not hide the others' numbers
            traceback.print_exc(file=sys.stderr)
            if server is not None and server.child is not None:
                log("the replica's last lines:\n" + server.child.tail(60))
            self.note(f"{name} failed: {type(exc).__name__}: {exc}".splitlines()[0])
        finally:
            log(f"{name} done in {time.perf_counter() - t0:.1f}s")


def token_env() -> str:
    """SCOUT_AUTH_TOKENS for the bench principal."""
    return f"{PRINCIPAL}:{hashlib.sha256(TOKEN.encode()).hexdigest()}"


def replica_env(mode: Mode, **extra: str) -> dict[str, str]:
    """Settings of a bench replica: generous rate limits (the bench is one caller)."""
    return {
        "SCOUT_RATE_LIMIT_RPS": "1000000",
        "SCOUT_RATE_LIMIT_BURST": "10000000",
        "SCOUT_OFFLINE_DELAY_MS": str(mode.delay_ms),
        "SCOUT_RESUME_SCAN_INTERVAL_S": "3600",
        **extra,
    }


# -- phases ----------------------------------------------------------------------------


def startup_rows(scout: Sequence[float], echo: Sequence[float]) -> list[Row]:
    """Start-up to SERVING, median of the starts."""
    return [Row("server start-up to SERVING", statistics.median(scout), "s",
                statistics.median(echo), "bare grpc.aio echo process", section="Server",
                note=f"median of {len(scout)}")]


async def streams_phase(run: Run, replica: Replica, echo: fl.EchoServer) -> None:
    """1,000 streams on one live run: open them, read the RSS, cancel, check every stream."""
    from scout_client import AsyncScoutClient

    mode = run.mode
    async with AsyncScoutClient(replica.address, token=TOKEN) as scout:
        session = await scout.create_session()
        sid = session.session_id
        await scout.upload_file(sid, run_cost.PLAN)
        started = await scout.start_research(sid)

        async def cancel() -> None:
            # The run is paced to outlast the opening; cancelling makes the replica
            # publish its last events to every stream at once: the live fan-out.
            await scout.cancel_run(sid, started.run_id)

        log(f"{mode.streams} live streams on run {started.run_id}")
        live = await streams_bench.open_streams(
            replica.address, TOKEN, sid, started.run_id, mode.streams, mode.channels,
            rss=replica.rss_kib, on_all_open=cancel)
    if live.error_samples:
        run.note("stream errors: " + "; ".join(live.error_samples))
    if live.ended_before_open:
        run.note("the run ended before every stream was open: the RSS and live rows "
                 "measured less than they say (raise STREAMS_DELAY_MS)")
    echo_fan = await fl.echo_fanout(echo.address, mode.streams, 1, 160, mode.channels)
    echo_rss = await fl.echo_rss_with_streams(echo, mode.streams, mode.channels)
    lag = ""
    if live.lags:
        lag = f"; lag p50 {live.lag_ms(50):.0f} ms, p99 {live.lag_ms(99):.0f} ms"
    n = f"{mode.streams:,}"
    section = "Progress fan-out"
    run.add([
        Row(f"progress: {n} streams failed", live.failed, "", None,
            f"each gets all {live.events_per_run} events in order, then ends",
            target=FANOUT_ERRORS, section=section,
            note=f"{live.delivered:,} events delivered, 0 allowed to fail"),
        Row(f"progress: open {n} streams", live.open_seconds, "s", echo_fan.open_seconds,
            f"echo: {n} subscriptions", section=section,
            note="until every stream has its first event (session, run and replay reads)"),
        Row(f"progress: live fan-out to {n} streams", live.fanout_events_per_s, "events/s",
            echo_fan.fanout_events_per_s, f"echo broker, 1 event × {n}", section=section,
            note=f"one live event (RUN_CANCELLED) reached {live.fanout_reached:,} streams "
                 f"from first to last in {live.fanout_seconds * 1000:.0f} ms{lag}"),
        Row("server RSS with streams open", (live.rss_open_kib or float("nan")) / 1024, "MiB",
            echo_rss / 1024, f"echo with {n} open streams", section="Server",
            note=f"{n} streams"),
    ])


async def rpc_phase(run: Run, replica: Replica, boto: fl.BotoFloor,
                    echo: fl.EchoServer, bare: fl.EchoServer) -> None:
    """The RPC and file rows."""
    sizes = Sizes.for_mode(run.mode.quick)
    unary = await fl.echo_unary(echo.address, 4096, sizes.latency_n,
                                sizes.throughput_total // 2, 16)
    boto3_reads = Replica(replica.endpoint_url, replica.table_name, token_env(),
                          replica_env(run.mode, SCOUT_DYNAMODB_LEAN_READS="false")).start()
    bench = RpcBench(replica.address, TOKEN, boto, sizes, echo_unary=unary,
                     echo_address=bare.address, boto3_reads_address=boto3_reads.address)
    try:
        run.add(await bench.run())
    finally:
        await bench.close()
        boto3_reads.stop()
    run.add([Row("bare grpc.aio echo p50 @1 (4 KB reply)", unary[0].p50 * 1000, "ms",
                 None, "the RPC floor itself", section="RPCs",
                 note=f"{unary[1]:,.0f} calls/s @16")])


def delivery_phase(run: Run, echo: fl.EchoServer, endpoint: str, table: str) -> None:
    """Store append → client receipt on the run's replica and on a second one."""
    # A model pace that spreads a run's events over a few seconds.
    env = replica_env(run.mode, SCOUT_OFFLINE_DELAY_MS="20")
    replica = Replica(endpoint, table, token_env(), env).start()
    other = Replica(endpoint, table, token_env(), env).start()
    try:
        plan = run_cost.PLAN.read_bytes()
        own, remote = asyncio.run(delivery_bench.replicas(
            replica, other, TOKEN, plan, runs=1 if run.mode.quick else 3))
        floor = asyncio.run(delivery_bench.echo_floor(echo.address, 50 if run.mode.quick
                                                      else 300))
    finally:
        other.stop()
        replica.stop()
    run.add(delivery_bench.rows(own, remote, floor, poll_ms=250))


def run_cost_phase(run: Run, endpoint: str, table: str, boto: fl.BotoFloor) -> None:
    """A research run on its own replica behind the counting proxy."""
    with CountingProxy(endpoint, classify=run_cost.classify) as proxy:
        replica = Replica(proxy.endpoint_url, table, token_env(),
                          replica_env(run.mode, SCOUT_OFFLINE_DELAY_MS="0")).start()
        try:
            cost = asyncio.run(run_cost.measure(replica, proxy, boto, TOKEN))
        except Exception:
            log("the counted replica's last lines:\n" + (replica.child.tail(60)
                                                        if replica.child else ""))
            raise
        finally:
            replica.stop()
    run.add(run_cost.rows(cost))


# -- the other engineers' benches ----------------------------------------------------


def _call_run(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    """Call ``run`` with whichever of ``kwargs`` it accepts (their names may change)."""
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kwargs.items() if k in params})


def _num(d: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = d.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _target(text: object) -> Target | None:
    """``"<= 0.6"`` → Target (anything else: none)."""
    if not isinstance(text, str):
        return None
    op, _, bound = text.strip().partition(" ")
    try:
        return Target(op, float(bound)) if op in ("<=", ">=") else None
    except ValueError:
        return None


def foreign_rows(section: str, dicts: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Rows from another bench's ``list[dict]``, whatever its exact keys.

    Known shapes: ``p50_ms``/``baseline_p50_ms`` (latency against a
    baseline), ``wall_s``, and ``value``/``floor``/``ratio``/``target``.
    Other numbers go into the note, so nothing measured is dropped.
    """
    out: list[Row] = []
    for d in dicts:
        name = str(d.get("name", "?"))
        baseline = str(d.get("baseline") or d.get("floor_label") or "")
        if "p50_ms" in d and "baseline_p50_ms" in d:
            out.append(Row(f"{name} p50", _num(d, "p50_ms"), "ms", _num(d, "baseline_p50_ms"),
                           baseline, section=section))
            if "p99_ms" in d and "baseline_p99_ms" in d:
                out.append(Row(f"{name} p99", _num(d, "p99_ms"), "ms",
                               _num(d, "baseline_p99_ms"), baseline, section=section))
            continue
        value, unit = _num(d, "value"), str(d.get("unit", ""))
        if value is None and "wall_s" in d:
            value, unit = _num(d, "wall_s"), "s"
        known = ("name", "value", "unit", "floor", "ratio", "baseline", "target", "ok",
                 "wall_s", "floor_label")
        note = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in d.items() if k not in known)
        out.append(Row(name, value, unit, _num(d, "floor"), baseline, ratio=_num(d, "ratio"),
                       target=_target(d.get("target")), section=section, note=note[:160]))
    return out


def research_rows(dicts: Sequence[Mapping[str, Any]]) -> list[Row]:
    """research_bench's wall times, each parallel/sequential pair as one speed-up row.

    Pairs are rows named ``<what> … parallel`` and ``<what> … sequential``
    with a ``wall_s``; their own ratio rows are dropped (the speed-up row
    says the same). The issue's ≥ 3× applies to the specialists' phase: the
    synthesis runs after them in both modes, so a whole run's speed-up is
    bounded by Amdahl's law below what four specialists alone can reach.
    """
    timed = [d for d in dicts if isinstance(d.get("wall_s"), int | float)]
    rows: list[Row] = []
    for par in timed:
        name = str(par.get("name", ""))
        if "parallel" not in name:
            continue
        prefix = name.split("parallel")[0].rstrip(" ,").removesuffix("specialists").rstrip(" ,")
        seq = next((d for d in timed if "sequential" in str(d.get("name", ""))
                    and str(d.get("name", "")).startswith(prefix)), None)
        if seq is None:
            continue
        p, s = float(par["wall_s"]), float(seq["wall_s"])
        whole = "phase" not in prefix
        rows.append(Row(f"research {prefix or 'run'}: specialists in parallel", p, "s", s,
                        "same, specialists forced sequential", ratio=s / p,
                        target=None if whole else RESEARCH_SPEEDUP, section="Research",
                        note=f"speed-up; offline model {par.get('delay_ms')} ms per chunk, "
                             f"median of {par.get('runs')}, in-process MemoryStore"
                             + ("; includes the synthesis, sequential in both" if whole
                                else "")))
    return rows or foreign_rows("Research", dicts)


def other_benches(run: Run) -> None:
    """store_bench, progress_bench, research_bench, each only if it exists."""
    quick = run.mode.quick
    for module, section, convert, kwargs in (
        # 100 ms per 512-character chunk keeps the run model-bound, as a hosted
        # model is (seconds per chunk), while the bench stays short.
        ("bench.research_bench", "Research", research_rows,
         {"delay_ms": 50 if quick else RESEARCH_DELAY_MS, "repeat": 1 if quick else 2}),
        ("bench.store_bench", STORE_SECTION, lambda d: foreign_rows(STORE_SECTION, d),
         {"iterations": 20 if quick else 300}),
        ("bench.progress_bench", BROKER_SECTION, lambda d: foreign_rows(BROKER_SECTION, d),
         {"streams": 50 if quick else STREAMS, "events": 10 if quick else 200}),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            run.note(f"{module} is missing: its section ({section}) is skipped")
            continue
        with run.section(module), contextlib.redirect_stdout(sys.stderr):
            # Their own printout goes to stderr: stdout holds the one table.
            run.add(convert(_call_run(mod.run, kwargs)))


# -- the whole run --------------------------------------------------------------------------


def measure(mode: Mode) -> Run:
    """Every phase, in an order that keeps each measurement on a quiet machine."""
    from scout_service.store import EmbeddedDynamo, create_table

    run = Run(mode)
    table = f"scout-bench-{uuid.uuid4().hex[:8]}"
    with EmbeddedDynamo() as dynamo:
        endpoint = dynamo.endpoint_url
        boto = fl.BotoFloor(fl.boto3_client(endpoint), table)
        create_table(boto.client, table)
        echo = fl.EchoServer().start()  # bare grpc.aio: RPC, stream, start-up, memory floors
        echo_starts = [echo.startup_s]
        echo_idle = echo.rss_kib()
        # The same plus boto3 on a pool: the floor of a service shaped like Scout.
        bare = fl.EchoServer().start(dynamodb=endpoint, table=table)
        replica = None
        try:
            for _ in range(mode.startups - 1):
                extra = fl.EchoServer().start()
                echo_starts.append(extra.startup_s)
                extra.stop()
            scout_starts = []
            for _ in range(mode.startups - 1):
                extra_replica = Replica(endpoint, table, token_env(), replica_env(mode)).start()
                scout_starts.append(extra_replica.startup_s)
                extra_replica.stop()
            replica = Replica(endpoint, table, token_env(), replica_env(mode)).start()
            scout_starts.append(replica.startup_s)
            time.sleep(1.0)
            idle_kib = replica.rss_kib()
            run.add(startup_rows(scout_starts, echo_starts))
            run.add([Row("server RSS idle", idle_kib / 1024, "MiB", echo_idle / 1024,
                          "echo process idle", section="Server")])
            with run.section("RPC rows", replica):
                asyncio.run(rpc_phase(run, replica, boto, echo, bare))
            with run.section("progress streams", replica):
                asyncio.run(streams_phase(run, replica, echo))
            with run.section("event delivery across replicas"):
                delivery_phase(run, echo, endpoint, table)
        finally:
            if replica is not None:
                replica.stop()
            echo.stop()
            bare.stop()
        with run.section("DynamoDB cost of a research run"):
            run_cost_phase(run, endpoint, table, boto)
        with run.section("hostile documents"):
            run.add(hostile_docs_bench.measure(endpoint, table, TOKEN, token_env(),
                                               quick=mode.quick))
    with run.section("research with evidence"):
        run.add(evidence_bench.measure(quick=mode.quick))
    with run.section("run slots with a network model"):
        # The default of SCOUT_MAX_CONCURRENT_NETWORK_RUNS, held at once (~20 s).
        run.add(slots_bench.rows(slots_bench.measure(
            [2] if mode.quick else [slots_bench.DEFAULT_SLOTS],
            0.2 if mode.quick else slots_bench.ANSWER_S)))
    other_benches(run)
    with run.section("model calls"), contextlib.redirect_stdout(sys.stderr):
        run.add(model_bench.measure(quick=mode.quick))
    return run


def order(rows: Sequence[Row]) -> list[Row]:
    """Rows grouped by section, sections in first-seen order."""
    sections: dict[str, list[Row]] = {}
    for row in rows:
        sections.setdefault(row.section, []).append(row)
    return [row for group in sections.values() for row in group]


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, and (full runs) append it to RESULTS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="toy sizes; records nothing")
    parser.add_argument("--no-record", action="store_true",
                        help="print the table but do not append it to bench/RESULTS.md")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    load_before = load_average()
    run = measure(Mode.of(args.quick))
    busy = (os.cpu_count() or 1) * 0.25
    if load_before > busy:
        run.note(f"the machine was busy before the run (1-minute load average "
                 f"{load_before:.2f} on {os.cpu_count()} CPUs): other work skews these numbers")
    rows = order(run.rows)
    seconds = time.perf_counter() - t0
    print(format_table(rows))
    if run.notes:
        print()
        for text in run.notes:
            print(f"- {text}")
    targets = [r for r in rows if r.target is not None]
    failed = [r.name for r in targets if r.ok is not True]
    print(f"\n{len(targets) - len(failed)} of {len(targets)} targets met"
          + (f"; not met: {', '.join(failed)}" if failed else "") + f" ({seconds:.0f} s)")
    if not args.quick and not args.no_record:
        results.append(rows, command="make bench", seconds=seconds, notes=run.notes)
        print(f"appended to {results.RESULTS.relative_to(results.RESULTS.parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
