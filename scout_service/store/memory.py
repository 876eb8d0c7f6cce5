"""An in-process ``Store`` for fast unit tests, behaviourally equal to DynamoDB.

It keeps the same rules as ``DynamoStore`` — expiry through an injectable
clock, idempotent request ids, size limits checked before anything is
stored, version conflicts, the single active-run slot — and pages by the
same sort keys, so it accepts and hands out the same page tokens. The same
contract suite (``tests/store/test_contract.py``) runs against both.

State sits in plain dicts behind one ``threading.Lock``; no method awaits
while it holds the lock, so it is safe from any thread or event loop.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from scout_service import errors
from scout_service.domain import (
    FileInfo,
    Findings,
    Page,
    ProgressEvent,
    Question,
    Report,
    ReportKind,
    ReportSource,
    Run,
    Session,
    Source,
)
from scout_service.errors import session_not_found
from scout_service.store import _keys as keys
from scout_service.store import rules
from scout_service.store.base import Store, StoreLimits

T = TypeVar("T")


@dataclass
class _SessionData:
    """Everything stored under one session; it all expires with ``session``."""

    session: Session
    create_idem: tuple[str, str] | None = None
    files: dict[str, tuple[FileInfo, bytes]] = field(default_factory=dict)
    # kind name -> its kept versions, oldest first (each with its content)
    reports: dict[str, list[tuple[Report, str]]] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    events: dict[str, dict[int, ProgressEvent]] = field(default_factory=dict)
    # run id -> source number -> source
    sources: dict[str, dict[int, Source]] = field(default_factory=dict)
    findings: dict[ReportKind, Findings] = field(default_factory=dict)
    questions: dict[str, Question] = field(default_factory=dict)
    # "StartResearch#<request_id>" -> run id; "PutReport#<request_id>" -> Report.
    idem: dict[str, str | Report] = field(default_factory=dict)


class MemoryStore(Store):
    """Dict-backed fake of the DynamoDB store (see module docstring)."""

    def __init__(
        self,
        *,
        limits: StoreLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits or StoreLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _SessionData] = {}
        self._create_idem: dict[tuple[str, str], str] = {}

    # -- helpers ------------------------------------------------------------------

    def _live(self, session_id: str) -> _SessionData | None:
        data = self._sessions.get(session_id)
        if data is None:
            return None
        if not rules.is_live(data.session.expires_at, self._clock()):
            return None
        return data

    def _require(self, session_id: str) -> _SessionData:
        data = self._live(session_id)
        if data is None:
            raise session_not_found(session_id)
        return data

    # -- sessions -----------------------------------------------------------------

    async def create_session(
        self,
        *,
        owner: str,
        ttl_seconds: int,
        labels: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Session:
        with self._lock:
            if request_id is not None:
                previous = self._create_idem.get((owner, request_id))
                if previous is not None:
                    data = self._live(previous)
                    if data is not None:
                        return data.session
            session = rules.new_session(owner, ttl_seconds, labels, self._clock())
            data = _SessionData(session=session)
            if request_id is not None:
                data.create_idem = (owner, request_id)
                self._create_idem[(owner, request_id)] = session.session_id
            self._sessions[session.session_id] = data
            return session

    async def get_session(self, session_id: str) -> Session:
        with self._lock:
            return self._require(session_id).session

    async def list_sessions(
        self, owner: str | None, *, page_size: int, page_token: str | None = None
    ) -> Page[Session]:
        listing = keys.LIST_SESSIONS if owner is not None else keys.LIST_ALL_SESSIONS
        scope = owner if owner is not None else "*"
        cursor = None
        if page_token:
            cursor = keys.decode_token(page_token, listing, scope)["gsi1sk"]
        with self._lock:
            now = self._clock()
            rows = sorted(
                (
                    (keys.session_gsi_sk(d.session.created_at, sid), d.session)
                    for sid, d in self._sessions.items()
                    if rules.is_live(d.session.expires_at, now)
                    and (owner is None or d.session.owner == owner)
                ),
                key=lambda row: row[0],
                reverse=True,
            )
        if cursor is not None:
            rows = [row for row in rows if row[0] < cursor]
        page = rows[:page_size]
        token = None
        if len(rows) > page_size:
            last_sk, last = page[-1]
            if owner is None:
                token = keys.encode_token(listing, scope, {"gsi1sk": last_sk})
            else:
                token = keys.encode_token(
                    listing,
                    scope,
                    {
                        "session_id": last.session_id,
                        "sk": keys.SESSION_SK,
                        "gsi1pk": keys.owner_pk(owner),
                        "gsi1sk": last_sk,
                    },
                )
        return Page(items=[session for _, session in page], next_token=token)

    async def extend_session(self, session_id: str, ttl_seconds: int) -> Session:
        with self._lock:
            data = self._require(session_id)
            expires_at = rules.expiry(self._clock(), ttl_seconds)
            data.session = replace(data.session, expires_at=expires_at)
            return data.session

    async def delete_session(self, session_id: str) -> None:
        with self._lock:
            data = self._require(session_id)
            del self._sessions[session_id]
            if data.create_idem is not None:
                self._create_idem.pop(data.create_idem, None)

    # -- files --------------------------------------------------------------------

    async def put_file(
        self,
        session_id: str,
        name: str,
        content_type: str,
        chunks: AsyncIterable[bytes],
        *,
        declared_size: int | None = None,
    ) -> FileInfo:
        with self._lock:
            room = self._file_room(self._require(session_id), name)
        if declared_size is not None:
            self.limits.check_file_size(name, declared_size, room)
        digest = hashlib.sha256()
        buffer = bytearray()
        async for chunk in chunks:
            self.limits.check_file_size(name, len(buffer) + len(chunk), room)
            digest.update(chunk)
            buffer += chunk
        with self._lock:
            data = self._require(session_id)
            # Again, atomically: other uploads may have landed meanwhile.
            self.limits.check_file_size(name, len(buffer), self._file_room(data, name))
            info = rules.new_file(session_id, name, content_type, len(buffer),
                                  digest.hexdigest(), self._clock())
            data.files[name] = (info, bytes(buffer))
            return info

    def _file_room(self, data: _SessionData, name: str) -> int:
        """``StoreLimits.file_room`` for ``name`` in this session (call holding the lock)."""
        replaced = data.files.get(name)
        return self.limits.file_room(
            held=len(data.files),
            used=sum(info.size for info, _ in data.files.values()),
            replaced=replaced[0].size if replaced is not None else None,
        )

    async def get_file(self, session_id: str, name: str) -> FileInfo:
        return self._file(session_id, name)[0]

    def _file(self, session_id: str, name: str) -> tuple[FileInfo, bytes]:
        with self._lock:
            data = self._live(session_id)
            entry = data.files.get(name) if data is not None else None
        if entry is None:
            raise errors.file_not_found(session_id, name)
        return entry

    async def open_file(self, session_id: str, name: str) -> tuple[FileInfo, AsyncIterator[bytes]]:
        info, content = self._file(session_id, name)
        step = self.limits.chunk_bytes

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(content), step):
                yield content[start : start + step]

        return info, chunks()

    async def list_files(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[FileInfo]:
        with self._lock:
            data = self._live(session_id)
            rows = (
                [(keys.file_sk(name), info) for name, (info, _) in data.files.items()]
                if data is not None
                else []
            )
        return _page_by_sk(rows, keys.LIST_FILES, session_id, page_size, page_token)

    # -- reports ------------------------------------------------------------------

    async def put_report(
        self,
        session_id: str,
        kind: ReportKind,
        content: str,
        *,
        source: ReportSource,
        author: str,
        run_id: str | None = None,
        request_id: str | None = None,
        cited: Sequence[str] = (),
        sources_run_id: str | None = None,
    ) -> Report:
        raw = content.encode("utf-8")
        self.limits.check_report(kind, raw)
        idem_key = f"{keys.OP_PUT_REPORT}#{request_id}"
        with self._lock:
            data = self._require(session_id)
            if request_id is not None:
                previous = data.idem.get(idem_key)
                if isinstance(previous, Report):
                    return previous
            versions = data.reports.setdefault(kind.value, [])
            report = rules.new_report(
                session_id, kind, raw, source=source, author=author, run_id=run_id,
                cited=cited, sources_run_id=sources_run_id, now=self._clock(),
                version=rules.next_version(versions[-1][0].version if versions else None),
            )
            versions.append((report, content))
            del versions[: -self.limits.max_report_versions]
            if request_id is not None:
                data.idem[idem_key] = report
            return report

    async def get_report(
        self, session_id: str, kind: ReportKind, version: int | None = None
    ) -> Report:
        with self._lock:
            data = self._live(session_id)
            versions = list(data.reports.get(kind.value, [])) if data is not None else []
        if not versions:
            raise errors.report_not_found(kind.title, session_id)
        if version is None:
            report, content = versions[-1]
            return replace(report, content=content)
        for report, content in versions:
            if report.version == version:
                return replace(report, content=content)
        raise errors.version_not_found(kind.title, session_id, version,
                                     [r.version for r, _ in versions])

    async def list_report_versions(
        self, session_id: str, kind: ReportKind, *, page_size: int,
        page_token: str | None = None,
    ) -> Page[Report]:
        with self._lock:
            data = self._live(session_id)
            rows = [(keys.report_version_sk(kind.value, r.version), r)
                    for r, _ in (data.reports.get(kind.value, []) if data is not None else [])]
        return _page_by_sk(rows, keys.LIST_REPORT_VERSIONS, session_id, page_size, page_token,
                           descending=True,
                           scope=keys.report_versions_scope(session_id, kind.value))

    async def put_sources(self, sources: Sequence[Source]) -> None:
        if not sources:
            return
        rules.check_source_batch(sources)
        with self._lock:
            data = self._require(sources[0].session_id)
            held = data.sources.setdefault(sources[0].run_id, {})
            taken = [s.source_id for s in sources if s.number in held]
            if taken:
                raise errors.source_exists(sources[0].run_id, taken)
            for source in sources:
                held[source.number] = source

    async def put_question(self, question: Question) -> Question:
        with self._lock:
            data = self._require(question.session_id)
            if question.request_id is not None:
                for held in data.questions.values():
                    if held.request_id == question.request_id:
                        return held
            data.questions[question.question_id] = question
            return question

    async def find_question(self, session_id: str, request_id: str) -> Question | None:
        with self._lock:
            data = self._live(session_id)
            held = data.questions.values() if data is not None else ()
            return next((q for q in held if q.request_id == request_id), None)

    async def list_questions(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Question]:
        with self._lock:
            rows = [(keys.question_sk(q.question_id), q)
                    for q in self._require(session_id).questions.values()]
        return _page_by_sk(rows, keys.LIST_QUESTIONS, session_id, page_size, page_token)

    async def put_findings(self, findings: Findings) -> None:
        with self._lock:
            self._require(findings.session_id).findings[findings.kind] = findings

    async def list_findings(self, session_id: str) -> list[Findings]:
        with self._lock:
            held = self._require(session_id).findings
            return [held[kind] for kind in ReportKind if kind in held]

    async def list_sources(
        self, session_id: str, run_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Source]:
        with self._lock:
            data = self._live(session_id)
            held = data.sources.get(run_id, {}) if data is not None else {}
            rows = [(keys.source_sk(run_id, number), s) for number, s in held.items()]
        return _page_by_sk(rows, keys.LIST_SOURCES, session_id, page_size, page_token,
                           scope=keys.sources_scope(session_id, run_id))

    async def list_reports(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Report]:
        with self._lock:
            data = self._live(session_id)
            rows = (
                [(keys.report_sk(name), versions[-1][0])
                 for name, versions in data.reports.items() if versions]
                if data is not None
                else []
            )
        return _page_by_sk(rows, keys.LIST_REPORTS, session_id, page_size, page_token)

    # -- runs ---------------------------------------------------------------------

    async def create_run(self, run: Run) -> Run:
        idem_key = f"{keys.OP_START_RESEARCH}#{run.request_id}"
        with self._lock:
            data = self._require(run.session_id)
            if run.request_id is not None:
                previous = data.idem.get(idem_key)
                if isinstance(previous, str) and previous in data.runs:
                    return data.runs[previous]
            rules.check_run_slot(run.session_id, data.session.active_run_id)
            if run.run_id in data.runs:
                raise errors.run_exists(run.session_id, run.run_id)
            stored = rules.first_version(run)
            data.runs[run.run_id] = stored
            data.session = replace(
                data.session,
                latest_run_id=run.run_id,
                active_run_id=run.run_id if rules.claims_slot(run) else None,
            )
            if run.request_id is not None:
                data.idem[idem_key] = run.run_id
            return stored

    async def get_run(self, session_id: str, run_id: str) -> Run:
        with self._lock:
            data = self._live(session_id)
            run = data.runs.get(run_id) if data is not None else None
        if run is None:
            raise errors.run_not_found(session_id, run_id)
        return run

    async def list_runs(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Run]:
        with self._lock:
            data = self._live(session_id)
            rows = (
                [(keys.run_sk(run_id), run) for run_id, run in data.runs.items()]
                if data is not None
                else []
            )
        return _page_by_sk(rows, keys.LIST_RUNS, session_id, page_size, page_token, descending=True)

    async def update_run(self, run: Run) -> Run:
        with self._lock:
            data = self._live(run.session_id)
            stored = data.runs.get(run.run_id) if data is not None else None
            if data is None or stored is None:
                raise errors.run_not_found(run.session_id, run.run_id)
            if stored.version != run.version:
                raise errors.run_version_conflict(run.run_id, run.version)
            new = rules.updated(run)
            data.runs[run.run_id] = new
            if new.state.is_terminal and data.session.active_run_id == run.run_id:
                data.session = replace(data.session, active_run_id=None)
            return new

    async def list_resumable_runs(self, *, lease_expired_before: float, limit: int) -> list[Run]:
        cutoff = keys.millis(lease_expired_before)
        with self._lock:
            now = self._clock()
            rows = [
                (keys.active_run_gsi_sk(run.lease_expires_at, sid, run.run_id), run)
                for sid, data in self._sessions.items()
                if rules.is_live(data.session.expires_at, now)
                for run in data.runs.values()
                if not run.state.is_terminal
            ]
        rows = sorted((row for row in rows if row[0] < cutoff), key=lambda row: row[0])
        return [run for _, run in rows[:limit]]

    # -- events -------------------------------------------------------------------

    async def append_event(self, event: ProgressEvent) -> None:
        rules.check_sequence(event.sequence)
        with self._lock:
            data = self._require(event.session_id)
            events = data.events.setdefault(event.run_id, {})
            if event.sequence in events:
                raise errors.event_exists(event.run_id, event.sequence)
            events[event.sequence] = replace(event, attributes=dict(event.attributes))

    async def read_events(
        self, session_id: str, run_id: str, *, after_sequence: int, limit: int = 1000
    ) -> list[ProgressEvent]:
        with self._lock:
            data = self._live(session_id)
            events = dict(data.events.get(run_id, {})) if data is not None else {}
        wanted = sorted(seq for seq in events if seq > after_sequence)[: max(0, limit)]
        return [events[seq] for seq in wanted]

    async def last_event(self, session_id: str, run_id: str) -> ProgressEvent | None:
        with self._lock:
            data = self._live(session_id)
            events = data.events.get(run_id, {}) if data is not None else {}
            return events[max(events)] if events else None

    # -- life ---------------------------------------------------------------------

    async def ping(self) -> None:
        """Always reachable."""


def _page_by_sk(
    rows: list[tuple[str, T]],
    listing: str,
    session_id: str,
    page_size: int,
    page_token: str | None,
    *,
    descending: bool = False,
    scope: str | None = None,
) -> Page[T]:
    """One page of (sort key, item) rows, ordered and cut like a DynamoDB Query.

    ``scope`` is the page token's scope when it is not the session id.
    """
    scope = scope or session_id
    rows = sorted(rows, key=lambda row: row[0], reverse=descending)
    if page_token:
        after = keys.decode_token(page_token, listing, scope)["sk"]
        rows = [row for row in rows if (row[0] < after if descending else row[0] > after)]
    page = rows[:page_size]
    token = None
    if len(rows) > page_size:
        token = keys.encode_token(
            listing, scope, {"session_id": session_id, "sk": page[-1][0]}
        )
    return Page(items=[item for _, item in page], next_token=token)
