"""`AsyncScoutClient`: the asyncio twin of `ScoutClient`, on `grpc.aio`.

Same methods, same arguments, same return values and errors; methods are
coroutines, and `stream_progress` / `iter_*` are async iterators. Create the
client inside the event loop that uses it (grpc.aio channels belong to one
loop), preferably with `async with`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from types import TracebackType
from typing import Any, TypeAlias, TypeVar, overload

import grpc  # type: ignore[import-untyped, unused-ignore]
import grpc.aio  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import findings_pb2, report_pb2, research_pb2, session_pb2, types_pb2
from scout_client import _requests as rpc
from scout_client._channel import (
    DEFAULT,
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT,
    ChannelOption,
    Deadlines,
    Timeout,
    call_metadata,
    open_channel,
)
from scout_client._files import (
    DEFAULT_CHUNK_SIZE,
    Destination,
    ExportInfo,
    UploadInput,
    UploadSource,
)
from scout_client._progress import DEFAULT_MAX_RECONNECTS, ProgressCursor, ProgressFollower
from scout_client.errors import UnavailableError, from_rpc_error

__all__ = ["AsyncScoutClient"]

R = TypeVar("R")

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
        self._channel = open_channel(
            grpc.aio,
            target,
            tls=tls,
            root_certificates=root_certificates,
            client_certificate=client_certificate,
            options=options,
        )
        self._metadata = call_metadata(token)
        self._deadlines = Deadlines(unary=timeout, transfer=transfer_timeout)
        self._stubs = rpc.Stubs(self._channel)

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

    async def _call(self, call: rpc.Unary[R], timeout: Timeout) -> R:
        try:
            response = await call.method(self._stubs)(
                call.request, timeout=self._deadlines.for_unary(timeout), metadata=self._metadata
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        return call.result(response)

    def _stream(self, method: Callable[..., Any], request: Any, timeout: Timeout) -> Any:
        return method(
            request, timeout=self._deadlines.for_transfer(timeout), metadata=self._metadata
        )

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
        return await self._call(rpc.create_session(labels, ttl, request_id), timeout)

    async def get_session(
        self, session_id: str, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Return one of the caller's sessions; NotFoundError when gone or expired."""
        return await self._call(rpc.get_session(session_id), timeout)

    async def list_sessions(
        self, page_size: int = 0, page_token: str = "", *, timeout: Timeout = DEFAULT
    ) -> session_pb2.ListSessionsResponse:
        """Return one page of the caller's live sessions, newest first."""
        return await self._call(rpc.list_sessions(page_size, page_token), timeout)

    def iter_sessions(
        self, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.Session]:
        """Yield all of the caller's sessions, fetching page after page."""
        fetch = partial(self.list_sessions, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.sessions)

    async def extend_session(
        self, session_id: str, ttl: timedelta | None = None, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Push the session's expiry out to now + ttl (server default if None)."""
        return await self._call(rpc.extend_session(session_id, ttl), timeout)

    async def delete_session(self, session_id: str, *, timeout: Timeout = DEFAULT) -> None:
        """Delete the session and everything in it (not retried automatically)."""
        await self._call(rpc.delete_session(session_id), timeout)

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
            header = rpc.upload_stream_header(session_id, file_name, content_type, chunk_size)
            requests = _stream_requests(header, source, chunk_size, read_failures)
        else:
            upload = UploadSource(
                source, file_name=file_name, content_type=content_type, chunk_size=chunk_size
            )
            requests = _source_requests(upload, session_id, read_failures)
        try:
            response: session_pb2.UploadFileResponse = await self._stream(
                self._stubs.sessions.UploadFile, requests, timeout
            )
        except grpc.RpcError as error:
            raise rpc.upload_failure(error, read_failures) from error
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
        return await self._call(rpc.list_files(session_id, page_size, page_token), timeout)

    def iter_files(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.FileInfo]:
        """Yield all files of the session, fetching page after page."""
        fetch = partial(self.list_files, session_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.files)

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
        request = rpc.download_file(session_id, file_name)
        receiver = rpc.FileReceiver(dest, file_name)
        with receiver:
            call = self._stream(self._stubs.sessions.DownloadFile, request, timeout)
            async for response in call:
                receiver.receive(response)
        return receiver.result()

    # -- reports -----------------------------------------------------------

    async def get_report(
        self, session_id: str, kind: int | str, *, version: int = 0,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Return one report with its Markdown content: the latest version or `version`.

        `kind` as in `report_kind`; a pruned or unknown version raises NotFoundError.
        """
        return await self._call(rpc.get_report(session_id, kind, version), timeout)

    async def list_report_versions(
        self,
        session_id: str,
        kind: int | str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListReportVersionsResponse:
        """Return one page of a report's stored versions, newest first, without content."""
        return await self._call(
            rpc.list_report_versions(session_id, kind, page_size, page_token), timeout)

    def iter_report_versions(
        self, session_id: str, kind: int | str, page_size: int = 0, *,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[types_pb2.Report]:
        """Yield every stored version of a report, newest first (without content)."""
        fetch = partial(self.list_report_versions, session_id, kind, page_size,
                        timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.versions)

    async def list_reports(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListReportsResponse:
        """Return one page of the session's reports, without their content."""
        return await self._call(rpc.list_reports(session_id, page_size, page_token), timeout)

    def iter_reports(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[types_pb2.Report]:
        """Yield all reports of the session (without content)."""
        fetch = partial(self.list_reports, session_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.reports)

    async def list_sources(
        self,
        session_id: str,
        run_id: str = "",
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> report_pb2.ListSourcesResponse:
        """Return one page of a run's sources (the latest run's when run_id is empty)."""
        return await self._call(
            rpc.list_sources(session_id, run_id, page_size, page_token), timeout)

    def iter_sources(
        self, session_id: str, run_id: str = "", page_size: int = 0, *,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[types_pb2.Source]:
        """Yield every source of a run (S1, S2, ...), the latest run's by default."""
        fetch = partial(self.list_sources, session_id, run_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.sources)

    async def get_findings(
        self, session_id: str, kind: int | str | None = None, *, timeout: Timeout = DEFAULT
    ) -> list[findings_pb2.Findings]:
        """Return the session's typed findings (every kind's, or one kind's).

        Each value carries the source ids of its run; resolve them with
        ``iter_sources(session_id, findings.run_id)``.
        """
        return list((await self._call(rpc.get_findings(session_id, kind), timeout)).findings)

    async def put_report(
        self,
        session_id: str,
        kind: int | str,
        content: str,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Store a report as its next version; safe to retry (a request_id is always sent)."""
        call = rpc.put_report(session_id, kind, content, request_id)
        return await self._call(call, timeout)

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
        request = rpc.export_reports(session_id, format)
        receiver = rpc.ExportReceiver(dest)
        with receiver:
            call = self._stream(self._stubs.reports.ExportReports, request, timeout)
            async for response in call:
                receiver.receive(response)
        return receiver.result()

    # -- research ----------------------------------------------------------

    async def start_research(
        self,
        session_id: str,
        request_id: str | None = None,
        file_names: Sequence[str] = (),
        *,
        brief: research_pb2.ResearchBrief | None = None,
        questions: Sequence[str] = (),
        language: str = "",
        agents: Sequence[int | str] = (),
        web_search: bool | None = None,
        max_tokens: int | None = None,
        focus: str = "",
        geography: str = "",
        timeout: Timeout = DEFAULT,
    ) -> research_pb2.Run:
        """Start a research run on the session's files; returns it at once.

        Safe to retry: the same request_id returns the run the first call
        started (one is generated when not given). FailedPreconditionError
        while another run of the session is in progress. The brief — given
        whole as ``brief`` or field by field — says which questions the final
        report answers, its language (BCP-47, e.g. "de"), which specialists
        run (``agents=["legal"]`` re-runs only the legal analyst and writes
        the final report again), web search on or off, and a token budget.
        """
        asked = rpc.research_brief(
            brief, questions=questions, language=language, agents=agents,
            web_search=web_search, max_tokens=max_tokens, focus=focus, geography=geography)
        call = rpc.start_research(session_id, request_id, file_names, asked)
        return await self._call(call, timeout)

    async def ask(
        self, session_id: str, question: str, request_id: str | None = None, *,
        timeout: Timeout = DEFAULT,
    ) -> AsyncIterator[research_pb2.AskQuestionResponse]:
        """Ask a follow-up question about the dossier; yield the answer's stream.

        Messages carry `progress` (what the agent does), then `text_delta`
        pieces of the verified answer, then `answer` (the stored
        QuestionAnswer with its sources). Safe to retry with the same
        request_id: the stored answer streams again.
        """
        request = rpc.ask_question(session_id, question, request_id)
        call = self._stream(self._stubs.research.AskQuestion, request, timeout)
        try:
            async for response in call:
                yield response
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error

    async def list_questions(
        self, session_id: str, page_size: int = 0, page_token: str = "", *,
        timeout: Timeout = DEFAULT,
    ) -> research_pb2.ListQuestionsResponse:
        """Return one page of the session's answered questions, oldest first."""
        return await self._call(rpc.list_questions(session_id, page_size, page_token), timeout)

    def iter_questions(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[research_pb2.QuestionAnswer]:
        """Yield every answered question of the session, oldest first."""
        fetch = partial(self.list_questions, session_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.answers)

    async def get_run(
        self, session_id: str, run_id: str, *, timeout: Timeout = DEFAULT
    ) -> research_pb2.Run:
        """Return a run with its per-agent state and token usage."""
        return await self._call(rpc.get_run(session_id, run_id), timeout)

    async def list_runs(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> research_pb2.ListRunsResponse:
        """Return one page of the session's runs, newest first."""
        return await self._call(rpc.list_runs(session_id, page_size, page_token), timeout)

    def iter_runs(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> AsyncIterator[research_pb2.Run]:
        """Yield all runs of the session, newest first."""
        fetch = partial(self.list_runs, session_id, page_size, timeout=timeout)
        return rpc.walk_pages_async(fetch, lambda page: page.runs)

    async def cancel_run(
        self, session_id: str, run_id: str, *, timeout: Timeout = DEFAULT
    ) -> research_pb2.Run:
        """Cancel a run; reports already saved stay."""
        return await self._call(rpc.cancel_run(session_id, run_id), timeout)

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
        follower = ProgressFollower(
            ProgressCursor(session_id, run_id, after_sequence, heartbeats),
            resume=resume,
            max_reconnects=max_reconnects,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
        )
        while True:
            call = self._stubs.research.StreamProgress(
                follower.connect(), timeout=timeout, metadata=self._metadata
            )
            try:
                async for response in call:
                    if follower.accept(response):
                        yield response.event
                    if follower.done:
                        return
            except grpc.RpcError as error:
                follower.failed(error)
            finally:
                call.cancel()
            delay = follower.reconnect_delay()
            if delay is None:
                return
            await asyncio.sleep(delay)


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
