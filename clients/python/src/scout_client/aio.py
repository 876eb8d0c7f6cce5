"""`AsyncScoutClient`: the asyncio twin of `ScoutClient`, on `grpc.aio`.

Same methods, same arguments, same return values and errors; methods are
coroutines, and `stream_progress` / `ask` / `iter_*` are async iterators.
Create the client inside the event loop that uses it (grpc.aio channels
belong to one loop), preferably with `async with`.

This module is the source of both clients: `client.py` (`ScoutClient`) is
generated from it by `scripts/unasync.py` (`make unasync`; `make
check-unasync` fails when it is stale). Edit here, never there; the little
that really differs between the two stands in `_async_ops.py` and
`_sync_ops.py`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from functools import partial
from types import TracebackType
from typing import Any, TypeVar, overload

import grpc  # type: ignore[import-untyped, unused-ignore]
import grpc.aio  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import findings_pb2, report_pb2, research_pb2, session_pb2, types_pb2
from scout_client import _async_ops as ops
from scout_client import _requests as rpc
from scout_client._async_ops import AsyncUploadInput
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
)
from scout_client._progress import DEFAULT_MAX_RECONNECTS, ProgressCursor, ProgressFollower
from scout_client.errors import from_rpc_error

__all__ = ["AsyncScoutClient"]

R = TypeVar("R")


class AsyncScoutClient:
    """An asyncio client of the Scout service.

    Use it as a context manager (or call `close()`); one client shares one
    channel across the tasks of the event loop it was created in.

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
        """Open the channel (lazily: nothing connects before the first call)."""
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
        await ops.wait_ready(self._channel, self.target, timeout)

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
        """Open a new session (TTL: the server's default, 24 h, unless given).

        Safe to retry: without a `request_id` the client sends a fresh UUID,
        so grpc's retry on UNAVAILABLE returns the session the first attempt
        created. Pass your own `request_id` to make your own retries safe.
        """
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

        `source` is a path, bytes, or a binary file object (read from its
        current position). The file is read lazily, one `chunk_size` message
        at a time. `file_name` defaults to the path's (or file object's)
        name; `content_type` is guessed from the name when not given.
        Uploading a name again replaces that file. Not retried automatically:
        a stream cannot be replayed from a file object.

        Asynchronously, `source` may also be an async iterable of bytes (then
        `file_name` is required and the size is not announced), and file
        reads run in a worker thread, one chunk at a time.
        """
        return await ops.upload(
            lambda requests: self._stream(self._stubs.sessions.UploadFile, requests, timeout),
            session_id,
            source,
            file_name=file_name,
            content_type=content_type,
            chunk_size=chunk_size,
        )

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

        `dest` is a path (written as `<path>.part`, renamed when complete) or
        a binary file object. The size and SHA-256 are checked against the
        server's FileInfo; a mismatch raises DataLossError.
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

        `kind` is a ReportKind value or a name: "market", "market_report",
        "REPORT_KIND_MARKET" ... (see `scout_client.report_kind`). A version
        that was pruned or never stored raises NotFoundError.
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
        found = await self._call(rpc.get_findings(session_id, kind), timeout)
        return list(found.findings)

    async def put_report(
        self,
        session_id: str,
        kind: int | str,
        content: str,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Report:
        """Store a report (e.g. an edited one) as its next version; returns it without content.

        The version it follows stays readable (`get_report(..., version=)`).
        Safe to retry, like create_session: a request_id is always sent.
        """
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
        """Export the session's reports as one document: its bytes, or where it went.

        `format` is "md", "html", "pdf", "zip" or an ExportFormat value. With
        `dest` (a path or binary file object) the document is streamed there
        and the server's suggested file name, content type and size return.
        """
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
            await ops.sleep(delay)
