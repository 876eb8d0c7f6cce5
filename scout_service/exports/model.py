"""The values the exporters work on, and the order reports appear in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from scout_service.domain import Source

ReportName = Literal[
    "final_report",
    "market_report",
    "competition_report",
    "price_report",
    "legal_report",
]

REPORT_ORDER: Final[tuple[ReportName, ...]] = get_args(ReportName)
"""Readers want the conclusion first, then the specialist reports."""

DOSSIER_TITLE: Final = "Market research dossier"


class ExportUnavailableError(Exception):
    """A format cannot be produced on this machine (PDF without WeasyPrint/Pango).

    The message says what to install; the server maps this to a clear
    FAILED_PRECONDITION-style error instead of an internal one.
    """


@dataclass(frozen=True, slots=True)
class ExportReport:
    """One stored report as the exporters need it.

    `markdown` is model output and therefore untrusted: renderers escape it
    rather than pass raw HTML through. `name` doubles as the HTML anchor id
    and the zip member name, which is why it is restricted to known names.
    """

    name: ReportName
    title: str
    markdown: str
    updated_at: datetime
    # The sources the report cites (its [S#] markers), as stored.
    sources: tuple[Source, ...] = ()
    # The typed findings of the report's kind (``research/findings.py`` JSON, enum
    # values in lower case), the run they came from and the server's warnings.
    findings: Mapping[str, Any] | None = None
    findings_run_id: str = ""
    findings_warnings: tuple[tuple[str, str], ...] = ()
    # The sources those findings cite, for chart captions.
    findings_sources: tuple[Source, ...] = ()

    def __post_init__(self) -> None:
        """Reject unknown names early, before they reach ids or file names."""
        if self.name not in REPORT_ORDER:
            raise ValueError(f"unknown report name {self.name!r}")


def ordered_reports(reports: Iterable[ExportReport]) -> list[ExportReport]:
    """Return reports final-first in `REPORT_ORDER`, refusing duplicate names."""
    by_name: dict[ReportName, ExportReport] = {}
    for report in reports:
        if report.name in by_name:
            raise ValueError(f"report {report.name!r} given twice")
        by_name[report.name] = report
    return [by_name[name] for name in REPORT_ORDER if name in by_name]


def as_utc(moment: datetime) -> datetime:
    """Return `moment` in UTC; naive datetimes are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """Format a time for people, in UTC."""
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
