"""`AsyncScoutClient`'s ResearchService methods: runs, questions and progress."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from functools import partial

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import research_pb2
from scout_client import _async_ops as ops
from scout_client import _requests as rpc
from scout_client._async_base import AsyncBase
from scout_client._channel import DEFAULT, Timeout
from scout_client._progress import DEFAULT_MAX_RECONNECTS, ProgressCursor, ProgressFollower
from scout_client.errors import from_rpc_error

__all__ = ["AsyncResearchMethods"]


class AsyncResearchMethods(AsyncBase):
    """Research runs, follow-up questions, and a run's progress stream."""

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
