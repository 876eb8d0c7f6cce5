"""The offline market report, written section by section of its outline from the plan."""

from __future__ import annotations

import re

from scout_service.agents.analysis.extract import places
from scout_service.agents.analysis.parse import Plan
from scout_service.agents.analysis.patterns import AMOUNT, PERCENT, _names_rx, _rx
from scout_service.agents.analysis.pick import Topic, _markdown_table, _source, bullets, pick
from scout_service.agents.analysis.writer import _LEGAL_SECTION, _Writer
from scout_service.domain import ReportKind


def _market(plan: Plan) -> str:
    w = _Writer(ReportKind.MARKET, plan, "its market")
    w.topic(
        Topic(
            _rx(r"\b(deliver|sell|offer|provide|platform|service|product|subscription|"
                r"market for|we make|we build)\w*"),
            heading=_rx(r"summary|overview|product|business|concept|introduction|solution"),
            require=lambda p: not p.is_row,
        ),
        "The plan does not define its market in a sentence the analyser could find.",
        limit=4,
    )
    size = Topic(
        _rx(r"\bTAM\b|\bSAM\b|\bSOM\b|total addressable|serviceable|obtainable|market size|"
            r"market (?:is|was) (?:estimated|valued|worth)|valued at|worth|\bbillion\b|"
            r"\bmillion\b|\bpenetration\b|households"),
        heading=_rx(r"market|size|opportunity"),
        require=lambda p: bool(_BIG_FIGURE.search(p.text)) and bool(_MARKET_WORDS.search(p.text)),
    )
    layers = [
        p for p in plan.passages
        if p.is_row and p.cells and re.fullmatch(r"(TAM|SAM|SOM)\b.*", p.cells[0])
    ]
    w.used.update(p.position for p in layers)
    size_lines = bullets(pick(plan, size, w.used), plan)
    if layers:
        size_lines = [
            *_markdown_table(
                ("Layer", "As stated in the plan"),
                [(p.cells[0], "; ".join(c for c in p.cells[1:] if c)
                  + (f" [{p.source_id}]" if p.source_id else "")) for p in layers],
            ),
            "",
            *size_lines,
        ]
    w.section(size_lines, "No market size (TAM, SAM or SOM) with a figure was found.")
    w.topic(
        Topic(
            _rx(r"\b(customers?|segments?|households?|families|family|couples|consumers|users|"
                r"buyers|audience|target (?:customers?|groups?|audience|segments?|market)|"
                r"personas?|SMEs?|enterprises?|B2B|B2C|professionals|students|aged)\b"),
            heading=_rx(r"target|customer|segment"),
            require=lambda p: not p.is_row and not _NOT_SEGMENT_SECTION.search(p.section),
        ),
        "No customer segment is described.",
        limit=6,
    )
    trend_lines = bullets(
        pick(plan, Topic(
            _rx(r"\b(grow|grew|growth|growing|CAGR|trends?|increas\w*|declin\w*|adoption|"
                r"rising|demand|drivers?|annually|year-on-year|penetration)\b"),
            heading=_rx(r"market|trend|opportunity|problem"),
            require=lambda p: bool(_TREND_WORDS.search(p.text))
            or bool(re.search(r"market|trend|opportunity|problem", p.section, re.I)),
        ), w.used, limit=6),
        plan,
    )
    rates = _growth_rates(plan)
    if rates:
        trend_lines = [f"Growth rates stated in the plan: {', '.join(rates)}.", "", *trend_lines]
    w.section(trend_lines, "No growth rate or demand trend is given.")
    w.topic(
        Topic(
            _rx(r"\b(problem|pain|customers? needs?|needs of|wants?|struggl|frustrat|waste|"
                r"throw away|time-consuming|takes|hours|expensive|perceived|survey|report that|"
                r"say that|complain|reason)\w*"),
            heading=_rx(r"problem|need|customer|pain"),
            require=lambda p: not _LEGAL_SECTION.search(p.section),
        ),
        "The plan gives no evidence of customer needs (survey, interviews, churn reasons).",
    )
    found_places = places(plan)
    places_rx = _names_rx(found_places)
    geo_lines = bullets(
        pick(plan, Topic(  # a passage already quoted above may be quoted here again
            _rx(r"\b(launch|expand|expansion|cit(?:y|ies)|countr(?:y|ies)|regions?|"
                r"metropolitan|nationwide|international|postcodes?|starting|areas?)\w*"),
            heading=_rx(r"go-to-market|market|expansion|geograph"),
            require=lambda p: bool(places_rx and places_rx.search(p.text)),
        ), set(), limit=4),
        plan,
    )
    if found_places:
        geo_lines = [f"Places named in the plan: {', '.join(found_places)}.", "", *geo_lines]
    w.section(geo_lines, "The plan does not say where it sells.")
    extra = []
    if not layers and not any("SOM" in p.text for p in plan.passages):
        extra.append("No obtainable market (SOM) or target share is stated.")
    return w.finish(extra)


_MARKET_WORDS = _rx(r"\bmarkets?\b|\bTAM\b|\bSAM\b|\bSOM\b|\bhouseholds\b|\bpenetration\b|"
                    r"\bspend\b|addressable")
_BIG_FIGURE = re.compile(
    r"\b(?:million|billion|bn)\b|\b\d{1,3}(?:,\d{3}){2,}\b|\b\d{2,3},\d{3}\b|%|" + AMOUNT.pattern
)
_TREND_WORDS = _rx(r"\b(?:grow|grew|growth|growing|CAGR|trends?|adoption|penetration|rising|"
                   r"increasing|declining)\b|\bshift(?:s|ing)? (?:to|from|towards)\b")
_NOT_SEGMENT_SECTION = _rx(
    r"regulat|legal|compliance|go-to-market|financ|pric|operation|risk|team|problem"
)


def _growth_rates(plan: Plan) -> list[str]:
    rates: list[str] = []
    for passage in plan.passages:
        if re.search(r"grow|growth|CAGR|per year|annually|year-on-year", passage.text, re.I):
            for match in PERCENT.finditer(passage.text):
                context = passage.text[max(0, match.start() - 60) : match.end() + 60]
                if re.search(r"grow|growth|CAGR|per year|annually|year-on-year", context, re.I):
                    value = f"{match.group(0)} ({_source(passage, plan)})"
                    if value not in rates:
                        rates.append(value)
    return rates[:6]
