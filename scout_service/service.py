"""Scout's application layer: ownership, limits and the use cases behind each RPC.

Servicers translate protos and call exactly one method here; this layer
decides who may touch which session (another caller's session is simply
NOT_FOUND, never "forbidden", so its existence does not leak), applies the
per-session limits, and delegates to the store, the research runner and the
progress broker.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from scout_service import errors
from scout_service.api.auth import Principal
from scout_service.domain import (
    Brief,
    FileInfo,
    Findings,
    Page,
    ProgressEvent,
    Question,
    Report,
    ReportKind,
    ReportSource,
    Run,
    RunState,
    Session,
    Source,
)
from scout_service.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    session_not_found,
)
from scout_service.research import citations, findings
from scout_service.research.questions import AnswerEvent
from scout_service.store.base import Store, every_item


class Runner(Protocol):
    """What the service needs of the research runner."""

    async def start_research(
        self, session: Session, *, request_id: str | None, file_names: Sequence[str],
        brief: Brief | None = None,
    ) -> Run:
        """Validate documents, store a new run and start it."""

    async def cancel(self, session_id: str, run_id: str) -> Run:
        """Cancel a run."""

    async def queue_position(self, run: Run) -> int:
        """A QUEUED run's place in the fleet's queue (1: next); 0 if not waiting."""

    def ask(self, session: Session, question: str, request_id: str | None
            ) -> AsyncIterator[AnswerEvent]:
        """Answer a follow-up question about the session's dossier."""


class Broker(Protocol):
    """What the service needs of the progress broker."""

    def subscribe(
        self, session_id: str, run_id: str, *, after_sequence: int = 0, principal: str = ""
    ) -> AsyncIterator[ProgressEvent]:
        """Replay then follow a run's events."""


@dataclass(frozen=True)
class Limits:
    """Per-session limits (from settings)."""

    default_ttl_seconds: int = 24 * 3600
    max_ttl_seconds: int = 7 * 24 * 3600
    max_runs_per_session_per_hour: int = 10


@dataclass(frozen=True)
class ExportDocument:
    """A rendered export: what to call it, its type, its bytes."""

    file_name: str
    content_type: str
    data: bytes


async def _exactly(declared: int, name: str, chunks: AsyncIterable[bytes]
                   ) -> AsyncIterator[bytes]:
    """``chunks``, raising ``InvalidArgument`` unless they add up to ``declared`` bytes."""
    received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > declared:
            raise _size_mismatch(name, declared, f"at least {received}")
        yield chunk
    if received != declared:
        raise _size_mismatch(name, declared, str(received))


def _size_mismatch(name: str, declared: int, received: str) -> InvalidArgument:
    return InvalidArgument(
        f"size_bytes: the upload of {name!r} declared {declared} bytes but sent {received}; "
        "nothing was stored",
        reason="SIZE_MISMATCH",
        metadata={"field": "size_bytes", "declared": str(declared),
                  "received": received.removeprefix("at least ")},
    )


# How long a replica trusts a session's owner/expiry it read (owners never
# change; expiry may move, so this bounds how stale a read-path check can be).
_OWNER_CACHE_SECONDS = 5.0
_OWNER_CACHE_SIZE = 10_000


