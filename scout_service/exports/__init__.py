"""Rendering a session's reports as Markdown, HTML, PDF or a zip of all three.

Pure library code for the export RPC: no gRPC, no storage. Report text is
treated as untrusted (raw HTML escaped, nothing fetched while rendering).
"""

from scout_service.exports.formats import EXPORT_CONTENT_TYPES, ExportFormat, export_file_name
from scout_service.exports.model import (
    REPORT_ORDER,
    ExportReport,
    ExportUnavailableError,
    ReportName,
)
from scout_service.exports.render import render_html, render_markdown, render_pdf, render_zip

__all__ = [
    "EXPORT_CONTENT_TYPES",
    "REPORT_ORDER",
    "ExportFormat",
    "ExportReport",
    "ExportUnavailableError",
    "ReportName",
    "export_file_name",
    "render_html",
    "render_markdown",
    "render_pdf",
    "render_zip",
]
