"""Charts of the findings in the HTML and PDF exports: drawn, described, cited, escaped."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from scout_service.domain import Source, SourceKind
from scout_service.exports import ExportReport, render_html, render_pdf
from scout_service.exports.charts import dossier_charts, market_chart, price_chart
from scout_service.exports.pdf import html_to_pdf

SESSION_ID = "3f2b9c1e-7a41-4d2b-9a55-0c8e6d1f2a77"
AT = datetime(2025, 11, 26, 14, 30, tzinfo=UTC)
RUN = "run-1"
SVG_NS = "{http://www.w3.org/2000/svg}"


def _source(source_id: str, section: str, run_id: str = RUN) -> Source:
    return Source(session_id=SESSION_ID, run_id=run_id, source_id=source_id,
                  kind=SourceKind.DOCUMENT, excerpt="…", retrieved_at=0.0, sha256="0" * 64,
                  file_name="plan.md", section=section)


S4, S7, S11 = _source("S4", "5. Competition"), _source("S7", "4. Market"), \
    _source("S11", "6. Pricing")


def _price(amount: float, tier: str, period: str = "unit", unit: str | None = "per portion",
           currency: str = "EUR", source: str = "S11") -> dict[str, Any]:
    point: dict[str, Any] = {"tier": tier, "amount": amount, "currency": currency,
                             "billing_period": period, "source_ids": [source]}
    if unit is not None:
        point["unit"] = unit
    return point


MARKET = {
    "tam": {"amount": 4.1e9, "currency": "EUR", "year": 2025, "basis": "Nordic grocery",
            "source_ids": ["S7"]},
    "sam": {"amount": 6.2e8, "currency": "EUR", "year": 2025, "source_ids": ["S7"]},
    "som": {"amount": 4.79e7, "currency": "EUR", "year": 2028, "source_ids": ["S7"]},
}
PRICES = {"price_points": [_price(7.98, "Vardag"), _price(5.95, "Familj Plus"),
                           _price(47.9, "Vardag", "week", "per week")]}
COMPETITION = {"competitors": [
    {"name": "HelloFresh", "kind": "direct", "source_ids": ["S4"],
     "price_points": [_price(9.82, "HelloFresh", source="S4"),
                      _price(58.9, "HelloFresh", unit="per box", source="S4")]},
    {"name": "Zyxwort Meals", "kind": "direct", "source_ids": ["S4"],
     "price_points": [_price(8.25, "Classic", source="S4"),
                      _price(11.0, "Classic", currency="USD", source="S4")]},
]}


def _reports(market: Any = MARKET, prices: Any = PRICES, competition: Any = COMPETITION,
             market_markdown: str = "TAM EUR 4.1 billion [S7].\n\n## Sources\n\n"
                                    "- [S7] plan.md — 4. Market\n") -> list[ExportReport]:
    def report(name: str, markdown: str, findings: Any, sources: tuple[Source, ...]
               ) -> ExportReport:
        return ExportReport(name, name.replace("_", " ").capitalize(), markdown, AT,  # type: ignore[arg-type]
                            sources=sources, findings=findings,
                            findings_run_id=RUN if findings is not None else "",
                            findings_sources=sources if findings is not None else ())

    return [
        report("final_report", "The verdict.\n", None, ()),
        report("market_report", market_markdown, market, (S7,)),
        report("competition_report", "Competitors.\n", competition, (S4,)),
        report("price_report", "Prices.\n", prices, (S11,)),
    ]


class _Figures(HTMLParser):
    """The page's figures: each one's images (src, alt) and caption markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.figures: list[dict[str, Any]] = []
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "figure":
            self.figures.append({"id": found.get("id"), "images": [], "caption": ""})
        elif tag == "img" and self.figures:
            self.figures[-1]["images"].append((found.get("src") or "", found.get("alt") or ""))
        elif tag == "figcaption":
            self._caption = []
        elif tag == "a" and self._caption is not None:
            self._caption.append(f"<a {found.get('href')}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._caption is not None:
            self._caption.append("</a>")
        if tag == "figcaption" and self._caption is not None:
            self.figures[-1]["caption"] = "".join(self._caption)
            self._caption = None

    def handle_data(self, data: str) -> None:
        if self._caption is not None:
            self._caption.append(data)


def _figures(html: bytes) -> list[dict[str, Any]]:
    parser = _Figures()
    parser.feed(html.decode("utf-8"))
    return parser.figures


def _svg_of(src: str) -> ET.Element:
    prefix = "data:image/svg+xml;base64,"
    assert src.startswith(prefix)
    return ET.fromstring(base64.b64decode(src[len(prefix):]))


def _texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG_NS}text")]


# --- in the HTML -------------------------------------------------------------------------


