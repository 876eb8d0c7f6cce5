"""The three scout.v1 servicers: proto in, one service call, proto out.

No storage, prompts or business rules here: validation turns the request
into domain values (``validation``), ``ScoutService`` does the work, and
``converters`` builds the response. Errors are mapped by ``boundary``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from scout.v1 import (
    report_pb2,
    report_pb2_grpc,
    research_pb2,
    research_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    types_pb2,
)
from scout_service.api import converters as conv
from scout_service.api import validation as valid
from scout_service.api.auth import Principal
from scout_service.api.boundary import Boundary, call_session_id, server_stream, unary
from scout_service.api.streams import ended_cleanly
from scout_service.domain import Brief
from scout_service.errors import InvalidArgument
from scout_service.service import ScoutService

Ctx = grpc.aio.ServicerContext[Any, Any]
# Bytes per message when streaming files and exports back to callers.
DOWNLOAD_CHUNK = 256 * 1024


class SessionServicer(session_pb2_grpc.SessionServiceServicer):
    """scout.v1.SessionService."""

    def __init__(self, service: ScoutService, boundary: Boundary) -> None:
        self.service = service
        self.boundary = boundary

    @unary
    async def CreateSession(  # noqa: N802
        self, request: session_pb2.CreateSessionRequest, context: Ctx, p: Principal
    ) -> session_pb2.CreateSessionResponse:
        limits = self.service.limits
        ttl = valid.ttl_seconds(request.ttl, request.HasField("ttl"),
                                limits.default_ttl_seconds, limits.max_ttl_seconds)
        session = await self.service.create_session(
            p, labels=valid.labels(request.labels), ttl_seconds=ttl,
            request_id=valid.request_id(request.request_id),
        )
        return session_pb2.CreateSessionResponse(session=conv.session_to_pb(session))

    @unary
    async def GetSession(  # noqa: N802
        self, request: session_pb2.GetSessionRequest, context: Ctx, p: Principal
    ) -> session_pb2.GetSessionResponse:
        session = await self.service.session_for(p, valid.session_id(request.session_id))
        return session_pb2.GetSessionResponse(session=conv.session_to_pb(session))

    @unary
    async def ListSessions(  # noqa: N802
        self, request: session_pb2.ListSessionsRequest, context: Ctx, p: Principal
    ) -> session_pb2.ListSessionsResponse:
        size, token = valid.page(request.page_size, request.page_token)
        page = await self.service.list_sessions(p, size, token)
        return session_pb2.ListSessionsResponse(
            sessions=[conv.session_to_pb(s) for s in page.items],
            next_page_token=page.next_token or "",
        )

    @unary
    async def ExtendSession(  # noqa: N802
        self, request: session_pb2.ExtendSessionRequest, context: Ctx, p: Principal
    ) -> session_pb2.ExtendSessionResponse:
        sid = valid.session_id(request.session_id)
        limits = self.service.limits
        ttl = valid.ttl_seconds(request.ttl, request.HasField("ttl"),
                                limits.default_ttl_seconds, limits.max_ttl_seconds)
        session = await self.service.extend_session(p, sid, ttl)
        return session_pb2.ExtendSessionResponse(session=conv.session_to_pb(session))

    @unary
    async def DeleteSession(  # noqa: N802
        self, request: session_pb2.DeleteSessionRequest, context: Ctx, p: Principal
    ) -> session_pb2.DeleteSessionResponse:
        await self.service.delete_session(p, valid.session_id(request.session_id))
        return session_pb2.DeleteSessionResponse()

    @unary
    async def UploadFile(  # noqa: N802
        self, request_iterator: AsyncIterator[session_pb2.UploadFileRequest], context: Ctx,
        p: Principal,
    ) -> session_pb2.UploadFileResponse:
        first = await anext(aiter(request_iterator), None)
        if first is None:
            raise InvalidArgument("the upload stream was empty: send session_id, file_name "
                                  "and content_type in the first message")
        sid = valid.session_id(first.session_id)
        call_session_id.set(sid)
        name = valid.file_name(first.file_name)
        ctype = valid.content_type(first.content_type)
        if first.size_bytes < 0:
            raise InvalidArgument("size_bytes: must be 0 (unknown) or positive",
                                  metadata={"field": "size_bytes"})

        async def chunks() -> AsyncIterator[bytes]:
            if first.chunk:
                yield valid.chunk(first.chunk)
            async for message in request_iterator:
                if message.session_id or message.file_name or message.content_type:
                    raise InvalidArgument(
                        "session_id, file_name and content_type belong in the first message only"
                    )
                yield valid.chunk(message.chunk)
            # The iterator also ends this way when the call was cancelled:
            # only a half-close may let the store commit (see api/streams.py).
            await ended_cleanly(context, f"upload of {name!r}")

        info = await self.service.upload_file(
            p, sid, name, ctype, first.size_bytes or None, chunks()
        )
        return session_pb2.UploadFileResponse(file=conv.file_to_pb(info))

    @unary
    async def ListFiles(  # noqa: N802
        self, request: session_pb2.ListFilesRequest, context: Ctx, p: Principal
    ) -> session_pb2.ListFilesResponse:
        sid = valid.session_id(request.session_id)
        size, token = valid.page(request.page_size, request.page_token)
        page = await self.service.list_files(p, sid, size, token)
        return session_pb2.ListFilesResponse(
            files=[conv.file_to_pb(f) for f in page.items], next_page_token=page.next_token or ""
        )

    @server_stream
    async def DownloadFile(  # noqa: N802
        self, request: session_pb2.DownloadFileRequest, context: Ctx, p: Principal
    ) -> AsyncIterator[session_pb2.DownloadFileResponse]:
        sid = valid.session_id(request.session_id)
        info, chunks = await self.service.open_file(p, sid, valid.file_name(request.file_name))
        yield session_pb2.DownloadFileResponse(file=conv.file_to_pb(info))
        async for chunk in chunks:
            for start in range(0, len(chunk), DOWNLOAD_CHUNK):
                yield session_pb2.DownloadFileResponse(chunk=chunk[start:start + DOWNLOAD_CHUNK])


class ReportServicer(report_pb2_grpc.ReportServiceServicer):
    """scout.v1.ReportService."""

    def __init__(self, service: ScoutService, boundary: Boundary) -> None:
        self.service = service
        self.boundary = boundary

    @unary
    async def GetReport(  # noqa: N802
        self, request: report_pb2.GetReportRequest, context: Ctx, p: Principal
    ) -> report_pb2.GetReportResponse:
        sid = valid.session_id(request.session_id)
        kind = conv.report_kind_from_pb(request.kind)
        report, sources = await self.service.get_report(
            p, sid, kind, valid.report_version(request.version))
        return report_pb2.GetReportResponse(report=conv.report_to_pb(report, sources))

    @unary
    async def ListReportVersions(  # noqa: N802
        self, request: report_pb2.ListReportVersionsRequest, context: Ctx, p: Principal
    ) -> report_pb2.ListReportVersionsResponse:
        sid = valid.session_id(request.session_id)
        kind = conv.report_kind_from_pb(request.kind)
        size, token = valid.page(request.page_size, request.page_token)
        page = await self.service.list_report_versions(p, sid, kind, size, token)
        return report_pb2.ListReportVersionsResponse(
            versions=[conv.report_to_pb(r) for r in page.items],
            next_page_token=page.next_token or "",
        )

    @unary
    async def ListSources(  # noqa: N802
        self, request: report_pb2.ListSourcesRequest, context: Ctx, p: Principal
    ) -> report_pb2.ListSourcesResponse:
        sid = valid.session_id(request.session_id)
        run_id = valid.optional_run_id(request.run_id)
        size, token = valid.page(request.page_size, request.page_token)
        run, page = await self.service.list_sources(p, sid, run_id, size, token)
        return report_pb2.ListSourcesResponse(
            sources=[conv.source_to_pb(s) for s in page.items],
            next_page_token=page.next_token or "", run_id=run,
        )

    @unary
    async def GetFindings(  # noqa: N802
        self, request: report_pb2.GetFindingsRequest, context: Ctx, p: Principal
    ) -> report_pb2.GetFindingsResponse:
        sid = valid.session_id(request.session_id)
        kind = (None if request.kind == types_pb2.REPORT_KIND_UNSPECIFIED
                else conv.report_kind_from_pb(request.kind))
        found = await self.service.get_findings(p, sid, kind)
        return report_pb2.GetFindingsResponse(findings=[conv.findings_to_pb(f) for f in found])

    @unary
    async def ListReports(  # noqa: N802
        self, request: report_pb2.ListReportsRequest, context: Ctx, p: Principal
    ) -> report_pb2.ListReportsResponse:
        sid = valid.session_id(request.session_id)
        size, token = valid.page(request.page_size, request.page_token)
        page = await self.service.list_reports(p, sid, size, token)
        return report_pb2.ListReportsResponse(
            reports=[conv.report_to_pb(r) for r in page.items],
            next_page_token=page.next_token or "",
        )

    @unary
    async def PutReport(  # noqa: N802
        self, request: report_pb2.PutReportRequest, context: Ctx, p: Principal
    ) -> report_pb2.PutReportResponse:
        sid = valid.session_id(request.session_id)
        kind = conv.report_kind_from_pb(request.kind)
        if not request.content.strip():
            raise InvalidArgument("content: must not be empty", metadata={"field": "content"})
        report = await self.service.put_report(
            p, sid, kind, request.content, valid.request_id(request.request_id)
        )
        return report_pb2.PutReportResponse(report=conv.report_to_pb(report))

    @server_stream
    async def ExportReports(  # noqa: N802
        self, request: report_pb2.ExportReportsRequest, context: Ctx, p: Principal
    ) -> AsyncIterator[report_pb2.ExportReportsResponse]:
        sid = valid.session_id(request.session_id)
        doc = await self.service.export_reports(p, sid, conv.export_format_from_pb(request.format))
        yield report_pb2.ExportReportsResponse(
            file_name=doc.file_name, content_type=doc.content_type, size_bytes=len(doc.data),
            chunk=doc.data[:DOWNLOAD_CHUNK],
        )
        for start in range(DOWNLOAD_CHUNK, len(doc.data), DOWNLOAD_CHUNK):
            yield report_pb2.ExportReportsResponse(chunk=doc.data[start:start + DOWNLOAD_CHUNK])


class ResearchServicer(research_pb2_grpc.ResearchServiceServicer):
    """scout.v1.ResearchService."""

    def __init__(self, service: ScoutService, boundary: Boundary) -> None:
        self.service = service
        self.boundary = boundary

    @unary
    async def StartResearch(  # noqa: N802
        self, request: research_pb2.StartResearchRequest, context: Ctx, p: Principal
    ) -> research_pb2.StartResearchResponse:
        sid = valid.session_id(request.session_id)
        names = [valid.file_name(n, "file_names") for n in request.file_names]
        brief = conv.brief_from_pb(request.brief) if request.HasField("brief") else Brief()
        run = await self.service.start_research(
            p, sid, valid.request_id(request.request_id), names, brief
        )
        return research_pb2.StartResearchResponse(run=conv.run_to_pb(run))

    @unary
    async def GetRun(  # noqa: N802
        self, request: research_pb2.GetRunRequest, context: Ctx, p: Principal
    ) -> research_pb2.GetRunResponse:
        sid = valid.session_id(request.session_id)
        run_id = valid.uuid_id(request.run_id, "run_id")
        return research_pb2.GetRunResponse(
            run=conv.run_to_pb(await self.service.get_run(p, sid, run_id))
        )

    @unary
    async def ListRuns(  # noqa: N802
        self, request: research_pb2.ListRunsRequest, context: Ctx, p: Principal
    ) -> research_pb2.ListRunsResponse:
        sid = valid.session_id(request.session_id)
        size, token = valid.page(request.page_size, request.page_token)
        page = await self.service.list_runs(p, sid, size, token)
        return research_pb2.ListRunsResponse(
            runs=[conv.run_to_pb(r) for r in page.items], next_page_token=page.next_token or ""
        )

    @unary
    async def CancelRun(  # noqa: N802
        self, request: research_pb2.CancelRunRequest, context: Ctx, p: Principal
    ) -> research_pb2.CancelRunResponse:
        sid = valid.session_id(request.session_id)
        run_id = valid.uuid_id(request.run_id, "run_id")
        return research_pb2.CancelRunResponse(
            run=conv.run_to_pb(await self.service.cancel_run(p, sid, run_id))
        )

    @server_stream
    async def StreamProgress(  # noqa: N802
        self, request: research_pb2.StreamProgressRequest, context: Ctx, p: Principal
    ) -> AsyncIterator[research_pb2.StreamProgressResponse]:
        sid = valid.session_id(request.session_id)
        events = await self.service.stream_progress(
            p, sid, valid.optional_run_id(request.run_id),
            valid.after_sequence(request.after_sequence),
        )
        try:
            async for event in events:
                yield research_pb2.StreamProgressResponse(event=conv.event_to_pb(event))
                if event.type.is_terminal:
                    return
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    @server_stream
    async def AskQuestion(  # noqa: N802
        self, request: research_pb2.AskQuestionRequest, context: Ctx, p: Principal
    ) -> AsyncIterator[research_pb2.AskQuestionResponse]:
        sid = valid.session_id(request.session_id)
        question = valid.question(request.question)
        events = await self.service.ask_question(
            p, sid, question, valid.request_id(request.request_id))
        async for event in events:
            if event.question is not None:
                yield research_pb2.AskQuestionResponse(
                    answer=conv.question_to_pb(event.question, event.sources))
            elif event.text is not None:
                yield research_pb2.AskQuestionResponse(text_delta=event.text)
            elif event.progress is not None:
                yield research_pb2.AskQuestionResponse(progress=event.progress)

    @unary
    async def ListQuestions(  # noqa: N802
        self, request: research_pb2.ListQuestionsRequest, context: Ctx, p: Principal
    ) -> research_pb2.ListQuestionsResponse:
        sid = valid.session_id(request.session_id)
        size, token = valid.page(request.page_size, request.page_token)
        page = await self.service.list_questions(p, sid, size, token)
        return research_pb2.ListQuestionsResponse(
            answers=[conv.question_to_pb(q) for q in page.items],
            next_page_token=page.next_token or "",
        )
