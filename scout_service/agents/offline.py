"""The offline model: a real strands ``Model`` that needs no network.

It is Scout's local default. It drives the same agent loop a hosted model
does — a first turn that searches the documents (one ``search_documents``
call per section of its report's outline), a second that writes the report
from the passages those searches returned, quoting them word for word and
citing their source ids, and calls the save tool with it and, right after it
in the same turn, the findings tool (strands' structured output, which ends
the invocation) — so hooks, tool binding, citation and findings checks,
cancellation and token accounting are all exercised without a language
model. It quotes only what the tools returned. The report itself comes from
the extractive analyser (``agents/analysis/``) and says at its top that no
language model wrote it. Same input, same output.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Any, TypeVar

from pydantic import BaseModel
from strands.models import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

from scout_service.agents import analysis, prompts
from scout_service.domain import ReportKind
from scout_service.research import findings
from scout_service.research.tools import SAVE_ANSWER_TOOL as ANSWER_TOOL
from scout_service.research.tools import SEARCH_TOOL, WEB_SEARCH_TOOL

T = TypeVar("T", bound=BaseModel)

MODEL_ID = "scout-offline-extractive"
# Characters of tool input per streamed chunk; each chunk waits ``delay_ms``.
CHUNK_CHARS = 512
_CANCEL_POLL_S = 0.02


def approx_tokens(text: str) -> int:
    """Scout's stand-in for a tokenizer: words × 1.3."""
    return round(len(text.split()) * 1.3)


