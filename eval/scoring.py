"""Score one dossier against its answer key, independently of the server's own checks.

Pure functions on plain data (report Markdown, the run's sources, the
uploaded files' text): nothing here talks to the server, so the scorer is
unit-tested on synthetic reports and cannot inherit a bug of the save tool.

A report is read as **statements**: a sentence of a paragraph, a whole list
item, or a table row (headings are not statements). The ``## Sources``
section the server appends is cut off first, so the list of sources never
counts as the report's own text. A statement *carries* the citation markers
(``[S3]``) written inside it; a marker right after a sentence's full stop
belongs to that sentence.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

REPORT_KINDS = ("market", "competition", "price", "legal", "final")

MARKER = re.compile(r"\[(S\d+)\]")
_MARKER_RUN = r"(?:\s*\[S\d+\])+"
QUOTED = re.compile(r"(?:\"([^\"\n]+?)\"|“([^”\n]+?)”)(" + _MARKER_RUN + ")")
_SOURCES_HEADING = re.compile(r"^#{1,6}\s+Sources\s*$", re.IGNORECASE | re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)*_]*(?:\s*\[S\d+\])*\s+(?=[\"“(*_]?[A-Z0-9])")

_CURRENCIES = {"EUR": "EUR", "€": "EUR", "USD": "USD", "$": "USD", "GBP": "GBP", "£": "GBP",
               "DKK": "DKK", "SEK": "SEK", "NOK": "NOK", "CHF": "CHF"}
_CUR = r"(?:EUR|USD|GBP|DKK|SEK|NOK|CHF|€|\$|£)"
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE_WORD = r"thousand|million|billion|bn|mn|m|k"
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9,
           "bn": 1e9}
_RANGE = (rf"(?P<n1>{_NUM})(?:\s?(?P<s1>{_SCALE_WORD})\b)?"
          rf"(?:\s?(?:–|-|to)\s?(?P<n2>{_NUM}))?(?:\s?(?P<s2>{_SCALE_WORD})\b)?")
_AMOUNT_BEFORE = re.compile(rf"(?P<cur>{_CUR})\s?{_RANGE}")
_AMOUNT_AFTER = re.compile(rf"(?<![\w.,]){_RANGE}\s?(?P<cur>{_CUR})(?![A-Za-z])")
_PERCENT = re.compile(rf"(?<![\w.,])({_NUM})\s?(?:%|percent\b|per cent\b)")
_MAGNITUDE = re.compile(rf"(?<![\w.,])(?:{_NUM})\s?(?:thousand|million|billion)\b", re.I)
_GROUPED = re.compile(r"(?<![\w.,/])\d{1,3}(?:,\d{3})+(?![\w/])")

FLAG_WORDS = (
    # stale
    "stale", "outdated", "out of date", "out-of-date", "superseded", "older", "earlier",
    "previous", "previously", "prior", "former", "formerly", "no longer", "dates from",
    "raised", "lowered", "cut", "changed",
    # contradicted
    "contradict", "conflict", "inconsistent", "discrepan", "differs", "disagree",
    # not applicable
    "does not apply", "do not apply", "not applicable", "inapplicable", "out of scope",
    "outside its scope", "outside the scope", "irrelevant",
)
"""Words (or word beginnings) that flag a distractor as stale, contradicted or not applicable."""
_FLAG = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in FLAG_WORDS) + ")", re.IGNORECASE)

RELATIVE_TOLERANCE = 0.005
"""Two amounts match when they differ by at most 0.5 % (rounding in prose)."""


# -- parsing ------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC, one space for any run of whitespace: how quotes and excerpts are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def body(markdown: str) -> str:
    """The report without the ``## Sources`` section the server appends."""
    matches = list(_SOURCES_HEADING.finditer(markdown))
    return markdown[: matches[-1].start()] if matches else markdown


@dataclass(frozen=True)
class Statement:
    """A sentence, list item or table row of a report, with the markers it carries."""

    text: str
    markers: tuple[str, ...]


def headings(markdown: str) -> list[str]:
    """The report's headings as Markdown lines (``## 2. Market size``), in order."""
    found = []
    fenced = False
    for line in body(markdown).splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced and (match := _HEADING.match(line.strip())):
            found.append(f"{match.group(1)} {normalise(match.group(2))}")
    return found


