"""Figures and names taken from the plan: places, competitors, laws, price points."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from scout_service.agents.analysis.parse import Plan
from scout_service.agents.analysis.patterns import (
    _AUTHORITY_PATTERNS,
    _CAPITALISED,
    _COUNTRIES,
    _LAW_PATTERNS,
    _MULTIWORD_COUNTRIES,
    _PER_UNIT,
    _PLACE_AFTER_PREPOSITION,
    _REGIONS,
    _STOPWORDS,
    AMOUNT,
    _rx,
)
from scout_service.agents.analysis.pick import _source

# -- things found in the text ----------------------------------------------------------


def own_names(plan: Plan) -> set[str]:
    """Words naming the plan's own company (from its title and a ``("Name")`` alias)."""
    names: set[str] = set()
    title = re.split(r"\s[—–-]\s|:", plan.title, maxsplit=1)[0]
    words = re.findall(_CAPITALISED, title)
    if words:
        names.add(words[0].strip(".,"))
    for alias in re.findall(r"\(\s*[\"“]([^\"”]{2,40})[\"”]\s*\)", plan.text):
        names.add(alias.split()[0])
    return {n for n in names if n not in _STOPWORDS}


def places(plan: Plan) -> list[str]:
    """Countries, regions and places named after "in/to/from …", by first mention."""
    found: dict[str, int] = {}
    text = plan.text
    for name in (*_MULTIWORD_COUNTRIES, *_COUNTRIES, *_REGIONS):
        match = re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)
        if match and not any(name != other and name in other for other in found):
            found.setdefault(name, match.start())
    excluded = own_names(plan) | set(_STOPWORDS) | set(competitors(plan))
    for match in _PLACE_AFTER_PREPOSITION.finditer(text):
        for name in re.split(r"\s*(?:,|\band\b|&)\s*", match.group(1)):
            name = name.strip(" .")
            first = name.split(" ")[0] if name else ""
            if (
                not name
                or any(ch.isdigit() for ch in name)
                or first in excluded
                or name in excluded
                or name.upper() == name
                or len(name) < 3
            ):
                continue
            found.setdefault(name, match.start())
    # Drop single words that are part of a longer name found ("Kingdom" in "United Kingdom").
    names = sorted(found, key=lambda n: found[n])
    return [n for n in names if not any(n != o and n in o.split() for o in names)]


def competitors(plan: Plan) -> list[str]:
    """Names the plan treats as competitors, by first mention, without its own name."""
    own = own_names(plan)
    names: dict[str, int] = {}

    def add(name: str, at: int) -> None:
        name = re.sub(r"\s*\(.*?\)\s*", " ", name).strip(" .,:;")
        if not name or name in _STOPWORDS or any(name.startswith(o) for o in own):
            return
        if len(name) < 2 or name.lower() in ("n/a", "none", "total", "others"):
            return
        names.setdefault(name, at)

    for index, table in enumerate(plan.tables):
        if table.header and re.search(
            r"competitor|company|player|brand|rival|alternative|provider|vendor",
            table.header[0],
            re.IGNORECASE,
        ):
            for row in table.rows:
                if row:
                    add(row[0], index)
    cue = _rx(r"\bcompetitors?\b|\bcompete[sd]?\b|\brivals?\b|\bvs\.?\s|\bversus\b|"
              r"\bincumbents?\b|\bmarket leader\b|\bplayers?\b|\balternatives?\b")
    for passage in plan.passages:
        if passage.is_row or not cue.search(passage.text):
            continue
        for match in re.finditer(rf"{_CAPITALISED}(?:\s{_CAPITALISED})*", passage.text):
            words = match.group(0).split()
            while words and words[0] in _STOPWORDS:
                words.pop(0)
            while words and words[-1] in _STOPWORDS:
                words.pop()
            if words and words[0] not in _COUNTRIES and " ".join(words) not in _REGIONS:
                add(" ".join(words), 1000 + passage.position)
    return sorted(names, key=lambda n: names[n])


def legal_references(plan: Plan) -> tuple[list[str], list[str]]:
    """Laws and regulations, and authorities, named in the plan (by first mention)."""

    def collect(patterns: Sequence[re.Pattern[str]]) -> list[str]:
        found: dict[str, int] = {}
        for pattern in patterns:
            for match in pattern.finditer(plan.text):
                name = re.sub(r"^the ", "", match.group(0)).strip()
                if name.split()[0] in _STOPWORDS and len(name.split()) > 1:
                    name = " ".join(name.split()[1:])
                if not any(name in other for other in found):
                    found.setdefault(name, match.start())
        return sorted(found, key=lambda n: found[n])

    return collect(_LAW_PATTERNS), collect(_AUTHORITY_PATTERNS)


_COMPETITOR_HEADER = _rx(r"competitor|company|player|brand|rival|alternative|provider|vendor")


def _context(text: str, start: int, end: int, width: int = 45) -> str:
    """The words around ``text[start:end]``, with ellipses where cut."""
    left = max(0, start - width)
    right = min(len(text), end + 10)
    if left > 0:
        left = text.find(" ", left) + 1 or left
    if right < len(text) and (space := text.rfind(" ", end, right)) > end:
        right = space
    snippet = text[left:right].strip(" ,;:")
    return ("…" if left > 0 else "") + snippet + ("…" if right < len(text) else "")


@dataclass(frozen=True)
class PricePoint:
    """An amount the plan states, with what it is per and where."""

    label: str
    amount: str
    unit: str
    source: str


def price_points(plan: Plan, *, tables_only: bool = False) -> list[PricePoint]:
    """Amounts per something in the plan's own price tables and in its sentences.

    Rows of competitor tables are left out: they are the competitors' prices.
    """
    points: list[PricePoint] = []
    seen: set[tuple[str, str]] = set()
    for passage in plan.passages:
        if passage.is_row and _COMPETITOR_HEADER.search(passage.header[0] if passage.header
                                                        else ""):
            continue
        if tables_only and not passage.is_row:
            continue
        if passage.is_row:
            for name, value in zip(passage.header, passage.cells, strict=False):
                if not re.search(r"price|fee|cost|per\b", name, re.IGNORECASE):
                    continue
                for match in AMOUNT.finditer(value):
                    unit = _PER_UNIT.search(name)
                    key = (passage.cells[0], match.group(0))
                    if key not in seen:
                        seen.add(key)
                        points.append(PricePoint(
                            passage.cells[0], match.group(0),
                            unit.group(0) if unit else name.lower(), _source(passage, plan),
                        ))
        else:
            for match in AMOUNT.finditer(passage.text):
                after = passage.text[match.end() : match.end() + 25]
                unit = _PER_UNIT.match(after.strip()) or _PER_UNIT.search(after)
                if unit is None:
                    continue
                label = _context(passage.text, match.start(), match.end() + unit.end() + 1)
                key = (label, match.group(0))
                if key not in seen:
                    seen.add(key)
                    points.append(
                        PricePoint(label, match.group(0), unit.group(0), _source(passage, plan))
                    )
    return points
