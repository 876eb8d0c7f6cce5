"""Run budgets: the default token budget, the cost budget, partial reports, what ends a run."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from scout_service.agents import OfflineModel
from scout_service.agents.usage import UsageMeter
from scout_service.domain import AgentState, Brief, ReportKind, RunState
from scout_service.pricing import Price, PriceTable
from scout_service.store import MemoryStore

from .support import FAST, all_events, make_runner, new_session, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_the_default_token_budget_applies_when_the_brief_sets_none() -> None:
    store = MemoryStore()
    session = await new_session(store)
    runner = make_runner(store, settings=replace(FAST, run_max_tokens=3000))
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[]))
    assert done.state is RunState.FAILED
    stopped = [a for a in done.agents
               if "token budget of 3,000 (SCOUT_RUN_MAX_TOKENS)" in (a.error or "")]
    assert stopped and all(a.state is AgentState.FAILED for a in stopped)
    assert "SCOUT_RUN_MAX_TOKENS" in (done.error or "")
    assert done.usage.total_tokens < 20_000  # a whole run uses about 40,000


async def test_the_briefs_budget_wins_over_the_default() -> None:
    store = MemoryStore()
    session = await new_session(store)
    runner = make_runner(store, settings=replace(FAST, run_max_tokens=3000))
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[], brief=Brief(max_tokens=10**9)))
    assert done.state is RunState.SUCCEEDED, done.error


async def test_a_cost_budget_stops_the_run_when_prices_are_known() -> None:
    store = MemoryStore()
    session = await new_session(store)
    # $1 per thousand tokens: the first turns cost several dollars.
    dear = UsageMeter("offline", "", PriceTable({("offline", "*"): Price(1000, 1000)}))
    runner = make_runner(store, settings=replace(FAST, run_max_cost_usd=2.0), meter=dear)
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[]))
    assert done.state is RunState.FAILED
    assert "cost budget of $2.00 (SCOUT_RUN_MAX_COST_USD)" in (done.error or "")
    assert done.usage.cost_usd is not None and done.usage.cost_usd > 2.0


async def test_a_cost_budget_does_not_apply_to_a_model_without_prices() -> None:
    store = MemoryStore()
    session = await new_session(store)
    unpriced = UsageMeter("offline", "", PriceTable({}))
    runner = make_runner(store, settings=replace(FAST, run_max_cost_usd=0.0001), meter=unpriced)
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[]))
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.usage.cost_usd is None


class _DearSave(OfflineModel):
    """An offline model whose save turn is billed a million tokens: the budget ends there.

    It gives the findings in a turn of their own (the offline model gives them in
    the save's turn, as a real model may or may not), so the budget can stop it
    between the accepted report and its findings.
    """

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        saving = skipping = False
        async for event in super().stream(*args, **kwargs):
            start = event.get("contentBlockStart", {}).get("start", {})
            name = str(start.get("toolUse", {}).get("name", ""))
            if name.startswith("save_"):
                saving = True
            elif saving and name.endswith("Findings"):
                skipping = True
            if skipping:
                skipping = "contentBlockStop" not in event
                continue
            if saving and "metadata" in event:
                event["metadata"]["usage"]["outputTokens"] += 1_000_000
            yield event


async def test_a_report_accepted_before_the_budget_ran_out_is_kept_as_partial() -> None:
    store = MemoryStore()
    session = await new_session(store)
    runner = make_runner(store, factory=lambda kind: _DearSave(kind),
                         settings=replace(FAST, sequential_specialists=True))
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[], brief=Brief(
            agents=(ReportKind.MARKET,), max_tokens=900_000)))
    market = done.agent(ReportKind.MARKET)
    assert market.state is AgentState.SUCCEEDED, market.error
    assert market.error is not None and market.error.startswith("partial: stopped: the run's "
                                                                "token budget of 900,000")
    report = await store.get_report(session.session_id, ReportKind.MARKET)
    title, _, rest = (report.content or "").partition("\n")
    assert title.startswith("# ") and rest.lstrip().startswith("> **Partial report.**")
    # The synthesis could not start: the run ends saying which budget ended it.
    assert done.state is RunState.FAILED
    assert "token budget of 900,000 (brief.max_tokens)" in (done.error or "")
    events = await all_events(store, done)
    assert any(e.attributes.get("partial") == "true" for e in events)