def test_html_shows_price_and_market_charts_with_alt_text_and_cited_captions() -> None:
    html = render_html(SESSION_ID, _reports(), AT)
    figures = _figures(html)
    assert [f["id"] for f in figures] == ["chart-prices", "chart-market"]
    prices, market = figures

    (src, alt), = prices["images"]
    labels = _texts(_svg_of(src))
    assert {"Vardag", "Familj Plus", "HelloFresh", "Zyxwort Meals · Classic"} <= set(labels)
    # Like with like: per portion in EUR only; the per-week box, the per-box price and the
    # USD price are other units, so they are not bars of this chart.
    assert "47.90" not in labels and "58.90" not in labels and "11.00" not in labels
    assert "EUR per portion" in labels
    assert "the plan's EUR 5.95 to 7.98" in alt and "HelloFresh 9.82" in alt
    assert "the plan: Familj Plus 5.95" in alt
    assert prices["caption"].startswith("The plan's prices (blue) against the competitors'")
    assert "[S4] plan.md — 5. Competition" in prices["caption"]
    assert "[S11] plan.md — 6. Pricing" in prices["caption"]

    (src, alt), = market["images"]
    assert {"TAM (2025)", "SAM (2025)", "SOM (2028)", "EUR 4.1 bn", "EUR 620 m",
            "EUR 47.9 m"} <= set(_texts(_svg_of(src)))
    assert "TAM (2025) EUR 4.1 bn, Nordic grocery" in alt and "log scale" in alt
    # The market report lists S7 in its Sources, so the caption links there.
    assert "<a #market_report-S7>[S7]</a> plan.md — 4. Market" in market["caption"]

    text = html.decode("utf-8")
    assert '<li><a href="#charts">Charts</a></li>' in text
    assert text.index('id="charts"') < text.index('id="final_report"')  # after the contents


def test_a_cited_id_links_only_to_the_same_source() -> None:
    reports = _reports()
    other_run = _source("S7", "4. Market", run_id="run-0")
    reports[1] = ExportReport(
        "market_report", "Market report", reports[1].markdown, AT, sources=(other_run,),
        findings=MARKET, findings_run_id=RUN, findings_sources=(S7,))
    market = _figures(render_html(SESSION_ID, reports, AT))[1]
    assert "<a " not in market["caption"] and "[S7] plan.md — 4. Market" in market["caption"]


def test_an_id_both_findings_cite_is_listed_once_and_linked_where_listed() -> None:
    prices = {"price_points": [_price(7.98, "Vardag", source="S4")]}
    reports = _reports(prices=prices)
    reports[2] = ExportReport(
        "competition_report", "Competition report", "HelloFresh [S4].\n\n## Sources\n\n"
        "- [S4] plan.md — 5. Competition\n", AT, sources=(S4,), findings=COMPETITION,
        findings_run_id=RUN, findings_sources=(S4,))
    reports[3] = ExportReport("price_report", "Price report", "Prices.\n", AT,
                              findings=prices, findings_run_id=RUN, findings_sources=(S4,))
    caption = _figures(render_html(SESSION_ID, reports, AT))[0]["caption"]
    assert caption.endswith("Sources: <a #competition_report-S4>[S4]</a> plan.md — "
                            "5. Competition."), caption


def test_no_charts_without_findings_or_with_too_little_data() -> None:
    bare = [ExportReport(r.name, r.title, r.markdown, AT) for r in _reports()]
    html = render_html(SESSION_ID, bare, AT).decode("utf-8")
    assert "<figure" not in html and 'href="#charts"' not in html and "<img" not in html

    one_layer = {"tam": MARKET["tam"], "som": {**MARKET["som"], "currency": None,
                                               "unit": "households"}}
    one_price = {"price_points": [_price(7.98, "Vardag")]}
    reports = _reports(market=one_layer, prices=one_price, competition={"competitors": []})
    assert dossier_charts(reports) == []
    assert "<figure" not in render_html(SESSION_ID, reports, AT).decode("utf-8")
    assert market_chart(None) is None and price_chart(None, None) is None


def test_without_common_units_the_larger_side_is_drawn_alone() -> None:
    chart = price_chart(_reports(competition={"competitors": []})[3], None)
    assert chart is not None
    assert chart.summary == ("The plan's prices, EUR per portion (the competitors' are not "
                             "stated in a comparable unit).")
    assert "Vardag 7.98" in chart.alt and "47.90" not in chart.alt


def test_layers_measured_differently_are_left_out_and_said_so() -> None:
    mixed = {**MARKET, "som": {"amount": 14500, "unit": "households", "source_ids": ["S7"]}}
    chart = market_chart(_reports(market=mixed)[1])
    assert chart is not None
    assert "SOM measured differently, not drawn" in chart.summary
    assert "households" not in " ".join(_texts(ET.fromstring(chart.svg)))


def test_a_market_warning_is_in_the_caption() -> None:
    reports = _reports()
    reports[1] = ExportReport("market_report", "Market report", "Market.\n", AT,
                              findings=MARKET, findings_run_id=RUN, findings_sources=(S7,),
                              findings_warnings=(("som", "SOM (50) exceeds SAM (40)"),))
    chart = market_chart(reports[1])
    assert chart is not None and "Check: SOM (50) exceeds SAM (40)." in chart.summary


