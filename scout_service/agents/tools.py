"""The agents' save tools, bound by the server to one run's session and report kind.

A save tool takes one argument, ``content``. Which session it writes to,
which report kind, and on behalf of which run are captured in a closure when
the runner creates the tool for an agent; nothing the model sends can change
them. Extra arguments a model adds (``session_id``, ``kind`` …, perhaps
because a document told it to) are ignored, and the tool's answer says so.

Before anything is stored the report's citations are checked against the
run's sources (``research/citations.py``): an unknown id or a misquote is
refused as a tool error listing every problem, so the model can mend the
report; after ``max_refusals`` refusals the agent is stopped and fails with
the reason. An accepted report is not stored yet: the model then gives its
typed findings (strands' structured output), and the runner stores the
findings and then the report (``commit_report``), so a report is never stored
without them. A stored report ends with the server's own Sources list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strands import ToolContext, tool

from scout_service.agents.prompts import save_tool_name
from scout_service.agents.recorder import EventRecorder
from scout_service.domain import EventType, ReportKind, ReportSource
from scout_service.research import citations, findings
from scout_service.research.sources import SourceRegistry
from scout_service.store.base import Store

logger = logging.getLogger(__name__)


@dataclass
class AgentOutcome:
    """What one agent invocation did, filled in by its save tool and its hooks."""

    kind: ReportKind
    saved: bool = False
    saved_bytes: int = 0
    stop_reason: str | None = None
    tool_error: str | None = None
    # Reports the save tool refused for their citations, and why it gave up.
    refusals: int = 0
    refused_out: str | None = None
    # The report the save tool accepted (content with its Sources list, cited ids),
    # stored by the runner once the findings validate.
    accepted: tuple[str, tuple[str, ...]] | None = None
    # The typed findings (strands' structured output): stored, with how many
    # warnings; refused by validation, and why the agent was stopped for it.
    findings_saved: bool = False
    findings_warnings: int = 0
    findings_refusals: int = 0
    findings_refused_out: str | None = None


@dataclass(frozen=True)
class ReportBinding:
    """Where an agent's report goes; fixed by the runner for one run."""

    store: Store
    recorder: EventRecorder
    session_id: str
    run_id: str
    kind: ReportKind
    author: str
    # False once the run is being stopped here or was taken over elsewhere.
    may_write: Callable[[], bool]
    # The run's sources, which citations are checked against (None: no research
    # tools, e.g. the paste-everything baseline; then nothing may be cited).
    registry: SourceRegistry | None = None
    max_refusals: int = 3


_INPUT_SCHEMA = {
    "json": {
        "type": "object",
        "properties": {
            "content": {
                "type": "string",
                "description": "The complete report in Markdown, following the required outline.",
            }
        },
        "required": ["content"],
        "additionalProperties": False,
    }
}


def make_save_tool(binding: ReportBinding, outcome: AgentOutcome) -> Any:
    """The ``save_<kind>`` tool of one agent of one run."""
    name = save_tool_name(binding.kind)
    title = binding.kind.title

    @tool(
        name=name,
        description=(
            f"Save the complete {title.lower()} (Markdown) to the research session. Call it "
            "exactly once, with the whole report as `content`. The session and the report kind "
            "are fixed by the server."
        ),
        inputSchema=_INPUT_SCHEMA,
        context=True,
    )
    async def save_report(content: str, tool_context: ToolContext) -> dict[str, Any]:
        raw = tool_context.tool_use.get("input")
        ignored = sorted(k for k in raw if k != "content") if isinstance(raw, dict) else []
        if ignored:
            logger.warning(
                "save tool called with extra arguments; ignored",
                extra={"session_id": binding.session_id, "run_id": binding.run_id,
                       "kind": binding.kind.value,
                       "ignored": [name[:40] for name in ignored[:5]]},
            )
        if not binding.may_write():
            return _error(f"The run is stopping; the {title.lower()} was not saved.")
        if not content.strip():
            return _error("The report is empty. Call the tool again with the complete report.")
        sources = binding.registry.known() if binding.registry is not None else {}
        problems = citations.check(citations.body_of(content), sources)
        if problems:
            outcome.refusals += 1
            listing = citations.describe_problems(problems)
            if outcome.refusals >= binding.max_refusals:
                outcome.refused_out = (
                    f"the save tool refused the report {outcome.refusals} times for its "
                    f"citations; last: {problems[0]}"
                )
                tool_context.agent.cancel(after_current_tools=True)
                return _error(f"The {title.lower()} was not saved and will not be: "
                              f"{outcome.refusals} refusals.\n{listing}")
            return _error(
                f"The {title.lower()} was not saved: its citations do not hold.\n{listing}\n"
                "Fix every problem and call the tool again with the whole report."
            )
        # Stored together with the findings, once they validate (``commit_report``):
        # a report without its findings is never stored.
        outcome.accepted = citations.with_sources(content, sources)
        text = (f"{title} accepted: its citations hold. Now call {findings.tool_name(binding.kind)}"
                " with the typed findings; the report is stored with them.")
        if ignored:
            text += (
                f" Ignored arguments: {', '.join(n[:40] for n in ignored[:5])} — the session "
                "and the report kind are fixed by the server."
            )
        return {"status": "success", "content": [{"text": text}]}

    return save_report


async def commit_report(binding: ReportBinding, outcome: AgentOutcome) -> None:
    """Store the report the save tool accepted (after its findings) and say so."""
    assert outcome.accepted is not None
    stored, cited = outcome.accepted
    report = await binding.store.put_report(
        binding.session_id,
        binding.kind,
        stored,
        source=ReportSource.AGENT,
        author=binding.author,
        run_id=binding.run_id,
        cited=cited,
        sources_run_id=binding.run_id,
    )
    outcome.saved = True
    outcome.saved_bytes = report.size
    await binding.recorder.emit(
        EventType.REPORT_SAVED,
        f"{binding.kind.title} saved to session.",
        agent=binding.kind,
        tool_name=save_tool_name(binding.kind),
        attributes={"size_bytes": str(report.size)},
    )


def _error(text: str) -> dict[str, Any]:
    return {"status": "error", "content": [{"text": text}]}
