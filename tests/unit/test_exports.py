"""Tests of the Markdown, HTML, PDF and zip exports of a session's reports."""

from __future__ import annotations

import io
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pypdf import PdfReader

from scout_service.exports import (
    EXPORT_CONTENT_TYPES,
    REPORT_ORDER,
    ExportReport,
    ExportUnavailableError,
    export_file_name,
    render_html,
    render_markdown,
    render_pdf,
    render_zip,
)

SESSION_ID = "3f2b9c1e-7a41-4d2b-9a55-0c8e6d1f2a77"
GENERATED_AT = datetime(2025, 11, 26, 14, 30, tzinfo=UTC)
TITLES = {
    "final_report": "Final report",
    "market_report": "Market report",
    "competition_report": "Competition report",
    "price_report": "Price report",
    "legal_report": "Legal report",
}
FINAL_SENTENCE = "Nordbox should launch in Stockholm first and price the Vardag box at EUR 47.90."
BODIES = {
    "final_report": (
        f"# Final Report: Nordbox Meal Kits\n\n{FINAL_SENTENCE}\n\n"
        "## Key findings\n\n- TAM EUR 4.1 billion\n- HelloFresh holds the largest share\n"
    ),
    "market_report": (
        "# Market Report\n\n## Market size\n\n| Layer | EUR |\n| --- | ---: |\n"
        "| TAM | 4.1 billion |\n| SAM | 620 million |\n\n"
        "```\n# this is code, not a heading\n```\n"
    ),
    "competition_report": (
        "## Competitors\n\nHelloFresh charges EUR 9.82 per portion. "
        "<script>alert('xss')</script> <img src=x onerror=alert(1)>\n\n"
        "![tracking pixel](https://tracker.example/pixel.png)\n"
    ),
    "price_report": "Price tiers\n===========\n\nVardag EUR 47.90, Familj EUR 99.90.\n",
    "legal_report": "# Legal Report\n\n### GDPR\n\nArticle 28 processor agreements.\n",
}


def _reports(order: list[str] | None = None) -> list[ExportReport]:
    names = list(order or ["legal_report", "market_report", "price_report", "final_report"])
    names += [name for name in REPORT_ORDER if name not in names]
    return [
        ExportReport(
            name=name,  # type: ignore[arg-type]
            title=TITLES[name],
            markdown=BODIES[name],
            updated_at=GENERATED_AT - timedelta(minutes=5),
        )
        for name in names
    ]


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    return render_pdf(SESSION_ID, _reports(), GENERATED_AT)


