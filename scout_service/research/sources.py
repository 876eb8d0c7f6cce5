"""The sources of one run: every passage or page an agent read, numbered S1, S2 ….

One ``SourceRegistry`` per executing run, shared by its agents: the same
passage read by two agents is one source with one id. Every new source is
stored (conditionally: an id is never written twice) before any agent sees
its id, so a report can only cite what the store holds; a replica that
resumes the run loads the stored sources and goes on numbering after them.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from scout_service.domain import Report, ReportKind, Source, SourceKind
from scout_service.research import citations
from scout_service.research.passages import Passage
from scout_service.store.base import Store, every_item
from scout_service.store.rules import MAX_SOURCE_BATCH

MAX_SOURCES_PER_RUN = 5000
"""Sources one run may collect; past it, tools answer with an error."""
MAX_EXCERPT_CHARS = 20_000
"""Longest excerpt stored (a web page's text is cut to this before the agent sees it)."""


class SourceLimitReached(Exception):
    """The run has collected ``MAX_SOURCES_PER_RUN`` sources."""


@dataclass(frozen=True)
class WebPage:
    """A page (or search result) an agent read, as a source candidate."""

    url: str
    title: str
    text: str
    retrieved_at: float


def _key_of(candidate: Passage | WebPage) -> str:
    if isinstance(candidate, Passage):
        return f"doc:{candidate.file_sha256}:{candidate.start}"
    return f"web:{candidate.url}:{_sha256(candidate.text[:MAX_EXCERPT_CHARS])}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_key(source: Source) -> str:
    """The identity of what a stored source holds (a passage, a page text)."""
    if source.kind is SourceKind.DOCUMENT:
        return f"doc:{source.sha256}:{source.start}"
    return f"web:{source.url}:{source.sha256}"


class SourceRegistry:
    """Numbers, stores and remembers the sources of one run."""

    def __init__(
        self, store: Store, session_id: str, run_id: str, *,
        clock: Callable[[], float], existing: Sequence[Source] = (),
    ) -> None:
        """Start from the run's ``existing`` stored sources (empty for a new run)."""
        self._store = store
        self.session_id = session_id
        self.run_id = run_id
        self._clock = clock
        self._by_id: dict[str, Source] = {s.source_id: s for s in existing}
        self._by_key: dict[str, Source] = {source_key(s): s for s in existing}
        self._next = max((s.number for s in existing), default=0) + 1
        self._lock = asyncio.Lock()

    @classmethod
    async def load(
        cls, store: Store, session_id: str, run_id: str, *, clock: Callable[[], float]
    ) -> SourceRegistry:
        """The registry of a run that may already have stored sources (resume)."""
        existing = [s async for s in every_item(lambda token: store.list_sources(
            session_id, run_id, page_size=1000, page_token=token))]
        return cls(store, session_id, run_id, clock=clock, existing=existing)

    def get(self, source_id: str) -> Source | None:
        """A source of this run by id."""
        return self._by_id.get(source_id)

    def known(self) -> dict[str, Source]:
        """Every source of this run, by id."""
        return dict(self._by_id)

    async def register(
        self, candidates: Sequence[Passage | WebPage], *, reader: ReportKind
    ) -> list[Source]:
        """The sources of ``candidates`` (new ones numbered and stored first), in order."""
        async with self._lock:
            out: list[Source | None] = []
            new: list[Source] = []
            now = self._clock()
            for candidate in candidates:
                key = _key_of(candidate)
                found = self._by_key.get(key) or next(
                    (s for s in new if source_key(s) == key), None)
                if found is not None:
                    out.append(found)
                    continue
                if len(self._by_id) + len(new) >= MAX_SOURCES_PER_RUN:
                    raise SourceLimitReached(
                        f"this run has read {MAX_SOURCES_PER_RUN} sources, the most one run "
                        "may; write the report from what you have read"
                    )
                source = self._build(candidate, f"S{self._next + len(new)}", now, reader)
                new.append(source)
                out.append(source)
            await self._commit(new)
            return [s for s in out if s is not None]

    async def adopt(self, sources: Sequence[Source], *, reader: ReportKind) -> dict[str, Source]:
        """Sources of another run made sources of this one, by their old id.

        A partial re-run writes the final report from reports of earlier runs:
        what they cite becomes citable here (the same passage keeps one id).
        """
        async with self._lock:
            mapping: dict[str, Source] = {}
            new: list[Source] = []
            now = self._clock()
            for old in sources:
                key = source_key(old)
                found = self._by_key.get(key) or next(
                    (s for s in new if source_key(s) == key), None)
                if found is None:
                    if len(self._by_id) + len(new) >= MAX_SOURCES_PER_RUN:
                        raise SourceLimitReached(
                            f"this run has {MAX_SOURCES_PER_RUN} sources, the most one run may")
                    found = replace(old, run_id=self.run_id, retrieved_at=now,
                                    source_id=f"S{self._next + len(new)}", first_read_by=reader)
                    new.append(found)
                mapping[old.source_id] = found
            await self._commit(new)
            return mapping

    async def _commit(self, new: Sequence[Source]) -> None:
        """Store new sources (a transaction per hundred), then make them known."""
        for start in range(0, len(new), MAX_SOURCE_BATCH):
            await self._store.put_sources(new[start:start + MAX_SOURCE_BATCH])
        self._next += len(new)
        for source in new:
            self._by_id[source.source_id] = source
            self._by_key[source_key(source)] = source

    def _build(
        self, candidate: Passage | WebPage, source_id: str, now: float, reader: ReportKind
    ) -> Source:
        if isinstance(candidate, Passage):
            return Source(
                session_id=self.session_id, run_id=self.run_id, source_id=source_id,
                kind=SourceKind.DOCUMENT, excerpt=candidate.text, retrieved_at=now,
                sha256=candidate.file_sha256,
                title=candidate.section or candidate.file_name,
                file_name=candidate.file_name, page=candidate.page, section=candidate.section,
                start=candidate.start, end=candidate.end, first_read_by=reader,
            )
        text = candidate.text[:MAX_EXCERPT_CHARS]
        return Source(
            session_id=self.session_id, run_id=self.run_id, source_id=source_id,
            kind=SourceKind.WEB, excerpt=text, retrieved_at=candidate.retrieved_at or now,
            sha256=_sha256(text),
            title=candidate.title[:300], url=candidate.url, first_read_by=reader,
        )


async def adopt_citations(store: Store, registry: SourceRegistry, report: Report) -> str:
    """A report's text (without its Sources list) whose ``[S#]`` are renumbered into ``registry``.

    What the report cites (sources of the run that wrote it) becomes citable
    where ``registry`` numbers sources: a partial re-run's synthesis, a
    follow-up question.
    """
    text = citations.without_sources(report.content or "")
    run_id = report.sources_run_id
    if not report.cited or not run_id or run_id == registry.run_id:
        return text
    cited = set(report.cited)
    earlier = [s async for s in every_item(lambda token: store.list_sources(
        report.session_id, run_id, page_size=1000, page_token=token))
        if s.source_id in cited]
    mapping = await registry.adopt(earlier, reader=ReportKind.FINAL)
    return citations.renumber(text, {old: new.source_id for old, new in mapping.items()})
