"""The store interface: every domain operation Scout keeps state with.

Two implementations behave the same and run the same test suite:
``DynamoStore`` (``store/dynamodb/``, one DynamoDB table) and
``MemoryStore`` (``store/memory.py``, an in-process fake for fast unit
tests). Both raise only ``scout_service.errors`` exceptions.

Rules every implementation keeps (DESIGN.md, "The store"):

- Expired means gone: any item whose ``ttl <= now`` reads as absent.
- No lost updates: creation and state changes are conditional; a lost race
  raises ``Conflict`` (or ``AlreadyExists``), never overwrites silently.
- Blobs (files, reports) become visible only when complete, never mix two
  versions, and are bounded by ``StoreLimits`` before anything is written.
- Idempotency: a repeated ``request_id`` returns the first call's result.

The store does not check *who* calls: ownership is the service layer's job
(``Session.owner``). It does check that the session exists and is live
where an operation creates something inside it.
"""

from __future__ import annotations

import abc
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from typing import TypeVar

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
from scout_service.store.rules import StoreLimits

__all__ = ["Store", "StoreLimits", "every_item"]

T = TypeVar("T")


async def every_item(list_page: Callable[[str | None], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """Every item of a listing, page after page (``list_page(token)`` reads one page)."""
    token: str | None = None
    while True:
        page = await list_page(token)
        for item in page.items:
            yield item
        token = page.next_token
        if not token:
            return


class Store(abc.ABC):
    """Domain operations on sessions, files, reports, runs and events."""

    limits: StoreLimits

    # -- sessions -----------------------------------------------------------

    @abc.abstractmethod
    async def create_session(
        self,
        *,
        owner: str,
        ttl_seconds: int,
        labels: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> Session:
        """Create a session with a new UUIDv4 id.

        With a ``request_id`` already used by the same owner (and still live),
        return the session that first call created instead of a new one.
        ``ttl_seconds`` is clamped by nothing here: callers validate it
        against ``limits.max_ttl_seconds`` (``InvalidArgument`` if above).
        """

    @abc.abstractmethod
    async def get_session(self, session_id: str) -> Session:
        """Return a live session; ``NotFound`` when missing or expired."""

    @abc.abstractmethod
    async def list_sessions(
        self, owner: str | None, *, page_size: int, page_token: str | None = None
    ) -> Page[Session]:
        """List live sessions of ``owner`` (``None``: all owners), newest first.

        ``page_token`` is the opaque ``next_token`` of a previous page; a
        token that is not one raises ``InvalidArgument``.
        """

    @abc.abstractmethod
    async def extend_session(self, session_id: str, ttl_seconds: int) -> Session:
        """Set the expiry of the session and of every item in it to now + ttl."""

    @abc.abstractmethod
    async def delete_session(self, session_id: str) -> None:
        """Delete the session and every item in it; ``NotFound`` if not live."""

    # -- files ----------------------------------------------------------------

    @abc.abstractmethod
    async def put_file(
        self,
        session_id: str,
        name: str,
        content_type: str,
        chunks: AsyncIterable[bytes],
        *,
        declared_size: int | None = None,
    ) -> FileInfo:
        """Store (or replace) a file from a stream of byte chunks of any size.

        ``ResourceExhausted`` before any write when ``declared_size`` exceeds
        ``limits.max_file_bytes``, and as soon as the streamed bytes do (what
        was written is removed; the previous version stays readable). The
        same for a new file when the session holds ``max_files_per_session``
        (``TOO_MANY_FILES``) and for bytes past ``max_session_bytes`` in all
        (``SESSION_TOO_LARGE``); these hold for concurrent uploads too.
        ``NotFound`` if the session is not live.
        """

    @abc.abstractmethod
    async def get_file(self, session_id: str, name: str) -> FileInfo:
        """Metadata of a stored file; ``NotFound`` when absent or expired."""

    @abc.abstractmethod
    async def open_file(self, session_id: str, name: str) -> tuple[FileInfo, AsyncIterator[bytes]]:
        """Metadata and an iterator over the bytes of the same version."""

    @abc.abstractmethod
    async def list_files(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[FileInfo]:
        """List a session's files by name."""

    async def read_file(self, session_id: str, name: str) -> tuple[FileInfo, bytes]:
        """Metadata and the whole content of a file (for the agent runner)."""
        info, chunks = await self.open_file(session_id, name)
        data = bytearray()
        async for chunk in chunks:
            data += chunk
        return info, bytes(data)

    # -- reports --------------------------------------------------------------

    @abc.abstractmethod
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
        """Store a report as its kind's next version; returns it without content.

        The first save of a kind is version 1, each later one the latest plus
        one; earlier versions stay readable until more than
        ``limits.max_report_versions`` exist, then the oldest are deleted.
        ``cited`` are the source ids the content cites (already verified by
        the caller against the sources of run ``sources_run_id``).

        ``ResourceExhausted`` when the UTF-8 content exceeds
        ``limits.max_report_bytes``. With a ``request_id`` already used on the
        session, return the first call's result and write nothing.
        """

    @abc.abstractmethod
    async def get_report(
        self, session_id: str, kind: ReportKind, version: int | None = None
    ) -> Report:
        """A report with its content: the latest version, or ``version``.

        ``NotFound`` (``REPORT_NOT_FOUND``) when the kind has no report or
        the session is gone; ``NotFound`` (``REPORT_VERSION_NOT_FOUND``,
        naming the stored versions) for a version never stored or pruned.
        """

    @abc.abstractmethod
    async def list_report_versions(
        self, session_id: str, kind: ReportKind, *, page_size: int,
        page_token: str | None = None,
    ) -> Page[Report]:
        """A kind's kept versions without content, newest first (none: empty)."""

    @abc.abstractmethod
    async def list_reports(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Report]:
        """List a session's reports without content."""

    # -- sources --------------------------------------------------------------

    @abc.abstractmethod
    async def put_sources(self, sources: Sequence[Source]) -> None:
        """Store new sources of one run (at most 99), all or none.

        ``Conflict`` (reason ``SOURCE_EXISTS``) if any of their ids is already
        stored for the run: an id is never overwritten. ``NotFound`` if the
        session is not live. They expire with the session.
        """

    @abc.abstractmethod
    async def list_sources(
        self, session_id: str, run_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Source]:
        """A run's sources in id order (S1, S2 …)."""

    # -- questions ------------------------------------------------------------

    @abc.abstractmethod
    async def put_question(self, question: Question) -> Question:
        """Store an answered question; with a ``request_id`` at most once.

        A ``request_id`` already answered returns that stored question and
        stores nothing. ``NotFound`` if the session is not live; the question
        expires with the session.
        """

    @abc.abstractmethod
    async def find_question(self, session_id: str, request_id: str) -> Question | None:
        """The question answered for ``request_id``, if any."""

    @abc.abstractmethod
    async def list_questions(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Question]:
        """The session's questions, oldest first. ``NotFound`` if the session is not live."""

    # -- findings -------------------------------------------------------------

    @abc.abstractmethod
    async def put_findings(self, findings: Findings) -> None:
        """Store a kind's findings, replacing the kind's earlier ones.

        ``NotFound`` if the session is not live. They expire with the session.
        """

    @abc.abstractmethod
    async def list_findings(self, session_id: str) -> list[Findings]:
        """The session's findings, one per kind that has them, in kind order.

        ``NotFound`` if the session is not live.
        """

    # -- runs -----------------------------------------------------------------

    @abc.abstractmethod
    async def create_run(self, run: Run) -> Run:
        """Store a new run and make it the session's active and latest run.

        ``FailedPrecondition`` (reason ``RUN_IN_PROGRESS``) if another run of
        the session is active. If ``run.request_id`` was already used to start
        a run of this session, return that run instead (idempotent retry).
        ``NotFound`` if the session is not live. The stored run has
        ``version == 1``.
        """

    @abc.abstractmethod
    async def get_run(self, session_id: str, run_id: str) -> Run:
        """A run; ``NotFound`` when absent or expired."""

    @abc.abstractmethod
    async def list_runs(
        self, session_id: str, *, page_size: int, page_token: str | None = None
    ) -> Page[Run]:
        """List a session's runs, newest first."""

    @abc.abstractmethod
    async def update_run(self, run: Run) -> Run:
        """Write a changed run if the stored version is still ``run.version``.

        Returns the stored run (``version + 1``). ``Conflict`` when another
        writer changed it first. When the new state is terminal, the session's
        active-run slot is released in the same atomic write.
        """

    @abc.abstractmethod
    async def list_resumable_runs(self, *, lease_expired_before: float, limit: int) -> list[Run]:
        """Non-terminal runs (any session) whose lease expired before the time."""

    # -- progress events --------------------------------------------------------

    @abc.abstractmethod
    async def append_event(self, event: ProgressEvent) -> None:
        """Store an event; ``Conflict`` if its run already has that sequence."""

    @abc.abstractmethod
    async def read_events(
        self, session_id: str, run_id: str, *, after_sequence: int, limit: int = 1000
    ) -> list[ProgressEvent]:
        """Events of a run with sequence > after_sequence, in order, at most limit."""

    @abc.abstractmethod
    async def last_event(self, session_id: str, run_id: str) -> ProgressEvent | None:
        """The run's latest stored event, if any."""

    # -- life -------------------------------------------------------------------

    @abc.abstractmethod
    async def ping(self) -> None:
        """Cheap round trip; ``Unavailable`` when the store cannot be reached."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and threads."""
