"""Research with evidence: input tokens against the paste-everything baseline, and indexing.

Both designs run in the same process on the same plans, offline model:

- *search*: the runner as it is (digest in the prompt, search_documents and
  read_source tools, citations checked at save);
- *paste*: the earlier design, measured by driving the same offline model
  through a strands Agent whose prompt carries the documents cut at
  400,000 characters (what every agent used to get), with the save tool only.

Indexing: a session of 100 MB of uploads (four 25 MB Markdown files) is
extracted and indexed; time and the peak RSS above the start are rows.
A short plan (10 KB) is shown whole in the prompts, every passage a source;
longer ones are searched.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path
from typing import Any

from strands import Agent

from bench.common import Row, Target
from scout_service.agents import OfflineModel, prompts
from scout_service.agents.tools import AgentOutcome, ReportBinding, commit_report, make_save_tool
from scout_service.documents import combine_documents, extract_text
from scout_service.domain import SPECIALISTS, ReportKind, RunState
from scout_service.research.index import IndexBuilder
from scout_service.store import MemoryStore
from tests.agents.support import make_runner, new_session, plan_bytes, wait_terminal

PASTE_LIMIT = 400_000


def _big_plan(chars: int) -> bytes:
    base = plan_bytes().decode()
    parts = [base]
    size = len(base)
    i = 0
    while size < chars:
        i += 1
        parts.append(f"\n\n## Appendix {i}\n\nOperations log {i}: routes, depots, crates and "
                     "van shifts of the week, with supplier notes on seasonal produce.\n")
        size += len(parts[-1])
    return "".join(parts).encode()


async def _search_tokens(plan: bytes) -> int:
    store = MemoryStore()
    session = await new_session(store, files={"plan.md": plan})
    run = await make_runner(store).start_research(session, request_id=None, file_names=[])
    done = await wait_terminal(store, run, timeout=300)
    assert done.state is RunState.SUCCEEDED, done.error
    return done.usage.input_tokens


async def _paste_tokens(plan: bytes) -> int:
    store = MemoryStore()
    session = await new_session(store, files={"plan.md": plan})
    documents = combine_documents([extract_text(plan, "plan.md", max_chars=PASTE_LIMIT)],
                                  PASTE_LIMIT)
    total = 0
    reports: dict[ReportKind, str] = {}
    for kind in (*SPECIALISTS, ReportKind.FINAL):
        outcome = AgentOutcome(kind)
        recorder: Any = _NullRecorder()
        binding = ReportBinding(store=store, recorder=recorder, session_id=session.session_id,
                                run_id="paste", kind=kind, author="bench",
                                may_write=lambda: True)
        prompt = (prompts.specialist_prompt(kind, documents) if kind.is_specialist
                  else prompts.synthesis_prompt(reports, {}, documents))
        agent = Agent(model=OfflineModel(kind), tools=[make_save_tool(binding, outcome)],
                      callback_handler=None)
        await agent.invoke_async(prompt)
        if outcome.accepted is not None:  # the save tool checked it; store it as the runner does
            await commit_report(binding, outcome)
        total += int(agent.event_loop_metrics.accumulated_usage.get("inputTokens", 0))
        if kind.is_specialist:
            reports[kind] = (await store.get_report(session.session_id, kind)).content or ""
    return total


class _NullRecorder:
    async def emit(self, *args: Any, **kwargs: Any) -> None:
        return None


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _index_session(tmpdir: str, megabytes: int) -> tuple[float, float]:
    start_rss = _rss_mb()
    started = time.perf_counter()
    builder = IndexBuilder(Path(tmpdir) / "bench.db")
    for n in range(4):
        text = _big_plan(megabytes * 1000 * 1000 // 4 - 200).decode()
        doc = extract_text(text.encode(), f"plan-{n}.md", max_chars=30_000_000)
        builder.add(doc, f"sha-{n}")
        del text, doc
    index = builder.finish()
    assert index.search("crates seasonal produce", limit=5)
    index.close()
    return time.perf_counter() - started, _rss_mb() - start_rss


SECTION = "Research with evidence (offline model)"
INDEX_SECONDS_BOUND = 120.0
INDEX_RSS_BOUND_MIB = 512.0


def measure(*, quick: bool) -> list[Row]:
    """Input tokens against the paste baseline, and indexing the largest session."""
    import tempfile

    rows = []
    plans = (("10 KB plan", 0, 1.2), ("300 KB plan", 100_000 if quick else 300_000, 0.3))
    for label, size, bound in plans:
        plan = plan_bytes() if size == 0 else _big_plan(size)
        search = asyncio.run(_search_tokens(plan))
        paste = asyncio.run(_paste_tokens(plan))
        rows.append(Row(f"input tokens of a run, {label}", search, "tokens", paste,
                        "documents pasted into every prompt",
                        target=Target("<=", bound), section=SECTION))
    megabytes = 10 if quick else 100
    with tempfile.TemporaryDirectory() as tmp:
        seconds, rss = _index_session(tmp, megabytes)
    rows.append(Row(f"extract and index a {megabytes} MB session", seconds, "s",
                    note="four Markdown files, FTS5 on disk",
                    target=Target("<=", INDEX_SECONDS_BOUND, "value"), section=SECTION))
    rows.append(Row(f"peak RSS growth indexing {megabytes} MB", rss, "MiB",
                    note="the process's own peak (ru_maxrss), text generation included",
                    target=Target("<=", INDEX_RSS_BOUND_MIB, "value"), section=SECTION))
    return rows


def main() -> None:
    """This phase alone."""
    from bench.common import format_table

    print(format_table(measure(quick="--quick" in sys.argv)))


if __name__ == "__main__":
    main()
