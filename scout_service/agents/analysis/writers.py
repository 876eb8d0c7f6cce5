"""One writer per specialist kind, and ``analyse`` that picks it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from scout_service.agents.analysis.competition import _competition
from scout_service.agents.analysis.legal import _legal
from scout_service.agents.analysis.market import _market
from scout_service.agents.analysis.parse import Plan, parse_plan
from scout_service.agents.analysis.pricing import _price
from scout_service.domain import ReportKind

_SPECIALIST_WRITERS: Mapping[ReportKind, Callable[[Plan], str]] = {
    ReportKind.MARKET: _market,
    ReportKind.COMPETITION: _competition,
    ReportKind.PRICE: _price,
    ReportKind.LEGAL: _legal,
}


def analyse(kind: ReportKind, documents: str) -> str:
    """The specialist report of ``kind`` for the plan text ``documents``."""
    if not kind.is_specialist:
        raise ValueError("use synthesise() for the final report")
    return _SPECIALIST_WRITERS[kind](parse_plan(documents))
