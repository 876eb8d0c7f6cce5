"""An in-process fake of the Scout service for the client's tests.

It implements the three generated servicers with small in-memory behaviour
and records what the client sent (metadata, attempts, upload messages,
progress requests), with knobs to inject failures: queued error statuses per
method, broken progress streams, corrupt checksums. It runs on a sync
`grpc.server` bound to 127.0.0.1:0, so sync and asyncio clients in the test
process can both reach it. Only the generated stubs and grpc are used: the
real server (scout_service) is not imported.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2, timestamp_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from scout.v1 import (
    report_pb2,
    report_pb2_grpc,
    research_pb2,
    research_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    types_pb2,
)

DOMAIN = "scout.v1"
DOWNLOAD_CHUNK = 256 * 1024
KIND_NAMES = {
    types_pb2.REPORT_KIND_MARKET: "market_report",
    types_pb2.REPORT_KIND_COMPETITION: "competition_report",
    types_pb2.REPORT_KIND_PRICE: "price_report",
    types_pb2.REPORT_KIND_LEGAL: "legal_report",
    types_pb2.REPORT_KIND_FINAL: "final_report",
}
SPECIALISTS = (
    types_pb2.REPORT_KIND_MARKET,
    types_pb2.REPORT_KIND_COMPETITION,
    types_pb2.REPORT_KIND_PRICE,
    types_pb2.REPORT_KIND_LEGAL,
)


def abort(
    context: grpc.ServicerContext,
    code: grpc.StatusCode,
    message: str,
    reason: str | None = None,
    **metadata: str,
) -> None:
    """End the call with a rich status carrying a google.rpc.ErrorInfo."""
    details = []
    if reason:
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata))
        details.append(packed)
    status = status_pb2.Status(code=code.value[0], message=message, details=details)
    context.abort_with_status(rpc_status.to_status(status))


def now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


@dataclass
class Failure:
    """A queued failure: the next call of a method ends with this status."""

    code: grpc.StatusCode
    message: str
    reason: str | None = None


@dataclass
class UploadRecord:
    """What one UploadFile stream carried."""

    messages: int = 0
    first: session_pb2.UploadFileRequest | None = None
    chunk_sizes: list[int] = field(default_factory=list)
    content: bytes = b""


def scripted_events(session_id: str, run_id: str) -> list[research_pb2.ProgressEvent]:
    """Return the events of a complete, successful run."""
    types = research_pb2
    script: list[tuple[int, int, str, str]] = [
        (types.PROGRESS_EVENT_TYPE_RUN_STARTED, 0, "", "Research run started.")
    ]
    for kind in (*SPECIALISTS, types_pb2.REPORT_KIND_FINAL):
        name = KIND_NAMES[kind].split("_")[0].title()
        script += [
            (types.PROGRESS_EVENT_TYPE_AGENT_STARTED, kind, "", f"{name} agent started."),
            (types.PROGRESS_EVENT_TYPE_TOOL_CALL, kind, "read_plan", f"{name} agent reads."),
            (types.PROGRESS_EVENT_TYPE_REPORT_SAVED, kind, "", f"{name} report saved."),
            (types.PROGRESS_EVENT_TYPE_AGENT_FINISHED, kind, "", f"{name} agent finished."),
        ]
    script.append((types.PROGRESS_EVENT_TYPE_RUN_COMPLETED, 0, "", "Research run completed."))
    return [
        research_pb2.ProgressEvent(
            session_id=session_id,
            run_id=run_id,
            sequence=index,
            create_time=now(),
            type=event_type,
            agent=agent,
            tool_name=tool,
            display_message=message,
        )
        for index, (event_type, agent, tool, message) in enumerate(script, start=1)
    ]


class FakeScout:
    """State, recordings and failure knobs shared by the fake servicers."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.sessions: dict[str, types_pb2.Session] = {}
        self.session_order: list[str] = []
        self.files: dict[tuple[str, str], tuple[types_pb2.FileInfo, bytes]] = {}
        self.reports: dict[tuple[str, int], types_pb2.Report] = {}
        self.report_versions: dict[tuple[str, int], list[types_pb2.Report]] = {}
        self.runs: dict[str, research_pb2.Run] = {}
        self.events: dict[str, list[research_pb2.ProgressEvent]] = {}
        self.request_ids: dict[str, Any] = {}
        # recordings
        self.calls: Counter[str] = Counter()
        self.metadata: list[tuple[str, dict[str, str]]] = []
        self.uploads: list[UploadRecord] = []
        self.progress_requests: list[research_pb2.StreamProgressRequest] = []
        #: Sequences sent on each StreamProgress connection, in order.
        self.progress_sent: list[list[int]] = []
        #: StreamProgress calls that have ended, however they ended.
        self.streams_closed = 0
        self.create_request_ids: list[str] = []
        # knobs
        self.required_token: str | None = None
        self.failures: dict[str, list[Failure]] = {}
        self.corrupt_sha256 = False
        #: Seconds a method sleeps before answering.
        self.delays: dict[str, float] = {}
        #: Called per StreamProgress connection; returns after how many
        #: events to break the stream with UNAVAILABLE (None: do not break).
        self.break_after: Callable[[], int | None] = lambda: None
        #: Status used to break the stream.
        self.break_with = Failure(grpc.StatusCode.UNAVAILABLE, "replica going away")
        #: Resend this many already-delivered events on each reconnect.
        self.replay_overlap = 0
        #: Send a heartbeat before every n-th event (0: never).
        self.heartbeat_every = 0
        #: Seconds to stall after the first `stall_after` events of the first stream.
        self.stall_seconds = 0.0
        self.stall_after = 0

    # -- knobs ------------------------------------------------------------

    def fail(
        self,
        method: str,
        code: grpc.StatusCode,
        *,
        times: int = 1,
        message: str = "injected failure",
        reason: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` end with `code`."""
        self.failures.setdefault(method, []).extend(
            Failure(code, message, reason) for _ in range(times)
        )

    # -- helpers for servicers ---------------------------------------------

    def enter(self, method: str, context: grpc.ServicerContext) -> None:
        """Record a call and apply auth and queued failures."""
        metadata = {key: value for key, value in context.invocation_metadata()}
        with self.lock:
            self.calls[method] += 1
            self.metadata.append((method, metadata))
            queued = self.failures.get(method)
            failure = queued.pop(0) if queued else None
        if self.required_token is not None:
            if metadata.get("authorization") != f"Bearer {self.required_token}":
                abort(context, grpc.StatusCode.UNAUTHENTICATED, "missing or wrong token", "TOKEN")
        if failure is not None:
            abort(context, failure.code, failure.message, failure.reason)
        if method in self.delays:
            time.sleep(self.delays[method])

    def session(self, session_id: str, context: grpc.ServicerContext) -> types_pb2.Session:
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                f"session {session_id} not found",
                "SESSION_NOT_FOUND",
                session_id=session_id,
            )
        assert session is not None
        return session

    def add_run(
        self,
        session_id: str,
        *,
        state: int = research_pb2.RUN_STATE_SUCCEEDED,
        events: list[research_pb2.ProgressEvent] | None = None,
        request_id: str = "",
    ) -> research_pb2.Run:
        """Create a run with scripted events (and the reports it saves)."""
        run_id = str(uuid.uuid4())
        run = research_pb2.Run(
            session_id=session_id,
            run_id=run_id,
            state=state,
            create_time=now(),
            model_provider="offline",
            request_id=request_id,
            agents=[
                research_pb2.AgentStatus(kind=kind, state=research_pb2.AGENT_STATE_SUCCEEDED)
                for kind in (*SPECIALISTS, types_pb2.REPORT_KIND_FINAL)
            ],
        )
        run.usage.total_tokens = 1234
        stored = events if events is not None else scripted_events(session_id, run_id)
        for event in stored:
            event.run_id = run_id
        run.last_sequence = stored[-1].sequence if stored else 0
        with self.lock:
            self.runs[run_id] = run
            self.events[run_id] = stored
            self.sessions[session_id].latest_run_id = run_id
            for kind in (*SPECIALISTS, types_pb2.REPORT_KIND_FINAL):
                self.put_report(session_id, kind, f"# {KIND_NAMES[kind]}\n\nFindings.\n", run_id)
        return run

    def put_report(
        self, session_id: str, kind: int, content: str, run_id: str = ""
    ) -> types_pb2.Report:
        data = content.encode()
        report = types_pb2.Report(
            session_id=session_id,
            kind=kind,
            name=KIND_NAMES[kind],
            content=content,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            update_time=now(),
            run_id=run_id,
            source=types_pb2.REPORT_SOURCE_AGENT if run_id else types_pb2.REPORT_SOURCE_CALLER,
            author="offline" if run_id else "tester",
        )
        with self.lock:
            versions = self.report_versions.setdefault((session_id, kind), [])
            report.version = len(versions) + 1
            versions.append(report)
            self.reports[(session_id, kind)] = report
        return report


def _page(items: list[Any], page_size: int, token: str) -> tuple[list[Any], str]:
    size = page_size or 50
    start = int(token or 0)
    end = start + size
    return items[start:end], (str(end) if end < len(items) else "")


class SessionServicer(session_pb2_grpc.SessionServiceServicer):
    def __init__(self, fake: FakeScout) -> None:
        self.fake = fake

    def CreateSession(self, request, context):
        fake = self.fake
        with fake.lock:
            fake.create_request_ids.append(request.request_id)  # every attempt
        fake.enter("CreateSession", context)
        with fake.lock:
            key = f"session:{request.request_id}"
            if request.request_id and key in fake.request_ids:
                return session_pb2.CreateSessionResponse(session=fake.request_ids[key])
            session = types_pb2.Session(
                session_id=str(uuid.uuid4()),
                owner="tester",
                labels=dict(request.labels),
                create_time=now(),
            )
            ttl = request.ttl.seconds if request.HasField("ttl") else 86400
            session.expire_time.seconds = session.create_time.seconds + ttl
            fake.sessions[session.session_id] = session
            fake.session_order.insert(0, session.session_id)
            if request.request_id:
                fake.request_ids[key] = session
        return session_pb2.CreateSessionResponse(session=session)

    def GetSession(self, request, context):
        self.fake.enter("GetSession", context)
        return session_pb2.GetSessionResponse(
            session=self.fake.session(request.session_id, context)
        )

    def ListSessions(self, request, context):
        self.fake.enter("ListSessions", context)
        with self.fake.lock:
            ordered = [self.fake.sessions[sid] for sid in self.fake.session_order]
        page, token = _page(ordered, request.page_size, request.page_token)
        return session_pb2.ListSessionsResponse(sessions=page, next_page_token=token)

    def ExtendSession(self, request, context):
        self.fake.enter("ExtendSession", context)
        session = self.fake.session(request.session_id, context)
        ttl = request.ttl.seconds if request.HasField("ttl") else 86400
        with self.fake.lock:
            session.expire_time.seconds = int(time.time()) + ttl
        return session_pb2.ExtendSessionResponse(session=session)

    def DeleteSession(self, request, context):
        self.fake.enter("DeleteSession", context)
        self.fake.session(request.session_id, context)
        with self.fake.lock:
            del self.fake.sessions[request.session_id]
            self.fake.session_order.remove(request.session_id)
        return session_pb2.DeleteSessionResponse()

    def UploadFile(self, request_iterator, context):
        self.fake.enter("UploadFile", context)
        record = UploadRecord()
        parts: list[bytes] = []
        for message in request_iterator:
            record.messages += 1
            if record.first is None:
                record.first = message
            if message.chunk:
                record.chunk_sizes.append(len(message.chunk))
                parts.append(message.chunk)
        record.content = b"".join(parts)
        with self.fake.lock:
            self.fake.uploads.append(record)
        first = record.first
        if first is None or not first.file_name:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "file_name is required", "FILE_NAME")
        assert first is not None
        self.fake.session(first.session_id, context)
        if first.size_bytes and first.size_bytes != len(record.content):
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "size mismatch", "SIZE_MISMATCH")
        info = types_pb2.FileInfo(
            session_id=first.session_id,
            file_name=first.file_name,
            content_type=first.content_type,
            size_bytes=len(record.content),
            sha256=hashlib.sha256(record.content).hexdigest(),
            create_time=now(),
        )
        with self.fake.lock:
            self.fake.files[(first.session_id, first.file_name)] = (info, record.content)
        return session_pb2.UploadFileResponse(file=info)

    def ListFiles(self, request, context):
        self.fake.enter("ListFiles", context)
        self.fake.session(request.session_id, context)
        with self.fake.lock:
            files = sorted(
                (
                    info
                    for (sid, _), (info, _) in self.fake.files.items()
                    if sid == request.session_id
                ),
                key=lambda info: info.file_name,
            )
        page, token = _page(files, request.page_size, request.page_token)
        return session_pb2.ListFilesResponse(files=page, next_page_token=token)

    def DownloadFile(self, request, context):
        self.fake.enter("DownloadFile", context)
        self.fake.session(request.session_id, context)
        with self.fake.lock:
            stored = self.fake.files.get((request.session_id, request.file_name))
        if stored is None:
            abort(context, grpc.StatusCode.NOT_FOUND, "no such file", "FILE_NOT_FOUND")
        assert stored is not None
        info, content = stored
        sent_info = types_pb2.FileInfo()
        sent_info.CopyFrom(info)
        if self.fake.corrupt_sha256:
            sent_info.sha256 = hashlib.sha256(b"something else").hexdigest()
        offsets = range(0, max(len(content), 1), DOWNLOAD_CHUNK)
        for index, start in enumerate(offsets):
            chunk = content[start : start + DOWNLOAD_CHUNK]
            if index == 0:
                yield session_pb2.DownloadFileResponse(file=sent_info, chunk=chunk)
            else:
                yield session_pb2.DownloadFileResponse(chunk=chunk)


class ReportServicer(report_pb2_grpc.ReportServiceServicer):
    def __init__(self, fake: FakeScout) -> None:
        self.fake = fake

    def GetReport(self, request, context):
        self.fake.enter("GetReport", context)
        self.fake.session(request.session_id, context)
        if request.kind not in KIND_NAMES:
            abort(context, grpc.StatusCode.INVALID_ARGUMENT, "kind is required", "KIND")
        with self.fake.lock:
            report = self.fake.reports.get((request.session_id, request.kind))
            versions = list(self.fake.report_versions.get((request.session_id, request.kind), []))
        if report is None:
            abort(context, grpc.StatusCode.NOT_FOUND, "no such report", "REPORT_NOT_FOUND")
        if request.version:
            if request.version > len(versions):
                abort(context, grpc.StatusCode.NOT_FOUND, "no such version",
                      "REPORT_VERSION_NOT_FOUND")
            report = versions[request.version - 1]
        return report_pb2.GetReportResponse(report=report)

    def ListReportVersions(self, request, context):
        self.fake.enter("ListReportVersions", context)
        self.fake.session(request.session_id, context)
        with self.fake.lock:
            versions = []
            for report in reversed(self.fake.report_versions.get(
                    (request.session_id, request.kind), [])):
                listed = types_pb2.Report()
                listed.CopyFrom(report)
                listed.content = ""
                versions.append(listed)
        page, token = _page(versions, request.page_size, request.page_token)
        return report_pb2.ListReportVersionsResponse(versions=page, next_page_token=token)

    def ListReports(self, request, context):
        self.fake.enter("ListReports", context)
        self.fake.session(request.session_id, context)
        with self.fake.lock:
            reports = []
            for (sid, _kind), report in sorted(self.fake.reports.items(), key=lambda x: x[0][1]):
                if sid == request.session_id:
                    listed = types_pb2.Report()
                    listed.CopyFrom(report)
                    listed.content = ""
                    reports.append(listed)
        page, token = _page(reports, request.page_size, request.page_token)
        return report_pb2.ListReportsResponse(reports=page, next_page_token=token)

    def PutReport(self, request, context):
        self.fake.enter("PutReport", context)
        self.fake.session(request.session_id, context)
        report = self.fake.put_report(request.session_id, request.kind, request.content)
        listed = types_pb2.Report()
        listed.CopyFrom(report)
        listed.content = ""
        return report_pb2.PutReportResponse(report=listed)

    def ExportReports(self, request, context):
        self.fake.enter("ExportReports", context)
        self.fake.session(request.session_id, context)
        extension, content_type = {
            report_pb2.EXPORT_FORMAT_MARKDOWN: ("md", "text/markdown"),
            report_pb2.EXPORT_FORMAT_HTML: ("html", "text/html"),
            report_pb2.EXPORT_FORMAT_PDF: ("pdf", "application/pdf"),
            report_pb2.EXPORT_FORMAT_ZIP: ("zip", "application/zip"),
        }[request.format]
        with self.fake.lock:
            texts = [
                r.content
                for (sid, _), r in sorted(self.fake.reports.items())
                if sid == request.session_id
            ]
        document = (f"[{extension}]\n" + "\n".join(texts)).encode() * 50
        for index, start in enumerate(range(0, len(document), 1000)):
            chunk = document[start : start + 1000]
            if index == 0:
                yield report_pb2.ExportReportsResponse(
                    file_name=f"scout-{request.session_id}.{extension}",
                    content_type=content_type,
                    size_bytes=len(document),
                    chunk=chunk,
                )
            else:
                yield report_pb2.ExportReportsResponse(chunk=chunk)


class ResearchServicer(research_pb2_grpc.ResearchServiceServicer):
    def __init__(self, fake: FakeScout) -> None:
        self.fake = fake

    def _run(self, session_id: str, run_id: str, context: grpc.ServicerContext):
        self.fake.session(session_id, context)
        with self.fake.lock:
            run = self.fake.runs.get(run_id)
        if run is None or run.session_id != session_id:
            abort(context, grpc.StatusCode.NOT_FOUND, f"run {run_id} not found", "RUN_NOT_FOUND")
        return run

    def StartResearch(self, request, context):
        self.fake.enter("StartResearch", context)
        self.fake.session(request.session_id, context)
        key = f"run:{request.request_id}"
        with self.fake.lock:
            if request.request_id and key in self.fake.request_ids:
                return research_pb2.StartResearchResponse(run=self.fake.request_ids[key])
            run = self.fake.add_run(request.session_id, request_id=request.request_id)
            run.file_names.extend(request.file_names)
            if request.request_id:
                self.fake.request_ids[key] = run
        return research_pb2.StartResearchResponse(run=run)

    def GetRun(self, request, context):
        self.fake.enter("GetRun", context)
        return research_pb2.GetRunResponse(
            run=self._run(request.session_id, request.run_id, context)
        )

    def ListRuns(self, request, context):
        self.fake.enter("ListRuns", context)
        self.fake.session(request.session_id, context)
        with self.fake.lock:
            runs = [r for r in self.fake.runs.values() if r.session_id == request.session_id]
        runs.reverse()
        page, token = _page(runs, request.page_size, request.page_token)
        return research_pb2.ListRunsResponse(runs=page, next_page_token=token)

    def CancelRun(self, request, context):
        self.fake.enter("CancelRun", context)
        run = self._run(request.session_id, request.run_id, context)
        if run.state != research_pb2.RUN_STATE_RUNNING:
            abort(context, grpc.StatusCode.FAILED_PRECONDITION, "run already ended", "RUN_ENDED")
        with self.fake.lock:
            run.state = research_pb2.RUN_STATE_CANCELLED
        return research_pb2.CancelRunResponse(run=run)

    def StreamProgress(self, request, context):
        fake = self.fake

        def closed() -> None:
            with fake.lock:
                fake.streams_closed += 1

        context.add_callback(closed)
        fake.enter("StreamProgress", context)
        with fake.lock:
            recorded = research_pb2.StreamProgressRequest()
            recorded.CopyFrom(request)
            fake.progress_requests.append(recorded)
            sent_here: list[int] = []
            fake.progress_sent.append(sent_here)
            connection = len(fake.progress_requests)
        session = fake.session(request.session_id, context)
        run_id = request.run_id or session.latest_run_id
        self._run(request.session_id, run_id, context)
        with fake.lock:
            events = list(fake.events[run_id])
            budget = fake.break_after()
        start_after = request.after_sequence
        if connection > 1 and fake.replay_overlap:
            start_after = max(0, start_after - fake.replay_overlap)
        sent = 0
        for event in events:
            if event.sequence <= start_after:
                continue
            if budget is not None and sent >= budget:
                code, message = fake.break_with.code, fake.break_with.message
                abort(context, code, message)
            if fake.heartbeat_every and sent % fake.heartbeat_every == 0:
                yield research_pb2.StreamProgressResponse(
                    event=research_pb2.ProgressEvent(
                        session_id=request.session_id,
                        run_id=run_id,
                        sequence=events[-1].sequence,  # the latest stored one
                        type=research_pb2.PROGRESS_EVENT_TYPE_HEARTBEAT,
                        display_message="still working",
                    )
                )
            if connection == 1 and fake.stall_seconds and sent == fake.stall_after:
                deadline = time.monotonic() + fake.stall_seconds
                while context.is_active() and time.monotonic() < deadline:
                    time.sleep(0.02)
                if not context.is_active():
                    return
            sent_here.append(event.sequence)
            yield research_pb2.StreamProgressResponse(event=event)
            sent += 1


class FakeServer:
    """The fake service on 127.0.0.1:<free port>, in this process."""

    def __init__(self, credentials: grpc.ServerCredentials | None = None) -> None:
        self.fake = FakeScout()
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="fake-scout"),
            options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)],
        )
        session_pb2_grpc.add_SessionServiceServicer_to_server(
            SessionServicer(self.fake), self.server
        )
        report_pb2_grpc.add_ReportServiceServicer_to_server(ReportServicer(self.fake), self.server)
        research_pb2_grpc.add_ResearchServiceServicer_to_server(
            ResearchServicer(self.fake), self.server
        )
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.address = f"127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=1.0).wait(5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