class OfflineModel(Model):
    """Writes ``kind``'s report extractively and saves it through the agent's tool."""

    def __init__(self, kind: ReportKind, *, delay_ms: int = 0, chunk_chars: int = CHUNK_CHARS):
        """Create the model for one agent; ``delay_ms`` paces every streamed chunk."""
        if delay_ms < 0 or chunk_chars <= 0:
            raise ValueError("delay_ms must be >= 0 and chunk_chars > 0")
        self.kind = kind
        self.config: dict[str, Any] = {
            "model_id": MODEL_ID,
            "delay_ms": delay_ms,
            "chunk_chars": chunk_chars,
        }

    def update_config(self, **model_config: Any) -> None:
        """Update ``delay_ms`` or ``chunk_chars``."""
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        """The model id and pacing."""
        return dict(self.config)

    async def structured_output(
        self, output_model: type[T], prompt: Messages, system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        """Not supported: Scout's agents never ask for structured output."""
        raise NotImplementedError("the offline model does not produce structured output")
        yield {}  # pragma: no cover - makes this an async generator

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        *,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        """Answer one model turn as Bedrock-style stream events."""
        cancel = kwargs.get("cancel_signal")
        cancel_signal = cancel if isinstance(cancel, threading.Event) else None
        input_tokens = approx_tokens(system_prompt or "") + sum(
            approx_tokens(_block_text(block)) for m in messages for block in m["content"]
        )
        result = _last_tool_result(messages)
        search = _research_tool(tool_specs)
        if ANSWER_TOOL in {spec["name"] for spec in tool_specs or []}:
            async for event in self._answer_turn(messages, result, search, input_tokens,
                                                 cancel_signal):
                yield event
            return
        findings_tool = _findings_tool(self.kind, tool_specs)
        if findings_tool is not None and (tool_choice is not None or (
                result is not None and result.get("status") != "error" and _saved(messages))):
            # After a successful save (or when strands forces it): the typed findings.
            async for event in self._findings_turn(findings_tool, messages, input_tokens,
                                                   cancel_signal):
                yield event
            return
        if result is not None and not _saved(messages) and search is not None:
            async for event in self._save_turn(messages, tool_specs, input_tokens,
                                               cancel_signal):
                yield event
            return
        if result is None and search is not None:
            web = WEB_SEARCH_TOOL in {spec["name"] for spec in tool_specs or []}
            async for event in self._search_turn(search, messages, input_tokens, cancel_signal,
                                                 web=web):
                yield event
            return
        if result is not None:
            ok = result.get("status") != "error"
            text = (
                f"The {self.kind.title.lower()} is saved."
                if ok
                else f"The save tool reported an error; the {self.kind.title.lower()} was not "
                "saved."
            )
            async for event in self._text_turn(text, input_tokens, cancel_signal):
                yield event
            return

        async for event in self._save_turn(messages, tool_specs, input_tokens, cancel_signal):
            yield event

    async def _search_turn(
        self, tool_name: str, messages: Messages, input_tokens: int,
        cancel_signal: threading.Event | None, *, web: bool = False,
    ) -> AsyncGenerator[StreamEvent, None]:
        """One ``search_documents`` call per topic of this kind's report (and one on the web)."""
        prompt, _ = self._inputs(messages)
        queries = analysis.SEARCHES[self.kind]
        if not self.kind.is_specialist:  # and each of the brief's questions
            queries = (*queries, *(str(q) for q in prompts.find_brief(prompt).get("questions",
                                                                          [])))
        calls = [(tool_name, q) for q in queries] + ([(WEB_SEARCH_TOOL, queries[0])] if web else [])
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        yield {"contentBlockDelta": {"delta": {"text": (
            f"Searching the documents for the {self.kind.title.lower()}."
        )}}}
        yield {"contentBlockStop": {}}
        for number, (name, query) in enumerate(calls):
            await self._pause(cancel_signal)
            arguments = json.dumps({"query": query, "limit": analysis.SEARCH_LIMIT}
                                   if name == tool_name else {"query": query})
            yield {"contentBlockStart": {"start": {"toolUse": {
                "toolUseId": f"tooluse_offline_search_{self.kind.value}_{number}",
                "name": name,
            }}}}
            yield {"contentBlockDelta": {"delta": {"toolUse": {"input": arguments}}}}
            yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use"}}
        yield _metadata(input_tokens, approx_tokens(" ".join(queries)))

    async def _save_turn(
        self, messages: Messages, tool_specs: list[ToolSpec] | None, input_tokens: int,
        cancel_signal: threading.Event | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        report = self._write(messages)
        tool_name = _save_tool(self.kind, tool_specs)
        if tool_name is None:
            # No save tool offered: answer with the report as plain text.
            async for event in self._text_turn(report, input_tokens, cancel_signal):
                yield event
            return

        arguments = json.dumps({"content": report}, ensure_ascii=False)
        digest = hashlib.sha256(arguments.encode()).hexdigest()[:24]
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        yield {"contentBlockDelta": {"delta": {"text": (
            f"Writing the {self.kind.title.lower()} offline with Scout's extractive analyser."
        )}}}
        yield {"contentBlockStop": {}}
        yield {"contentBlockStart": {"start": {"toolUse": {
            "toolUseId": f"{_SAVE_ID}{digest}", "name": tool_name,
        }}}}
        size = int(self.config["chunk_chars"])
        for start in range(0, len(arguments), size):
            await self._pause(cancel_signal)
            yield {"contentBlockDelta": {"delta": {"toolUse": {
                "input": arguments[start : start + size],
            }}}}
        yield {"contentBlockStop": {}}
        findings_tool = _findings_tool(self.kind, tool_specs)
        findings = ""
        if findings_tool is not None:
            # The findings in the same turn, right after the report: the tools run in
            # order, so they are taken once the report is accepted, and no further model
            # request is needed.
            findings = self._findings(messages)
            for event in _tool_call(findings_tool, findings):
                yield event
        yield {"messageStop": {"stopReason": "tool_use"}}
        yield _metadata(input_tokens, approx_tokens(report) + approx_tokens(findings))

    async def _answer_turn(
        self, messages: Messages, result: Any, search: str | None, input_tokens: int,
        cancel_signal: threading.Event | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """A follow-up question: search for it, then answer with the best passages."""
        prompt, documents = self._inputs(messages)
        question = prompts.find_question(prompt) or ""
        if result is None and search is not None:
            calls = [(search, {"query": question[:400], "limit": analysis.SEARCH_LIMIT})]
        elif result is not None and _called(messages, ANSWER_TOOL):
            ok = result.get("status") != "error"
            text = "The answer is given." if ok else "The answer was refused."
            async for event in self._text_turn(text, input_tokens, cancel_signal):
                yield event
            return
        else:
            [found] = analysis.answer_questions([question], documents, per_question=3)
            lines = analysis.bullets(found["passages"], analysis.Plan()) or [
                "- The passages the analyser retrieved do not bear on this question."]
            content = "\n".join([ANSWER_NOTICE, "", *lines]) + "\n"
            calls = [(ANSWER_TOOL, {"content": content})]
        await self._pause(cancel_signal)
        yield {"messageStart": {"role": "assistant"}}
        for number, (name, arguments) in enumerate(calls):
            yield {"contentBlockStart": {"start": {"toolUse": {
                "toolUseId": f"tooluse_offline_answer_{number}_{len(messages)}", "name": name,
            }}}}
            yield {"contentBlockDelta": {"delta": {"toolUse": {
                "input": json.dumps(arguments, ensure_ascii=False)}}}}
            yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "tool_use"}}
        yield _metadata(input_tokens, approx_tokens(json.dumps(calls, ensure_ascii=False)))

    async def _findings_turn(
        self, tool_name: str, messages: Messages, input_tokens: int,
        cancel_signal: threading.Event | None,
    ) -> AsyncGenerator[StreamEvent, None]:
        arguments = self._findings(messages)
        await self._pause(cancel_signal)
        yield {"messageStart": {"role": "assistant"}}
        for event in _tool_call(tool_name, arguments):
            yield event
        yield {"messageStop": {"stopReason": "tool_use"}}
        yield _metadata(input_tokens, approx_tokens(arguments))

    def _findings(self, messages: Messages) -> str:
        """The typed findings (JSON) of this kind, read off the retrieved passages."""
        prompt, documents = self._inputs(messages)
        verdict = None
        if not self.kind.is_specialist:
            parsed = {kind: analysis.report_sections(text)
                      for kind, text in prompts.find_reports(prompt).items()}
            verdict = analysis.verdict(parsed)
        data = analysis.findings(self.kind, documents, verdict=verdict)
        questions = prompts.find_brief(prompt).get("questions") or []
        if not self.kind.is_specialist and questions:
            data["answers"] = [
                {"question": a["question"][:600],
                 "answer": " ".join(p.text for p in a["passages"])[:2000],
                 "source_ids": list(dict.fromkeys(p.source_id for p in a["passages"]))}
                for a in analysis.answer_questions(questions, documents)
                if a["passages"]
            ]
        return json.dumps(data, ensure_ascii=False)

    def _inputs(self, messages: Messages) -> tuple[str, str]:
        """The user prompt's text, and the documents: the retrieved passages, else the plan."""
        prompt = "\n".join(
            _block_text(block) for m in messages if m["role"] == "user" for block in m["content"]
            if "text" in block
        )
        retrieved = analysis.retrieved_text(
            _block_text(block) for m in messages if m["role"] == "user" for block in m["content"]
            if "toolResult" in block
        )
        return prompt, retrieved or prompts.find_plan(prompt) or prompt

    def _write(self, messages: Messages) -> str:
        prompt, documents = self._inputs(messages)
        brief = prompts.find_brief(prompt)
        if self.kind.is_specialist:
            report = analysis.analyse(self.kind, documents)
        else:
            report = analysis.synthesise(
                prompts.find_reports(prompt), prompts.find_missing(prompt), documents
            )
            if brief.get("questions"):
                report = _with_answers(report, brief["questions"], documents)
        if brief.get("language"):
            report = _with_language_note(report, str(brief["language"]))
        return report

    async def _text_turn(
        self, text: str, input_tokens: int, cancel_signal: threading.Event | None
    ) -> AsyncGenerator[StreamEvent, None]:
        yield {"messageStart": {"role": "assistant"}}
        yield {"contentBlockStart": {"start": {}}}
        size = int(self.config["chunk_chars"])
        for start in range(0, len(text), size):
            await self._pause(cancel_signal)
            yield {"contentBlockDelta": {"delta": {"text": text[start : start + size]}}}
        yield {"contentBlockStop": {}}
        yield {"messageStop": {"stopReason": "end_turn"}}
        yield _metadata(input_tokens, approx_tokens(text))

    async def _pause(self, cancel_signal: threading.Event | None) -> None:
        """Wait ``delay_ms``, waking early when the invocation is cancelled."""
        remaining = int(self.config["delay_ms"]) / 1000
        while remaining > 0:
            if cancel_signal is not None and cancel_signal.is_set():
                return
            step = min(remaining, _CANCEL_POLL_S)
            await asyncio.sleep(step)
            remaining -= step


def _metadata(input_tokens: int, output_tokens: int) -> StreamEvent:
    return {"metadata": {
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 0},
    }}


