"""Rendering a session's reports for people: Markdown, HTML, PDF and a zip of all.

Every function is synchronous, keeps no shared mutable state (PDF rendering
is serialised internally) and is meant to be called from a worker thread,
e.g. ``await asyncio.to_thread(render_pdf, ...)``. Reports are sorted
final-first whatever order they are given in.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime

from scout_service.exports.formats import export_file_name
from scout_service.exports.html_page import build_html
from scout_service.exports.markup import demote_headings, escape_inline
from scout_service.exports.model import (
    DOSSIER_TITLE,
    ExportReport,
    as_utc,
    format_timestamp,
    ordered_reports,
)
from scout_service.exports.pdf import html_to_pdf

_ZIP_EPOCH = datetime(1980, 1, 1)


def render_markdown(
    session_id: str, reports: Sequence[ExportReport], generated_at: datetime
) -> bytes:
    """Return one UTF-8 Markdown document: title, contents, then each report.

    Each report sits under a ``##`` heading with an explicit anchor the
    contents link to; its own headings are demoted to start at ``###``.
    """
    ordered = ordered_reports(reports)
    lines = [
        f"# {DOSSIER_TITLE}",
        "",
        f"Session `{session_id.replace('`', '')}` · generated {format_timestamp(generated_at)}",
        "",
        "## Contents",
        "",
    ]
    lines += [
        f"{number}. [{escape_inline(report.title)}](#{report.name})"
        for number, report in enumerate(ordered, start=1)
    ]
    for report in ordered:
        lines += [
            "",
            # An explicit anchor: heading slugs differ between Markdown renderers.
            f'<a id="{report.name}"></a>',
            "",
            f"## {escape_inline(report.title)}",
            "",
            f"*Updated {format_timestamp(report.updated_at)}*",
            "",
            demote_headings(report.markdown).strip("\n"),
        ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def render_html(session_id: str, reports: Sequence[ExportReport], generated_at: datetime) -> bytes:
    """Return a self-contained, print-friendly HTML5 page (UTF-8) with a contents list."""
    html = build_html(session_id, ordered_reports(reports), generated_at, layout="screen")
    return html.encode("utf-8")


def render_pdf(session_id: str, reports: Sequence[ExportReport], generated_at: datetime) -> bytes:
    """Return the dossier as PDF; page one opens with the final report.

    Raises `ExportUnavailableError` when WeasyPrint or its system libraries
    are missing.
    """
    html = build_html(
        session_id, ordered_reports(reports), generated_at, layout="print-final-first"
    )
    return html_to_pdf(html)


def render_zip(session_id: str, reports: Sequence[ExportReport], generated_at: datetime) -> bytes:
    """Return a zip of every report as ``<name>.md`` plus the HTML and PDF exports.

    The PDF is rendered first, so a machine without WeasyPrint fails with
    `ExportUnavailableError` instead of producing an archive that silently
    lacks it.
    """
    ordered = ordered_reports(reports)
    pdf = render_pdf(session_id, ordered, generated_at)
    html = render_html(session_id, ordered, generated_at)
    stamp = max(as_utc(generated_at).replace(tzinfo=None), _ZIP_EPOCH)
    members: list[tuple[str, bytes]] = [
        (f"{report.name}.md", report.markdown.encode("utf-8")) for report in ordered
    ]
    members += [
        (export_file_name(session_id, "html"), html),
        (export_file_name(session_id, "pdf"), pdf),
    ]
    if any(report.sources for report in ordered):
        members.append(("sources.json", _sources_json(ordered)))
    if any(report.findings is not None for report in ordered):
        members.append(("findings.json", _findings_json(ordered)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member_name, content in members:
            info = zipfile.ZipInfo(member_name, date_time=stamp.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def _findings_json(reports: Sequence[ExportReport]) -> bytes:
    """Every kind's typed findings, in GetFindings' field names (enum values in lower case)."""
    rows = [
        {"kind": report.name, "run_id": report.findings_run_id,
         "warnings": [{"field": f, "message": m} for f, m in report.findings_warnings],
         report.name.removesuffix("_report"): report.findings}
        for report in reports if report.findings is not None
    ]
    return (json.dumps({"findings": rows}, ensure_ascii=False, indent=2) + "\n").encode()


def _sources_json(reports: Sequence[ExportReport]) -> bytes:
    """Every source the reports cite, once, with the reports that cite it."""
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for report in reports:
        for s in report.sources:
            row = rows.setdefault((s.run_id, s.source_id), {
                "source_id": s.source_id, "run_id": s.run_id, "kind": s.kind.value,
                "file_name": s.file_name, "page": s.page, "section": s.section, "url": s.url,
                "title": s.title, "excerpt": s.excerpt, "start_offset": s.start,
                "end_offset": s.end, "sha256": s.sha256,
                "retrieved_at": datetime.fromtimestamp(s.retrieved_at, UTC).isoformat(),
                "cited_by": [],
            })
            cited_by = row["cited_by"]
            assert isinstance(cited_by, list)
            cited_by.append(report.name)
    ordered = sorted(rows.values(), key=lambda r: (str(r["run_id"]), int(str(r["source_id"])[1:])))
    return (json.dumps({"sources": ordered}, ensure_ascii=False, indent=2) + "\n").encode()
