"""Which agents a run executes and in which order: specialists, then the synthesis."""

from __future__ import annotations

import asyncio
from typing import Any

from scout_service import tracing
from scout_service.agents import prompts
from scout_service.agents.recorder import RunTakenOver
from scout_service.agents.runner.invoke import _Invoker
from scout_service.agents.runner.local import _LocalRun, _succeeded_at
from scout_service.domain import SPECIALISTS, AgentState, Report, ReportKind
from scout_service.errors import NotFound, ScoutError
from scout_service.research import citations
from scout_service.research.corpus import Corpus
from scout_service.research.sources import SourceRegistry, adopt_citations
from scout_service.store.base import every_item


class _Steps(_Invoker):
    """Schedules a run's agents and gathers the synthesis agent's input."""

    async def _saved_agents(self, lr: _LocalRun) -> set[ReportKind]:
        """Agents already done for this run: their report is saved for it.

        A report in the store is complete (blobs become visible only when
        whole) and is stored after its findings, so an agent whose replica
        died between saving and recording SUCCEEDED is done too: it is
        recorded as SUCCEEDED here, not re-run.
        """
        # One Query for every kind: their metadata carries the run id.
        reports = every_item(lambda token: self._store.list_reports(
            lr.run.session_id, page_size=len(ReportKind), page_token=token))
        saved = {report.kind: report async for report in reports}
        kept: set[ReportKind] = set()
        for status in lr.run.agents:
            report = saved.get(status.kind)
            if report is None or report.run_id != lr.key:
                continue
            kept.add(status.kind)
            if status.state is not AgentState.SUCCEEDED:
                await self._set_agent(lr, status.kind, _succeeded_at(report.updated_at))
        return kept

    async def _run_agents(self, lr: _LocalRun, documents: Corpus, kept: set[ReportKind]) -> None:
        if lr.stop is not None:
            return
        brief = lr.run.brief
        if lr.sources is None:
            lr.sources = await SourceRegistry.load(
                self._store, lr.run.session_id, lr.key, clock=self._clock)
            lr.web = self._web() if brief.web_search is not False else None
        digest = documents.digest
        ran = brief.specialists
        todo = [k for k in ran if k not in kept]
        if self._settings.sequential_specialists:
            for kind in todo:
                if lr.stop is not None:
                    return
                await self._agents_step(
                    lr, {kind: prompts.research_prompt(kind, digest, brief=brief)})
        elif self._settings.warm_cache_first and len(todo) > 1:
            first = asyncio.Event()
            lr.first_response = first
            rest = asyncio.ensure_future(self._after(first, self._agents_step(
                lr, {k: prompts.research_prompt(k, digest, brief=brief) for k in todo[1:]})))
            try:
                await self._agents_step(
                    lr, {todo[0]: prompts.research_prompt(todo[0], digest, brief=brief)})
            except BaseException:
                rest.cancel()  # taken over or cancelled: the others must not start now
                await asyncio.gather(rest, return_exceptions=True)
                raise
            first.set()  # the first agent ended before any response: start the others now
            await rest
        else:
            await self._agents_step(
                lr, {k: prompts.research_prompt(k, digest, brief=brief) for k in todo}
            )
        if lr.stop is not None or ReportKind.FINAL in kept:
            return
        if not any(lr.run.agent(k).state is AgentState.SUCCEEDED for k in ran):
            return
        reports: dict[ReportKind, str] = {}
        missing: dict[ReportKind, str] = {}
        for kind in SPECIALISTS:
            if kind not in ran:
                # A partial re-run: the other specialists' current reports, untouched,
                # their citations made sources of this run.
                try:
                    report = await self._store.get_report(lr.run.session_id, kind)
                except NotFound:
                    missing[kind] = "not run in this run, and the session has no report of it"
                    continue
                reports[kind] = await self._adopt(lr, report)
                continue
            status = lr.run.agent(kind)
            if status.state is AgentState.SUCCEEDED:
                try:
                    saved: Report | None = await self._store.get_report(lr.run.session_id, kind)
                except NotFound:
                    saved = None
                if saved is not None and saved.run_id == lr.key and saved.content:
                    reports[kind] = citations.without_sources(saved.content)
                    continue
                missing[kind] = "its saved report is no longer in the session"
            else:
                missing[kind] = status.error or status.state.value.lower()
        await self._agents_step(lr, {ReportKind.FINAL: prompts.synthesis_prompt(
            reports, missing, digest=digest, brief=brief)})

    @staticmethod
    async def _after(event: asyncio.Event, work: Any) -> None:
        await event.wait()
        await work

    async def _adopt(self, lr: _LocalRun, report: Report) -> str:
        """An earlier report's text for this run's synthesis, its [S#] renumbered here."""
        assert lr.sources is not None
        return await adopt_citations(self._store, lr.sources, report)

    async def _agents_step(self, lr: _LocalRun, work: dict[ReportKind, str]) -> None:
        """Run agents concurrently; one failing never stops the others."""
        for kind, prompt in work.items():
            lr.agent_tasks[kind] = asyncio.create_task(tracing.in_run(
                self._run_agent(lr, kind, prompt), f"agent {kind.value}",
                session_id=lr.run.session_id, run_id=lr.key, **{"scout.agent": kind.value},
            ), name=f"scout-{lr.key}-{kind.value}")
        results = await asyncio.gather(
            *(lr.agent_tasks[k] for k in work), return_exceptions=True
        )
        for kind in work:
            lr.agent_tasks.pop(kind, None)
        for result in results:
            if isinstance(result, (RunTakenOver, ScoutError)):
                raise result
            if isinstance(result, Exception):
                raise result
