"""Typed findings: validation, warnings, retries through strands' structured output, resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable
from dataclasses import replace
from typing import Any

import pytest
from pydantic import ValidationError

from scout_service.agents import OfflineModel
from scout_service.api import converters
from scout_service.domain import AgentState, Findings, ReportKind, RunState
from scout_service.errors import NotFound
from scout_service.research import findings
from scout_service.store import MemoryStore
from tests.agents.support import (
    FAST,
    make_runner,
    new_session,
    offline_factory,
    wait_for,
    wait_terminal,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

KNOWN = {"S1", "S2", "S3"}


def _market(**layers: Any) -> Any:
    return findings.bind(ReportKind.MARKET, lambda: KNOWN)(**layers)


def _size(amount: float, currency: str = "EUR", ids: tuple[str, ...] = ("S1",)) -> dict[str, Any]:
    return {"amount": amount, "currency": currency, "source_ids": list(ids)}


def test_a_valid_market_parses_and_som_above_tam_is_kept_with_a_warning() -> None:
    value = _market(tam=_size(62e6), sam=_size(21e6), som=_size(90e6, ids=("S2", "S2")))
    assert value.som.source_ids == ["S2"]  # duplicates dropped
    warned = findings.warnings(value)
    assert [(w.field, "exceeds" in w.message) for w in warned] == [("som", True)]
    assert findings.warnings(_market(tam=_size(62e6), som=_size(1.9e6))) == []


def test_market_layers_in_different_currencies_are_a_warning_not_a_refusal() -> None:
    value = _market(tam=_size(62e6), sam=_size(21e6, "USD"))
    [warning] = findings.warnings(value)
    assert warning.field == "tam/sam/som" and "EUR" in warning.message and "USD" in warning.message


@pytest.mark.parametrize("bad, words", [
    ({"tam": _size(62e6, "EURO")}, "unknown currency"),
    ({"tam": _size(62e6, "€")}, "unknown currency"),
    ({"tam": {"amount": "sixty million", "currency": "EUR", "source_ids": ["S1"]}}, "number"),
    ({"tam": {"amount": 62e6, "currency": "EUR", "source_ids": []}}, "at least 1"),
    ({"tam": {"amount": 62e6, "currency": "EUR"}}, "source_ids"),
    ({"tam": _size(62e6, ids=("S9",))}, "S9 are not sources of this run"),
    ({"tam": _size(62e6, ids=("plan.pdf",))}, "not a source id"),
    ({"tam": {"amount": 1, "source_ids": ["S1"]}}, "currency (money) or a unit"),
    ({"tam": _size(-5)}, "greater than or equal to 0"),
    ({"tam": _size(5), "session_id": "other"}, "Extra inputs"),
])
def test_malformed_findings_are_refused_with_a_message_the_model_can_act_on(
        bad: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _market(**bad)
    assert words in str(refused.value)


def test_the_currency_code_is_normalised_and_the_verdict_is_an_enum() -> None:
    assert _market(tam=_size(1, "eur")).tam.currency == "EUR"
    final = findings.bind(ReportKind.FINAL, lambda: KNOWN)
    with pytest.raises(ValidationError):
        final(verdict="MAYBE", confidence=0.5)
    with pytest.raises(ValidationError):
        final(verdict="GO", confidence=1.5)
    assert final(verdict="NO_GO", confidence=0.1).verdict == "NO_GO"


def test_stored_findings_and_their_warnings_convert_to_the_proto_with_enum_names() -> None:
    competition = findings.bind(ReportKind.COMPETITION, lambda: KNOWN)(competitors=[{
        "name": "VetLijn", "kind": "indirect", "source_ids": ["S3"],
        "price_points": [{"tier": "Consult", "amount": 29, "currency": "EUR",
                          "billing_period": "use", "source_ids": ["S3"]}]}])
    stored = Findings(session_id="s", kind=ReportKind.COMPETITION, run_id="r",
                      data=competition.model_dump_json(exclude_none=True), created_at=1.0,
                      warnings=(("competitors", "listed twice"),))
    message = converters.findings_to_pb(stored)
    [rival] = message.competition.competitors
    assert (rival.name, rival.kind, rival.price_points[0].billing_period) == ("VetLijn", 2, 9)
    assert message.warnings[0].message == "listed twice" and message.run_id == "r"


class ScriptedFindings(OfflineModel):
    """The offline model, except that its findings answers are given, one per try."""

    def __init__(self, kind: ReportKind, answers: list[dict[str, Any]]) -> None:
        super().__init__(kind)
        self.answers = answers
        self.tries = 0

    async def stream(self, messages: Any, tool_specs: Any = None, *args: Any,
                     **kwargs: Any) -> AsyncIterable[Any]:  # type: ignore[override]
        name = findings.tool_name(self.kind)
        offered = name in {s["name"] for s in tool_specs or []}
        last = json.dumps(messages[-1]["content"], default=str)
        after_save_or_findings = "accepted: its citations hold" in last or (
            "Validation failed" in last)
        if not offered or not (after_save_or_findings or kwargs.get("tool_choice")):
            # The offline model without the findings tool: it saves alone, this answers after.
            others = [s for s in tool_specs or [] if s["name"] != name]
            async for event in super().stream(messages, others, *args, **kwargs):
                yield event
            return
        answer = self.answers[min(self.tries, len(self.answers) - 1)]
        self.tries += 1
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {"toolUse": {
            "toolUseId": f"findings-{self.tries}", "name": name}}}}
        yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(answer)}}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use"}}


def _factory(market: ScriptedFindings) -> Any:
    offline = offline_factory()
    return lambda kind: market if kind is ReportKind.MARKET else offline(kind)


async def test_a_malformed_structured_answer_is_retried_with_the_errors_and_then_stored() -> None:
    store = MemoryStore()
    session = await new_session(store)
    market = ScriptedFindings(ReportKind.MARKET, [
        {"tam": {"amount": "a lot", "currency": "EUR", "source_ids": ["S1"]}},
        {"tam": {"amount": 5e6, "currency": "EUR", "source_ids": ["S1"]},
         "som": {"amount": 9e6, "currency": "EUR", "source_ids": ["S1"]}},
    ])
    run = await make_runner(store, factory=_factory(market)).start_research(
        session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    assert done.state is RunState.SUCCEEDED, done.error
    assert market.tries == 2
    stored = {f.kind: f for f in await store.list_findings(session.session_id)}
    value = findings.parse(ReportKind.MARKET, stored[ReportKind.MARKET].data)
    assert value.tam is not None and value.tam.amount == 5e6
    assert [field for field, _ in stored[ReportKind.MARKET].warnings] == ["som"]


async def test_findings_refused_every_time_fail_the_agent_and_nothing_half_valid_is_stored(
        ) -> None:
    store = MemoryStore()
    session = await new_session(store)
    market = ScriptedFindings(ReportKind.MARKET, [
        {"tam": {"amount": 5e6, "currency": "EUR", "source_ids": ["S999"]}}])
    run = await make_runner(store, factory=_factory(market)).start_research(
        session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    status = done.agent(ReportKind.MARKET)
    assert status.state is AgentState.FAILED
    assert "findings were refused 3 times" in (status.error or "")
    assert "S999 are not sources of this run" in (status.error or "")
    assert market.tries == 3
    kinds = {f.kind for f in await store.list_findings(session.session_id)}
    assert ReportKind.MARKET not in kinds and ReportKind.COMPETITION in kinds
    with pytest.raises(NotFound):  # its report passed its checks, but is not stored alone
        await store.get_report(session.session_id, ReportKind.MARKET)
    # the other agents and the final report went on
    assert done.state is RunState.SUCCEEDED
    assert done.agent(ReportKind.FINAL).state is AgentState.SUCCEEDED


async def test_findings_survive_a_replica_dying_mid_run_and_the_rest_are_written_elsewhere(
        ) -> None:
    store = MemoryStore()
    session = await new_session(store)
    dead = make_runner(store, factory=offline_factory(300, market=0),
                       settings=replace(FAST, lease_seconds=0.4), replica_id="dead")
    run = await dead.start_research(session, request_id=None, file_names=[])

    async def market_done() -> bool:
        current = await store.get_run(session.session_id, run.run_id)
        return current.agent(ReportKind.MARKET).state is AgentState.SUCCEEDED

    await wait_for(market_done)
    before = {f.kind: f for f in await store.list_findings(session.session_id)}
    assert set(before) == {ReportKind.MARKET}
    for lr in list(dead._local.values()):
        dead._abandon(lr)
    await asyncio.sleep(0.5)
    other = make_runner(store, replica_id="other")
    await other.start()
    done = await wait_terminal(store, run)
    await other.shutdown(1)
    assert done.state is RunState.SUCCEEDED
    assert other.invocation_counts[(run.run_id, ReportKind.MARKET)] == 0
    after = {f.kind: f for f in await store.list_findings(session.session_id)}
    assert set(after) == set(ReportKind)
    assert after[ReportKind.MARKET] == before[ReportKind.MARKET]
    assert {f.run_id for f in after.values()} == {run.run_id}


class FindingsFirst(OfflineModel):
    """Calls the findings tool before the save tool in its writing turn, once."""

    def __init__(self, kind: ReportKind) -> None:
        super().__init__(kind)
        self.refused: list[str] = []

    async def stream(self, messages: Any, tool_specs: Any = None, *args: Any,
                     **kwargs: Any) -> AsyncIterable[Any]:  # type: ignore[override]
        last = json.dumps(messages[-1]["content"], default=str)
        if "has not been accepted yet" in last:
            self.refused.append(last)
        events = [e async for e in super().stream(messages, tool_specs, *args, **kwargs)]
        starts = [i for i, e in enumerate(events) if "toolUse" in e.get(
            "contentBlockStart", {}).get("start", {})]
        names = [events[i]["contentBlockStart"]["start"]["toolUse"]["name"] for i in starts]
        if not self.refused and len(starts) == 2 and names[1] == findings.tool_name(self.kind):
            save, found = events[starts[0]:starts[1]], events[starts[1]:starts[1] + 3]
            events = [*events[:starts[0]], *found, *save, *events[starts[1] + 3:]]
        for event in events:
            yield event


async def test_findings_given_before_the_report_is_accepted_are_refused_then_taken() -> None:
    store = MemoryStore()
    session = await new_session(store)
    market = FindingsFirst(ReportKind.MARKET)
    offline = offline_factory()
    runner = make_runner(store, factory=lambda k: market if k is ReportKind.MARKET
                         else offline(k))
    run = await runner.start_research(session, request_id=None, file_names=[])
    done = await wait_terminal(store, run)
    assert done.state is RunState.SUCCEEDED, done.error
    assert market.refused  # the model was told to save first, and went on
    kinds = {f.kind for f in await store.list_findings(session.session_id)}
    assert ReportKind.MARKET in kinds
