"""Text extraction from uploaded business plans (PDF, .docx, Markdown, text).

Pure library code: no I/O beyond the bytes handed in, safe to call from
worker threads, and every failure is a `DocumentError` with a stable reason.
"""

from scout_service.documents.combine import combine_documents
from scout_service.documents.errors import DocumentError, DocumentErrorReason
from scout_service.documents.extract import DocumentType, ExtractedDocument, extract_text

__all__ = [
    "DocumentError",
    "DocumentErrorReason",
    "DocumentType",
    "ExtractedDocument",
    "combine_documents",
    "extract_text",
]
