"""Research briefs: validation, partial re-runs, questions answered, language, token budget."""

from __future__ import annotations

import json

import pytest

from scout_service.api import validation as valid
from scout_service.domain import AgentState, Brief, EventType, ReportKind, RunState
from scout_service.errors import FailedPrecondition, InvalidArgument
from scout_service.research import citations, findings
from scout_service.store import MemoryStore
from scout_service.store import _codec as codec
from tests.agents.support import all_events, make_runner, new_session, wait_terminal

pytestmark = pytest.mark.timeout(120)


def _brief(**fields: object) -> Brief:
    base: dict[str, object] = {"questions": [], "language": "", "agents": [],
                               "web_search": None, "max_tokens": None, "focus": "",
                               "geography": ""}
    base.update(fields)
    return valid.brief(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("fields, field, words", [
    ({"questions": [""]}, "brief.questions[0]", "must not be empty"),
    ({"questions": ["ok", "   "]}, "brief.questions[1]", "must not be empty"),
    ({"questions": ["x" * 501]}, "brief.questions[0]", "at most 500"),
    ({"questions": [f"q{i}" for i in range(11)]}, "brief.questions", "at most 10"),
    ({"questions": ["bell\x07"]}, "brief.questions[0]", "control characters"),
    ({"language": "klingon"}, "brief.language", "not a BCP-47"),
    ({"language": "xx"}, "brief.language", "not a BCP-47"),
    ({"language": "en_US"}, "brief.language", "not a BCP-47"),
    ({"agents": [None]}, "brief.agents[0]", "must be one of"),
    ({"agents": [ReportKind.FINAL]}, "brief.agents[0]", "always written"),
    ({"agents": [ReportKind.LEGAL, ReportKind.LEGAL]}, "brief.agents[1]", "listed twice"),
    ({"max_tokens": 0}, "brief.max_tokens", "greater than 0"),
    ({"max_tokens": -5}, "brief.max_tokens", "greater than 0"),
    ({"focus": "f" * 501}, "brief.focus", "at most 500"),
    ({"geography": "g" * 201}, "brief.geography", "at most 200"),
])
def test_every_brief_field_is_validated_with_an_error_naming_it(
        fields: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        _brief(**fields)
    assert refused.value.metadata["field"] == field
    assert words in refused.value.message and refused.value.message.startswith(field)


def test_a_valid_brief_is_normalised_and_survives_the_store_codec() -> None:
    brief = _brief(questions=["  What does it cost?  "], language="pt-br",
                   agents=[ReportKind.PRICE, ReportKind.MARKET], web_search=False,
                   max_tokens=5000, focus="B2B", geography="Austria")
    assert brief.questions == ("What does it cost?",) and brief.language == "pt-BR"
    assert brief.specialists == (ReportKind.MARKET, ReportKind.PRICE)  # dossier order
    assert codec.brief_from(codec.brief_json(brief)) == brief
    assert codec.brief_from(None) == Brief()


@pytest.mark.anyio
async def test_a_legal_only_rerun_keeps_the_other_reports_and_writes_legal_and_final_again(
        ) -> None:
    store = MemoryStore()
    session = await new_session(store)
    sid = session.session_id
    runner = make_runner(store)
    first = await runner.start_research(session, request_id=None, file_names=[])
    assert (await wait_terminal(store, first)).state is RunState.SUCCEEDED
    before = {k: await store.get_report(sid, k) for k in ReportKind}
    findings_before = {f.kind: f for f in await store.list_findings(sid)}

    brief = Brief(agents=(ReportKind.LEGAL,),
                  questions=("What does a box cost per portion?",))
    second = await runner.start_research(session, request_id=None, file_names=[], brief=brief)
    assert [a.kind for a in second.agents] == [ReportKind.LEGAL, ReportKind.FINAL]
    done = await wait_terminal(store, second)
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.brief == brief
    after = {k: await store.get_report(sid, k) for k in ReportKind}
    for kind in (ReportKind.MARKET, ReportKind.COMPETITION, ReportKind.PRICE):
        assert after[kind].sha256 == before[kind].sha256 and after[kind].run_id == first.run_id
    for kind in (ReportKind.LEGAL, ReportKind.FINAL):
        assert after[kind].run_id == second.run_id
    findings_after = {f.kind: f for f in await store.list_findings(sid)}
    assert findings_after[ReportKind.MARKET] == findings_before[ReportKind.MARKET]
    assert findings_after[ReportKind.FINAL].run_id == second.run_id

    # The final report cites sources of the new run only, each holding what it quotes,
    # including passages the kept reports had cited in the first run.
    sources = {s.source_id: s for s in (await store.list_sources(
        sid, second.run_id, page_size=1000)).items}
    final = after[ReportKind.FINAL]
    assert final.sources_run_id == second.run_id and set(final.cited) <= set(sources)
    assert citations.check(citations.without_sources(final.content or ""), sources) == []

    # The brief's question is answered in its own section, with a citation.
    content = final.content or ""
    section = content.split("## Answers to the brief's questions", 1)[1].split("\n## ", 1)[0]
    assert "### What does a box cost per portion?" in section and "[S" in section
    answers = json.loads(findings_after[ReportKind.FINAL].data)["answers"]
    assert answers[0]["question"] == "What does a box cost per portion?"
    assert set(answers[0]["source_ids"]) <= set(sources)

    events = await all_events(store, second)
    [started] = [e for e in events if e.type is EventType.RUN_STARTED]
    assert "legal analyst is working" in started.message
    assert started.attributes["agents"] == "legal_report,final_report"
    ran = {e.agent for e in events if e.type is EventType.AGENT_STARTED}
    assert ran == {ReportKind.LEGAL, ReportKind.FINAL}


@pytest.mark.anyio
async def test_a_language_the_offline_model_cannot_write_is_said_plainly() -> None:
    store = MemoryStore()
    session = await new_session(store)
    run = await make_runner(store).start_research(
        session, request_id=None, file_names=[], brief=Brief(language="de"))
    assert (await wait_terminal(store, run)).state is RunState.SUCCEEDED
    for kind in ReportKind:
        content = (await store.get_report(session.session_id, kind)).content or ""
        assert "the language `de`: the offline analyser cannot translate" in content, kind


@pytest.mark.anyio
async def test_a_token_budget_stops_the_agents_and_the_run_says_so() -> None:
    store = MemoryStore()
    session = await new_session(store)
    run = await make_runner(store).start_research(
        session, request_id=None, file_names=[], brief=Brief(max_tokens=3000))
    done = await wait_terminal(store, run)
    assert done.state is RunState.FAILED
    stopped = [a for a in done.agents if "token budget of 3,000" in (a.error or "")]
    assert stopped and all(a.state is AgentState.FAILED for a in stopped)
    # Stopped at their next model call: the four specialists' first turns run in parallel
    # before any usage is known, but nothing after (a whole run uses about 40,000).
    assert done.usage.total_tokens < 20_000
    assert "token budget" in (done.error or "")


@pytest.mark.anyio
async def test_web_search_asked_for_without_a_provider_is_refused_before_a_run_exists() -> None:
    store = MemoryStore()
    session = await new_session(store)
    with pytest.raises(FailedPrecondition) as refused:
        await make_runner(store).start_research(
            session, request_id=None, file_names=[], brief=Brief(web_search=True))
    assert refused.value.reason == "WEB_SEARCH_UNAVAILABLE"
    assert (await store.list_runs(session.session_id, page_size=10)).items == []


def test_the_final_findings_model_takes_answers_with_sources() -> None:
    final = findings.bind(ReportKind.FINAL, lambda: {"S1"})
    value = final(verdict="GO", confidence=0.4, answers=[
        {"question": "Q?", "answer": "A.", "source_ids": ["S1"]}])
    assert value.answers[0].source_ids == ["S1"]
