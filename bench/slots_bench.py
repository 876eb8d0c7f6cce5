"""How many runs one replica holds with a network model (SCOUT_MAX_CONCURRENT_NETWORK_RUNS).

A fake provider answers every model call after 2 s (the offline model's
output, so the agent loop, tool calls, citation checks and saves are the
real ones; only the wait is the network's). For each level N, a fresh
process starts N runs at once on one ``ResearchRunner`` (N slots) with the
``ProgressBroker`` and an in-memory store, follows every run with one
progress stream, and measures:

- event delivery: a stream's receipt time minus the event's ``created_at``
  (stamped just before the event is appended), p50 and p99 over every live
  event of every run: how late the event loop gets to each stream as runs
  pile up;
- RSS: the process's peak resident memory, and its growth per run.

The in-memory store leaves DynamoDB's latency out (it is I/O wait on the
store's thread pool, not event-loop time) and keeps the shared machine's
moto server from being what is measured. The default is the largest level
whose delivery p99 stays under 100 ms with the growth of RSS per run flat.

    python -m bench.slots_bench                 levels 8 16 32 64
    python -m bench.slots_bench --levels 4 8    chosen levels
    python -m bench.slots_bench --quick         one small level (smoke test)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterable, Sequence
from dataclasses import replace
from typing import Any

from bench.common import ROOT, Row, Target, percentile

SECTION = "Run slots (network model, 2 s per call)"
PLAN = ROOT / "examples" / "nordic-meal-kits.md"
ANSWER_S = 2.0
P99_BOUND_MS = 100.0
# SCOUT_MAX_CONCURRENT_NETWORK_RUNS's default, the level ``make bench`` holds.
DEFAULT_SLOTS = 16
# Events of a stream's first second are not counted (see ``follow``).
SETTLE_S = 1.0


def _rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _level(n: int, answer_s: float) -> dict[str, Any]:
    """Run ``n`` runs at once on one runner; delivery latencies and RSS."""
    from scout_service.agents import OfflineModel, ResearchRunner, RunnerSettings
    from scout_service.progress.broker import ProgressBroker
    from scout_service.store import MemoryStore

    class NetworkModel(OfflineModel):
        """The offline model's answers, each after ``answer_s`` of waiting.

        The answer is worked out on a thread of its own (a remote model's work
        happens elsewhere, not on the replica's event loop); it still holds
        the GIL while it computes, so this errs on the side of fewer slots.
        """

        async def stream(self, messages: Any, tool_specs: Any = None, *args: Any,
                         **kwargs: Any) -> AsyncIterable[Any]:  # type: ignore[override]
            answer = super().stream

            async def collect() -> list[Any]:
                return [e async for e in answer(messages, tool_specs, *args, **kwargs)]

            began = time.monotonic()
            events = await asyncio.to_thread(lambda: asyncio.run(collect()))
            await asyncio.sleep(max(0.0, answer_s - (time.monotonic() - began)))
            for event in events:
                yield event

    store = MemoryStore()
    broker = ProgressBroker(store, poll_interval=0.25, heartbeat_interval=60,
                            max_streams=10 * n + 10, max_streams_per_principal=10 * n + 10)
    settings = replace(RunnerSettings(), max_concurrent_runs=n, max_runs_per_principal=n,
                       max_queued_runs=0)
    runner = ResearchRunner(store, broker, lambda kind: NetworkModel(kind), settings=settings,
                            replica_id="bench", provider_name="bench")
    plan = PLAN.read_bytes()

    async def one(data: bytes) -> Any:
        yield data

    sessions = []
    for _ in range(n):
        session = await store.create_session(owner="bench", ttl_seconds=3600)
        await store.put_file(session.session_id, PLAN.name, "text/markdown", one(plan))
        sessions.append(session)
    rss_before = _rss_mb()
    latencies: list[float] = []
    ended: list[str] = []

    async def follow(session_id: str, run_id: str) -> None:
        opened = time.time()
        async for event in broker.subscribe(session_id, run_id, principal="bench"):
            # Live events once the stream is established: one published while the
            # stream is still opening can wait for the broker's next store poll.
            if event.created_at >= opened + SETTLE_S:
                latencies.append(time.time() - event.created_at)
            if event.type.is_terminal:
                ended.append(event.type.value)
                return

    started = time.monotonic()
    runs = [await runner.start_research(s, request_id=None, file_names=[]) for s in sessions]
    assert all(r.state.value == "RUNNING" for r in runs), [r.state for r in runs]
    await asyncio.gather(*(follow(r.session_id, r.run_id) for r in runs))
    wall = time.monotonic() - started
    await runner.shutdown(1.0)
    await broker.close()
    return {
        "runs": n, "wall_s": wall, "events": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
        "rss_mb": _rss_mb(), "rss_per_run_mb": (_rss_mb() - rss_before) / n,
        "completed": ended.count("RUN_COMPLETED"),
    }


def measure(levels: Sequence[int], answer_s: float = ANSWER_S) -> list[dict[str, Any]]:
    """Each level in a fresh process (so RSS is that level's own)."""
    results = []
    for n in levels:
        out = subprocess.run(
            [sys.executable, "-m", "bench.slots_bench", "--one", str(n),
             "--answer-s", str(answer_s)],
            cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"level {n} failed:\n{out.stderr[-3000:]}")
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def chosen(results: Sequence[dict[str, Any]]) -> int | None:
    """The largest level whose delivery p99 stays under the bound."""
    ok = [r["runs"] for r in results if r["p99_ms"] < P99_BOUND_MS
          and r["completed"] == r["runs"]]
    return max(ok) if ok else None


def rows(results: Sequence[dict[str, Any]]) -> list[Row]:
    """One row per level: delivery p99 against the 100 ms bound, RSS in the note."""
    return [Row(
        f"{r['runs']} concurrent runs: event delivery p99", r["p99_ms"], "ms",
        floor=P99_BOUND_MS, floor_label="the bound the default is sized by",
        target=Target("<=", P99_BOUND_MS, on="value"),
        note=(f"p50 {r['p50_ms']:.1f} ms, {r['events']} events, RSS {r['rss_mb']:.0f} MB "
              f"({r['rss_per_run_mb']:.1f} MB/run), {r['completed']}/{r['runs']} completed "
              f"in {r['wall_s']:.0f} s"),
        section=SECTION,
    ) for r in results]


def main() -> None:
    """Print each level's numbers and the level the default is taken from."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", type=int, nargs="*", default=[8, 16, 32, 64])
    parser.add_argument("--answer-s", type=float, default=ANSWER_S)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.one:
        import logging

        logging.disable(logging.WARNING)
        print(json.dumps(asyncio.run(_level(args.one, args.answer_s))))
        return
    levels = [2] if args.quick else args.levels
    results = measure(levels, 0.2 if args.quick else args.answer_s)
    for r in results:
        print(f"{r['runs']:4d} runs: delivery p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms"
              f"  RSS {r['rss_mb']:6.0f} MB ({r['rss_per_run_mb']:.1f} MB/run)"
              f"  {r['completed']}/{r['runs']} completed in {r['wall_s']:.0f} s")
    print(f"largest level with delivery p99 < {P99_BOUND_MS:.0f} ms: {chosen(results)}")


if __name__ == "__main__":
    main()
