"""Turn an uploaded business plan (PDF, .docx, Markdown or text) into text.

The file type is decided from the content, never from the name the client
sent: a PDF called ``plan.md`` is read as a PDF, and a binary called
``plan.txt`` is refused. Every failure becomes a `DocumentError`; nothing
from inside a document is ever logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from scout_service.documents.budget import TextBudget
from scout_service.documents.docx_reader import read_docx
from scout_service.documents.errors import DocumentError, display_name, unsupported_type_error
from scout_service.documents.pdf_reader import read_pdf
from scout_service.documents.text_reader import decode_text, text_kind

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

DocumentType = Literal["markdown", "text", "pdf", "docx"]

MAX_INPUT_BYTES = 64 * 1024 * 1024
"""Uploads larger than this are refused before any parsing."""

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc, password-protected .docx


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """The text of one uploaded file, ready to be given to the agents.

    `pages` is known for PDFs only, and so is `page_starts`: the offset in
    `text` where each page's text begins, with its 1-based page number.
    `truncated` means the text stops before the end of the file (character
    cap, page cap or time budget reached).
    """

    file_name: str
    detected_type: DocumentType
    text: str
    pages: int | None
    truncated: bool
    page_starts: tuple[tuple[int, int], ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The page holding character ``offset`` of `text` (PDFs), else None."""
        page = None
        for start, number in self.page_starts:
            if start > offset:
                break
            page = number
        return page


def extract_text(
    data: bytes,
    file_name: str,
    *,
    max_chars: int = 2_000_000,
    time_budget_s: float = 20.0,
) -> ExtractedDocument:
    """Extract the text of an uploaded file, detecting its type from its bytes.

    Raises `DocumentError` (and nothing else, for any input bytes) when the
    file is empty, damaged, encrypted, too large or of an unsupported type.
    Blocking and CPU-bound, and neither time nor memory is bounded inside
    one PDF page or one parser call: the server runs PDFs and .docx files
    through `isolation.IsolatedExtractor`, which calls this in a worker
    process with hard limits.
    """
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    name = display_name(file_name)
    if len(data) > MAX_INPUT_BYTES:
        raise DocumentError(
            "DOCUMENT_TOO_LARGE",
            f"{name} is {len(data) // (1024 * 1024)} MB; files up to "
            f"{MAX_INPUT_BYTES // (1024 * 1024)} MB are accepted. Upload a shorter "
            "version or a PDF without large images.",
        )
    if not data.strip():
        raise _empty(name)

    budget = TextBudget(max_chars, time_budget_s)
    detected_type: DocumentType
    pages: int | None = None
    if data.startswith(PDF_MAGIC):
        detected_type = "pdf"
        pages = _guarded(read_pdf, data, file_name, budget, "MALFORMED_PDF")
        text = budget.text()
    elif data.startswith(ZIP_MAGIC):
        detected_type = "docx"
        _guarded(read_docx, data, file_name, budget, "MALFORMED_DOCX")
        text = budget.text()
    elif data.startswith(_OLE_MAGIC):
        raise DocumentError(
            "UNSUPPORTED_TYPE",
            f"{name} is a legacy or password-protected Word file. Save it as an "
            "unprotected .docx or as a PDF and upload it again.",
        )
    else:
        decoded = decode_text(data, max_chars)
        if decoded is None:
            raise unsupported_type_error(file_name)
        text, truncated = decoded
        if truncated:
            budget.mark_truncated()
        detected_type = text_kind(text)

    lead = len(text) - len(text.lstrip())
    text = text.strip()
    if not text:
        raise _empty(name, scanned=detected_type == "pdf")
    return ExtractedDocument(
        file_name=file_name,
        detected_type=detected_type,
        text=text,
        pages=pages,
        truncated=budget.truncated,
        page_starts=tuple((max(start - lead, 0), page) for start, page in budget.page_starts),
    )


def _guarded(
    reader: Callable[[bytes, str, TextBudget], _T],
    data: bytes,
    file_name: str,
    budget: TextBudget,
    reason: Literal["MALFORMED_PDF", "MALFORMED_DOCX"],
) -> _T:
    """Run a format reader, turning any parser failure into a `DocumentError`.

    This is the boundary between untrusted bytes and third-party parsers,
    which raise a wide and undocumented range of exceptions on damaged
    input; only the exception type is logged, never its message, which may
    quote document content.
    """
    try:
        return reader(data, file_name, budget)
    except (DocumentError, MemoryError):
        raise  # out of memory is the worker's limit, not damage (see isolation.py)
    except Exception as exc:
        logger.info(
            "document could not be parsed",
            extra={"reason": reason, "error_type": type(exc).__name__},
        )
        raise malformed_error(reason, file_name) from None


def malformed_error(
    reason: Literal["MALFORMED_PDF", "MALFORMED_DOCX"], file_name: str
) -> DocumentError:
    """Return the error for a PDF or .docx its parser (or its worker) could not get through."""
    name = display_name(file_name)
    if reason == "MALFORMED_PDF":
        return DocumentError(
            reason,
            f"{name} looks like a PDF but could not be read (it may be damaged or "
            "incomplete). Export it again from the program that created it.",
        )
    return _malformed_docx(name)


def needs_isolation(data: bytes) -> bool:
    """Whether these bytes go to a third-party parser (PDF, ZIP), not the text decoder.

    Those parsers can take unbounded time within one page and memory within
    one entry, so the server runs them in a worker process
    (`isolation.IsolatedExtractor`); text is decoded in bounded time and
    memory (a prefix of at most ``max_chars`` characters) and needs none.
    Oversized uploads are refused before any parsing, so they need none either.
    """
    return len(data) <= MAX_INPUT_BYTES and data.startswith((PDF_MAGIC, ZIP_MAGIC))


def _empty(name: str, *, scanned: bool = False) -> DocumentError:
    if scanned:
        return DocumentError(
            "EMPTY_DOCUMENT",
            f"{name} contains no selectable text (it may be a scan). Upload the "
            "original document or a PDF with a text layer (run OCR first).",
        )
    return DocumentError(
        "EMPTY_DOCUMENT",
        f"{name} is empty. Upload a business plan with some text in it.",
    )


def _malformed_docx(name: str) -> DocumentError:
    return DocumentError(
        "MALFORMED_DOCX",
        f"{name} looks like a Word document but could not be read (it may be damaged "
        "or incomplete). Open it in Word, save it again as .docx and upload it.",
    )
