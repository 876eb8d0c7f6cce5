"""Research run wall time: the four specialists in parallel against one after another.

Runs a whole research run (four specialists, then the synthesis) on
``MemoryStore`` with the offline model slowed by ``delay_ms`` per streamed
chunk, once with the specialists concurrent (the service's behaviour) and
once forced sequential (``RunnerSettings.sequential_specialists``), and
prints the ratio. With the model dominating, the parallel run should take
about a quarter of the specialists' sequential time plus the synthesis.

Run it with ``python -m bench.research_bench [--delay-ms N] [--repeat N]``;
``run(delay_ms)`` returns the rows for ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from scout_service.agents import OfflineModel, ResearchRunner, RunnerSettings
from scout_service.domain import EventType, ProgressEvent, RunState
from scout_service.store import MemoryStore

PLAN = Path(__file__).resolve().parents[1] / "examples" / "nordic-meal-kits.md"
# The parallel run may take at most this share of the sequential one (the
# synthesis, which cannot overlap, is in both) …
TARGET_RATIO = 0.6
# … and the specialists' phase alone (first event to the last specialist done).
TARGET_PHASE_RATIO = 0.4


class _NullSink:
    def mark_local(self, session_id: str, run_id: str) -> None:
        pass

    def unmark_local(self, session_id: str, run_id: str) -> None:
        pass

    async def publish(self, event: ProgressEvent) -> None:
        pass


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _one_run(delay_ms: int, settings: RunnerSettings) -> tuple[float, float]:
    store = MemoryStore()
    session = await store.create_session(owner="bench", ttl_seconds=3600)
    await store.put_file(session.session_id, "plan.md", "text/markdown",
                         _chunks(PLAN.read_bytes()))
    runner = ResearchRunner(
        store, _NullSink(), lambda kind: OfflineModel(kind, delay_ms=delay_ms),
        settings=settings, replica_id="bench", provider_name="offline",
    )
    started = time.perf_counter()
    run = await runner.start_research(session, request_id=None, file_names=[])
    while not (run := await store.get_run(session.session_id, run.run_id)).state.is_terminal:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    if run.state is not RunState.SUCCEEDED:
        raise RuntimeError(f"benchmark run ended {run.state.value}: {run.error}")
    events = await store.read_events(session.session_id, run.run_id, after_sequence=0)
    phase_end = max(e.created_at for e in events
                    if e.type is EventType.AGENT_FINISHED and e.agent and e.agent.is_specialist)
    return elapsed, phase_end - events[0].created_at


async def _bench(delay_ms: int, repeat: int) -> list[dict[str, Any]]:
    parallel_settings = RunnerSettings()
    sequential_settings = replace(parallel_settings, sequential_specialists=True)
    await _one_run(0, parallel_settings)  # warm-up: imports, regex compilation
    parallel: list[tuple[float, float]] = []
    sequential: list[tuple[float, float]] = []
    for _ in range(repeat):  # interleaved, so drift hits both alike
        parallel.append(await _one_run(delay_ms, parallel_settings))
        sequential.append(await _one_run(delay_ms, sequential_settings))
    p = statistics.median(t for t, _ in parallel)
    s = statistics.median(t for t, _ in sequential)
    pp = statistics.median(t for _, t in parallel)
    sp = statistics.median(t for _, t in sequential)
    common = {"delay_ms": delay_ms, "runs": repeat}
    return [
        {"name": "full run, specialists parallel", "wall_s": p, **common},
        {"name": "full run, specialists sequential (floor)", "wall_s": s, **common},
        {"name": "full run: parallel / sequential", "ratio": p / s,
         "target": f"<= {TARGET_RATIO}", "ok": p / s <= TARGET_RATIO},
        {"name": "specialist phase, parallel", "wall_s": pp, **common},
        {"name": "specialist phase, sequential (floor)", "wall_s": sp, **common},
        {"name": "specialist phase: parallel / sequential", "ratio": pp / sp,
         "target": f"<= {TARGET_PHASE_RATIO}", "ok": pp / sp <= TARGET_PHASE_RATIO},
    ]


def run(delay_ms: int = 20, repeat: int = 3) -> list[dict[str, Any]]:
    """Time full runs both ways; print and return one row each plus the ratio."""
    rows = asyncio.run(_bench(delay_ms, repeat))
    print(format_rows(rows))
    return rows


def format_rows(rows: list[dict[str, Any]]) -> str:
    """The rows as a small text table."""
    lines = []
    for row in rows:
        if "ratio" in row:
            verdict = "ok" if row["ok"] else "ABOVE TARGET"
            lines.append(f"{row['name']:<46} {row['ratio']:>8.2f}x  target {row['target']} "
                         f"({verdict})")
        else:
            lines.append(f"{row['name']:<46} {row['wall_s'] * 1000:>8.0f} ms  (median of "
                         f"{row['runs']}, {row['delay_ms']} ms per chunk)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run(args.delay_ms, args.repeat)


if __name__ == "__main__":
    main()
