"""Uploaded files cut into passages: the units agents search, read and cite.

A passage is a few paragraphs of one file's extracted text (about
``TARGET_CHARS``), never crossing a Markdown heading, so it keeps the
section it sits under; PDFs also keep the page it starts on. Offsets are
into the file's extracted text (``ExtractedDocument.text``), so a reader can
find every excerpt in the file again, and a passage's text is exactly
``text[start:end]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from scout_service.documents import ExtractedDocument

TARGET_CHARS = 900
"""A passage grows paragraph by paragraph until it reaches this size."""
MAX_CHARS = 1600
"""A longer paragraph is cut at sentence or word boundaries below this."""

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_SENTENCE_END = re.compile(r"[.!?][\"”’)]?\s+")


@dataclass(frozen=True, slots=True)
class Passage:
    """One searchable piece of an uploaded file."""

    file_name: str
    file_sha256: str
    ordinal: int
    text: str
    start: int
    end: int
    section: str = ""
    page: int | None = None


def split_passages(doc: ExtractedDocument, file_sha256: str) -> Iterator[Passage]:
    """The passages of one extracted file, in reading order (ordinals 0, 1, 2 …)."""
    text = doc.text
    section = ""
    pending: list[tuple[int, int]] = []  # paragraph spans of the passage being built
    pending_section = ""
    ordinal = 0

    def flush() -> Iterator[Passage]:
        nonlocal ordinal
        if not pending:
            return
        start, end = pending[0][0], pending[-1][1]
        pending.clear()
        yield Passage(doc.file_name, file_sha256, ordinal, text[start:end], start, end,
                      pending_section, doc.page_at(start))
        ordinal += 1

    for start, end in _paragraphs(text):
        first_line = text[start:end].split("\n", 1)[0]
        heading = _HEADING.match(first_line.strip())
        if heading:
            yield from flush()
            section = re.sub(r"[*_`]", "", heading.group(2)).strip()[:200]
        if not pending:
            pending_section = section
        for piece in _pieces(text, start, end):
            size = pending[-1][1] - pending[0][0] if pending else 0
            if pending and size + (piece[1] - piece[0]) > MAX_CHARS:
                yield from flush()
                pending_section = section
            pending.append(piece)
            if pending[-1][1] - pending[0][0] >= TARGET_CHARS:
                yield from flush()
                pending_section = section
    yield from flush()


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    """Spans of the non-blank paragraphs of ``text``, whitespace trimmed."""
    position = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield from _trimmed(text, position, match.start())
        position = match.end()
    yield from _trimmed(text, position, len(text))


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """A paragraph as spans of at most ``MAX_CHARS``, cut after sentences where possible."""
    while end - start > MAX_CHARS:
        window = text[start : start + MAX_CHARS]
        cut = 0
        for match in _SENTENCE_END.finditer(window):
            if match.end() >= MAX_CHARS // 2:
                cut = match.end()
                break
            cut = match.end()
        if cut < MAX_CHARS // 4:
            space = window.rfind(" ", MAX_CHARS // 2)
            cut = space + 1 if space > 0 else MAX_CHARS
        yield from _trimmed(text, start, start + cut)
        start += cut
    yield from _trimmed(text, start, end)