class ScoutService:
    """The use cases, each checked against the calling principal."""

    def __init__(self, store: Store, runner: Runner, broker: Broker, limits: Limits) -> None:
        self.store = store
        self.runner = runner
        self.broker = broker
        self.limits = limits
        self._owners: OrderedDict[str, tuple[str, int, float]] = OrderedDict()

    # -- ownership ------------------------------------------------------------

    async def session_for(self, p: Principal, session_id: str, *, write: bool = False
                          ) -> Session:
        """The session if it is live and ``p`` may see (or, with ``write``, change) it."""
        session = await self.store.get_session(session_id)
        self._remember(session)
        if not self._may_access(p, session.owner, write=write):
            raise session_not_found(session_id)
        return session

    async def _check_access(self, p: Principal, session_id: str, *, write: bool = False
                            ) -> None:
        """Ownership check served from a short-lived cache (owners never change)."""
        cached = self._owners.get(session_id)
        now = time.time()
        if cached and cached[2] > now - _OWNER_CACHE_SECONDS and cached[1] > now:
            if not self._may_access(p, cached[0], write=write):
                raise session_not_found(session_id)
            return
        await self.session_for(p, session_id, write=write)

    def _remember(self, session: Session) -> None:
        self._owners[session.session_id] = (session.owner, session.expires_at, time.time())
        self._owners.move_to_end(session.session_id)
        while len(self._owners) > _OWNER_CACHE_SIZE:
            self._owners.popitem(last=False)

    @staticmethod
    def _may_access(p: Principal, owner: str, *, write: bool) -> bool:
        # Admins may read every session (SCOUT_ADMIN_PRINCIPALS); only owners change one.
        return owner == p.name or (p.is_admin and not write)

    # -- sessions ---------------------------------------------------------------

    async def create_session(
        self,
        p: Principal,
        *,
        labels: Mapping[str, str],
        ttl_seconds: int,
        request_id: str | None,
    ) -> Session:
        """Open a session owned by ``p``."""
        session = await self.store.create_session(
            owner=p.name, ttl_seconds=ttl_seconds, labels=labels, request_id=request_id
        )
        self._remember(session)
        return session

    async def list_sessions(
        self, p: Principal, page_size: int, page_token: str | None
    ) -> Page[Session]:
        """The caller's own sessions (admins too see only their own here)."""
        return await self.store.list_sessions(p.name, page_size=page_size, page_token=page_token)

    async def extend_session(self, p: Principal, session_id: str, ttl_seconds: int) -> Session:
        """Move the session's expiry to now + ttl."""
        await self.session_for(p, session_id, write=True)
        session = await self.store.extend_session(session_id, ttl_seconds)
        self._remember(session)
        return session

    async def delete_session(self, p: Principal, session_id: str) -> None:
        """Delete the session and everything in it."""
        await self.session_for(p, session_id, write=True)
        self._owners.pop(session_id, None)
        await self.store.delete_session(session_id)

    # -- files --------------------------------------------------------------------

    async def upload_file(
        self,
        p: Principal,
        session_id: str,
        name: str,
        content_type: str,
        declared_size: int | None,
        chunks: AsyncIterable[bytes],
    ) -> FileInfo:
        """Store a file; the store enforces the session's file-count and byte limits.

        A declared size is a promise: an upload whose bytes differ from it is
        refused (INVALID_ARGUMENT, ``SIZE_MISMATCH``) before the store commits
        it, as soon as the bytes run past it or when they end short of it —
        so a truncated stream is never stored as if it were the whole file.
        """
        # put_file itself checks that the session is live.
        await self._check_access(p, session_id, write=True)
        if declared_size is not None:
            chunks = _exactly(declared_size, name, chunks)
        return await self.store.put_file(
            session_id, name, content_type, chunks, declared_size=declared_size
        )

    async def list_files(
        self, p: Principal, session_id: str, page_size: int, page_token: str | None
    ) -> Page[FileInfo]:
        """A page of the session's files."""
        await self._check_access(p, session_id)
        return await self.store.list_files(session_id, page_size=page_size, page_token=page_token)

    async def open_file(
        self, p: Principal, session_id: str, name: str
    ) -> tuple[FileInfo, AsyncIterator[bytes]]:
        """A file's metadata and its bytes."""
        await self._check_access(p, session_id)
        return await self.store.open_file(session_id, name)

    # -- reports -------------------------------------------------------------------

    async def get_report(
        self, p: Principal, session_id: str, kind: ReportKind, version: int | None = None
    ) -> tuple[Report, list[Source]]:
        """One report (the latest version, or ``version``) and the sources it cites.

        A report that cites nothing costs one GetItem; one that cites sources,
        one Query more (its run's sources). An old version cites the sources
        of its own run.
        """
        await self._check_access(p, session_id)
        report = await self.store.get_report(session_id, kind, version)
        if not report.cited or report.sources_run_id is None:
            return report, []
        sources = await self._run_sources(session_id, report.sources_run_id)
        return report, [sources[i] for i in report.cited if i in sources]

    async def list_sources(
        self, p: Principal, session_id: str, run_id: str | None, page_size: int,
        page_token: str | None,
    ) -> tuple[str, Page[Source]]:
        """A run's sources (the latest run's when ``run_id`` is None), and that run's id."""
        session = await self.session_for(p, session_id)
        if run_id is None:
            if session.latest_run_id is None:
                return "", Page(items=[], next_token=None)
            run_id = session.latest_run_id
        else:
            await self.store.get_run(session_id, run_id)  # NotFound for a run not here
        page = await self.store.list_sources(
            session_id, run_id, page_size=page_size, page_token=page_token)
        return run_id, page

    async def ask_question(
        self, p: Principal, session_id: str, question: str, request_id: str | None
    ) -> AsyncIterator[AnswerEvent]:
        """Answer a follow-up question (checked before the stream starts)."""
        session = await self.session_for(p, session_id, write=True)
        return self.runner.ask(session, question, request_id)

    async def list_questions(
        self, p: Principal, session_id: str, page_size: int, page_token: str | None
    ) -> Page[Question]:
        """The session's answered questions, oldest first."""
        await self._check_access(p, session_id)
        return await self.store.list_questions(
            session_id, page_size=page_size, page_token=page_token)

    async def get_findings(
        self, p: Principal, session_id: str, kind: ReportKind | None
    ) -> list[Findings]:
        """The session's findings (one kind's, or every kind's that has them)."""
        await self._check_access(p, session_id)
        found = await self.store.list_findings(session_id)
        return [f for f in found if kind is None or f.kind is kind]

    async def _run_sources(self, session_id: str, run_id: str) -> dict[str, Source]:
        return {s.source_id: s async for s in every_item(lambda token: self.store.list_sources(
            session_id, run_id, page_size=1000, page_token=token))}

    async def list_report_versions(
        self, p: Principal, session_id: str, kind: ReportKind, page_size: int,
        page_token: str | None,
    ) -> Page[Report]:
        """A report's kept versions without content, newest first."""
        await self._check_access(p, session_id)
        return await self.store.list_report_versions(
            session_id, kind, page_size=page_size, page_token=page_token
        )

    async def list_reports(
        self, p: Principal, session_id: str, page_size: int, page_token: str | None
    ) -> Page[Report]:
        """The session's reports without content."""
        await self._check_access(p, session_id)
        return await self.store.list_reports(
            session_id, page_size=page_size, page_token=page_token
        )

    async def put_report(
        self, p: Principal, session_id: str, kind: ReportKind, content: str,
        request_id: str | None,
    ) -> Report:
        """Store a caller's version of a report as its next version."""
        # put_report itself reads the session (with the report it replaces) and
        # refuses an expired or deleted one: the owner check can come from the cache.
        session = await self.session_for(p, session_id, write=True)
        body = citations.body_of(content)
        if not citations.cited_ids(body):
            return await self.store.put_report(
                session_id, kind, content, source=ReportSource.CALLER, author=p.name,
                request_id=request_id,
            )
        # Markers refer to the sources of the run of the report being replaced,
        # or of the session's latest run.
        try:
            current: Report | None = await self.store.get_report(session_id, kind)
        except NotFound:
            current = None
        run_id = (current.sources_run_id if current is not None else None) or (
            session.latest_run_id)
        sources = await self._run_sources(session_id, run_id) if run_id else {}
        problems = citations.check(body, sources)
        if problems:
            unknown = [i for i in citations.cited_ids(body) if i not in sources]
            raise InvalidArgument(
                "content: " + "; ".join(problems[:5]),
                reason="CITATION_INVALID",
                metadata={"field": "content", "unknown_source_ids": ",".join(unknown[:50]),
                          "sources_run_id": run_id or ""},
            )
        stored, cited = citations.with_sources(content, sources)
        return await self.store.put_report(
            session_id, kind, stored, source=ReportSource.CALLER, author=p.name,
            request_id=request_id, cited=cited, sources_run_id=run_id,
        )

    async def export_reports(self, p: Principal, session_id: str, fmt: str) -> ExportDocument:
        """Render every report of the session as one document (md, html, pdf, zip)."""
        from scout_service import exports  # WeasyPrint is slow to import: only when exporting

        renderers = {"md": exports.render_markdown, "html": exports.render_html,
                     "pdf": exports.render_pdf, "zip": exports.render_zip}
        await self._check_access(p, session_id)
        reports = await self._all_reports(session_id)
        if not reports:
            raise FailedPrecondition(
                "the session has no reports yet: run StartResearch or PutReport first",
                reason="NO_REPORTS",
            )
        loaded = await asyncio.gather(
            *(self.store.get_report(session_id, r.kind) for r in reports)
        )
        found = {f.kind: f for f in await self.store.list_findings(session_id)}
        run_ids = {r.sources_run_id for r in loaded if r.cited and r.sources_run_id}
        run_ids |= {f.run_id for f in found.values()}
        by_run = {run: await self._run_sources(session_id, run) for run in sorted(run_ids)}
        items = [
            exports.ExportReport(
                name=r.kind.value, title=r.kind.title, markdown=r.content or "",
                updated_at=datetime.fromtimestamp(r.updated_at, UTC),
                sources=_cited(r, by_run),
                findings=json.loads(found[r.kind].data) if r.kind in found else None,
                findings_run_id=found[r.kind].run_id if r.kind in found else "",
                findings_warnings=found[r.kind].warnings if r.kind in found else (),
                findings_sources=_findings_sources(found.get(r.kind), by_run),
            )
            for r in loaded
        ]
        try:
            data = await asyncio.to_thread(
                renderers[fmt], session_id, items, datetime.now(UTC)
            )
        except exports.ExportUnavailableError as exc:
            raise FailedPrecondition(str(exc), reason="EXPORT_UNAVAILABLE") from None
        return ExportDocument(
            exports.export_file_name(session_id, fmt),  # type: ignore[arg-type]
            exports.EXPORT_CONTENT_TYPES[fmt],  # type: ignore[index]
            data,
        )

    async def _all_reports(self, session_id: str) -> list[Report]:
        page = await self.store.list_reports(session_id, page_size=100, page_token=None)
        return list(page.items)

    # -- research ---------------------------------------------------------------------

    async def start_research(
        self, p: Principal, session_id: str, request_id: str | None, file_names: Sequence[str],
        brief: Brief | None = None,
    ) -> Run:
        """Start a run unless the session started too many in the last hour."""
        session = await self.session_for(p, session_id, write=True)
        recent = await self.store.list_runs(session_id, page_size=1000, page_token=None)
        retried = next((r for r in recent.items if request_id and r.request_id == request_id),
                       None)
        if retried is not None:
            return retried  # an idempotent retry gets the first run, whatever changed since
        hour_ago = time.time() - 3600
        started = [r for r in recent.items if r.created_at > hour_ago]
        if len(started) >= self.limits.max_runs_per_session_per_hour:
            raise errors.limit_exceeded(
                f"the session started {len(started)} runs in the last hour, the limit "
                f"(SCOUT_MAX_RUNS_PER_SESSION_PER_HOUR) is "
                f"{self.limits.max_runs_per_session_per_hour}",
                reason="RUN_RATE_LIMITED", limit="SCOUT_MAX_RUNS_PER_SESSION_PER_HOUR",
                value=self.limits.max_runs_per_session_per_hour,
            )
        return await self.runner.start_research(
            session, request_id=request_id, file_names=file_names, brief=brief or Brief()
        )

    async def get_run(self, p: Principal, session_id: str, run_id: str) -> Run:
        """One run."""
        await self._check_access(p, session_id)
        run = await self.store.get_run(session_id, run_id)
        if run.state is RunState.QUEUED:
            run = replace(run, queue_position=await self.runner.queue_position(run))
        return run

    async def list_runs(
        self, p: Principal, session_id: str, page_size: int, page_token: str | None
    ) -> Page[Run]:
        """The session's runs, newest first."""
        await self._check_access(p, session_id)
        return await self.store.list_runs(session_id, page_size=page_size, page_token=page_token)

    async def cancel_run(self, p: Principal, session_id: str, run_id: str) -> Run:
        """Cancel a run of the caller's session."""
        await self.session_for(p, session_id, write=True)
        return await self.runner.cancel(session_id, run_id)

    async def stream_progress(
        self, p: Principal, session_id: str, run_id: str | None, after_sequence: int
    ) -> AsyncIterator[ProgressEvent]:
        """Subscribe to a run's events (default: the session's latest run)."""
        if run_id is not None:
            await self._check_access(p, session_id)  # the broker reads the run itself
        else:
            session = await self.session_for(p, session_id)
            if not session.latest_run_id:
                raise NotFound(
                    f"session {session_id} has no research run yet: call StartResearch first",
                    reason="NO_RUN",
                )
            run_id = session.latest_run_id
        return self.broker.subscribe(
            session_id, run_id, after_sequence=after_sequence, principal=p.name
        )


def _findings_sources(
    found: Findings | None, by_run: Mapping[str, Mapping[str, Source]]
) -> tuple[Source, ...]:
    """The sources a kind's findings cite, in id order."""
    if found is None:
        return ()
    sources = by_run.get(found.run_id, {})
    ids = sorted(set(findings.source_ids(findings.parse(found.kind, found.data))),
                 key=lambda i: int(i[1:]))
    return tuple(sources[i] for i in ids if i in sources)


def _cited(report: Report, by_run: Mapping[str, Mapping[str, Source]]) -> tuple[Source, ...]:
    """The stored sources a report cites, in its citation order."""
    sources = by_run.get(report.sources_run_id or "", {})
    return tuple(sources[i] for i in report.cited if i in sources)
