"""Research runs with evidence: the runner on MemoryStore with the offline model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from typing import Any

import pytest

from scout_service.agents import OfflineModel
from scout_service.domain import AgentState, EventType, ReportKind, RunState
from scout_service.errors import NotFound
from scout_service.research import citations
from scout_service.store import MemoryStore
from tests.agents.support import all_events, make_runner, new_session, plan_bytes, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def _sources(store: MemoryStore, sid: str, run_id: str) -> dict[str, Any]:
    page = await store.list_sources(sid, run_id, page_size=1000)
    return {s.source_id: s for s in page.items}


async def test_every_offline_citation_resolves_to_a_stored_source_holding_the_quote() -> None:
    store = MemoryStore()
    session = await new_session(store)
    run = await make_runner(store).start_research(session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    assert done.state is RunState.SUCCEEDED, done.error
    sources = await _sources(store, session.session_id, run.run_id)
    assert len(sources) >= 10
    plan = plan_bytes().decode()
    for s in sources.values():
        assert citations.normalise(s.excerpt) in citations.normalise(plan)
    for kind in ReportKind:
        report = await store.get_report(session.session_id, kind)
        content = report.content or ""
        assert report.cited and report.sources_run_id == run.run_id, kind
        assert citations.check(citations.without_sources(content), sources) == []
        assert set(report.cited) <= set(sources)
        assert "\n## Sources\n" in content and '“' in content
    events = await all_events(store, run)
    searches = [e for e in events if e.type is EventType.TOOL_CALL
                and e.message.startswith("Searching the documents for")]
    assert len(searches) >= 20 and {e.tool_name for e in searches} == {"search_documents"}


class LyingMarket(OfflineModel):
    """The market agent saves reports whose citations do not hold, again and again."""

    attempts = 0

    async def stream(self, messages: Any, tool_specs: Any = None, *args: Any,
                     **kwargs: Any) -> AsyncIterable[Any]:  # type: ignore[override]
        last = str(messages[-1])
        if self.kind is not ReportKind.MARKET or "toolResult" not in last:
            async for event in super().stream(messages, tool_specs, *args, **kwargs):
                yield event
            return
        LyingMarket.attempts += 1
        content = ("# Market report\n\nThe market is worth EUR 9 trillion [S999].\n"
                   if LyingMarket.attempts % 2 else
                   '# Market report\n\nThe plan says "the market is worth EUR 9 trillion" [S1].\n')
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {"toolUse": {
            "toolUseId": f"lie_{LyingMarket.attempts}", "name": "save_market_report"}}}}
        yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(
            {"content": content})}}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use"}}


async def test_save_refuses_unknown_ids_and_misquotes_and_a_refused_report_is_never_stored(
) -> None:
    store = MemoryStore()
    session = await new_session(store)
    LyingMarket.attempts = 0
    runner = make_runner(store, factory=LyingMarket)
    run = await runner.start_research(session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    market = done.agent(ReportKind.MARKET)
    assert market.state is AgentState.FAILED
    assert market.error is not None and "refused the report 3 times" in market.error
    assert LyingMarket.attempts == 3
    with pytest.raises(NotFound):
        await store.get_report(session.session_id, ReportKind.MARKET)
    assert done.agent(ReportKind.PRICE).state is AgentState.SUCCEEDED
    assert done.state is RunState.SUCCEEDED  # the others carry on; the final report says so


def _big_plan() -> bytes:
    filler = "\n\n".join(
        f"## Appendix A.{i}\n\nField notes {i}: the crew logged weather, river levels, "
        "ferry timetables and road works for the delivery routes of that week." for i in range(4000)
    )
    fact = ("\n\n## Appendix D: independent market study\n\nThe total addressable market "
            "(TAM) for shared cargo bikes in the Nordics is EUR 2.35 billion in 2025.\n")
    text = "# Fjordwheel cargo bikes — business plan\n\n" + filler + fact
    assert text.index("EUR 2.35 billion") > 400_000
    return text.encode()


async def test_a_fact_past_the_first_400000_characters_is_found_and_cited() -> None:
    store = MemoryStore()
    session = await new_session(store, files={"fjordwheel.md": _big_plan()})
    run = await make_runner(store).start_research(session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    assert done.state is RunState.SUCCEEDED, done.error
    report = (await store.get_report(session.session_id, ReportKind.MARKET)).content or ""
    line = next(ln for ln in report.splitlines() if "EUR 2.35 billion" in ln)
    cited = citations.cited_ids(line)
    sources = await _sources(store, session.session_id, run.run_id)
    assert cited and "EUR 2.35 billion" in sources[cited[0]].excerpt
    assert sources[cited[0]].section == "Appendix D: independent market study"


async def test_reports_cite_passages_of_the_plan_and_of_a_supporting_document() -> None:
    study = (b"# Market study note (2025)\n\n## Market size\n\nIndependent analysts put the "
             b"Swedish meal-kit market at EUR 355 million in 2025, growing 11 % a year.\n")
    store = MemoryStore()
    session = await new_session(store, files={"plan.md": plan_bytes(), "study.md": study})
    run = await make_runner(store).start_research(session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    assert done.state is RunState.SUCCEEDED, done.error
    sources = await _sources(store, session.session_id, run.run_id)
    market = await store.get_report(session.session_id, ReportKind.MARKET)
    files = {sources[i].file_name for i in market.cited}
    assert files == {"plan.md", "study.md"}
