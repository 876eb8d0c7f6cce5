"""Text from Word .docx files with python-docx, behind a zip-bomb guard.

A .docx is a ZIP archive. Its headers declare each entry's uncompressed
size, but the declaration may lie: zipfile's ``read()`` asks zlib for up to
1 GB at once and only then cuts the result to the declared size, so a small
file whose entry declares 4 KB can still cost gigabytes. The declared sizes
are checked first (a cheap refusal of honest bombs); then every entry is
inflated here, in 64 KB steps, and refused the moment it grows past its
declared size or the caps; python-docx gets a copy of the verified entries,
stored uncompressed, and never inflates anything itself.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Sequence

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from scout_service.documents.budget import TextBudget
from scout_service.documents.errors import DocumentError, display_name, unsupported_type_error

MAX_DOCX_ENTRIES = 1_000
"""Entries a .docx may hold; real ones have tens, a few hundred with images."""

MAX_DOCX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024
"""Declared uncompressed size of all entries together."""

MAX_COMPRESSION_RATIO = 100
"""Inflation ratio beyond which a large entry is treated as a bomb (XML packs ~10x)."""

_RATIO_CHECK_MIN_BYTES = 1024 * 1024
"""Small entries may compress extremely well (runs of spaces) and are harmless."""

DOCX_MAIN_PART = "word/document.xml"

_INFLATE_STEP = 64 * 1024
"""Bytes of inflated output asked of zlib at a time."""

_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
"""A ZIP local file header: signature ... name length, extra length (30 bytes)."""

_HEADING_STYLE = re.compile(r"heading\s*(\d)", re.IGNORECASE)
_LIST_ITEM = re.compile(r"(?:- |1\. )")


def check_zip_limits(entries: Sequence[zipfile.ZipInfo], file_name: str) -> None:
    """Refuse archives whose declared sizes or entry count could exhaust memory."""
    name = display_name(file_name)
    if len(entries) > MAX_DOCX_ENTRIES:
        raise DocumentError(
            "DOCUMENT_TOO_LARGE",
            f"{name} contains {len(entries)} parts, more than a Word document "
            f"should (limit {MAX_DOCX_ENTRIES}). Save it again from Word or upload a PDF.",
        )
    total = sum(entry.file_size for entry in entries)
    if total > MAX_DOCX_UNCOMPRESSED_BYTES:
        raise DocumentError(
            "DOCUMENT_TOO_LARGE",
            f"{name} expands to {total // (1024 * 1024)} MB, more than the "
            f"{MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB limit. Remove large "
            "embedded media or upload a PDF instead.",
        )
    for entry in entries:
        if entry.file_size < _RATIO_CHECK_MIN_BYTES:
            continue
        if entry.file_size > MAX_COMPRESSION_RATIO * max(entry.compress_size, 1):
            raise DocumentError(
                "DOCUMENT_TOO_LARGE",
                f"{name} is compressed suspiciously well (a possible zip bomb) and "
                "was not opened. Save it again from Word or upload a PDF instead.",
            )


def _verified_copy(data: bytes, entries: Sequence[zipfile.ZipInfo], file_name: str) -> bytes:
    """The archive again, every entry inflated under the caps and stored uncompressed."""
    budget = MAX_DOCX_UNCOMPRESSED_BYTES
    copy = io.BytesIO()
    # A name given twice is read as zipfile reads it: the last entry of that name.
    by_name = {entry.filename: entry for entry in entries}
    with zipfile.ZipFile(copy, "w", zipfile.ZIP_STORED) as out:
        for entry in by_name.values():
            if entry.is_dir():
                continue
            content = _inflate_entry(data, entry, min(entry.file_size, budget), file_name)
            budget -= len(content)
            out.writestr(entry.filename, content)
    return copy.getvalue()


def _inflate_entry(data: bytes, entry: zipfile.ZipInfo, cap: int, file_name: str) -> bytes:
    """The entry's bytes, inflated in small steps; DOCUMENT_TOO_LARGE past ``cap`` bytes.

    ``cap`` is at most the declared size, so an entry that inflates to more
    than its headers say is refused after at most ``cap`` + 64 KB of output,
    whatever its compressed stream holds. Damage (a bad header, a truncated
    stream, a wrong CRC) raises ``zipfile.BadZipFile`` for the caller's
    MALFORMED_DOCX.
    """
    start = entry.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile("bad local header")
    fields = _LOCAL_HEADER.unpack(header)
    offset = start + _LOCAL_HEADER.size + fields[-2] + fields[-1]
    raw = memoryview(data)[offset : offset + entry.compress_size]
    if len(raw) != entry.compress_size:
        raise zipfile.BadZipFile("entry runs past the end of the file")
    if entry.compress_type == zipfile.ZIP_STORED:
        if entry.compress_size > cap:
            raise _too_large(file_name)
        content = bytes(raw)
    elif entry.compress_type == zipfile.ZIP_DEFLATED:
        content = _inflate(raw, cap, file_name)
    else:
        raise zipfile.BadZipFile("compression method Word does not use")
    if len(content) != entry.file_size or zlib.crc32(content) != entry.CRC:
        raise zipfile.BadZipFile("size or CRC differs from the headers")
    return content


def _inflate(raw: memoryview, cap: int, file_name: str) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    parts: list[bytes] = []
    size = 0
    pending: bytes | memoryview = raw
    while not inflater.eof:
        chunk = inflater.decompress(pending, _INFLATE_STEP)
        size += len(chunk)
        if size > cap:
            raise _too_large(file_name)
        parts.append(chunk)
        pending = inflater.unconsumed_tail
        if not chunk and not pending:
            break  # input exhausted before the end of the stream
    if not inflater.eof:
        raise zipfile.BadZipFile("truncated deflate stream")
    return b"".join(parts)


def _too_large(file_name: str) -> DocumentError:
    return DocumentError(
        "DOCUMENT_TOO_LARGE",
        f"{display_name(file_name)} expands to more than its ZIP headers declare or than "
        f"the {MAX_DOCX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB limit (a possible zip bomb) "
        "and was not opened. Save it again from Word or upload a PDF instead.",
    )


def read_docx(data: bytes, file_name: str, budget: TextBudget) -> None:
    """Extract paragraphs and tables of a .docx, in document order, into `budget`.

    Headings become Markdown headings so the structure of the plan survives;
    tables become Markdown tables. A ZIP that is not a Word document raises
    UNSUPPORTED_TYPE; failures of zipfile or python-docx propagate and are
    turned into MALFORMED_DOCX by the caller.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = archive.infolist()
    if not any(entry.filename == DOCX_MAIN_PART for entry in entries):
        raise unsupported_type_error(file_name)  # another ZIP: xlsx, odt, an archive
    check_zip_limits(entries, file_name)
    document = docx.Document(io.BytesIO(_verified_copy(data, entries, file_name)))
    blocks = list(document.iter_inner_content())
    list_items: list[str] = []
    for index, block in enumerate(blocks):
        if isinstance(block, Paragraph):
            text = _paragraph_markdown(block)
        elif isinstance(block, Table):
            text = _table_markdown(block)
        else:  # pragma: no cover - python-docx yields only these two
            continue
        # Consecutive list paragraphs form one tight Markdown list.
        if _LIST_ITEM.match(text):
            list_items.append(text)
            continue
        if list_items and not budget.add_block("\n".join(list_items)):
            return
        list_items = []
        if not budget.add_block(text):
            return
        if index + 1 < len(blocks) and budget.out_of_time():
            return
    budget.add_block("\n".join(list_items))


def _paragraph_markdown(paragraph: Paragraph) -> str:
    text = " ".join(paragraph.text.split())
    if not text:
        return ""
    style_name = _style_name(paragraph)
    if style_name == "title":
        return f"# {text}"
    if match := _HEADING_STYLE.fullmatch(style_name):
        level = min(max(int(match.group(1)), 1), 6)
        return f"{'#' * level} {text}"
    if style_name.startswith("list number"):
        return f"1. {text}"
    if style_name.startswith("list"):
        return f"- {text}"
    return text


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    name = style.name if style is not None else None
    return name.strip().lower() if isinstance(name, str) else ""


def _table_markdown(table: Table) -> str:
    rows = [[_cell_text(cell.text) for cell in row.cells] for row in table.rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    padded = [row + [""] * (width - len(row)) for row in rows]
    lines = [_table_row(padded[0]), _table_row(["---"] * width)]
    lines.extend(_table_row(row) for row in padded[1:])
    return "\n".join(lines)


def _cell_text(text: str) -> str:
    # A cell may hold several paragraphs; a Markdown cell is one line.
    return " ".join(text.split()).replace("|", "\\|")


def _table_row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"
