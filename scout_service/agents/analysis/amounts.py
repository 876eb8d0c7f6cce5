"""Amounts, years and percentages read off a passage, with the patterns that find them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from scout_service.research.findings import CURRENCIES

_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9,
           "bn": 1e9, "trillion": 1e12}
_CODE = r"\b(?:" + "|".join(sorted(CURRENCIES)) + r")\b"
_MONEY = re.compile(
    rf"(?P<pre>{_CODE}|[€$£])?\s?"
    # Thousands separated consistently ("86,000 540 million" is two numbers).
    rf"(?P<num>\d{{1,3}}(?P<sep>[,\u202f\u00a0 ])\d{{3}}(?:(?P=sep)\d{{3}})*(?:\.\d+)?|"
    rf"\d+(?:[.,]\d+)?)(?P<scale>\s?(?:thousand|million|billion|trillion|bn|mn|m|k)\b)?"
    rf"(?:\s?(?P<post>{_CODE}))?"
)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_YEAR_RANGE = re.compile(r"\b((?:19|20)\d\d)\s?[–-]\s?((?:19|20)?\d\d)\b")
_PERCENT = re.compile(r"(?P<num>[-+]?\d+(?:[.,]\d+)?)\s?%")
_STALE = re.compile(r"superseded|outdated|older (?:study|edition|report)|no longer|"
                    r"previous (?:edition|study)|out of date", re.IGNORECASE)
_NOT_APPLICABLE = re.compile(r"does not apply|do not apply|not applicable|is not subject|"
                             r"are not subject|falls? outside|out of scope", re.IGNORECASE)
_LAYERS = {
    "tam": re.compile(r"\bTAM\b|total addressable", re.IGNORECASE),
    "sam": re.compile(r"\bSAM\b|serviceable (?:available|addressable)", re.IGNORECASE),
    "som": re.compile(r"\bSOM\b|serviceable obtainable|obtainable market", re.IGNORECASE),
}
_GROWTH = re.compile(r"\bgrow\w*|\bgrew\b|\bCAGR\b|\bincreas\w*|\brising\b|\bexpand\w*",
                     re.IGNORECASE)
_PERIODS: tuple[tuple[str, str], ...] = (
    (r"one[- ]off|one[- ]time|once|set-?up fee|installation", "one_time"),
    (r"per hour|/h(?:our)?\b|hourly", "hour"),
    (r"per day|/day|daily", "day"),
    (r"per week|/w(?:ee)?k\b|weekly", "week"),
    (r"per month|/mo(?:nth)?\b|monthly|a month", "month"),
    (r"per quarter|quarterly", "quarter"),
    (r"per year|per annum|/y(?:ea)?r\b|annual|yearly|a year", "year"),
    (r"per (?:consult|session|visit|ride|trip|call|use|inspection|charge|night|booking|order)",
     "use"),
    (r"per (?:box|portion|unit|item|kg|turbine|seat|user|licen[cs]e|meal|delivery|drop|kwh)",
     "unit"),
    (r"per (?!cent\b)[a-z]{3,}", "unit"),
)
_UNIT = re.compile(r"\bper [\w²-]+(?: [a-z][\w²-]*)?|/\w+")
_PRICE_HEADER = re.compile(r"price|fee|cost|rate|per\b|tariff", re.IGNORECASE)
_COMPETITOR_HEADER = re.compile(r"competitor|company|player|brand|rival|alternative|provider|"
                                r"vendor|supplier|operator|incumbent|name", re.IGNORECASE)
_OFFER_HEADER = re.compile(r"offer|product|service|model|what", re.IGNORECASE)
_POSITION_HEADER = re.compile(r"position|focus|segment|notes?|strategy", re.IGNORECASE)
_STRENGTH_HEADER = re.compile(r"strength|advantage", re.IGNORECASE)
_WEAKNESS_HEADER = re.compile(r"weakness|disadvantage|gap", re.IGNORECASE)
_ECONOMICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cac", re.compile(r"\bCAC\b|acquisition cost|cost (?:of|per) acquisition", re.IGNORECASE)),
    ("ltv", re.compile(r"\bLTV\b|\bCLV\b|lifetime value", re.IGNORECASE)),
    ("unit_cost", re.compile(r"unit cost|cost per (?:unit|box|portion|order|delivery)|"
                             r"variable cost", re.IGNORECASE)),
    ("gross_margin", re.compile(r"gross margin|contribution margin", re.IGNORECASE)),
    ("payback", re.compile(r"payback", re.IGNORECASE)),
)


# -- amounts ----------------------------------------------------------------------------

def _to_number(digits: str) -> float | None:
    if not digits:
        return None
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", digits):
        digits = digits.replace(",", "")
    else:
        digits = digits.replace(",", ".")
    try:
        return float(digits)
    except ValueError:
        return None


def _number(digits: str) -> float | None:
    digits = re.sub(r"[\u202f\u00a0 ]", "", digits)
    return _to_number(digits)


def amounts(text: str, *, default_currency: str | None = None
            ) -> list[tuple[float, str | None, int]]:
    """Amounts in ``text`` as (value, ISO currency or None, position), scale applied."""
    found = []
    position = 0
    while (match := _MONEY.search(text, position)) is not None:
        position = match.end()
        begin = match.start("pre") if match.group("pre") else match.start("num")
        before = text[max(0, begin - 1):begin]
        if before and (before.isalnum() or before in ".,"):
            position = match.start("num") + len(match.group("num"))
            continue
        value = _number(match.group("num"))
        if value is None:
            continue
        scale = (match.group("scale") or "").strip().lower()
        value = round(value * _SCALES.get(scale, 1), 4)
        code = match.group("pre") or match.group("post")
        currency = _SYMBOLS.get(code, code) if code else default_currency
        if not scale and not match.group("pre") and _YEAR.fullmatch(match.group("num")):
            # A year ("target for 2028 DKK 14 million"), not an amount: look again
            # right after it, so the currency it swallowed can start the next one.
            position = match.start("num") + len(match.group("num"))
            continue
        found.append((value, currency, begin))
    return found


def _header_currency(header: Sequence[str]) -> str | None:
    for cell in header:
        match = re.search(_CODE, cell)
        if match:
            return match.group(0)
        for symbol, code in _SYMBOLS.items():
            if symbol in cell:
                return code
    return None


def _year(text: str) -> int | None:
    years = [int(y) for y in _YEAR.findall(text)]
    return max(years) if years else None


def _billing(text: str) -> str:
    for pattern, period in _PERIODS:
        if re.search(pattern, text, re.IGNORECASE):
            return period
    return "other"


def _cap(text: str | None, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if v is not None and v != ""}
