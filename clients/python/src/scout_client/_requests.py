"""What the sync and asyncio clients share about each RPC, written once.

Per unary RPC a function turns the method's arguments into a `Unary` call:
the stub method, the request message (kinds and formats parsed, request_id
defaulted) and what of the response the client returns. The clients only
send it, blocking or awaited. The streaming RPCs share their requests and
the first message of an async upload (the receivers of downloads and exports
are in `_receivers.py`); page walking is here in both flavours.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import (
    report_pb2,
    report_pb2_grpc,
    research_pb2,
    research_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    types_pb2,
)
from scout_client._channel import new_request_id
from scout_client._files import (
    MAX_CHUNK_SIZE,
    guess_content_type,
)
from scout_client.errors import from_rpc_error
from scout_client.kinds import export_format, report_kind

R = TypeVar("R")
T = TypeVar("T")
P = TypeVar("P", bound="Page")


class Stubs:
    """The three service stubs of one channel (sync or grpc.aio alike)."""

    def __init__(self, channel: Any) -> None:
        # The generated stubs carry no annotations; `Unary.result` and the
        # receivers type every response where it arrives.
        self.sessions: Any = session_pb2_grpc.SessionServiceStub(channel)  # type: ignore[no-untyped-call]
        self.reports: Any = report_pb2_grpc.ReportServiceStub(channel)  # type: ignore[no-untyped-call]
        self.research: Any = research_pb2_grpc.ResearchServiceStub(channel)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Unary(Generic[R]):
    """One unary call: which stub method, with what request, returning what."""

    method: Callable[[Stubs], Callable[..., Any]]
    request: Any
    result: Callable[[Any], R]


# -- sessions ----------------------------------------------------------------


def create_session(
    labels: Mapping[str, str] | None, ttl: timedelta | None, request_id: str | None
) -> Unary[types_pb2.Session]:
    """CreateSession, with a fresh request_id unless given."""
    request = session_pb2.CreateSessionRequest(
        request_id=new_request_id(request_id), labels=dict(labels or {})
    )
    if ttl is not None:
        request.ttl.FromTimedelta(ttl)
    return Unary(lambda s: s.sessions.CreateSession, request, _session)


def get_session(session_id: str) -> Unary[types_pb2.Session]:
    """GetSession."""
    request = session_pb2.GetSessionRequest(session_id=session_id)
    return Unary(lambda s: s.sessions.GetSession, request, _session)


def list_sessions(page_size: int, page_token: str) -> Unary[session_pb2.ListSessionsResponse]:
    """ListSessions: one page."""
    request = session_pb2.ListSessionsRequest(page_size=page_size, page_token=page_token)
    return Unary(lambda s: s.sessions.ListSessions, request, _itself)


def extend_session(session_id: str, ttl: timedelta | None) -> Unary[types_pb2.Session]:
    """ExtendSession (the server's default TTL when `ttl` is None)."""
    request = session_pb2.ExtendSessionRequest(session_id=session_id)
    if ttl is not None:
        request.ttl.FromTimedelta(ttl)
    return Unary(lambda s: s.sessions.ExtendSession, request, _session)


def delete_session(session_id: str) -> Unary[None]:
    """DeleteSession."""
    request = session_pb2.DeleteSessionRequest(session_id=session_id)
    return Unary(lambda s: s.sessions.DeleteSession, request, _nothing)


# -- files -------------------------------------------------------------------


def list_files(
    session_id: str, page_size: int, page_token: str
) -> Unary[session_pb2.ListFilesResponse]:
    """ListFiles: one page."""
    request = session_pb2.ListFilesRequest(
        session_id=session_id, page_size=page_size, page_token=page_token
    )
    return Unary(lambda s: s.sessions.ListFiles, request, _itself)


def download_file(session_id: str, file_name: str) -> session_pb2.DownloadFileRequest:
    """The request of DownloadFile."""
    return session_pb2.DownloadFileRequest(session_id=session_id, file_name=file_name)


def upload_stream_header(
    session_id: str, file_name: str | None, content_type: str | None, chunk_size: int
) -> session_pb2.UploadFileRequest:
    """The first UploadFileRequest of an upload from an async iterable (size unknown)."""
    if not file_name:
        raise ValueError("file_name is required when uploading an async iterable")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes")
    return session_pb2.UploadFileRequest(
        session_id=session_id,
        file_name=file_name,
        content_type=content_type or guess_content_type(file_name),
    )


def upload_failure(error: grpc.RpcError, read_failures: list[BaseException]) -> BaseException:
    """What a failed upload raises: the source's own error if reading it failed."""
    if read_failures:
        return read_failures[0]
    return from_rpc_error(error)


# -- reports -----------------------------------------------------------------


def get_report(session_id: str, kind: int | str, version: int = 0) -> Unary[types_pb2.Report]:
    """GetReport; `kind` parsed by `report_kind`, `version` 0 for the latest."""
    if version < 0:
        raise ValueError("version must be 0 (the latest) or a version number from 1")
    request = report_pb2.GetReportRequest(
        session_id=session_id, kind=report_kind(kind), version=version
    )
    return Unary(lambda s: s.reports.GetReport, request, _report)


def list_report_versions(
    session_id: str, kind: int | str, page_size: int, page_token: str
) -> Unary[report_pb2.ListReportVersionsResponse]:
    """ListReportVersions: one page of a report's versions, newest first."""
    request = report_pb2.ListReportVersionsRequest(
        session_id=session_id, kind=report_kind(kind), page_size=page_size,
        page_token=page_token,
    )
    return Unary(lambda s: s.reports.ListReportVersions, request, _itself)


def list_reports(
    session_id: str, page_size: int, page_token: str
) -> Unary[report_pb2.ListReportsResponse]:
    """ListReports: one page."""
    request = report_pb2.ListReportsRequest(
        session_id=session_id, page_size=page_size, page_token=page_token
    )
    return Unary(lambda s: s.reports.ListReports, request, _itself)


def list_sources(
    session_id: str, run_id: str, page_size: int, page_token: str
) -> Unary[report_pb2.ListSourcesResponse]:
    """ListSources: one page of a run's sources (run_id "" = the latest run)."""
    request = report_pb2.ListSourcesRequest(
        session_id=session_id, run_id=run_id, page_size=page_size, page_token=page_token
    )
    return Unary(lambda s: s.reports.ListSources, request, _itself)


def get_findings(
    session_id: str, kind: int | str | None
) -> Unary[report_pb2.GetFindingsResponse]:
    """GetFindings: every kind's findings, or one kind's."""
    request = report_pb2.GetFindingsRequest(
        session_id=session_id,
        kind=report_kind(kind) if kind is not None else types_pb2.REPORT_KIND_UNSPECIFIED,
    )
    return Unary(lambda s: s.reports.GetFindings, request, _itself)


def put_report(
    session_id: str, kind: int | str, content: str, request_id: str | None
) -> Unary[types_pb2.Report]:
    """PutReport, with a fresh request_id unless given."""
    request = report_pb2.PutReportRequest(
        session_id=session_id,
        kind=report_kind(kind),
        content=content,
        request_id=new_request_id(request_id),
    )
    return Unary(lambda s: s.reports.PutReport, request, _report)


def export_reports(session_id: str, format: int | str) -> report_pb2.ExportReportsRequest:
    """The request of ExportReports; `format` parsed by `export_format`."""
    return report_pb2.ExportReportsRequest(session_id=session_id, format=export_format(format))


# -- research ----------------------------------------------------------------


def research_brief(
    brief: research_pb2.ResearchBrief | None = None,
    *,
    questions: Sequence[str] = (),
    language: str = "",
    agents: Sequence[int | str] = (),
    web_search: bool | None = None,
    max_tokens: int | None = None,
    focus: str = "",
    geography: str = "",
) -> research_pb2.ResearchBrief | None:
    """A ResearchBrief from ``brief`` plus the fields given (None when nothing is asked)."""
    out = research_pb2.ResearchBrief()
    if brief is not None:
        out.CopyFrom(brief)
    out.questions.extend(questions)
    out.agents.extend(report_kind(a) for a in agents)
    if language:
        out.language = language
    if focus:
        out.focus = focus
    if geography:
        out.geography = geography
    if web_search is not None:
        out.web_search = web_search
    if max_tokens is not None:
        out.max_tokens = max_tokens
    return out if out.ListFields() else None


def start_research(
    session_id: str, request_id: str | None, file_names: Sequence[str],
    brief: research_pb2.ResearchBrief | None = None,
) -> Unary[research_pb2.Run]:
    """StartResearch, with a fresh request_id unless given."""
    request = research_pb2.StartResearchRequest(
        session_id=session_id,
        request_id=new_request_id(request_id),
        file_names=list(file_names),
        brief=brief,
    )
    return Unary(lambda s: s.research.StartResearch, request, _run)


def ask_question(session_id: str, question: str, request_id: str | None
                 ) -> research_pb2.AskQuestionRequest:
    """The request of AskQuestion, with a fresh request_id unless given."""
    return research_pb2.AskQuestionRequest(
        session_id=session_id, question=question, request_id=new_request_id(request_id))


def list_questions(
    session_id: str, page_size: int, page_token: str
) -> Unary[research_pb2.ListQuestionsResponse]:
    """ListQuestions: one page."""
    request = research_pb2.ListQuestionsRequest(
        session_id=session_id, page_size=page_size, page_token=page_token)
    return Unary(lambda s: s.research.ListQuestions, request, _itself)


def get_run(session_id: str, run_id: str) -> Unary[research_pb2.Run]:
    """GetRun."""
    request = research_pb2.GetRunRequest(session_id=session_id, run_id=run_id)
    return Unary(lambda s: s.research.GetRun, request, _run)


def list_runs(
    session_id: str, page_size: int, page_token: str
) -> Unary[research_pb2.ListRunsResponse]:
    """ListRuns: one page."""
    request = research_pb2.ListRunsRequest(
        session_id=session_id, page_size=page_size, page_token=page_token
    )
    return Unary(lambda s: s.research.ListRuns, request, _itself)


def cancel_run(session_id: str, run_id: str) -> Unary[research_pb2.Run]:
    """CancelRun."""
    request = research_pb2.CancelRunRequest(session_id=session_id, run_id=run_id)
    return Unary(lambda s: s.research.CancelRun, request, _run)


def _session(response: Any) -> types_pb2.Session:
    session: types_pb2.Session = response.session
    return session


def _report(response: Any) -> types_pb2.Report:
    report: types_pb2.Report = response.report
    return report


def _run(response: Any) -> research_pb2.Run:
    run: research_pb2.Run = response.run
    return run


def _itself(response: Any) -> Any:
    return response


def _nothing(response: Any) -> None:
    return None


# -- paging ------------------------------------------------------------------


class Page(Protocol):
    """A List*Response: some items and the token of the next page."""

    @property
    def next_page_token(self) -> str:
        """Empty on the last page."""
        ...


def walk_pages(fetch: Callable[[str], P], items: Callable[[P], Iterable[T]]) -> Iterator[T]:
    """Yield the items of page after page, as `fetch(page_token)` returns them."""
    token = ""
    while True:
        page = fetch(token)
        yield from items(page)
        token = page.next_page_token
        if not token:
            return


async def walk_pages_async(
    fetch: Callable[[str], Awaitable[P]], items: Callable[[P], Iterable[T]]
) -> AsyncIterator[T]:
    """`walk_pages` for a coroutine `fetch`."""
    token = ""
    while True:
        page = await fetch(token)
        for item in items(page):
            yield item
        token = page.next_page_token
        if not token:
            return
