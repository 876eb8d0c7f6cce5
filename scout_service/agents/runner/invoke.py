"""Building and invoking one agent: its tools, hooks and budget, its findings and report."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from pydantic import BaseModel
from strands import Agent
from strands.hooks import AfterModelCallEvent
from strands.middleware import InvokeModelStage
from strands.tools.executors import SequentialToolExecutor
from strands.types.exceptions import StructuredOutputException

from scout_service.agents import prompts
from scout_service.agents.hooks import BudgetHooks, ProgressHooks, RunBudget
from scout_service.agents.recorder import EventLogUnavailable, RunTakenOver
from scout_service.agents.runner.documents import _Documents
from scout_service.agents.runner.local import Stop, _describe, _LocalRun
from scout_service.agents.tools import AgentOutcome, ReportBinding, commit_report, make_save_tool
from scout_service.domain import AgentState, EventType, Findings, ReportKind, Run, usage_attributes
from scout_service.research import findings
from scout_service.research.tools import ResearchBinding, describe_call, make_research_tools

logger = logging.getLogger(__name__)


class _Invoker(_Documents):
    """Runs one strands agent of a run and records how it ended."""

    async def _run_agent(self, lr: _LocalRun, kind: ReportKind, prompt: str) -> None:
        assert lr.recorder is not None
        self.invocation_counts[(lr.key, kind)] += 1
        now = self._clock()
        await self._set_agent(lr, kind, lambda a: replace(
            a, state=AgentState.RUNNING, started_at=now, finished_at=None, error=None,
            invocations=a.invocations + 1,
        ))
        outcome = AgentOutcome(kind)
        assert lr.documents is not None and lr.sources is not None
        binding = ReportBinding(
            store=self._store, recorder=lr.recorder, session_id=lr.run.session_id,
            run_id=lr.key, kind=kind, author=self._provider_name,
            may_write=lambda: lr.stop not in (Stop.SHUTDOWN, Stop.LOST),
            registry=lr.sources, max_refusals=self._settings.max_save_refusals,
        )
        research = ResearchBinding(lr.documents.index, lr.sources, kind,
                                   max_searches=self._settings.max_searches_per_agent,
                                   web=lr.web)
        # The findings schema, refusing source ids that are not the run's.
        # Taken only after the save tool accepted the report: the model may call both in
        # one turn (the tools run in the order called), which saves a whole model request.
        findings_model = findings.bind(kind, lr.sources.known, lambda: None if (
            outcome.accepted is not None) else (
            f"the {kind.title.lower()} has not been accepted yet: call "
            f"{prompts.save_tool_name(kind)} first (or again, fixing what it reported)"))
        title = prompts.agent_title(kind)
        recorder = lr.recorder

        async def waiting(delay: float, reason: str, tries: int) -> None:
            await recorder.emit(
                EventType.TOOL_CALL,
                f"{title}: waiting for the model provider ({reason}); trying again in "
                f"{delay:.0f} s…", agent=kind,
                attributes={"model_wait": reason, "delay_s": f"{delay:.1f}",
                            "attempt": str(tries + 1)})

        budget = self._budget(lr.run)
        retry = self._calls.retry(
            deadline=time.monotonic() + self._settings.agent_timeout_s, on_wait=waiting)
        agent = Agent(
            model=self._model_factory(kind),
            tools=[*make_research_tools(research), make_save_tool(binding, outcome)],
            system_prompt=prompts.system_prompt(kind),
            callback_handler=None,
            tool_executor=SequentialToolExecutor(),
            hooks=[ProgressHooks(lr.recorder, outcome, describe=describe_call(lr.sources),
                                 max_findings_refusals=self._settings.max_save_refusals),
                   *([BudgetHooks(budget, lambda: lr.usage_so_far(self._meter), outcome)]
                     if not budget.is_unlimited else [])],
            name=f"scout-{kind.value.replace('_', '-')}",
            retry_strategy=retry,
        )
        if self._calls.limiter is not None:
            agent.add_middleware(InvokeModelStage, self._calls.limiter.middleware)
        if lr.first_response is not None:
            signal = lr.first_response
            agent.add_hook(lambda event: signal.set(), AfterModelCallEvent)
        error: str | None = None
        lr.live[kind] = agent
        try:
            async with asyncio.timeout(self._settings.agent_timeout_s):
                result = await agent.invoke_async(
                    prompt,
                    # A fresh dict per call: strands adds to it in place.
                    invocation_state={"scout_run_id": lr.key, "scout_report_kind": kind.value},
                    cancel_signal=lr.cancel_signal,
                    limits={"turns": self._settings.max_agent_turns},
                    structured_output_model=findings_model,
                )
            if (outcome.accepted is not None and result.structured_output is not None
                    and lr.stop is None):
                # Findings first: a report stored for the run implies its findings are.
                await self._store_findings(lr, kind, result.structured_output, outcome)
                await commit_report(binding, outcome)
        except TimeoutError:
            error = f"timed out after {self._settings.agent_timeout_s:g} s"
        except (RunTakenOver, EventLogUnavailable):
            raise
        except StructuredOutputException as exc:
            # The model ended without (valid) findings; what that means depends on
            # whether it saved its report, said below.
            if outcome.accepted is not None and outcome.findings_refused_out is None:
                outcome.findings_refused_out = (
                    f"its report passed the checks but it gave no findings: {exc}")
        except Exception as exc:
            error = self._calls.explain(exc) or _describe(exc)
            if retry.gave_up is not None:
                error += f" ({retry.gave_up})"
            logger.warning("agent failed", extra={"run_id": lr.key, "kind": kind.value,
                                                  "error_type": type(exc).__name__})
        finally:
            lr.live.pop(kind, None)
        partial = None
        if (outcome.budget_out is not None and outcome.accepted is not None
                and not outcome.saved and lr.stop is None):
            partial = await self._save_partial(binding, outcome)
        usage = self._meter.of(agent)
        self._meter.record(usage)
        finished = self._clock()
        if outcome.saved:
            await self._set_agent(lr, kind, lambda a: replace(
                a, state=AgentState.SUCCEEDED, finished_at=finished, error=partial,
                usage=a.usage + usage))
            await lr.recorder.emit(
                EventType.AGENT_FINISHED,
                f"{title} finished" + (f" with a partial report: {partial}." if partial else "."),
                agent=kind,
                attributes={**usage_attributes(usage),
                            "findings_warnings": str(outcome.findings_warnings),
                            **({"partial": "true"} if partial else {})},
            )
            return
        if lr.stop is not None:
            # Stopped by cancel or shutdown: the run records what that means.
            await self._set_agent(lr, kind, lambda a: replace(a, usage=a.usage + usage))
            return
        if outcome.budget_out is not None:
            error = outcome.budget_out
        if error is None and outcome.refused_out is not None:
            error = outcome.refused_out
        if error is None and outcome.accepted is not None:
            error = outcome.findings_refused_out or (
                "its report passed the checks but it gave no findings; nothing was stored"
                + (f"; the findings tool said: {outcome.tool_error}" if outcome.tool_error else ""))
        if error is None:
            error = "finished without saving its report"
            if outcome.stop_reason not in (None, "end_turn"):
                error += f" (stop reason: {outcome.stop_reason})"
            if outcome.tool_error:
                error += f"; the save tool said: {outcome.tool_error}"
        await self._set_agent(lr, kind, lambda a: replace(
            a, state=AgentState.FAILED, finished_at=finished, error=error,
            usage=a.usage + usage))
        await lr.recorder.emit(EventType.AGENT_FAILED, f"{title} failed: {error}", agent=kind)

    @staticmethod
    async def _save_partial(binding: ReportBinding, outcome: AgentOutcome) -> str:
        """Store a report that passed its checks when the budget stopped the agent after it.

        Only the typed findings are missing (the budget stopped the call that
        gives them): the report is usable, so it is stored with a note saying
        so under its title. An agent stopped before its report was accepted
        has nothing usable and fails.
        """
        assert outcome.accepted is not None and outcome.budget_out is not None
        content, cited = outcome.accepted
        note = (f"> **Partial report.** The agent was {outcome.budget_out}, after this report "
                "passed its checks and before it gave its typed findings.\n\n")
        title, newline, rest = content.partition("\n")
        marked = (f"{title}\n\n{note}{rest.lstrip(chr(10))}" if title.startswith("#") and newline
                  else note + content)
        outcome.accepted = (marked, cited)
        await commit_report(binding, outcome)
        return f"partial: {outcome.budget_out}; its findings were not given"

    def _budget(self, run: Run) -> RunBudget:
        """The run's budget: the brief's token limit, else the replica's default; the cost."""
        settings = self._settings
        tokens, source = run.brief.max_tokens, "brief.max_tokens"
        if not tokens and settings.run_max_tokens:
            tokens, source = settings.run_max_tokens, "SCOUT_RUN_MAX_TOKENS"
        cost = settings.run_max_cost_usd if self._meter.priced else 0
        return RunBudget(max_tokens=tokens or None, tokens_source=source,
                         max_cost_usd=cost or None)

    async def _store_findings(
        self, lr: _LocalRun, kind: ReportKind, value: BaseModel, outcome: AgentOutcome
    ) -> None:
        """Store an agent's validated findings with the warnings the server found in them."""
        assert isinstance(value, findings.MODELS[kind])
        found = findings.warnings(value)
        await self._store.put_findings(Findings(
            session_id=lr.run.session_id, kind=kind, run_id=lr.key,
            data=value.model_dump_json(exclude_none=True), created_at=self._clock(),
            warnings=tuple((w.field, w.message) for w in found),
        ))
        outcome.findings_saved = True
        outcome.findings_warnings = len(found)