def test_many_prices_are_capped_to_fit_a_page_and_the_caption_says_so() -> None:
    def many(unit: str, source: str, n: int) -> list[dict[str, Any]]:
        return [_price(10 + i, f"T{i}", "month", unit, source=source) for i in range(n)]

    prices = {"price_points": many("per seat", "S11", 20) + many("", "S11", 20)
              + many("per van", "S11", 20)}
    competition = {"competitors": [{"name": "Rival", "source_ids": ["S4"], "price_points":
                                    many("per seat", "S4", 20) + many("", "S4", 20)
                                    + many("per van", "S4", 20)}]}
    chart = price_chart(_reports(prices=prices)[3], _reports(competition=competition)[2])
    assert chart is not None
    assert chart.summary.endswith("(24 of 120 prices shown).")
    svg = ET.fromstring(chart.svg)
    assert float(svg.attrib["height"].removesuffix("pt")) < 9.5 * 72  # inches, in points
    assert chart.alt.count("the plan: ") == 12  # half of each panel is the plan's


def test_prices_in_units_per_user_are_not_compared_with_flat_prices() -> None:
    prices = {"price_points": [_price(49, "Team", "month", "per user per month"),
                               _price(99, "Shop", "month", "monthly")]}
    competition = {"competitors": [{"name": "Jobber", "source_ids": ["S4"], "price_points": [
        _price(39, "Core", "month", "per user / month", source="S4"),
        _price(59, "Grow", "month", "Users per month", source="S4")]}]}
    chart = price_chart(_reports(prices=prices)[3], _reports(competition=competition)[2])
    assert chart is not None
    assert chart.summary.endswith("EUR per user per month.")
    assert "Team 49" in chart.alt and "Jobber · Grow 59" in chart.alt
    assert "Shop" not in chart.alt  # a flat monthly price is another group


# --- safety and determinism ------------------------------------------------------------


def test_hostile_names_are_text_in_the_svg_and_escaped_in_the_page() -> None:
    hostile = {"competitors": [{"name": "<script>alert(1)</script>", "source_ids": ["S4"],
                                "price_points": [_price(9.0, "$x$ & <b>", source="S4")]}]}
    html = render_html(SESSION_ID, _reports(competition=hostile), AT)
    assert b"<script" not in html.lower()
    (src, alt), = _figures(html)[0]["images"]
    svg = _svg_of(src)
    assert not [e for e in svg.iter() if e.tag.split("}")[-1] in ("script", "b", "a")]
    assert "<script>alert(1)</script> · $x$ & <b>" in _texts(svg)  # literal, math off
    assert "<script>alert(1)</script> · $x$ & <b> 9" in alt  # unescaped by the parser
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in html  # in the alt attribute


def test_same_findings_give_the_same_bytes_across_processes() -> None:
    first = render_html(SESSION_ID, _reports(), AT)
    assert render_html(SESSION_ID, _reports(), AT) == first
    script = (
        "import hashlib, sys\n"
        "from tests.unit.test_charts import AT, SESSION_ID, _reports\n"
        "from scout_service.exports import render_html\n"
        "sys.stdout.write(hashlib.sha256(render_html(SESSION_ID, _reports(), AT)).hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    other = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                           text=True, timeout=120, env={"PYTHONPATH": str(root),
                                                        "PATH": "/usr/bin:/bin"})
    assert other.returncode == 0, other.stderr[-2000:]
    assert other.stdout == hashlib.sha256(first).hexdigest()


def test_charts_draw_from_several_threads_at_once() -> None:
    expected = render_html(SESSION_ID, _reports(), AT)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: render_html(SESSION_ID, _reports(), AT), range(4)))
    assert all(result == expected for result in results)


def test_svg_is_small_and_self_contained() -> None:
    for chart in dossier_charts(_reports()):
        assert len(chart.svg) < 40_000
        assert not re.search(r'(?:href|src)="(?!#)', chart.svg)  # only in-image references
        assert "<style" in chart.svg and "url(#" in chart.svg  # clip paths, nothing outside


# --- in the PDF --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pdf_pages() -> list[str]:
    reader = PdfReader(io.BytesIO(render_pdf(SESSION_ID, _reports(), AT)))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def test_pdf_draws_the_charts_as_svg_with_their_labels_as_text(pdf_pages: list[str]) -> None:
    charts = [page for page in pdf_pages if page.startswith("Charts")]
    assert len(charts) == 1, pdf_pages
    page = charts[0]
    # Text only the drawn SVG holds: its titles, tick labels and legend.
    assert "Market size (log scale)" in page
    assert "Zyxwort Meals · Classic" in page and "SOM (2028)" in page
    assert "The plan Competitors" in page
    # The text alternative is what WeasyPrint prints when an image fails to load.
    assert "Bar chart" not in page
    assert "Sources: [S7] plan.md — 4. Market" in page


def test_the_pdf_renderer_loads_data_urls_only(caplog: pytest.LogCaptureFixture) -> None:
    html = ('<!DOCTYPE html><html><body><img src="file:///etc/passwd" alt="a">'
            '<img src="http://127.0.0.1:9/x.png" alt="b"></body></html>')
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        assert html_to_pdf(html).startswith(b"%PDF-")
    refused = [r.getMessage() for r in caplog.records if "disallowed protocol" in r.getMessage()]
    assert len(refused) == 2, [r.getMessage() for r in caplog.records]