def statements(markdown: str) -> list[Statement]:
    """Split a report's own text into statements."""
    blocks: list[tuple[str, bool]] = []  # (text, split into sentences?)
    paragraph: list[str] = []
    item: list[str] = []
    fenced = False

    def flush() -> None:
        if paragraph:
            blocks.append((" ".join(paragraph), True))
            paragraph.clear()
        if item:
            blocks.append((" ".join(item), False))
            item.clear()

    for raw in body(markdown).splitlines():
        line = raw.strip()
        if line.startswith("```"):
            flush()
            fenced = not fenced
            continue
        if fenced:
            continue
        line = line.lstrip(">").strip()
        if not line or _HEADING.match(line):
            flush()
        elif line.startswith("|"):
            flush()
            if not _TABLE_SEPARATOR.match(line):
                blocks.append((line, False))
        elif _LIST_ITEM.match(line):
            flush()
            item.append(_LIST_ITEM.sub("", line, count=1))
        elif item:
            item.append(line)
        else:
            paragraph.append(line)
    flush()

    result = []
    for text, split in blocks:
        pieces = _split_sentences(text) if split else [text]
        for piece in pieces:
            if piece.strip():
                result.append(Statement(piece.strip(), tuple(MARKER.findall(piece))))
    return result


def _split_sentences(text: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def amounts(text: str) -> list[tuple[float, str]]:
    """Every money amount in ``text`` as (value in units, ISO currency); ranges give two."""
    found: list[tuple[float, str]] = []
    clean = MARKER.sub(" ", text)
    for pattern in (_AMOUNT_BEFORE, _AMOUNT_AFTER):
        for match in pattern.finditer(clean):
            currency = _CURRENCIES[match.group("cur")]
            s1, s2 = match.group("s1"), match.group("s2")
            first_scale = _SCALES[(s1 or s2 or "").lower()] if (s1 or s2) else 1.0
            found.append((_number(match.group("n1")) * first_scale, currency))
            if match.group("n2"):
                second_scale = _SCALES[s2.lower()] if s2 else first_scale
                found.append((_number(match.group("n2")) * second_scale, currency))
    return found


def percents(text: str) -> list[float]:
    """Every percentage in ``text``."""
    return [_number(m.group(1)) for m in _PERCENT.finditer(MARKER.sub(" ", text))]


def _number(digits: str) -> float:
    return float(digits.replace(",", ""))


def states_number(text: str) -> bool:
    """True when a statement states a figure (see README: amounts, %, magnitudes, 1,000+)."""
    clean = MARKER.sub(" ", text)
    return bool(amounts(clean) or percents(clean) or _MAGNITUDE.search(clean)
                or _GROUPED.search(clean))


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b), 1e-12)


def matches(rule: Mapping[str, Any], context: Sequence[str], text: str) -> bool:
    """Whether one statement states what ``rule`` describes (and names every context word)."""
    lowered = text.lower()
    if any(word.lower() not in lowered for word in context):
        return False
    kind = rule["type"]
    if kind == "amount":
        return any(cur == rule["currency"] and _close(value, float(rule["value"]))
                   for value, cur in amounts(text))
    if kind == "percent":
        return any(_close(value, float(rule["value"])) for value in percents(text))
    if kind == "name":
        return any(re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text, re.IGNORECASE)
                   for n in rule["any"])
    raise ValueError(f"unknown rule type {kind!r}")


def flagged(text: str) -> bool:
    """Whether a statement flags what it states as stale, contradicted or not applicable."""
    return _FLAG.search(text) is not None


# -- the run's evidence -----------------------------------------------------------------


@dataclass(frozen=True)
class SourceInfo:
    """The fields of a ``scout.v1.Source`` that the scorer needs."""

    source_id: str
    file_name: str = ""
    excerpt: str = ""
    sha256: str = ""
    run_id: str = ""
    url: str = ""


@dataclass(frozen=True)
class UploadedFile:
    """A file the eval uploaded: its bytes' SHA-256 and its extracted, normalised text."""

    sha256: str
    text: str

    @staticmethod
    def of(data: bytes, text: str) -> UploadedFile:
        """Hash ``data`` and normalise ``text``."""
        return UploadedFile(hashlib.sha256(data).hexdigest(), normalise(text))


def source_problem(source: SourceInfo, files: Mapping[str, UploadedFile], run_id: str) -> str:
    """Why a source cannot be trusted ('' when it can): wrong run, unknown file, bad excerpt."""
    if run_id and source.run_id and source.run_id != run_id:
        return f"{source.source_id} belongs to run {source.run_id}, not {run_id}"
    if not source.file_name:
        return "" if source.url and source.excerpt else f"{source.source_id} has no file or url"
    uploaded = files.get(source.file_name)
    if uploaded is None:
        return f"{source.source_id} names {source.file_name!r}, which was not uploaded"
    if source.sha256 and source.sha256 != uploaded.sha256:
        return f"{source.source_id}: sha256 differs from the uploaded {source.file_name}"
    if not source.sha256:
        return f"{source.source_id}: no sha256"
    excerpt = normalise(source.excerpt)
    if not excerpt or excerpt not in uploaded.text:
        return f"{source.source_id}: excerpt is not in the text of {source.file_name}"
    return ""