def _block_text(block: Any) -> str:
    if "text" in block:
        return str(block["text"])
    if "toolResult" in block:
        return "\n".join(str(c.get("text", "")) for c in block["toolResult"].get("content", []))
    if "toolUse" in block:
        return json.dumps(block["toolUse"].get("input", {}), ensure_ascii=False)
    return ""


def _last_tool_result(messages: Messages) -> Any:
    if not messages or messages[-1]["role"] != "user":
        return None
    for block in messages[-1]["content"]:
        if "toolResult" in block:
            return block["toolResult"]
    return None


_SAVE_ID = "tooluse_offline_save_"
ANSWER_NOTICE = (
    "> **Answered offline, without a language model.** These are the passages of the "
    "documents that share most words with the question, quoted word for word; run Scout with "
    "a model provider for an actual answer."
)


def _called(messages: Messages, name: str) -> bool:
    """Whether the model's last turn called the tool ``name``."""
    for message in reversed(messages):
        if message["role"] == "assistant":
            return any(block["toolUse"].get("name") == name
                       for block in message["content"] if "toolUse" in block)
    return False


def _saved(messages: Messages) -> bool:
    """Whether the model's last turn called a save tool (so what follows is its answer)."""
    for message in reversed(messages):
        if message["role"] == "assistant":
            return any(str(block["toolUse"].get("name", "")).startswith("save_")
                       for block in message["content"] if "toolUse" in block)
    return False


