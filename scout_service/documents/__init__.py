"""Text extraction from uploaded business plans (PDF, .docx, Markdown, text).

The readers are pure library code: no I/O beyond the bytes handed in, and
every failure is a `DocumentError` with a stable reason. The server calls
them through `isolation.IsolatedExtractor`, which reads PDFs and .docx files
in worker processes under a hard memory and time limit.
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
