"""Follow-up questions: a grounded, verified answer about a finished dossier.

One agent answers: it gets the session's reports (their ``[S#]`` markers
renumbered into the question's own sources), the documents' digest and the
same research tools as the specialists, and gives its answer through a
``save_answer`` tool that checks every citation exactly like the report save
tools do (an unknown id or a misquote is refused with the problems listed;
after ``max_refusals`` the question fails). Only a verified answer is
stored and sent: the stream carries what the agent does while it works,
then the stored answer's text in pieces, then the answer itself — no caller
ever reads a citation the server has not checked.

The question's sources are stored under the question's id
(``Source.run_id == question_id``), so questions never change a run's
sources and answers stay readable after later runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from strands import Agent, ToolContext, tool
from strands.hooks import BeforeToolCallEvent, HookProvider, HookRegistry
from strands.middleware import InvokeModelStage
from strands.tools.executors import SequentialToolExecutor

from scout_service.agents import prompts
from scout_service.agents.calls import ModelCalls
from scout_service.agents.ids import uuid7
from scout_service.agents.usage import UsageMeter
from scout_service.domain import SPECIALISTS, Question, Report, ReportKind, Session, Source
from scout_service.errors import FailedPrecondition, NotFound
from scout_service.research import citations
from scout_service.research.corpus import Corpus
from scout_service.research.sources import SourceRegistry, adopt_citations
from scout_service.research.tools import (
    SAVE_ANSWER_TOOL,
    ResearchBinding,
    describe_call,
    make_research_tools,
)
from scout_service.research.web import WebResearch
from scout_service.store.base import Store, every_item

logger = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
MAX_ANSWER_CHARS = 60_000
# Characters of the stored answer per streamed text piece.
DELTA_CHARS = 160


@dataclass(frozen=True)
class AnswerEvent:
    """One step of answering: progress, a piece of the answer's text, or the answer."""

    progress: str | None = None
    text: str | None = None
    question: Question | None = None
    sources: tuple[Source, ...] = ()


@dataclass(frozen=True)
class Desk:
    """What answering needs from the replica (wired by the runner)."""

    store: Store
    corpus_of: Callable[[str], Any]  # async: session id -> Corpus
    model: Callable[[], Any]
    author: str
    clock: Callable[[], float]
    timeout_s: float
    max_searches: int
    max_refusals: int
    max_turns: int
    web: Callable[[], WebResearch | None]
    # How model calls are made (retries with backoff, the per-replica call limit)
    # and metered (tokens and cost counted like the runs' agents).
    calls: ModelCalls = field(default_factory=ModelCalls)
    meter: UsageMeter | None = None


async def ask(desk: Desk, session: Session, question: str, request_id: str | None
              ) -> AsyncIterator[AnswerEvent]:
    """Answer ``question`` about ``session``'s dossier (or replay the answer of ``request_id``)."""
    sid = session.session_id
    if request_id is not None:
        found = await desk.store.find_question(sid, request_id)
        if found is not None:
            async for event in _replay(desk, found):
                yield event
            return
    reports = await _reports(desk.store, sid)
    if not reports:
        raise FailedPrecondition(
            "the session has no reports yet: run StartResearch (or PutReport) before asking "
            "about the dossier", reason="NO_REPORTS")
    corpus: Corpus = await desk.corpus_of(sid)
    question_id = uuid7(desk.clock())
    registry = SourceRegistry(desk.store, sid, question_id, clock=desk.clock)
    texts = {kind: await adopt_citations(desk.store, registry, report)
             for kind, report in reports.items()}
    accepted: list[tuple[str, tuple[str, ...]]] = []
    refusals: list[str] = []
    progress: asyncio.Queue[str] = asyncio.Queue()

    async def waiting(delay: float, reason: str, tries: int) -> None:
        progress.put_nowait(f"Waiting for the model provider ({reason}); trying again in "
                            f"{delay:.0f} s…")

    agent = Agent(
        model=desk.model(),
        tools=[*make_research_tools(ResearchBinding(
            corpus.index, registry, ReportKind.FINAL, max_searches=desk.max_searches,
            web=desk.web())),
            _save_answer_tool(registry, accepted, refusals, desk.max_refusals)],
        system_prompt=prompts.QUESTION_SYSTEM_PROMPT,
        callback_handler=None,
        hooks=[_Progress(progress, describe_call(registry))],
        name="scout-question",
        tool_executor=SequentialToolExecutor(),
        retry_strategy=desk.calls.retry(deadline=time.monotonic() + desk.timeout_s,
                                        on_wait=waiting),
    )
    if desk.calls.limiter is not None:
        agent.add_middleware(InvokeModelStage, desk.calls.limiter.middleware)
    prompt = prompts.question_prompt(question, texts, corpus.digest)
    task = asyncio.create_task(agent.invoke_async(
        prompt, invocation_state={"scout_question_id": question_id},
        limits={"turns": desk.max_turns}))
    try:
        async with asyncio.timeout(desk.timeout_s):
            while not task.done():
                getter = asyncio.ensure_future(progress.get())
                await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield AnswerEvent(progress=getter.result())
                else:
                    getter.cancel()
            while not progress.empty():
                yield AnswerEvent(progress=progress.get_nowait())
            await task
    except TimeoutError:
        raise FailedPrecondition(f"no verified answer within {desk.timeout_s:g} s; ask again",
                                 reason="ANSWER_TIMEOUT") from None
    finally:
        if not task.done():
            agent.cancel()
            task.cancel()
        if desk.meter is not None:
            desk.meter.record(desk.meter.of(agent))
    if not accepted:
        why = refusals[-1] if refusals else "the model gave no answer through save_answer"
        raise FailedPrecondition(f"no answer whose citations hold: {why}",
                                 reason="ANSWER_NOT_VERIFIED")
    answer, cited = accepted[-1]
    stored = await desk.store.put_question(Question(
        session_id=sid, question_id=question_id, question=question, answer=answer,
        created_at=desk.clock(), author=desk.author, cited=cited, request_id=request_id,
    ))
    async for event in _replay(desk, stored):
        yield event