def _research_tool(tool_specs: list[ToolSpec] | None) -> str | None:
    names = [spec["name"] for spec in tool_specs or []]
    return SEARCH_TOOL if SEARCH_TOOL in names else None


def _tool_call(name: str, arguments: str) -> list[StreamEvent]:
    """The stream events of one tool call with its whole input."""
    digest = hashlib.sha256(f"{name}:{arguments}".encode()).hexdigest()[:24]
    return [
        {"contentBlockStart": {"start": {"toolUse": {
            "toolUseId": f"tooluse_offline_{digest}", "name": name}}}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": arguments}}}},
        {"contentBlockStop": {}},
    ]


def _findings_tool(kind: ReportKind, tool_specs: list[ToolSpec] | None) -> str | None:
    name = findings.tool_name(kind)
    return name if name in {spec["name"] for spec in tool_specs or []} else None


def _save_tool(kind: ReportKind, tool_specs: list[ToolSpec] | None) -> str | None:
    names = [spec["name"] for spec in tool_specs or []]
    expected = prompts.save_tool_name(kind)
    if expected in names:
        return expected
    return next((n for n in names if n.startswith("save_") and n.endswith("_report")), None)


def _with_answers(report: str, questions: list[str], documents: str) -> str:
    """The final report with the brief's questions answered after its executive summary."""
    lines = [prompts.ANSWERS_HEADING, ""]
    for answer in analysis.answer_questions(questions, documents):
        lines += [f"### {answer['question']}", ""]
        # Sentences are quoted word for word; table rows, which the analyser renders
        # again, are cited without quotation marks (as in every report).
        quoted = analysis.bullets(answer["passages"], analysis.Plan())
        lines += quoted or ["_No passage the analyser retrieved bears on this question._"]
        lines.append("")
    heading = prompts.outline(ReportKind.FINAL)[2]
    at = report.find(f"\n{heading}\n")
    block = "\n".join(lines)
    return report[:at + 1] + block + "\n" + report[at + 1:] if at >= 0 else report + "\n" + block


def _with_language_note(report: str, language: str) -> str:
    """Say plainly that the offline analyser cannot write the language the brief asks for."""
    note = (f"> The brief asks for the language `{language}`: the offline analyser cannot "
            "translate, so this report is written in the language of the documents.")
    at = report.find("\n\n", report.find(analysis.OFFLINE_MARKER))
    return report[:at] + "\n>\n" + note + report[at:] if at >= 0 else note + "\n\n" + report
