"""The one exception the document readers raise, and the codes it carries.

Uploaded files are untrusted: every way a file can be unusable (damaged,
encrypted, a zip bomb, too slow to read, not a document at all) ends up as a `DocumentError`
whose `reason` a caller can map to a status code and whose `message` can be
shown to the person who uploaded the file.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

DocumentErrorReason = Literal[
    "EMPTY_DOCUMENT",
    "ENCRYPTED_PDF",
    "MALFORMED_PDF",
    "MALFORMED_DOCX",
    "UNSUPPORTED_TYPE",
    "DOCUMENT_TOO_LARGE",
    "DOCUMENT_TOO_SLOW",
]

_MAX_DISPLAY_NAME = 120


class DocumentError(Exception):
    """An uploaded file cannot be turned into text.

    `reason` is a stable UPPER_SNAKE code for programs; `message` is a
    sentence for people that names the file and says what to do. Neither
    ever contains text from inside the document.
    """

    def __init__(self, reason: DocumentErrorReason, message: str) -> None:
        """Keep the reason code and the message as attributes, for the server's mapping."""
        # Both go to args so the exception survives pickling (process pools).
        super().__init__(reason, message)
        self.reason: DocumentErrorReason = reason
        self.message = message

    def __str__(self) -> str:
        """Return the human message alone, as a log line or a status detail wants it."""
        return self.message

    def __repr__(self) -> str:
        """Show the reason too, which `str()` (the bare message) leaves out."""
        return f"DocumentError(reason={self.reason!r}, message={self.message!r})"


def display_name(file_name: str) -> str:
    """Return the file name made safe to quote in a message or a header.

    The name comes from the client: control characters (a newline could
    forge a document header in the combined prompt) become spaces and very
    long names are shortened.
    """
    cleaned = "".join(
        " " if unicodedata.category(ch).startswith("C") else ch for ch in file_name
    ).strip()
    if not cleaned:
        return "(unnamed file)"
    if len(cleaned) > _MAX_DISPLAY_NAME:
        cleaned = cleaned[: _MAX_DISPLAY_NAME - 1] + "…"
    return cleaned


def unsupported_type_error(file_name: str) -> DocumentError:
    """Return the error for bytes that are none of the accepted formats."""
    return DocumentError(
        "UNSUPPORTED_TYPE",
        f"{display_name(file_name)} is not a PDF, a Word .docx or a UTF-8 text/Markdown "
        "file. Save the plan in one of these formats and upload it again.",
    )