async def _replay(desk: Desk, question: Question) -> AsyncIterator[AnswerEvent]:
    """A stored answer as text pieces, then the answer with the sources it cites."""
    for start in range(0, len(question.answer), DELTA_CHARS):
        yield AnswerEvent(text=question.answer[start:start + DELTA_CHARS])
    yield AnswerEvent(question=question,
                      sources=await cited_sources(desk.store, question))


async def cited_sources(store: Store, question: Question) -> tuple[Source, ...]:
    """The stored sources an answer cites, in its citation order."""
    if not question.cited:
        return ()
    held = {s.source_id: s async for s in every_item(lambda token: store.list_sources(
        question.session_id, question.question_id, page_size=1000, page_token=token))}
    return tuple(held[i] for i in question.cited if i in held)


async def _reports(store: Store, session_id: str) -> dict[ReportKind, Report]:
    listed = [r async for r in every_item(lambda token: store.list_reports(
        session_id, page_size=len(ReportKind), page_token=token))]
    out: dict[ReportKind, Report] = {}
    for report in listed:
        try:
            out[report.kind] = await store.get_report(session_id, report.kind)
        except NotFound:
            continue
    order = (ReportKind.FINAL, *SPECIALISTS)
    return {kind: out[kind] for kind in order if kind in out}


class _Progress(HookProvider):
    """Research tool calls as progress lines of the answer's stream."""

    def __init__(self, queue: asyncio.Queue[str],
                 describe: Callable[[str, object], str | None]) -> None:
        self._queue = queue
        self._describe = describe

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        registry.add_callback(BeforeToolCallEvent, self._tool_call)

    async def _tool_call(self, event: BeforeToolCallEvent) -> None:
        name = str(event.tool_use.get("name", ""))
        line = self._describe(name, event.tool_use.get("input"))
        if line is None and name == SAVE_ANSWER_TOOL:
            line = "Checking the answer's citations…"
        if line is not None:
            self._queue.put_nowait(line)


_INPUT_SCHEMA = {"json": {
    "type": "object",
    "properties": {"content": {"type": "string",
                               "description": "The complete answer in Markdown, with citations."}},
    "required": ["content"],
    "additionalProperties": False,
}}


def _save_answer_tool(registry: SourceRegistry, accepted: list[tuple[str, tuple[str, ...]]],
                      refusals: list[str], max_refusals: int) -> Any:
    @tool(name=SAVE_ANSWER_TOOL, inputSchema=_INPUT_SCHEMA, context=True,
          description="Give the complete answer (Markdown, citing [S#]). Call it once; the "
                      "server checks every citation and refuses an answer whose citations "
                      "do not hold.")
    async def save_answer(content: str, tool_context: ToolContext) -> dict[str, Any]:
        text = content.strip()
        if not text:
            return _error("The answer is empty. Call the tool again with the whole answer.")
        if len(text) > MAX_ANSWER_CHARS:
            return _error(f"The answer is longer than {MAX_ANSWER_CHARS} characters; shorten it.")
        sources = registry.known()
        problems = citations.check(citations.body_of(text), sources)
        if problems:
            refusals.append(str(problems[0]))
            listing = citations.describe_problems(problems)
            if len(refusals) >= max_refusals:
                tool_context.agent.cancel(after_current_tools=True)
                return _error(f"The answer was refused {len(refusals)} times and will not be "
                              f"given.\n{listing}")
            return _error(f"The answer was not accepted: its citations do not hold.\n{listing}\n"
                          "Fix every problem and call the tool again with the whole answer.")
        accepted.append(citations.with_sources(text, sources))
        return {"status": "success", "content": [{"text": "Answer accepted."}]}

    return save_answer


def _error(text: str) -> dict[str, Any]:
    return {"status": "error", "content": [{"text": text}]}
