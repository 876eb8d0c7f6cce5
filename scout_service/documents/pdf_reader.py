"""Text from PDF files with pypdf, bounded in pages, characters and time."""

from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader

from scout_service.documents.budget import TextBudget
from scout_service.documents.errors import DocumentError, display_name

logger = logging.getLogger(__name__)

MAX_PDF_PAGES = 500
"""Pages read at most; a plan longer than this is read in part (truncated)."""


def read_pdf(data: bytes, file_name: str, budget: TextBudget) -> int:
    """Extract the text of a PDF into `budget` and return its page count.

    Raises `DocumentError` for encrypted files. Any other failure of pypdf
    propagates and is turned into MALFORMED_PDF by the caller.
    """
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted and not _decrypts_without_password(reader):
        raise DocumentError(
            "ENCRYPTED_PDF",
            f"{display_name(file_name)} is password-protected. Remove the password "
            "(for example by printing it to a new PDF) and upload it again.",
        )
    total_pages = len(reader.pages)
    if total_pages > MAX_PDF_PAGES:
        budget.mark_truncated()
    pages_to_read = min(total_pages, MAX_PDF_PAGES)
    failed_pages = 0
    for index in range(pages_to_read):
        page_text = _page_text(reader, index)
        if page_text is None:
            failed_pages += 1
        elif not budget.add_block(page_text, page=index + 1):
            break
        if index + 1 < pages_to_read and budget.out_of_time():
            break
    if failed_pages and not budget.text().strip():
        raise DocumentError(
            "MALFORMED_PDF",
            f"No page of {display_name(file_name)} could be read. Re-export the PDF "
            "from the program that created it and upload it again.",
        )
    return total_pages


def _page_text(reader: PdfReader, index: int) -> str | None:
    """Return the text of one page, or None when the page cannot be parsed.

    One damaged page should not cost the whole plan, so any failure of pypdf
    on a content stream (it may raise nearly anything) skips the page. Only
    the error's type is logged: its message may quote document content.
    """
    try:
        return reader.pages[index].extract_text().replace("\x00", "")
    except MemoryError:
        raise  # the worker's memory limit: the whole document is refused
    except Exception as exc:
        logger.warning(
            "skipping unreadable PDF page",
            extra={"page": index + 1, "error_type": type(exc).__name__},
        )
        return None


def _decrypts_without_password(reader: PdfReader) -> bool:
    """Return whether an encrypted PDF opens with the empty user password.

    Many PDFs are "encrypted" only to carry permission flags and open
    without a password; those are read normally.
    """
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # unsupported cipher or missing crypto backend
        return False
