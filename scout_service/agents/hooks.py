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
from dataclasses import dataclass
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
from scout_service.domain import EventType, TokenUsage
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


@dataclass(frozen=True)
class RunBudget:
    """What one run may spend: tokens and, when the model's prices are known, dollars.

    ``*_source`` names where the limit came from, for the agent's error
    ("brief.max_tokens", "SCOUT_RUN_MAX_TOKENS" …).
    """

    max_tokens: int | None = None
    tokens_source: str = "brief.max_tokens"
    max_cost_usd: float | None = None
    cost_source: str = "SCOUT_RUN_MAX_COST_USD"

    @property
    def is_unlimited(self) -> bool:
        """True when neither limit applies."""
        return not self.max_tokens and not self.max_cost_usd


class BudgetHooks(HookProvider):
    """Stops an agent before a model call that the run's budget cannot pay for."""

    def __init__(self, budget: RunBudget, used: Callable[[], TokenUsage],
                 outcome: AgentOutcome) -> None:
        """``used()`` is what the whole run has spent so far (every agent's tokens)."""
        self._budget = budget
        self._used = used
        self._outcome = outcome

    def register_hooks(self, registry: HookRegistry, **kwargs: Any) -> None:
        """Check before every model call."""
        registry.add_callback(BeforeModelCallEvent, self._before_model)

    async def _before_model(self, event: BeforeModelCallEvent) -> None:
        used = self._used()
        budget = self._budget
        # strands' estimate of the call's input: a call that would cross the limit is not made.
        coming = event.projected_input_tokens or 0
        if budget.max_tokens and used.total_tokens + coming >= budget.max_tokens:
            self._outcome.budget_out = (
                f"stopped: the run's token budget of {budget.max_tokens:,} "
                f"({budget.tokens_source}) was used up ({used.total_tokens:,} tokens"
                + (f", and the next model call would read about {coming:,} more" if coming
                   else "") + ")")
            event.agent.cancel()
        elif (budget.max_cost_usd and used.cost_usd is not None
                and used.cost_usd >= budget.max_cost_usd):
            self._outcome.budget_out = (
                f"stopped: the run's cost budget of ${budget.max_cost_usd:,.2f} "
                f"({budget.cost_source}) was used up (${used.cost_usd:,.4f})")
            event.agent.cancel()
