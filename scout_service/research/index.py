"""Ranked search over a run's documents: SQLite FTS5 with BM25.

Why SQLite FTS5: it ships inside Python (no dependency to pin or build), it
ranks with BM25, and its index lives in a file on disk, so indexing the
largest allowed session (100 MB of uploads) costs disk and a bounded page
cache rather than memory. bm25s holds its matrices in memory and brings
NumPy and SciPy; tantivy is a compiled extension we would have to track.

An index covers one set of file versions (their sha256) and is built once
per replica and shared by every agent and every run that reads the same
files (``CorpusCache``); another replica that resumes a run builds its own
from the stored files, which are the truth. Building is CPU- and disk-bound:
callers run it off the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scout_service.documents import ExtractedDocument
from scout_service.research.passages import Passage, split_passages

logger = logging.getLogger(__name__)

MAX_QUERY_TERMS = 32
_TERM = re.compile(r"\w+", re.UNICODE)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
MAX_OUTLINE_HEADINGS = 40


@dataclass(frozen=True)
class FileSummary:
    """What the digest says about one indexed file."""

    file_name: str
    sha256: str
    detected_type: str
    chars: int
    passages: int
    pages: int | None
    truncated: bool
    headings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """A passage that matched a search, best first."""

    passage: Passage
    score: float


@dataclass
class CorpusIndex:
    """A built FTS5 index over the passages of some file versions."""

    path: Path
    files: tuple[FileSummary, ...]
    _conn: sqlite3.Connection
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def passage_count(self) -> int:
        """Passages in all files."""
        return sum(f.passages for f in self.files)

    def search(self, query: str, *, limit: int) -> list[Hit]:
        """The best ``limit`` passages for the words of ``query`` (any of them, BM25)."""
        terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))[:MAX_QUERY_TERMS]
        if not terms:
            return []
        # Each term quoted: nothing in the query can be FTS5 syntax.
        match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.file_name, p.file_sha256, p.ordinal, p.body, p.start, p.end, "
                "p.section, p.page, bm25(fts, 1.0, 0.6) AS score "
                "FROM fts JOIN passages p ON p.id = fts.rowid "
                "WHERE fts MATCH ? ORDER BY score LIMIT ?",
                (match, limit),
            ).fetchall()
        return [Hit(_passage(row[:8]), -float(row[8])) for row in rows]

    def passage(self, file_sha256: str, ordinal: int) -> Passage | None:
        """One passage by file version and position, or None."""
        return self._one("ordinal", file_sha256, ordinal)

    def passage_at(self, file_sha256: str, start: int) -> Passage | None:
        """The passage of a file version that starts at character ``start``, or None."""
        return self._one("start", file_sha256, start)

    def _one(self, column: str, file_sha256: str, value: int) -> Passage | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT file_name, file_sha256, ordinal, body, start, end, section, page "
                f"FROM passages WHERE file_sha256 = ? AND {column} = ?",
                (file_sha256, value),
            ).fetchone()
        return _passage(row) if row is not None else None

    def close(self) -> None:
        """Close the database (its file is removed by the cache)."""
        with self._lock:
            self._conn.close()


def _passage(row: Sequence[object]) -> Passage:
    file_name, sha, ordinal, body, start, end, section, page = row
    return Passage(str(file_name), str(sha), int(str(ordinal)), str(body), int(str(start)),
                   int(str(end)), str(section or ""), int(str(page)) if page else None)


class IndexBuilder:
    """Adds extracted files one at a time, so only one file's text is in memory."""

    def __init__(self, path: Path) -> None:
        """Create an empty index database at ``path``."""
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-16000;"
            "CREATE TABLE passages (id INTEGER PRIMARY KEY, file_name TEXT, file_sha256 TEXT,"
            " ordinal INTEGER, body TEXT, start INTEGER, end INTEGER, section TEXT,"
            " page INTEGER);"
            "CREATE UNIQUE INDEX passage_no ON passages (file_sha256, ordinal);"
            "CREATE INDEX passage_at ON passages (file_sha256, start);"
            "CREATE VIRTUAL TABLE fts USING fts5(body, section, content='passages',"
            " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');"
        )
        self._files: list[FileSummary] = []

    def add(self, doc: ExtractedDocument, sha256: str) -> FileSummary:
        """Index one file's passages."""
        count = 0

        def rows(passages: Iterable[Passage]) -> Iterable[tuple[object, ...]]:
            nonlocal count
            for p in passages:
                count += 1
                yield (p.file_name, p.file_sha256, p.ordinal, p.text, p.start, p.end,
                       p.section, p.page)

        with self._conn:
            self._conn.executemany(
                "INSERT INTO passages (file_name, file_sha256, ordinal, body, start, end,"
                " section, page) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows(split_passages(doc, sha256)),
            )
        headings = tuple(h.strip()[:120] for h in _HEADING.findall(doc.text)[
            :MAX_OUTLINE_HEADINGS])
        summary = FileSummary(doc.file_name, sha256, doc.detected_type, len(doc.text), count,
                              doc.pages, doc.truncated, headings)
        self._files.append(summary)
        return summary

    def finish(self) -> CorpusIndex:
        """Build the full-text index and hand the database over for searching."""
        with self._conn:
            self._conn.execute("INSERT INTO fts (fts) VALUES ('rebuild')")
            self._conn.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        return CorpusIndex(self.path, tuple(self._files), self._conn)

    def abandon(self) -> None:
        """Close and forget a build that failed."""
        self._conn.close()
        self.path.unlink(missing_ok=True)


