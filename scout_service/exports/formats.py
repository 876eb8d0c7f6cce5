"""Content types and download file names of the export formats."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

ExportFormat = Literal["md", "html", "pdf", "zip"]

EXPORT_CONTENT_TYPES: Final[Mapping[ExportFormat, str]] = MappingProxyType(
    {
        "md": "text/markdown; charset=utf-8",
        "html": "text/html; charset=utf-8",
        "pdf": "application/pdf",
        "zip": "application/zip",
    }
)

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_ID_CHARS = 80


def safe_session_id(session_id: str) -> str:
    """Return the session id reduced to characters that are safe in any file name.

    Session ids are UUIDs in practice, but the result also names zip members
    and Content-Disposition file names, so path separators and quotes must
    never get through whatever the id is.
    """
    cleaned = _UNSAFE_FILE_CHARS.sub("-", session_id).strip(".-")[:_MAX_ID_CHARS]
    return cleaned or "session"


def export_file_name(session_id: str, export_format: ExportFormat) -> str:
    """Return the download name for a session export, e.g. ``scout-<id>.pdf``."""
    return f"scout-{safe_session_id(session_id)}.{export_format}"
