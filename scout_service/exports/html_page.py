"""Assembly of the self-contained HTML page that is the HTML and PDF export."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Literal

from scout_service.exports.charts import Chart, dossier_charts
from scout_service.exports.markup import report_to_html
from scout_service.exports.model import DOSSIER_TITLE, ExportReport, as_utc, format_timestamp
from scout_service.exports.stylesheet import STYLESHEET

Layout = Literal["screen", "print-final-first"]
"""`screen` puts the contents first; `print-final-first` starts page one with the
final report and moves the contents after it, as the PDF needs."""

# Nothing may load or run, even if a rendering bug let markup through.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def build_html(
    session_id: str,
    reports: Sequence[ExportReport],
    generated_at: datetime,
    *,
    layout: Layout = "screen",
) -> str:
    """Return the complete HTML document for reports already in display order."""
    title = f"{DOSSIER_TITLE} · session {session_id}"
    generated = format_timestamp(generated_at)
    created = as_utc(generated_at).strftime("%Y-%m-%dT%H:%M:%SZ")  # PDF metadata
    lead = reports[0] if layout == "print-final-first" and reports else None
    if lead is not None and lead.name != "final_report":
        lead = None
    rest = [report for report in reports if report is not lead]
    bodies = {report.name: _body(report) for report in reports}
    charts = dossier_charts(reports)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="Scout">',
        f'<meta name="dcterms.created" content="{created}">',
        f"<title>{escape(title)}</title>",
        f"<style>{STYLESHEET}</style>",
        "</head>",
        "<body>",
        '<header class="cover">',
        '<p class="eyebrow">Scout</p>',
        f"<h1>{escape(DOSSIER_TITLE)}</h1>",
        f'<p class="meta">Session <code>{escape(session_id)}</code> · generated {generated}</p>',
        "</header>",
        "<main>",
    ]
    if lead is not None:
        parts.append(_section(lead, bodies[lead.name], css_class="report lead"))
        parts.append(_toc(reports, css_class="toc after-lead", charts_after=lead.name
                          if charts else None))
    else:
        parts.append(_toc(reports, css_class="toc", charts_after="" if charts else None))
    if charts:
        parts.append(_charts(charts, reports, "\n".join(bodies.values())))
    parts.extend(_section(report, bodies[report.name], css_class="report") for report in rest)
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _toc(reports: Sequence[ExportReport], *, css_class: str, charts_after: str | None) -> str:
    """The contents; ``charts_after`` names the entry the Charts follow ("" for first)."""
    entries = [f'<li><a href="#{report.name}">{escape(report.title)}</a></li>'
               for report in reports]
    if charts_after is not None:
        at = next((i + 1 for i, r in enumerate(reports) if r.name == charts_after), 0)
        entries.insert(at, '<li><a href="#charts">Charts</a></li>')
    items = "\n".join(entries)
    return (
        f'<nav class="{css_class}" aria-labelledby="contents-heading">\n'
        f'<h2 id="contents-heading">Contents</h2>\n<ol>\n{items}\n</ol>\n</nav>'
    )


def _body(report: ExportReport) -> str:
    return link_citations(report_to_html(report.markdown), report.name)


def _section(report: ExportReport, body: str, *, css_class: str) -> str:
    # report.name is one of five fixed identifiers (checked by ExportReport),
    # so it is safe as an id without escaping.
    return (
        f'<section id="{report.name}" class="{css_class}">\n'
        f"<h2>{escape(report.title)}</h2>\n"
        f'<p class="updated">Updated {format_timestamp(report.updated_at)}</p>\n'
        f"{body}"
        "</section>"
    )


def _charts(charts: Sequence[Chart], reports: Sequence[ExportReport], bodies: str) -> str:
    """The figures, each an SVG image with its text alternative and a captioned source list.

    The SVG goes in as a ``data:`` image (the CSP's only image source): an
    image cannot run anything, and its styles and ids stay out of the page.
    A cited id links to a report's Sources entry when that entry exists and
    is the same source (same run) as the one the findings cite.
    """
    anchors = set(re.findall(r'<li id="(\w+-S\d+)">', bodies))
    runs = {(r.name, s.source_id): s.run_id for r in reports for s in r.sources}
    figures = []
    for chart in charts:
        cited = []
        for s in chart.sources:
            marker = f"[{s.source_id}]"
            anchor = next((f"{name}-{s.source_id}" for name in s.reports
                           if f"{name}-{s.source_id}" in anchors
                           and runs.get((name, s.source_id)) == s.run_id), None)
            if anchor is not None:
                marker = f'<a class="cite" href="#{anchor}">{marker}</a>'
            cited.append(f"{marker} {escape(s.label)}".rstrip())
        sources = f" Sources: {'; '.join(cited)}." if cited else ""
        image = base64.b64encode(chart.svg.encode("utf-8")).decode("ascii")
        figures.append(
            f'<figure class="chart" id="chart-{chart.key}">\n'
            f'<img src="data:image/svg+xml;base64,{image}" alt="{escape(chart.alt)}">\n'
            f"<figcaption>{escape(chart.summary)}{sources}</figcaption>\n</figure>"
        )
    return (
        '<section id="charts" class="charts" aria-labelledby="charts-heading">\n'
        '<h2 id="charts-heading">Charts</h2>\n' + "\n".join(figures) + "\n</section>"
    )


_LISTED = re.compile(r"<li>\[(S\d{1,5})\]")
_MARKER = re.compile(r"\[(S\d{1,5})\]")


def link_citations(html: str, anchor: str) -> str:
    """Turn ``[S3]`` markers into links to the report's own Sources list entries."""
    html = _LISTED.sub(lambda m: f'<li id="{anchor}-{m[1]}">\u27e6{m[1]}\u27e7', html)
    html = _MARKER.sub(lambda m: f'<a class="cite" href="#{anchor}-{m[1]}">[{m[1]}]</a>', html)
    return html.replace("\u27e6", "[").replace("\u27e7", "]")