def _plain(text: str) -> str:
    """Text as a reader sees it: Markdown emphasis marks and link targets dropped.

    A quote of "**Plus**: EUR 9" as "Plus: EUR 9" is faithful; the comparison
    is otherwise exact (case, punctuation and words must match).
    """
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    return normalise(re.sub(r"[*_`]", "", text))


def quote_occurs(quote: str, excerpt: str) -> bool:
    """Whether a quote occurs in an excerpt; '…' separates fragments that occur in order."""
    haystack = _plain(excerpt)
    position = 0
    fragments = [_plain(f) for f in re.split(r"…|\.\.\.", quote)]
    fragments = [f for f in fragments if f]
    if not fragments:
        return False
    for fragment in fragments:
        found = haystack.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


# -- metrics ------------------------------------------------------------------------------


@dataclass
class Ratio:
    """``hits`` of ``total``; ``value`` is None when there is nothing to count."""

    hits: int = 0
    total: int = 0

    @property
    def value(self) -> float | None:
        """The share hits / total, or None for 0 / 0."""
        return self.hits / self.total if self.total else None

    def add(self, other: Ratio) -> None:
        """Accumulate another ratio (for the overall table)."""
        self.hits += other.hits
        self.total += other.total


@dataclass
class Score:
    """Everything the eval measures for one dossier."""

    facts_stated: Ratio = field(default_factory=Ratio)
    fact_recall: Ratio = field(default_factory=Ratio)
    wrong_facts: Ratio = field(default_factory=Ratio)
    citations: Ratio = field(default_factory=Ratio)
    coverage: Ratio = field(default_factory=Ratio)
    outline: Ratio = field(default_factory=Ratio)
    findings: Ratio | None = None
    notes: list[str] = field(default_factory=list)


def fact_recall(checkpoints: Iterable[Mapping[str, Any]], reports: Mapping[str, str],
                sources: Mapping[str, SourceInfo]) -> tuple[Ratio, Ratio, list[str]]:
    """Checkpoints stated, checkpoints recalled, and what was missed.

    A checkpoint is recalled when a statement of its report states it and
    carries a marker of a source from one of its ``cite_files``.
    """
    stated, recalled, misses = Ratio(), Ratio(), []
    for point in checkpoints:
        stated.total += 1
        recalled.total += 1
        hits = [s for s in statements(reports.get(point["report"], ""))
                if matches(point["rule"], point.get("context", ()), s.text)]
        if hits:
            stated.hits += 1
        cited = any(sources.get(m) is not None and sources[m].file_name in point["cite_files"]
                    for s in hits for m in s.markers)
        if cited:
            recalled.hits += 1
        elif hits:
            misses.append(f"{point['report']}/{point['id']}: stated, not cited to "
                          f"{' or '.join(point['cite_files'])}")
        else:
            misses.append(f"{point['report']}/{point['id']}: not stated")
    return stated, recalled, misses


def wrong_facts(distractors: Iterable[Mapping[str, Any]],
                reports: Mapping[str, str]) -> tuple[Ratio, list[str]]:
    """Distractors stated in any report by a statement that does not flag them."""
    ratio, wrong = Ratio(), []
    for item in distractors:
        ratio.total += 1
        for kind in REPORT_KINDS:
            bad = [s for s in statements(reports.get(kind, ""))
                   if matches(item["rule"], item.get("context", ()), s.text)
                   and not flagged(s.text)]
            if bad:
                ratio.hits += 1
                wrong.append(f"{kind}/{item['id']}: {bad[0].text[:100]}")
                break
    return ratio, wrong


def citation_precision(reports: Mapping[str, str], sources: Mapping[str, SourceInfo],
                       files: Mapping[str, UploadedFile], run_id: str) -> tuple[Ratio, list[str]]:
    """Valid citation markers over all markers.

    A marker is valid when its source was listed for the run, that source is
    faithful (``source_problem``), and every quote it is attached to occurs
    in the excerpt of one of the sources cited with it.
    """
    ratio, problems = Ratio(), []
    faith = {sid: source_problem(src, files, run_id) for sid, src in sources.items()}
    for kind in REPORT_KINDS:
        for statement in statements(reports.get(kind, "")):
            attached: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
            for match in QUOTED.finditer(statement.text):
                group = tuple(MARKER.findall(match.group(3)))
                for sid in group:
                    attached.setdefault(sid, []).append((match.group(1) or match.group(2), group))
            for sid in statement.markers:
                ratio.total += 1
                problem = "" if sid in sources else f"{sid} is not a source of the run"
                problem = problem or faith[sid]
                for quote, group in attached.get(sid, []):
                    if not any(g in sources and quote_occurs(quote, sources[g].excerpt)
                               for g in group):
                        problem = problem or f"{sid}: quote not in excerpt: {quote[:60]!r}"
                if problem:
                    problems.append(f"{kind}: {problem}")
                else:
                    ratio.hits += 1
    return ratio, problems


