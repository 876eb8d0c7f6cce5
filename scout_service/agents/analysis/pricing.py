"""The offline pricing report: the plan's price points, their spread, and amounts read."""

from __future__ import annotations

import re
from collections.abc import Sequence

from scout_service.agents.analysis.amounts import _to_number
from scout_service.agents.analysis.extract import PricePoint, competitors, price_points
from scout_service.agents.analysis.parse import Plan
from scout_service.agents.analysis.patterns import _names_rx, _rx
from scout_service.agents.analysis.pick import Topic, _markdown_table, bullets, pick
from scout_service.agents.analysis.writer import _Writer
from scout_service.domain import ReportKind


def _price(plan: Plan) -> str:
    w = _Writer(ReportKind.PRICE, plan, "its prices")
    names = competitors(plan)
    w.topic(
        Topic(
            _rx(r"\b(subscriptions?|subscribe\w*|per month|monthly|weekly|annual|plans?|tiers?|"
                r"freemium|one-off|one-time|commission|pay-as-you-go|licen[cs]e fee|add-ons?|"
                r"bundles?|discount\w*|free delivery|trial|first box|introductory|skip\w*|"
                r"pause|pausing)\b"),
            heading=_rx(r"pric|business model|revenue|product"),
            require=lambda p: not p.is_row or not (names and p.cells[0] in names),
        ),
        "The plan does not describe how it charges (subscription, one-off, tiers).",
        limit=6,
    )

    own_tables = [
        t for t in plan.tables
        if t.header and re.search(r"price|fee|cost", " ".join(t.header), re.I)
        and not re.search(r"competitor|company|player|brand|rival", t.header[0], re.I)
    ]
    point_lines: list[str] = []
    for table in own_tables:
        point_lines += _markdown_table(table.header, table.rows)
        point_lines.append("")
    points = [
        pp for pp in price_points(plan)
        if not any(pp.label == row[0] for t in own_tables for row in t.rows)
    ]
    if points:
        point_lines += [
            "Other amounts stated per unit in the plan:",
            "",
            *_markdown_table(
                ("Amount", "Per", "In context", "Section"),
                [(pp.amount, pp.unit, pp.label, pp.source) for pp in points[:15]],
            ),
            "",
        ]
    spread = _spread(price_points(plan, tables_only=True))
    if spread:
        point_lines += [f"- {line}" for line in spread]
    w.section(point_lines, "No price point is stated.")

    comparison = [
        t for t in plan.tables
        if t.header and re.search(r"competitor|company|player|brand|rival", t.header[0], re.I)
        and re.search(r"price|fee|cost", " ".join(t.header), re.I)
    ]
    comp_lines: list[str] = []
    for table in comparison:
        keep = [0] + [i for i, h in enumerate(table.header) if re.search(r"price|fee|cost", h,
                                                                            re.I)]
        comp_lines += _markdown_table(
            [table.header[i] for i in keep],
            [[row[i] if i < len(row) else "" for i in keep] for row in table.rows],
        )
        comp_lines.append("")
    name_rx = _names_rx(names)
    comp_lines += bullets(
        pick(plan, Topic(
            _rx(r"\b(cheaper|lower|higher|premium|below|above|undercut|discount\w*|price|"
                r"prices|competitors?)\b"),
            heading=_rx(r"pric|competit"),
            require=lambda p: not p.is_row and (
                bool(name_rx and name_rx.search(p.text)) or "competitor" in p.text.lower()
            ),
        ), w.used, limit=5),
        plan,
    )
    w.section(comp_lines, "The plan's prices are not compared with competitors' prices.")

    w.topic(
        Topic(
            _rx(r"\b(willing\w*|WTP|price[- ]sensitiv\w*|sensitive|survey|churn|cancel\w*|"
                r"lapsed|perceived|expensive|conversion|retention|stay)\b"),
            heading=_rx(r"pric|problem|customer|market"),
        ),
        "No evidence of willingness to pay (survey, tests, churn reasons) is given.",
        limit=5,
    )
    w.topic(
        Topic(
            _rx(r"\b(margins?|contribution|CAC|acquisition cost|LTV|lifetime value|payback|"
                r"break[- ]?even|COGS|cost of goods|EBITDA|average order value|AOV|ARPU|"
                r"unit economics|cost per|food cost|packing cost|delivery|gross profit)\b"),
            heading=_rx(r"econom|financ|pric|operation"),
            require=lambda p: bool(re.search(r"\d", p.text)),
        ),
        "No unit economics (margin, CAC, LTV, break-even) are stated.",
    )
    w.topic(
        Topic(
            _rx(r"\b(inflation|price war|price review|sensitiv\w*|elasticit\w*|scenarios?|"
                r"fluctuat\w*|exchange rate|converted at|assum\w*|depend\w*|contracts?)\b"),
            heading=_rx(r"risk|pric|sensitiv|financ"),
        ),
        "The plan shows no sensitivity of margins or demand to price or cost changes.",
        limit=5,
    )
    return w.finish()


def _spread(points: Sequence[PricePoint]) -> list[str]:
    """Lowest and highest amount per unit and currency, when there are several."""
    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    for pp in points:
        currency = re.sub(r"[\d\s.,]|thousand|million|billion|bn|mn|\bm\b|\bk\b", "", pp.amount)
        if re.search(r"thousand|million|billion|bn|mn|\bm\b|\bk\b", pp.amount):
            continue
        digits = re.sub(r"[^\d.,]", "", pp.amount)
        value = _to_number(digits)
        if value is None:
            continue
        groups.setdefault((pp.unit.lower(), currency.strip()), []).append((value, pp.amount))
    lines = []
    for (unit, _), values in groups.items():
        if len(values) >= 2:
            low = min(values)
            high = max(values)
            if low[0] != high[0]:
                lines.append(
                    f"Amounts {unit}: from {low[1]} to {high[1]} ({len(values)} stated; the "
                    f"highest is {high[0] / low[0]:.1f}× the lowest)."
                )
    return lines
