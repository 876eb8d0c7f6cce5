"""Strands hooks that turn an agent's lifecycle into Scout progress events.

``AGENT_STARTED`` and ``TOOL_CALL`` come from the hooks as strands fires
them; the save tool itself records ``REPORT_SAVED``. Whether an agent
*finished* or *failed* needs what only the runner knows (its timeout, the
run being cancelled, whether the report was saved), so the hooks note the
stop reason and tool errors in the agent's ``AgentOutcome`` and the runner
records ``AGENT_FINISHED`` / ``AGENT_FAILED``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strands.hooks import (
    AfterInvocationEvent,
    AfterToolCallEvent,
    BeforeInvocationEvent,
    BeforeModelCallEvent,
    BeforeToolCallEvent,
    HookProvider,
    HookRegistry,
)

from scout_service.agents.prompts import agent_title, save_tool_name
from scout_service.agents.recorder import EventRecorder
from scout_service.agents.tools import AgentOutcome
from scout_service.domain import EventType
from scout_service.research import findings


class ProgressHooks(HookProvider):
    """Progress events for one agent invocation of one run."""

    def __init__(
        self, recorder: EventRecorder, outcome: AgentOutcome, *,
        describe: Callable[[str, object], str | None] | None = None,
        max_findings_refusals: int = 3,
    ) -> None:
        """Emit through ``recorder``; note what happened in ``outcome``.

        ``describe`` turns a research tool call into its progress line
        ("Searching the documents for …"); other tools are named plainly.
        """
        self._recorder = recorder
        self._outcome = outcome
        self._tool_name = save_tool_name(outcome.kind)
        self._describe = describe
        self._findings_tool = findings.tool_name(outcome.kind)
        self._max_findings_refusals = max_findings_refusals

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        """Subscribe to the agent's lifecycle and tool calls."""
        registry.add_callback(BeforeInvocationEvent, self._started)
        registry.add_callback(BeforeToolCallEvent, self._tool_call)
        registry.add_callback(AfterToolCallEvent, self._tool_done)
        registry.add_callback(AfterInvocationEvent, self._finished)

    async def _started(self, event: BeforeInvocationEvent) -> None:
        kind = self._outcome.kind
        await self._recorder.emit(
            EventType.AGENT_STARTED, f"{agent_title(kind)} started.", agent=kind
        )

    async def _tool_call(self, event: BeforeToolCallEvent) -> None:
        requested = str(event.tool_use.get("name", ""))
        # The name comes from the model: only the agent's own tools are quoted back.
        line = (self._describe(requested, event.tool_use.get("input"))
                if self._describe is not None else None)
        if line is None and requested == self._findings_tool:
            line = f"Recording the {agent_title(self._outcome.kind).lower()}'s typed findings…"
        known = requested == self._tool_name or line is not None
        if line is None:
            line = (f"Calling {self._tool_name}…" if requested == self._tool_name
                    else "Calling an unknown tool (refused)…")
        await self._recorder.emit(
            EventType.TOOL_CALL, line, agent=self._outcome.kind,
            tool_name=requested if known else None,
        )

    async def _tool_done(self, event: AfterToolCallEvent) -> None:
        if event.result.get("status") == "error":
            texts = [str(c.get("text", "")) for c in event.result.get("content", [])]
            self._outcome.tool_error = " ".join(texts)[:300] or "the tool reported an error"
            if event.tool_use.get("name") == self._findings_tool:
                # Strands hands the validation errors back to the model to retry;
                # after the last allowed try the agent is stopped and fails.
                outcome = self._outcome
                outcome.findings_refusals += 1
                if outcome.findings_refusals >= self._max_findings_refusals:
                    outcome.findings_refused_out = (
                        f"its findings were refused {outcome.findings_refusals} times; last: "
                        + " ".join(texts)[:300])
                    event.agent.cancel()

    async def _finished(self, event: AfterInvocationEvent) -> None:
        if event.result is not None:
            self._outcome.stop_reason = str(event.result.stop_reason)


class BudgetHooks(HookProvider):
    """Stops an agent before a model call once the run's token budget is used up."""

    def __init__(self, limit: int, used: Callable[[], int], outcome: AgentOutcome) -> None:
        """``used()`` is what the whole run has spent so far (every agent's tokens)."""
        self._limit = limit
        self._used = used
        self._outcome = outcome

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        """Check before every model call."""
        registry.add_callback(BeforeModelCallEvent, self._before_model)

    async def _before_model(self, event: BeforeModelCallEvent) -> None:
        used = self._used()
        if used >= self._limit:
            self._outcome.budget_out = (
                f"stopped: the run's token budget of {self._limit:,} (brief.max_tokens) was "
                f"used up ({used:,} tokens)")
            event.agent.cancel()