def citation_coverage(reports: Mapping[str, str]) -> Ratio:
    """Statements that state a figure and carry a marker, over statements that state one."""
    ratio = Ratio()
    for kind in REPORT_KINDS:
        for statement in statements(reports.get(kind, "")):
            if states_number(statement.text):
                ratio.total += 1
                ratio.hits += bool(statement.markers)
    return ratio


def outline_compliance(reports: Mapping[str, str],
                       outlines: Mapping[str, Sequence[str]]) -> tuple[Ratio, list[str]]:
    """Reports whose required headings all appear, in order (others may sit between them)."""
    ratio, problems = Ratio(), []
    for kind, required in outlines.items():
        ratio.total += 1
        have = [h.lower() for h in headings(reports.get(kind, ""))]
        position = 0
        missing = []
        for heading in required:
            wanted = normalise(heading).lower()
            try:
                position = have.index(wanted, position) + 1
            except ValueError:
                missing.append(heading)
        if missing:
            problems.append(f"{kind}: missing or out of order: {', '.join(missing)}")
        else:
            ratio.hits += 1
    return ratio, problems


def findings_accuracy(expected: Mapping[str, Any], served: Any) -> tuple[Ratio, list[str]]:
    """Typed expectations met by a GetFindings answer (proto JSON, camelCase names).

    A market layer counts when that layer (``tam``, ``sam``, ``som``) holds the
    amount in the currency; a competitor when a competitor of that name has a
    price point of that amount and currency; a plan price point when the price
    findings hold one of that amount and currency; a regulation when an
    obligation names it; the verdict when the final findings' verdict is it.
    A regulation that does not apply counts against when an obligation names it.
    """
    by_kind = {row.get("kind", ""): row for row in (served or {}).get("findings", [])}
    market = by_kind.get("REPORT_KIND_MARKET", {}).get("market", {})
    rivals = by_kind.get("REPORT_KIND_COMPETITION", {}).get("competition", {}).get(
        "competitors", [])
    prices = by_kind.get("REPORT_KIND_PRICE", {}).get("price", {}).get("pricePoints", [])
    obligations = by_kind.get("REPORT_KIND_LEGAL", {}).get("legal", {}).get("obligations", [])
    verdict = by_kind.get("REPORT_KIND_FINAL", {}).get("final", {}).get("verdict", "")

    def priced(points: Iterable[Mapping[str, Any]], value: float, currency: str) -> bool:
        return any(p.get("currency") == currency and _close(float(p.get("amount", 0)), value)
                   for p in points)

    def named(text: str) -> list[Mapping[str, Any]]:
        return [o for o in obligations if text.lower() in str(o.get("regulation", "")).lower()]

    checks: list[tuple[str, bool]] = []
    for size in expected.get("market_sizes", []):
        layer = market.get(size["layer"].lower(), {})
        checks.append((f"{size['layer']} {size['value']:g}",
                       layer.get("currency") == size["currency"]
                       and _close(float(layer.get("amount", 0)), size["value"])))
    for entry in expected.get("competitors", []):
        match = [c for c in rivals if entry["name"].lower() in str(c.get("name", "")).lower()]
        checks.append((f"competitor {entry['name']} {entry['price']:g}", any(
            priced(c.get("pricePoints", []), entry["price"], entry["currency"]) for c in match)))
    for entry in expected.get("price_points", []):
        checks.append((f"price {entry['name']} {entry['price']:g}",
                       priced(prices, entry["price"], entry["currency"])))
    for regulation in expected.get("regulations", []):
        checks.append((f"obligation {regulation}", bool(named(regulation))))
    for regulation in expected.get("not_applicable", []):
        checks.append((f"no obligation under {regulation} (it does not apply)",
                       not named(regulation)))
    if wanted := expected.get("verdict"):
        checks.append((f"verdict {wanted}", verdict.removeprefix("VERDICT_") == wanted))
    ratio, misses = Ratio(), []
    for label, ok in checks:
        ratio.total += 1
        ratio.hits += ok
        if not ok:
            misses.append(f"findings: {label} not found" if "no obligation" not in label
                          else f"findings: {label} — but one is listed")
    return ratio, misses
