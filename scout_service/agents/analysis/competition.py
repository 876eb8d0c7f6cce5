"""The offline competition report: the named competitors and the plan's passages on them."""

from __future__ import annotations

import re

from scout_service.agents.analysis.extract import competitors, own_names
from scout_service.agents.analysis.parse import Plan
from scout_service.agents.analysis.patterns import _names_rx, _rx
from scout_service.agents.analysis.pick import Topic, _markdown_table, bullets, pick, shorten
from scout_service.agents.analysis.writer import _Writer
from scout_service.domain import ReportKind


def _competition(plan: Plan) -> str:
    w = _Writer(ReportKind.COMPETITION, plan, "its competitors")
    names = competitors(plan)
    own = own_names(plan)
    lines: list[str] = []
    for name in names:
        mentions = [p for p in plan.passages if name in p.text]
        row = next((p for p in mentions if p.is_row and p.cells[0].startswith(name)), None)
        detail = shorten(row.text[len(row.cells[0]) :].lstrip(" —"), 240) if row else ""
        count = len(mentions)
        lines.append(
            f"- **{name}** — named {count} time{'s' if count != 1 else ''} in the plan"
            + (f"; {detail}" if detail else "")
        )
        if row is not None:
            w.used.add(row.position)
    w.section(lines, "The plan names no competitor.")

    w.topic(
        Topic(
            _rx(r"\b(alternatives?|instead|substitut\w*|supermarkets?|grocer\w*|restaurants?|"
                r"takeaway|take-away|delivery apps?|themselves|DIY|in-house|manual|"
                r"spreadsheets?|status quo|add-on|convenience)\b"),
            heading=_rx(r"competit|alternative|market"),
            require=lambda p: not p.is_row and not re.search(r"team|legal|regulat", p.section,
                                                             re.I),
        ),
        "No indirect competitor or alternative (what customers do today) is described.",
        limit=5,
    )

    comparison = [
        t for t in plan.tables
        if t.header and re.search(r"competitor|company|player|brand|rival", t.header[0], re.I)
    ]
    position_lines: list[str] = []
    for table in comparison:
        position_lines += _markdown_table(table.header, table.rows)
        position_lines.append("")
    name_rx = _names_rx(names)
    position_lines += bullets(
        pick(plan, Topic(
            _rx(r"\b(price|prices|priced|cheaper|premium|discount|share|position\w*|per portion|"
                r"per box|per month|lower|higher)\b"),
            heading=_rx(r"competit"),
            require=lambda p: bool(name_rx and name_rx.search(p.text)) and not p.is_row,
        ), w.used, limit=5),
        plan,
    )
    w.section(position_lines, "No competitor prices or positions are given.")

    w.topic(
        Topic(
            _rx(r"\b(strong|strength|leader|leading|large|weak|weakness|churn|expensive|cheap|"
                r"advantage|disadvantage|brand|loyal\w*|discounts?|pioneer|focus\w*|limited|slow|"
                r"hold|share)\b"),
            heading=_rx(r"competit|risk"),
            require=lambda p: bool(name_rx and name_rx.search(p.text)),
        ),
        "No competitor strength or weakness is described.",
    )
    own_rx = _names_rx(sorted(own))
    w.topic(
        Topic(
            _rx(r"\b(differen\w*|unique|unlike|edge|advantage|competes? on|position\w*|USP|"
                r"only|first|lower price|instead of|sustainab\w*|local\w*)\b"),
            heading=_rx(r"summary|competit|product|position"),
            require=lambda p: not p.is_row and (
                bool(own_rx and own_rx.search(p.text)) or bool(re.search(r"\b(our|we)\b",
                                                                           p.text, re.I))
            ),
        ),
        "The plan does not say how it differs from competitors.",
        limit=5,
    )
    w.topic(
        Topic(
            _rx(r"\b(barriers?|switching|scale|capital|network effects?|lock-in|patents?|"
                r"exclusive|economies|price war|retaliat\w*|copy|imitat\w*|regulat\w*|"
                r"brand loyalty|cost base)\b"),
            heading=_rx(r"competit|risk|barrier"),
            require=lambda p: bool(re.search(r"competit|risk|barrier", p.section, re.I))
            or bool(_BARRIER_WORDS.search(p.text)),
        ),
        "No barrier to entry or incumbent reaction is discussed.",
        limit=5,
    )
    extra = []
    if len(names) == 1:
        extra.append("Only one competitor is named; a like-for-like comparison needs more.")
    if names and not comparison:
        extra.append("Competitors are named but not compared side by side (offer, price).")
    return w.finish(extra)


_BARRIER_WORDS = _rx(r"\b(barriers?|switching costs?|economies of scale|network effects?|"
                     r"lock-in|patents?|price war|retaliat\w*|imitat\w*|brand loyalty)\b")
