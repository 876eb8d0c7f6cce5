"""Friendly names for the contract's enums: report kinds and export formats.

Callers and the CLI say "market", "market_report" or "REPORT_KIND_MARKET"
(any case) and "pdf" or "md"; these helpers turn every spelling into the enum
value the RPCs take, and fail with a ValueError that lists the valid ones.
"""

from __future__ import annotations

from scout.v1 import report_pb2, types_pb2

__all__ = [
    "EXPORT_FORMATS",
    "REPORT_KINDS",
    "export_format",
    "export_format_name",
    "report_kind",
    "report_kind_name",
    "report_kind_short_name",
]

# (enum value, short name, storage name), in the order a dossier reads.
_REPORT_KINDS: tuple[tuple[types_pb2.ReportKind, str, str], ...] = (
    (types_pb2.REPORT_KIND_MARKET, "market", "market_report"),
    (types_pb2.REPORT_KIND_COMPETITION, "competition", "competition_report"),
    (types_pb2.REPORT_KIND_PRICE, "price", "price_report"),
    (types_pb2.REPORT_KIND_LEGAL, "legal", "legal_report"),
    (types_pb2.REPORT_KIND_FINAL, "final", "final_report"),
)

#: Short names of the five report kinds, specialists first, then "final".
REPORT_KINDS: tuple[str, ...] = tuple(short for _, short, _ in _REPORT_KINDS)

_EXPORT_FORMATS: tuple[tuple[report_pb2.ExportFormat, tuple[str, ...]], ...] = (
    (report_pb2.EXPORT_FORMAT_MARKDOWN, ("md", "markdown", "export_format_markdown")),
    (report_pb2.EXPORT_FORMAT_HTML, ("html", "htm", "export_format_html")),
    (report_pb2.EXPORT_FORMAT_PDF, ("pdf", "export_format_pdf")),
    (report_pb2.EXPORT_FORMAT_ZIP, ("zip", "export_format_zip")),
)

#: Short names of the export formats, as the CLI's --format takes them.
EXPORT_FORMATS: tuple[str, ...] = tuple(names[0] for _, names in _EXPORT_FORMATS)


def _normalise(text: str) -> str:
    return text.strip().lower().replace("-", "_")


_KIND_BY_NAME: dict[str, types_pb2.ReportKind] = {
    name: kind
    for kind, short, storage in _REPORT_KINDS
    for name in (short, storage, f"report_kind_{short}")
}
_KIND_BY_NUMBER: dict[int, types_pb2.ReportKind] = {int(kind): kind for kind, _, _ in _REPORT_KINDS}
_KIND_NAMES: dict[int, tuple[str, str]] = {
    int(kind): (short, storage) for kind, short, storage in _REPORT_KINDS
}
_FORMAT_BY_NAME: dict[str, report_pb2.ExportFormat] = {
    name: fmt for fmt, names in _EXPORT_FORMATS for name in names
}
_FORMAT_BY_NUMBER: dict[int, report_pb2.ExportFormat] = {
    int(fmt): fmt for fmt, _ in _EXPORT_FORMATS
}


def report_kind(value: int | str) -> types_pb2.ReportKind:
    """Return the `ReportKind` for an enum value or any of its names.

    Accepts `types_pb2.REPORT_KIND_MARKET` (or its number 1), "market",
    "market_report" and "REPORT_KIND_MARKET", in any case.

    Raises:
        ValueError: for REPORT_KIND_UNSPECIFIED or an unknown name/number.
    """
    if isinstance(value, str):
        kind = _KIND_BY_NAME.get(_normalise(value))
    else:
        kind = _KIND_BY_NUMBER.get(int(value))
    if kind is None:
        raise ValueError(
            f"unknown report kind {value!r}; expected one of {', '.join(REPORT_KINDS)}"
        )
    return kind


def report_kind_short_name(kind: int | str) -> str:
    """Return the short name of a report kind, e.g. "market"."""
    return _KIND_NAMES[int(report_kind(kind))][0]


def report_kind_name(kind: int | str) -> str:
    """Return the storage name of a report kind, e.g. "market_report"."""
    return _KIND_NAMES[int(report_kind(kind))][1]


def export_format(value: int | str) -> report_pb2.ExportFormat:
    """Return the `ExportFormat` for an enum value or a name.

    Accepts `report_pb2.EXPORT_FORMAT_PDF` (or its number), "pdf", "md",
    "markdown", "html", "zip" and "EXPORT_FORMAT_MARKDOWN", in any case.

    Raises:
        ValueError: for EXPORT_FORMAT_UNSPECIFIED or an unknown name/number.
    """
    if isinstance(value, str):
        fmt = _FORMAT_BY_NAME.get(_normalise(value).lstrip("."))
    else:
        fmt = _FORMAT_BY_NUMBER.get(int(value))
    if fmt is None:
        raise ValueError(
            f"unknown export format {value!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        )
    return fmt


def export_format_name(value: int | str) -> str:
    """Return the short name of an export format, e.g. "pdf"."""
    fmt = int(export_format(value))
    return next(names[0] for f, names in _EXPORT_FORMATS if int(f) == fmt)
