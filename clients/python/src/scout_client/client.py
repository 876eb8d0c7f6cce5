"""`ScoutClient`: the blocking client, one typed method per scout.v1 RPC.

Methods take plain Python values and return the contract's proto messages
(or bytes, or None). Every failure is a `scout_client.errors.ScoutError`
subclass. Idempotent RPCs are retried by grpc on UNAVAILABLE (see
`_channel.RETRIED_METHODS`); progress streams resume themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeVar, overload

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
from scout_client._channel import (
    DEFAULT,
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT,
    ChannelOption,
    Deadlines,
    Timeout,
    call_metadata,
    channel_credentials,
    channel_options,
    new_request_id,
)
from scout_client._files import (
    DEFAULT_CHUNK_SIZE,
    Destination,
    DownloadSink,
    ExportInfo,
    UploadInput,
    UploadSource,
)
from scout_client._progress import (
    DEFAULT_MAX_RECONNECTS,
    Backoff,
    ProgressCursor,
    is_resumable,
)
from scout_client.errors import UnavailableError, from_rpc_error
from scout_client.kinds import export_format, report_kind

__all__ = ["ScoutClient"]

T = TypeVar("T")


class ScoutClient:
    """A blocking client of the Scout service.

    Use it as a context manager (or call `close()`); one client shares one
    channel across threads.

    Args:
        target: "host:port" (or any grpc target) of the service.
        token: Bearer token sent as `authorization: Bearer <token>` on every
            call. Over a plaintext channel it travels unencrypted.
        tls: Use TLS. Implied by `root_certificates` or `client_certificate`.
        root_certificates: PEM roots to trust instead of grpc's bundled ones.
        client_certificate: (certificate_chain, private_key), both PEM, for
            mutual TLS.
        timeout: Default deadline of unary calls in seconds; None for none.
        transfer_timeout: Default deadline of uploads, downloads and exports.
        options: Extra grpc channel options; they override the defaults.

    Every method also takes `timeout=` to override the default for one call
    (None means no deadline).
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        client_certificate: tuple[bytes, bytes] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        transfer_timeout: float | None = DEFAULT_TRANSFER_TIMEOUT,
        options: Sequence[ChannelOption] = (),
    ) -> None:
        """Open the channel (lazily: nothing connects before the first call)."""
        self.target = target
        credentials = channel_credentials(
            tls=tls, root_certificates=root_certificates, client_certificate=client_certificate
        )
        channel_opts = channel_options(options)
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=channel_opts)
        else:
            self._channel = grpc.secure_channel(target, credentials, options=channel_opts)
        self._metadata = call_metadata(token)
        self._deadlines = Deadlines(unary=timeout, transfer=transfer_timeout)
        # The generated stubs carry no annotations; the methods below type
        # every response where they receive it.
        self._sessions = session_pb2_grpc.SessionServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._reports = report_pb2_grpc.ReportServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._research = research_pb2_grpc.ResearchServiceStub(self._channel)  # type: ignore[no-untyped-call]

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Close the channel; calls still running are cancelled."""
        self._channel.close()

    def __enter__(self) -> ScoutClient:
        """Return the client; `with` closes it on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the channel."""
        self.close()

    def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Block until the channel is connected; UnavailableError after `timeout`."""
        try:
            grpc.channel_ready_future(self._channel).result(timeout=timeout)
        except grpc.FutureTimeoutError as error:
            raise UnavailableError(
                f"{self.target} not reachable within {timeout:g} s", reason="NOT_READY"
            ) from error

    # -- plumbing ----------------------------------------------------------

    def _unary(self, rpc: Callable[..., Any], request: Any, timeout: Timeout) -> Any:
        try:
            return rpc(request, timeout=self._deadlines.for_unary(timeout), metadata=self._metadata)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    @staticmethod
    def _pages(fetch: Callable[[str], tuple[Iterable[T], str]]) -> Iterator[T]:
        token = ""
        while True:
            items, token = fetch(token)
            yield from items
            if not token:
                return

    # -- sessions ----------------------------------------------------------

    def create_session(
        self,
        labels: Mapping[str, str] | None = None,
        ttl: timedelta | None = None,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Session:
        """Open a new session (TTL: the server's default, 24 h, unless given).

        Safe to retry: without a `request_id` the client sends a fresh UUID,
        so grpc's retry on UNAVAILABLE returns the session the first attempt
        created. Pass your own `request_id` to make your own retries safe.
        """
        request = session_pb2.CreateSessionRequest(
            request_id=new_request_id(request_id), labels=dict(labels or {})
        )
        if ttl is not None:
            request.ttl.FromTimedelta(ttl)
        response: session_pb2.CreateSessionResponse = self._unary(
            self._sessions.CreateSession, request, timeout
        )
        return response.session

    def get_session(self, session_id: str, *, timeout: Timeout = DEFAULT) -> types_pb2.Session:
        """Return one of the caller's sessions; NotFoundError when gone or expired."""
        response: session_pb2.GetSessionResponse = self._unary(
            self._sessions.GetSession, session_pb2.GetSessionRequest(session_id=session_id), timeout
        )
        return response.session

    def list_sessions(
        self, page_size: int = 0, page_token: str = "", *, timeout: Timeout = DEFAULT
    ) -> session_pb2.ListSessionsResponse:
        """Return one page of the caller's live sessions, newest first."""
        request = session_pb2.ListSessionsRequest(page_size=page_size, page_token=page_token)
        response: session_pb2.ListSessionsResponse = self._unary(
            self._sessions.ListSessions, request, timeout
        )
        return response

    def iter_sessions(
        self, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> Iterator[types_pb2.Session]:
        """Yield all of the caller's sessions, fetching page after page."""

        def fetch(token: str) -> tuple[Iterable[types_pb2.Session], str]:
            page = self.list_sessions(page_size, token, timeout=timeout)
            return page.sessions, page.next_page_token

        return self._pages(fetch)

    def extend_session(
        self, session_id: str, ttl: timedelta | None = None, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Push the session's expiry out to now + ttl (server default if None)."""
        request = session_pb2.ExtendSessionRequest(session_id=session_id)
        if ttl is not None:
            request.ttl.FromTimedelta(ttl)
        response: session_pb2.ExtendSessionResponse = self._unary(
            self._sessions.ExtendSession, request, timeout
        )
        return response.session

    def delete_session(self, session_id: str, *, timeout: Timeout = DEFAULT) -> None:
        """Delete the session and everything in it (not retried automatically)."""
        self._unary(
            self._sessions.DeleteSession,
            session_pb2.DeleteSessionRequest(session_id=session_id),
            timeout,
        )

    # -- files -------------------------------------------------------------

    def upload_file(
        self,
        session_id: str,
        source: UploadInput,
        *,
        file_name: str | None = None,
        content_type: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.FileInfo:
        """Upload a file into the session and return what the server stored.

        `source` is a path, bytes, or a binary file object (read from its
        current position). The file is read lazily, one `chunk_size` message
        at a time. `file_name` defaults to the path's (or file object's)
        name; `content_type` is guessed from the name when not given.
        Uploading a name again replaces that file. Not retried automatically:
        a stream cannot be replayed from a file object.
        """
        upload = UploadSource(
            source, file_name=file_name, content_type=content_type, chunk_size=chunk_size
        )
        # grpc reads the request iterator on its own thread and reports a
        # failure there only as CANCELLED; keep the real exception to raise it.
        read_failures: list[BaseException] = []

        def requests() -> Iterator[session_pb2.UploadFileRequest]:
            try:
                yield upload.header(session_id)
                while chunk := upload.read_chunk():
                    yield session_pb2.UploadFileRequest(chunk=chunk)
            except Exception as exc:
                read_failures.append(exc)
                raise

        try:
            response: session_pb2.UploadFileResponse = self._sessions.UploadFile(
                requests(),
                timeout=self._deadlines.for_transfer(timeout),
                metadata=self._metadata,
            )
        except grpc.RpcError as error:
            if read_failures:
                raise read_failures[0] from error
            raise from_rpc_error(error) from error
        finally:
            upload.close()
        return response.file

    def list_files(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> session_pb2.ListFilesResponse:
        """Return one page of the session's files, by name."""
        request = session_pb2.ListFilesRequest(
            session_id=session_id, page_size=page_size, page_token=page_token
        )
        response: session_pb2.ListFilesResponse = self._unary(
            self._sessions.ListFiles, request, timeout
        )
        return response

    def iter_files(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> Iterator[types_pb2.FileInfo]:
        """Yield all files of the session, fetching page after page."""

        def fetch(token: str) -> tuple[Iterable[types_pb2.FileInfo], str]:
            page = self.list_files(session_id, page_size, token, timeout=timeout)
            return page.files, page.next_page_token

        return self._pages(fetch)

    @overload
    def download_file(
        self, session_id: str, file_name: str, dest: None = None, *, timeout: Timeout = DEFAULT
    ) -> bytes: ...

    @overload
    def download_file(
        self, session_id: str, file_name: str, dest: Destination, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.FileInfo: ...

    def download_file(
        self,
        session_id: str,
        file_name: str,
        dest: Destination | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes | types_pb2.FileInfo:
        """Download a file: its bytes, or its FileInfo once written to `dest`.

        `dest` is a path (written as `<path>.part`, renamed when complete) or
        a binary file object. The size and SHA-256 are checked against the
        server's FileInfo; a mismatch raises DataLossError.
        """
        sink = DownloadSink(dest)
        info: types_pb2.FileInfo | None = None
        request = session_pb2.DownloadFileRequest(session_id=session_id, file_name=file_name)
        try:
            call = self._sessions.DownloadFile(
                request, timeout=self._deadlines.for_transfer(timeout), metadata=self._metadata
            )
            for response in call:
                message: session_pb2.DownloadFileResponse = response
                if info is None and message.HasField("file"):
                    info = message.file
                sink.write(message.chunk)
            sink.verify_file(info, f"download of {file_name!r}")
        except grpc.RpcError as error:
            sink.abort()
            raise from_rpc_error(error) from error
        except BaseException:
            sink.abort()
            raise
        sink.commit()
        if dest is None:
            return sink.content()
        assert info is not None
        return info

    # -- reports -----------------------------------------------------------

    def get_report(
        self, session_id: str, kind: int | str, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Report:
        """Return one report with its Markdown content.

        `kind` is a ReportKind value or a name: "market", "market_report",
        "REPORT_KIND_MARKET" ... (see `scout_client.report_kind`).
        """
        request = report_pb2.GetReportRequest(session_id=session_id, kind=report_kind(kind))
        response: report_pb2.GetReportResponse = self._unary(
            self._reports.GetReport, request, timeout
        )
        return response.report

    def list_reports(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListReportsResponse:
        """Return one page of the session's reports, without their content."""
        request = report_pb2.ListReportsRequest(
            session_id=session_id, page_size=page_size, page_token=page_token
        )
        response: report_pb2.ListReportsResponse = self._unary(
            self._reports.ListReports, request, timeout
        )
        return response

    def iter_reports(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> Iterator[types_pb2.Report]:
        """Yield all reports of the session (without content)."""

        def fetch(token: str) -> tuple[Iterable[types_pb2.Report], str]:
            page = self.list_reports(session_id, page_size, token, timeout=timeout)
            return page.reports, page.next_page_token

        return self._pages(fetch)

    def put_report(
        self,
        session_id: str,
        kind: int | str,
        content: str,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Store or replace a report (e.g. an edited one); returns it without content.

        Safe to retry, like create_session: a request_id is always sent.
        """
        request = report_pb2.PutReportRequest(
            session_id=session_id,
            kind=report_kind(kind),
            content=content,
            request_id=new_request_id(request_id),
        )
        response: report_pb2.PutReportResponse = self._unary(
            self._reports.PutReport, request, timeout
        )
        return response.report

    @overload
    def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes: ...

    @overload
    def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: Destination,
        *,
        timeout: Timeout = DEFAULT,
    ) -> ExportInfo: ...

    def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: Destination | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes | ExportInfo:
        """Export the session's reports as one document: its bytes, or where it went.

        `format` is "md", "html", "pdf", "zip" or an ExportFormat value. With
        `dest` (a path or binary file object) the document is streamed there
        and the server's suggested file name, content type and size return.
        """
        sink = DownloadSink(dest)
        request = report_pb2.ExportReportsRequest(
            session_id=session_id, format=export_format(format)
        )
        header: report_pb2.ExportReportsResponse | None = None
        try:
            call = self._reports.ExportReports(
                request, timeout=self._deadlines.for_transfer(timeout), metadata=self._metadata
            )
            for response in call:
                message: report_pb2.ExportReportsResponse = response
                if header is None:
                    header = message
                sink.write(message.chunk)
            if header is None:
                raise UnavailableError("the export stream ended before its first message")
            sink.verify(size=header.size_bytes or None, sha256=None, what="export")
        except grpc.RpcError as error:
            sink.abort()
            raise from_rpc_error(error) from error
        except BaseException:
            sink.abort()
            raise
        sink.commit()
        if dest is None:
            return sink.content()
        return ExportInfo(header.file_name, header.content_type, sink.size)

    # -- research ----------------------------------------------------------

    def start_research(
        self,
        session_id: str,
        request_id: str | None = None,
        file_names: Sequence[str] = (),
        *,
        timeout: Timeout = DEFAULT,
    ) -> research_pb2.Run:
        """Start a research run on the session's files; returns it at once.

        Safe to retry: the same request_id returns the run the first call
        started (one is generated when not given). FailedPreconditionError
        while another run of the session is in progress.
        """
        request = research_pb2.StartResearchRequest(
            session_id=session_id,
            request_id=new_request_id(request_id),
            file_names=list(file_names),
        )
        response: research_pb2.StartResearchResponse = self._unary(
            self._research.StartResearch, request, timeout
        )
        return response.run

    def get_run(
        self, session_id: str, run_id: str, *, timeout: Timeout = DEFAULT
    ) -> research_pb2.Run:
        """Return a run with its per-agent state and token usage."""
        request = research_pb2.GetRunRequest(session_id=session_id, run_id=run_id)
        response: research_pb2.GetRunResponse = self._unary(self._research.GetRun, request, timeout)
        return response.run

    def list_runs(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> research_pb2.ListRunsResponse:
        """Return one page of the session's runs, newest first."""
        request = research_pb2.ListRunsRequest(
            session_id=session_id, page_size=page_size, page_token=page_token
        )
        response: research_pb2.ListRunsResponse = self._unary(
            self._research.ListRuns, request, timeout
        )
        return response

    def iter_runs(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> Iterator[research_pb2.Run]:
        """Yield all runs of the session, newest first."""

        def fetch(token: str) -> tuple[Iterable[research_pb2.Run], str]:
            page = self.list_runs(session_id, page_size, token, timeout=timeout)
            return page.runs, page.next_page_token

        return self._pages(fetch)

    def cancel_run(
        self, session_id: str, run_id: str, *, timeout: Timeout = DEFAULT
    ) -> research_pb2.Run:
        """Cancel a run; reports already saved stay."""
        request = research_pb2.CancelRunRequest(session_id=session_id, run_id=run_id)
        response: research_pb2.CancelRunResponse = self._unary(
            self._research.CancelRun, request, timeout
        )
        return response.run

    def stream_progress(
        self,
        session_id: str,
        run_id: str = "",
        after_sequence: int = 0,
        *,
        resume: bool = True,
        max_reconnects: int | None = DEFAULT_MAX_RECONNECTS,
        heartbeats: bool = False,
        timeout: float | None = None,
        initial_backoff: float = 0.2,
        max_backoff: float = 5.0,
    ) -> Iterator[research_pb2.ProgressEvent]:
        """Yield a run's progress events, exactly once and in order, to its end.

        Follows `run_id` (or the session's latest run when empty), starting
        after `after_sequence`. The iterator ends after the run's terminal
        event (RUN_COMPLETED, RUN_FAILED or RUN_CANCELLED).

        With `resume` (the default), a broken stream (UNAVAILABLE, a reset
        connection or RST_STREAM, DEADLINE_EXCEEDED, or an end before the
        terminal event) is reopened after a backoff with `after_sequence` set
        to the last delivered event and the run pinned to the one the first
        event named. `max_reconnects` bounds the reconnects in a row that
        bring no new event (None: no bound); then the last error is raised.
        Other errors (NotFoundError, PermissionDeniedError ...) raise at once.

        Heartbeats are dropped unless `heartbeats` is true; they never move
        the resume point. `timeout` is a deadline per connection, not for
        the whole run. Closing the iterator early cancels the stream.
        """
        cursor = ProgressCursor(session_id, run_id, after_sequence, heartbeats)
        backoff = Backoff(initial_backoff, max_backoff)
        fruitless = 0
        while True:
            delivered_before = cursor.delivered
            last_error: grpc.RpcError | None = None
            call = self._research.StreamProgress(
                cursor.request(), timeout=timeout, metadata=self._metadata
            )
            try:
                for response in call:
                    message: research_pb2.StreamProgressResponse = response
                    if cursor.accept(message.event):
                        yield message.event
                    if cursor.done:
                        return
            except grpc.RpcError as error:
                if not resume or not is_resumable(error):
                    raise from_rpc_error(error) from error
                last_error = error
            finally:
                call.cancel()
            if not resume:
                return  # the server ended the stream; without resume that is the end
            if cursor.delivered > delivered_before:
                fruitless = 0
                backoff.reset()
            fruitless += 1
            if max_reconnects is not None and fruitless > max_reconnects:
                if last_error is not None:
                    raise from_rpc_error(last_error) from last_error
                raise UnavailableError(
                    "the progress stream kept ending before the run's terminal event",
                    reason="STREAM_ENDED_EARLY",
                )
            time.sleep(backoff.next_delay())
