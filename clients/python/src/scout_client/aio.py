"""`AsyncScoutClient`: the asyncio twin of `ScoutClient`, on `grpc.aio`.

Same methods, same arguments, same return values and errors; methods are
coroutines, and `stream_progress` / `iter_*` are async iterators. Create the
client inside the event loop that uses it (grpc.aio channels belong to one
loop), preferably with `async with`.
"""

from __future__ import annotations

import asyncio
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import timedelta
from types import TracebackType
from typing import Any, TypeAlias, TypeVar, overload

import grpc  # type: ignore[import-untyped, unused-ignore]
import grpc.aio  # type: ignore[import-untyped, unused-ignore]

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
    MAX_CHUNK_SIZE,
    Destination,
    DownloadSink,
    ExportInfo,
    UploadInput,
    UploadSource,
    guess_content_type,
)
from scout_client._progress import (
    DEFAULT_MAX_RECONNECTS,
    Backoff,
    ProgressCursor,
    is_resumable,
)
from scout_client.errors import UnavailableError, from_rpc_error
from scout_client.kinds import export_format, report_kind

__all__ = ["AsyncScoutClient"]

T = TypeVar("T")

AsyncUploadInput: TypeAlias = UploadInput | AsyncIterable[bytes]


class AsyncScoutClient:
    """An asyncio client of the Scout service; see `ScoutClient` for the arguments.

    Example::

        async with AsyncScoutClient("localhost:50051", token=token) as scout:
            session = await scout.create_session()
            async for event in scout.stream_progress(session.session_id):
                print(event.display_message)
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
        """Open the channel on the running loop (lazily: nothing connects yet)."""
        self.target = target
        credentials = channel_credentials(
            tls=tls, root_certificates=root_certificates, client_certificate=client_certificate
        )
        channel_opts = channel_options(options)
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(target, options=channel_opts)
        else:
            self._channel = grpc.aio.secure_channel(target, credentials, options=channel_opts)
        self._metadata = call_metadata(token)
        self._deadlines = Deadlines(unary=timeout, transfer=transfer_timeout)
        self._sessions = session_pb2_grpc.SessionServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._reports = report_pb2_grpc.ReportServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._research = research_pb2_grpc.ResearchServiceStub(self._channel)  # type: ignore[no-untyped-call]

    # -- lifecycle ---------------------------------------------------------

    async def close(self) -> None:
        """Close the channel; calls still running are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncScoutClient:
        """Return the client; `async with` closes it on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the channel."""
        await self.close()

    async def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Wait until the channel is connected; UnavailableError after `timeout`."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)
        except TimeoutError as error:
            raise UnavailableError(
                f"{self.target} not reachable within {timeout:g} s", reason="NOT_READY"
            ) from error

    # -- plumbing ----------------------------------------------------------

    async def _unary(self, rpc: Callable[..., Any], request: Any, timeout: Timeout) -> Any:
        try:
            return await rpc(
                request, timeout=self._deadlines.for_unary(timeout), metadata=self._metadata
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    @staticmethod
    async def _pages(
        fetch: Callable[[str], Awaitable[tuple[Iterable[T], str]]],
    ) -> AsyncIterator[T]:
        token = ""
        while True:
            items, token = await fetch(token)
            for item in items:
                yield item
            if not token:
                return

    # -- sessions ----------------------------------------------------------

    async def create_session(
        self,
        labels: Mapping[str, str] | None = None,
        ttl: timedelta | None = None,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Session:
        """Open a new session; safe to retry (a request_id is always sent)."""
        request = session_pb2.CreateSessionRequest(
            request_id=new_request_id(request_id), labels=dict(labels or {})
        )
        if ttl is not None:
            request.ttl.FromTimedelta(ttl)
        response: session_pb2.CreateSessionResponse = await self._unary(
            self._sessions.CreateSession, request, timeout
        )
        return response.session

    async def get_session(
        self, session_id: str, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Return one of the caller's sessions; NotFoundError when gone or expired."""
        response: session_pb2.GetSessionResponse = await self._unary(
            self._sessions.GetSession, session_pb2.GetSessionRequest(session_id=session_id), timeout
        )
        return response.session

    async def list_sessions(
        self, page_size: int = 0, page_token: str = "", *, timeout: Timeout = DEFAULT
    ) -> session_pb2.ListSessionsResponse:
        """Return one page of the caller's live sessions, newest first."""
        request = session_pb2.ListSessionsRequest(page_size=page_size, page_token=page_token)
        response: session_pb2.ListSessionsResponse = await self._unary(
            self._sessions.ListSessions, request, timeout
        )
        return response

    def iter_sessions(
        self, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.Session]:
        """Yield all of the caller's sessions, fetching page after page."""

        async def fetch(token: str) -> tuple[Iterable[types_pb2.Session], str]:
            page = await self.list_sessions(page_size, token, timeout=timeout)
            return page.sessions, page.next_page_token

        return self._pages(fetch)

    async def extend_session(
        self, session_id: str, ttl: timedelta | None = None, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Push the session's expiry out to now + ttl (server default if None)."""
        request = session_pb2.ExtendSessionRequest(session_id=session_id)
        if ttl is not None:
            request.ttl.FromTimedelta(ttl)
        response: session_pb2.ExtendSessionResponse = await self._unary(
            self._sessions.ExtendSession, request, timeout
        )
        return response.session

    async def delete_session(self, session_id: str, *, timeout: Timeout = DEFAULT) -> None:
        """Delete the session and everything in it (not retried automatically)."""
        await self._unary(
            self._sessions.DeleteSession,
            session_pb2.DeleteSessionRequest(session_id=session_id),
            timeout,
        )

    # -- files -------------------------------------------------------------

    async def upload_file(
        self,
        session_id: str,
        source: AsyncUploadInput,
        *,
        file_name: str | None = None,
        content_type: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.FileInfo:
        """Upload a file into the session and return what the server stored.

        `source` is a path, bytes, a binary file object, or an async iterable
        of bytes (then `file_name` is required and the size is not announced).
        File reads run in a worker thread, one chunk at a time.
        """
        read_failures: list[BaseException] = []
        requests: AsyncIterator[session_pb2.UploadFileRequest]
        upload: UploadSource | None = None
        if isinstance(source, AsyncIterable):
            if not file_name:
                raise ValueError("file_name is required when uploading an async iterable")
            if not 0 < chunk_size <= MAX_CHUNK_SIZE:
                raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes")
            header = session_pb2.UploadFileRequest(
                session_id=session_id,
                file_name=file_name,
                content_type=content_type or guess_content_type(file_name),
            )
            requests = _stream_requests(header, source, chunk_size, read_failures)
        else:
            upload = UploadSource(
                source, file_name=file_name, content_type=content_type, chunk_size=chunk_size
            )
            requests = _source_requests(upload, session_id, read_failures)
        try:
            response: session_pb2.UploadFileResponse = await self._sessions.UploadFile(
                requests,
                timeout=self._deadlines.for_transfer(timeout),
                metadata=self._metadata,
            )
        except grpc.RpcError as error:
            if read_failures:
                raise read_failures[0] from error
            raise from_rpc_error(error) from error
        except asyncio.CancelledError:
            # grpc.aio cancels the call when the request iterator raises.
            if read_failures:
                raise read_failures[0] from None
            raise
        finally:
            if upload is not None:
                upload.close()
        return response.file

    async def list_files(
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
        response: session_pb2.ListFilesResponse = await self._unary(
            self._sessions.ListFiles, request, timeout
        )
        return response

    def iter_files(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.FileInfo]:
        """Yield all files of the session, fetching page after page."""

        async def fetch(token: str) -> tuple[Iterable[types_pb2.FileInfo], str]:
            page = await self.list_files(session_id, page_size, token, timeout=timeout)
            return page.files, page.next_page_token

        return self._pages(fetch)

    @overload
    async def download_file(
        self, session_id: str, file_name: str, dest: None = None, *, timeout: Timeout = DEFAULT
    ) -> bytes: ...

    @overload
    async def download_file(
        self, session_id: str, file_name: str, dest: Destination, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.FileInfo: ...

    async def download_file(
        self,
        session_id: str,
        file_name: str,
        dest: Destination | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes | types_pb2.FileInfo:
        """Download a file: its bytes, or its FileInfo once written to `dest`.

        Size and SHA-256 are checked against the server's FileInfo; a
        mismatch raises DataLossError.
        """
        sink = DownloadSink(dest)
        info: types_pb2.FileInfo | None = None
        request = session_pb2.DownloadFileRequest(session_id=session_id, file_name=file_name)
        try:
            call = self._sessions.DownloadFile(
                request, timeout=self._deadlines.for_transfer(timeout), metadata=self._metadata
            )
            async for response in call:
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

    async def get_report(
        self, session_id: str, kind: int | str, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Report:
        """Return one report with its Markdown content; `kind` as in `report_kind`."""
        request = report_pb2.GetReportRequest(session_id=session_id, kind=report_kind(kind))
        response: report_pb2.GetReportResponse = await self._unary(
            self._reports.GetReport, request, timeout
        )
        return response.report

    async def list_reports(
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
        response: report_pb2.ListReportsResponse = await self._unary(
            self._reports.ListReports, request, timeout
        )
        return response

    def iter_reports(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.Report]:
        """Yield all reports of the session (without content)."""

        async def fetch(token: str) -> tuple[Iterable[types_pb2.Report], str]:
            page = await self.list_reports(session_id, page_size, token, timeout=timeout)
            return page.reports, page.next_page_token

        return self._pages(fetch)

    async def put_report(
        self,
        session_id: str,
        kind: int | str,
        content: str,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Store or replace a report; safe to retry (a request_id is always sent)."""
        request = report_pb2.PutReportRequest(
            session_id=session_id,
            kind=report_kind(kind),
            content=content,
            request_id=new_request_id(request_id),
        )
        response: report_pb2.PutReportResponse = await self._unary(
            self._reports.PutReport, request, timeout
        )
        return response.report

    @overload
    async def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes: ...

    @overload
    async def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: Destination,
        *,
        timeout: Timeout = DEFAULT,
    ) -> ExportInfo: ...

    async def export_reports(
        self,
        session_id: str,
        format: int | str,
        dest: Destination | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes | ExportInfo:
        """Export the session's reports as one document: its bytes, or where it went."""
        sink = DownloadSink(dest)
        request = report_pb2.ExportReportsRequest(
            session_id=session_id, format=export_format(format)
        )
        header: report_pb2.ExportReportsResponse | None = None
        try:
            call = self._reports.ExportReports(
                request, timeout=self._deadlines.for_transfer(timeout), metadata=self._metadata
            )
            async for response in call:
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

    async def start_research(
        self,
        session_id: str,
        request_id: str | None = None,
        file_names: Sequence[str] = (),
        *,
        timeout: Timeout = DEFAULT,
    ) -> research_pb2.Run:
        """Start a research run; returns it at once. Safe to retry (request_id)."""
        request = research_pb2.StartResearchRequest(
            session_id=session_id,
            request_id=new_request_id(request_id),
            file_names=list(file_names),
        )
        response: research_pb2.StartResearchResponse = await self._unary(
            self._research.StartResearch, request, timeout
        )
        return response.run

    async def get_run(
        self, session_id: str, run_id: str, *, timeout: Timeout = DEFAULT
    ) -> research_pb2.Run:
        """Return a run with its per-agent state and token usage."""
        request = research_pb2.GetRunRequest(session_id=session_id, run_id=run_id)
        response: research_pb2.GetRunResponse = await self._unary(
            self._research.GetRun, request, timeout
        )
        return response.run

    async def list_runs(
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
        response: research_pb2.ListRunsResponse = await self._unary(
            self._research.ListRuns, request, timeout
        )
        return response

    def iter_runs(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[research_pb2.Run]:
        """Yield all runs of the session, newest first."""

        async def fetch(token: str) -> tuple[Iterable[research_pb2.Run], str]:
            page = await self.list_runs(session_id, page_size, token, timeout=timeout)
            return page.runs, page.next_page_token

        return self._pages(fetch)

    async def cancel_run(
        self, session_id: str, run_id: str, *, timeout: Timeout = DEFAULT
    ) -> research_pb2.Run:
        """Cancel a run; reports already saved stay."""
        request = research_pb2.CancelRunRequest(session_id=session_id, run_id=run_id)
        response: research_pb2.CancelRunResponse = await self._unary(
            self._research.CancelRun, request, timeout
        )
        return response.run

    async def stream_progress(
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
    ) -> AsyncIterator[research_pb2.ProgressEvent]:
        """Yield a run's progress events exactly once, in order, to its end.

        Resumes broken streams exactly like `ScoutClient.stream_progress`.
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
                async for response in call:
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
                return
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
            await asyncio.sleep(backoff.next_delay())


async def _source_requests(
    upload: UploadSource, session_id: str, failures: list[BaseException]
) -> AsyncIterator[session_pb2.UploadFileRequest]:
    try:
        yield upload.header(session_id)
        while True:
            if upload.in_memory:
                chunk = upload.read_chunk()
            else:
                chunk = await asyncio.to_thread(upload.read_chunk)
            if not chunk:
                return
            yield session_pb2.UploadFileRequest(chunk=chunk)
    except Exception as exc:
        failures.append(exc)
        raise


async def _stream_requests(
    header: session_pb2.UploadFileRequest,
    source: AsyncIterable[bytes],
    chunk_size: int,
    failures: list[BaseException],
) -> AsyncIterator[session_pb2.UploadFileRequest]:
    try:
        yield header
        async for piece in source:
            view = memoryview(piece).cast("B")
            for start in range(0, view.nbytes, chunk_size):
                yield session_pb2.UploadFileRequest(
                    chunk=view[start : start + chunk_size].tobytes()
                )
    except Exception as exc:
        failures.append(exc)
        raise