CorpusKey = tuple[tuple[str, str], ...]
"""(file name, sha256) of every file of a corpus, sorted."""

Loader = Callable[[IndexBuilder], Awaitable[None]]


class CorpusCache:
    """Indexes built on this replica, by the file versions they cover (LRU).

    Concurrent requests for one corpus share one build; a failed build is
    not cached, so the next run tries again.
    """

    def __init__(self, *, max_entries: int = 16, directory: Path | None = None) -> None:
        """Keep at most ``max_entries`` indexes, as files under ``directory``."""
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._max = max_entries
        self._owned_dir = directory is None
        self._dir = directory or Path(tempfile.mkdtemp(prefix="scout-index-"))
        self._dir.mkdir(parents=True, exist_ok=True)
        self._entries: collections.OrderedDict[CorpusKey, asyncio.Future[CorpusIndex]] = (
            collections.OrderedDict()
        )
        self._serial = 0
        self.builds = 0

    async def get(self, key: CorpusKey, load: Loader) -> CorpusIndex:
        """The index of ``key``, built by ``load`` (which adds every file) when missing."""
        future = self._entries.get(key)
        if future is not None:
            self._entries.move_to_end(key)
            return await asyncio.shield(future)
        future = asyncio.get_running_loop().create_future()
        self._entries[key] = future
        self._serial += 1
        builder = await asyncio.to_thread(IndexBuilder, self._dir / f"corpus-{self._serial}.db")
        try:
            await load(builder)
            index = await asyncio.to_thread(builder.finish)
        except BaseException as exc:
            self._entries.pop(key, None)
            await asyncio.shield(asyncio.to_thread(builder.abandon))
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: waiters get it, nobody is warned
            raise
        self.builds += 1
        future.set_result(index)
        self._evict()
        return index

    def _evict(self) -> None:
        while len(self._entries) > self._max:
            _, old = self._entries.popitem(last=False)
            if old.done() and old.exception() is None:
                index = old.result()
                index.close()
                index.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Close every index and remove their files."""
        for future in self._entries.values():
            if future.done() and not future.cancelled() and future.exception() is None:
                with contextlib.suppress(sqlite3.Error):
                    future.result().close()
        self._entries.clear()
        if self._owned_dir:
            shutil.rmtree(self._dir, ignore_errors=True)
