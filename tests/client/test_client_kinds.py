"""The friendly-name helpers for report kinds and export formats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scout.v1 import report_pb2, types_pb2
from scout_client import (
    EXPORT_FORMATS,
    REPORT_KINDS,
    export_format,
    export_format_name,
    report_kind,
    report_kind_name,
    report_kind_short_name,
)
from scout_client.cli import parse_duration

KINDS = {
    "market": types_pb2.REPORT_KIND_MARKET,
    "competition": types_pb2.REPORT_KIND_COMPETITION,
    "price": types_pb2.REPORT_KIND_PRICE,
    "legal": types_pb2.REPORT_KIND_LEGAL,
    "final": types_pb2.REPORT_KIND_FINAL,
}


def _spellings(short: str) -> st.SearchStrategy[str]:
    bases = st.sampled_from([short, f"{short}_report", f"report_kind_{short}"])
    return st.builds(
        lambda base, upper, hyphen, pad: (
            (" " * pad)
            + (base.upper() if upper else base).replace("_", "-" if hyphen else "_")
            + (" " * pad)
        ),
        bases,
        st.booleans(),
        st.booleans(),
        st.integers(0, 2),
    )


@given(st.sampled_from(sorted(KINDS)).flatmap(lambda k: st.tuples(st.just(k), _spellings(k))))
def test_every_spelling_of_a_kind(case: tuple[str, str]) -> None:
    short, spelling = case
    assert report_kind(spelling) == KINDS[short]
    assert report_kind(int(KINDS[short])) == KINDS[short]
    assert report_kind_short_name(spelling) == short
    assert report_kind_name(KINDS[short]) == f"{short}_report"


@given(st.text(max_size=30))
def test_anything_else_is_refused_with_the_valid_names(text: str) -> None:
    normalised = text.strip().lower().replace("-", "_")
    valid = {n for k in KINDS for n in (k, f"{k}_report", f"report_kind_{k}")}
    if normalised in valid:
        return
    with pytest.raises(ValueError, match="market, competition, price, legal, final"):
        report_kind(text)


def test_unspecified_and_unknown_numbers_are_refused() -> None:
    for bad in (0, 6, -1, "REPORT_KIND_UNSPECIFIED", "unspecified"):
        with pytest.raises(ValueError):
            report_kind(bad)
    assert REPORT_KINDS == ("market", "competition", "price", "legal", "final")


def test_export_formats() -> None:
    assert EXPORT_FORMATS == ("md", "html", "pdf", "zip")
    assert export_format("md") == export_format("Markdown") == report_pb2.EXPORT_FORMAT_MARKDOWN
    assert (
        export_format(".pdf") == export_format("EXPORT_FORMAT_PDF") == report_pb2.EXPORT_FORMAT_PDF
    )
    assert export_format(report_pb2.EXPORT_FORMAT_ZIP) == report_pb2.EXPORT_FORMAT_ZIP
    assert export_format_name(report_pb2.EXPORT_FORMAT_HTML) == "html"
    for bad in ("docx", 0, "EXPORT_FORMAT_UNSPECIFIED"):
        with pytest.raises(ValueError, match="md, html, pdf, zip"):
            export_format(bad)


@given(st.integers(0, 10**6), st.sampled_from(["", "s", "m", "h", "d", "H", "D"]))
def test_parse_duration_units(value: int, unit: str) -> None:
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit.lower()]
    assert parse_duration(f"{value}{unit}") == timedelta(seconds=value * factor)