class _Sections(HTMLParser):
    """Collects section ids with their first h2 text, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[tuple[str, str]] = []
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.extend(attrs)
        if tag == "section":
            self.sections.append((dict(attrs).get("id") or "", ""))
        elif tag == "h2" and self.sections and not self.sections[-1][1]:
            self._in_h2 = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            section_id, title = self.sections[-1]
            self.sections[-1] = (section_id, title + data)


# --- Markdown --------------------------------------------------------------------------


def test_markdown_has_contents_and_reports_final_first() -> None:
    text = render_markdown(SESSION_ID, _reports(), GENERATED_AT).decode("utf-8")
    assert text.startswith("# Market research dossier\n")
    assert SESSION_ID in text and "2025-11-26 14:30 UTC" in text
    toc = [f"{i}. [{TITLES[name]}](#{name})" for i, name in enumerate(REPORT_ORDER, start=1)]
    assert "## Contents\n\n" + "\n".join(toc) in text
    positions = [text.index(f"\n## {TITLES[name]}\n") for name in REPORT_ORDER]
    assert positions == sorted(positions)
    for name in REPORT_ORDER:
        assert f'<a id="{name}"></a>' in text


def test_markdown_demotes_report_headings_below_the_report_title() -> None:
    text = render_markdown(SESSION_ID, _reports(), GENERATED_AT).decode("utf-8")
    assert "\n### Final Report: Nordbox Meal Kits\n" in text
    assert "\n#### Key findings\n" in text
    assert "\n### Competitors\n" in text  # a report starting at ## moves by one
    assert "\n### Price tiers\n" in text and "===========" not in text  # setext -> ATX
    assert "\n##### GDPR\n" in text  # h1 -> h3, so h3 -> h5: gaps are kept
    assert "\n# this is code, not a heading\n" in text  # code blocks untouched
    # As a Markdown parser sees it: one h1 (the dossier), h2 only for the contents and
    # the reports, everything from inside a report at h3 or below.
    tokens = MarkdownIt("commonmark").parse(text)
    headings = [
        (token.tag, tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open"
    ]
    assert [content for tag, content in headings if tag == "h1"] == ["Market research dossier"]
    level2 = [content for tag, content in headings if tag == "h2"]
    assert level2 == ["Contents", *[TITLES[name] for name in REPORT_ORDER]]


@settings(max_examples=30, deadline=None)
@given(st.permutations(list(REPORT_ORDER)))
def test_markdown_order_does_not_depend_on_input_order(order: list[str]) -> None:
    expected = render_markdown(SESSION_ID, _reports(), GENERATED_AT)
    assert render_markdown(SESSION_ID, _reports(list(order)), GENERATED_AT) == expected


def test_missing_reports_are_left_out_of_contents() -> None:
    reports = [r for r in _reports() if r.name in ("market_report", "final_report")]
    text = render_markdown(SESSION_ID, reports, GENERATED_AT).decode("utf-8")
    assert "1. [Final report](#final_report)\n2. [Market report](#market_report)\n" in text
    assert "Legal report" not in text


# --- HTML ------------------------------------------------------------------------------


def test_html_has_one_section_per_report_with_its_title() -> None:
    html = render_html(SESSION_ID, _reports(), GENERATED_AT).decode("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    parser = _Sections()
    parser.feed(html)
    assert parser.sections == [(name, TITLES[name]) for name in REPORT_ORDER]
    for name in REPORT_ORDER:
        assert f'<a href="#{name}">{TITLES[name]}</a>' in html
    assert "<style>" in html and "break-before: page" in html
    assert "<table>" in html and "620 million</td>" in html
    assert "<h3>Final Report: Nordbox Meal Kits</h3>" in html


def test_html_escapes_report_markup_and_loads_nothing() -> None:
    html = render_html(SESSION_ID, _reports(), GENERATED_AT).decode("utf-8")
    parser = _Sections()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert not any(name in ("src", "onerror") for name, _ in parser.attributes)
    assert "http://" not in html and "https://" not in html
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "[image: tracking pixel]" in html


def test_html_escapes_titles_and_session_id() -> None:
    report = ExportReport("final_report", "<b>Final</b> & more", "Text.", GENERATED_AT)
    html = render_html('<i>"id"</i>', [report], GENERATED_AT).decode("utf-8")
    assert "&lt;b&gt;Final&lt;/b&gt; &amp; more" in html
    assert "<i>" not in html and "<b>" not in html


def test_javascript_links_are_not_rendered_as_links() -> None:
    report = ExportReport(
        "final_report", "Final report", "[click](javascript:alert(1))", GENERATED_AT
    )
    html = render_html(SESSION_ID, [report], GENERATED_AT).decode("utf-8")
    assert 'href="javascript' not in html


# --- PDF -------------------------------------------------------------------------------


def test_pdf_opens_with_the_final_report(pdf_bytes: bytes) -> None:
    assert pdf_bytes.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf_bytes))
    first_page = " ".join(reader.pages[0].extract_text().split())
    assert "Final report" in first_page
    assert "Final Report: Nordbox Meal Kits" in first_page
    assert FINAL_SENTENCE in first_page
    assert "Market size" not in first_page  # the next report starts on a new page
    everything = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    for title in TITLES.values():
        assert title in everything
    assert "<script>alert('xss')</script>" in everything  # shown as text, not run


def test_pdf_unavailable_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # makes `import weasyprint` fail
    with pytest.raises(ExportUnavailableError) as info:
        render_pdf(SESSION_ID, _reports(), GENERATED_AT)
    assert "pip install 'scout-service[pdf]'" in str(info.value)
    assert "libpango-1.0-0" in str(info.value)
    with pytest.raises(ExportUnavailableError):
        render_zip(SESSION_ID, _reports(), GENERATED_AT)


def test_pdf_renders_from_several_threads_at_once() -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(render_pdf, f"s{i}", _reports(), GENERATED_AT) for i in range(3)]
        results = [future.result(timeout=120) for future in futures]
    assert all(pdf.startswith(b"%PDF-") for pdf in results)


# --- zip -------------------------------------------------------------------------------


def test_zip_holds_each_report_and_the_html_and_pdf() -> None:
    data = render_zip(SESSION_ID, _reports(), GENERATED_AT)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert names == [f"{name}.md" for name in REPORT_ORDER] + [
            f"scout-{SESSION_ID}.html",
            f"scout-{SESSION_ID}.pdf",
        ]
        for name in REPORT_ORDER:
            assert archive.read(f"{name}.md").decode("utf-8") == BODIES[name]
        assert archive.read(f"scout-{SESSION_ID}.pdf").startswith(b"%PDF-")
        assert b'<section id="legal_report"' in archive.read(f"scout-{SESSION_ID}.html")
        assert archive.getinfo("final_report.md").date_time == (2025, 11, 26, 14, 30, 0)


def test_zip_member_names_cannot_escape_the_archive() -> None:
    data = render_zip("../../etc/passwd", _reports()[:1], GENERATED_AT)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert all("/" not in name and ".." not in name for name in archive.namelist())


# --- formats and values ----------------------------------------------------------------


def test_content_types_and_file_names() -> None:
    assert dict(EXPORT_CONTENT_TYPES) == {
        "md": "text/markdown; charset=utf-8",
        "html": "text/html; charset=utf-8",
        "pdf": "application/pdf",
        "zip": "application/zip",
    }
    assert export_file_name(SESSION_ID, "pdf") == f"scout-{SESSION_ID}.pdf"
    assert export_file_name('a/b "c"', "zip") == "scout-a-b-c.zip"
    assert export_file_name("///", "md") == "scout-session.md"


def test_times_are_shown_in_utc() -> None:
    cet = timezone(timedelta(hours=1))
    moment = datetime(2025, 11, 26, 15, 30, tzinfo=cet)
    text = render_markdown(SESSION_ID, _reports()[:1], moment).decode("utf-8")
    assert "generated 2025-11-26 14:30 UTC" in text


def test_unknown_and_duplicate_reports_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown report"):
        ExportReport("summary_report", "Summary", "x", GENERATED_AT)  # type: ignore[arg-type]
    twice = [*_reports()[:1], *_reports()[:1]]
    with pytest.raises(ValueError, match="given twice"):
        render_markdown(SESSION_ID, twice, GENERATED_AT)
