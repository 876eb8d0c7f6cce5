"""Tables that PDF extraction flattened into lines, read back into rows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scout_service.agents.analysis.amounts import (
    _CODE,
    _LAYERS,
    _PRICE_HEADER,
    _billing,
    _cap,
    _drop_none,
    _header_currency,
    _year,
    amounts,
)
from scout_service.agents.analysis.patterns import _SOURCE_HEADER, _STOPWORDS

# -- tables flattened by PDF extraction -------------------------------------------------

_FLAT_HEADER = re.compile(
    r"^(?:Competitor|Company|Provider|Supplier|Vendor|Operator|Plan|Tier|Package|Product|"
    r"Service|Offer|Layer|Market layer|Segment)s?\b", re.IGNORECASE)
_FOOTER = re.compile(r"\bpage \d+ of \d+\b|^\d+$", re.IGNORECASE)
_STOP_WORDS = ("The ", "Our ", "We ", "This ", "These ", "A ", "An ", "In ", "All ", "Source")


@dataclass(frozen=True)
class FlatTable:
    """A table that text extraction turned into lines: its header line and its rows."""

    source_id: str
    header: str
    rows: tuple[str, ...]


def flat_tables(documents: str) -> list[FlatTable]:
    """Tables of the retrieved passages that reached us as lines of text, not Markdown.

    A header is a short line starting with a column name a business plan's
    tables use (Competitor, Plan, Layer …); each row runs from a line that
    starts with a capital (or a TAM/SAM/SOM layer) to the line that holds its
    amount, continuation lines included; a sentence or a heading ends the table.
    """
    tables: list[FlatTable] = []
    source_id = ""
    header: str | None = None
    rows: list[str] = []

    def close() -> None:
        nonlocal header, rows
        if header is not None and rows:
            tables.append(FlatTable(source_id, header, tuple(r.strip() for r in rows)))
        header, rows = None, []

    for raw in documents.splitlines():
        line = raw.strip()
        source = _SOURCE_HEADER.match(line)
        if source:
            close()
            source_id = source.group(1)
            continue
        if not line or line.startswith(("|", "#")) or _FOOTER.search(line):
            if line.startswith(("|", "#")):
                close()
            continue
        if header is not None and line == header:
            continue  # the header repeated on the next page
        if _FLAT_HEADER.match(line) and len(line) <= 120 and not [
                a for a in amounts(line) if a[1] is not None]:
            close()
            header = line
            continue
        if header is None:
            continue
        if not rows and re.fullmatch(r"\(.*\)", line):
            header += " " + line  # the header's last column wrapped: "(EUR)"
            continue
        if (line.startswith(_STOP_WORDS) and len(line) > 40) or re.search(
                r"[a-z]\.\s+[A-Z]", line):
            close()  # running text again
            continue
        default = _header_currency([header])
        complete = bool(rows) and any(
            a[1] is not None for a in amounts(rows[-1], default_currency=default))
        if line[0].isupper() and (complete or not rows):
            rows.append(line)
        elif rows:
            rows[-1] += " " + line
    close()
    return tables


def _row_name(row: str) -> str:
    """The leading name of a flattened row: words up to the first lower-case word or amount.

    A trailing abbreviation or adjective that starts the next column ("Jobber SMB tool",
    "Hero Software German craft …") is left out.
    """
    words: list[str] = []
    depth = 0
    for word in row.split():
        if depth == 0 and words and (word[0].islower() or re.match(r"[\d€$£]", word)
                                     or re.fullmatch(_CODE, word.strip(",.;:"))):
            break
        depth += word.count("(") - word.count(")")
        words.append(word)
    while len(words) > 1 and (re.fullmatch(r"[A-Z]{2,4}", words[-1])
                              or words[-1] in _STOPWORDS):
        words.pop()
    name = " ".join(words).strip(" ,;:")
    return name if re.search(r"[A-Za-zÀ-ÿ]", name) else ""


def _flat_layers(tables: Sequence[FlatTable]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for table in tables:
        default = _header_currency([table.header])
        for row in table.rows:
            for layer, pattern in _LAYERS.items():
                hit = pattern.match(row)
                if hit is None or layer in out:
                    continue
                money = [a for a in amounts(row[hit.end():], default_currency=default)
                         if a[1] is not None]
                if money:
                    value, currency, at = money[-1]  # the value column is the last
                    out[layer] = _drop_none({
                        "amount": value, "currency": currency,
                        "year": _year(f"{table.header} {row}"),
                        "basis": _cap(row[hit.end():hit.end() + at].strip(" ,;:"), 300) or None,
                        "source_ids": [table.source_id]})
    return out


def _flat_prices(table: FlatTable, *, name_is_tier: bool) -> list[tuple[str, dict[str, Any]]]:
    """(row name, its first price) of a flattened table with a price column."""
    if not _PRICE_HEADER.search(table.header):
        return []
    default = _header_currency([table.header])
    out = []
    for row in table.rows:
        name = _row_name(row)
        money = [a for a in amounts(row[len(name):], default_currency=default)
                 if a[1] is not None]
        if not name or not money:
            continue
        value, currency, at = money[0]
        tail = row[len(name) + at:len(name) + at + 50]
        period = _billing(tail)
        if period == "other":
            period = _billing(table.header)
        unit = re.search(r"per (?!month|year|week|day|annum)[\w²-]+", f"{tail} {table.header}")
        out.append((name, _drop_none({
            "tier": _cap(name, 200), "amount": value, "currency": currency,
            "billing_period": period, "unit": unit.group(0) if unit else None,
            "source_ids": [table.source_id]})))
    return out
