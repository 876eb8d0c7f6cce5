"""Follow-up questions: grounded, verified answers, idempotent, listed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable
from typing import Any

import pytest

from scout_service.agents import OfflineModel
from scout_service.api import validation as valid
from scout_service.errors import FailedPrecondition, InvalidArgument
from scout_service.research import citations
from scout_service.research.questions import AnswerEvent
from scout_service.store import MemoryStore
from tests.agents.support import make_runner, new_session, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]


async def _collect(events: AsyncIterable[AnswerEvent]) -> list[AnswerEvent]:
    return [e async for e in events]


async def _researched() -> tuple[MemoryStore, Any, Any]:
    store = MemoryStore()
    session = await new_session(store)
    runner = make_runner(store)
    run = await runner.start_research(session, request_id=None, file_names=[])
    await wait_terminal(store, run)
    return store, session, runner


async def test_asking_before_any_report_exists_is_a_failed_precondition() -> None:
    store = MemoryStore()
    session = await new_session(store)
    with pytest.raises(FailedPrecondition) as refused:
        await _collect(make_runner(store).ask(session, "What does it cost?", None))
    assert refused.value.reason == "NO_REPORTS"


async def test_an_answer_streams_progress_then_text_then_cites_a_source_holding_the_price(
        ) -> None:
    store, session, runner = await _researched()
    events = await _collect(runner.ask(session, "What does the Vardag box cost per week?", None))
    kinds = ["progress" if e.progress else "text" if e.text else "answer" for e in events]
    assert kinds[0] == "progress" and kinds[-1] == "answer" and "text" in kinds
    assert kinds.index("text") > max(i for i, k in enumerate(kinds) if k == "progress")
    final = events[-1]
    assert final.question is not None
    assert "".join(e.text for e in events if e.text) == final.question.answer
    sources = {s.source_id: s for s in final.sources}
    assert set(final.question.cited) == set(sources)
    assert {s.run_id for s in sources.values()} == {final.question.question_id}
    assert any("47.90" in s.excerpt for s in sources.values())
    body = citations.without_sources(final.question.answer)
    assert citations.check(body, sources) == []
    assert "Answered offline, without a language model" in body


async def test_the_same_request_id_replays_the_stored_answer_and_the_history_lists_it() -> None:
    store, session, runner = await _researched()
    first = await _collect(runner.ask(session, "Who are the competitors?", "q-1"))
    again = await _collect(runner.ask(session, "Who are the competitors?", "q-1"))
    assert again[-1].question == first[-1].question
    assert not any(e.progress for e in again)  # not answered again
    await _collect(runner.ask(session, "What does delivery cost?", None))
    listed = (await store.list_questions(session.session_id, page_size=10)).items
    assert [q.question for q in listed] == ["Who are the competitors?", "What does delivery cost?"]
    page = await store.list_questions(session.session_id, page_size=1)
    assert page.next_token and len(page.items) == 1


class MisquotingAnswers(OfflineModel):
    """Answers every time with a quote that no source holds."""

    async def stream(self, messages: Any, tool_specs: Any = None, *args: Any,
                     **kwargs: Any) -> AsyncIterable[Any]:  # type: ignore[override]
        if "toolResult" not in json.dumps(messages[-1]["content"], default=str):
            async for event in super().stream(messages, tool_specs, *args, **kwargs):
                yield event
            return
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {"toolUse": {
            "toolUseId": f"bad-{len(messages)}", "name": "save_answer"}}}}
        yield {"contentBlockDelta": {"delta": {"toolUse": {"input": json.dumps(
            {"content": "“A box costs EUR 1.” [S1]"})}}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use"}}


async def test_an_answer_whose_citations_never_hold_is_not_stored_and_says_why() -> None:
    store, session, _ = await _researched()
    liar = make_runner(store, factory=lambda kind: MisquotingAnswers(kind))
    with pytest.raises(FailedPrecondition) as refused:
        await _collect(liar.ask(session, "What does a box cost?", None))
    assert refused.value.reason == "ANSWER_NOT_VERIFIED"
    assert "S1" in refused.value.message
    assert (await store.list_questions(session.session_id, page_size=10)).items == []


def test_questions_are_validated() -> None:
    assert valid.question("  What?  ") == "What?"
    for bad, words in (("", "must not be empty"), ("   ", "must not be empty"),
                       ("x" * 1001, "at most 1000"), ("bell\x07", "control")):
        with pytest.raises(InvalidArgument) as refused:
            valid.question(bad)
        assert words in refused.value.message and refused.value.metadata["field"] == "question"


