"""The plan cut into passages and tables, each remembered with its document and section."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scout_service.agents.analysis.patterns import (
    _ABBREVIATIONS,
    _DOC_HEADER,
    _HEADING,
    _LIST_ITEM,
    _SENTENCE_END,
    _SOURCE_HEADER,
    _TABLE_SEPARATOR,
)
from scout_service.domain import ReportKind

# -- searching ---------------------------------------------------------------------

# What the offline model searches the documents for, per report: a query per
# section of the report's outline (the words the section's patterns look for).
SEARCHES: Mapping[ReportKind, tuple[str, ...]] = {
    ReportKind.MARKET: (
        "business overview product service platform offer summary",
        "market size TAM SAM SOM addressable serviceable obtainable billion million",
        "target customers segments households consumers users buyers",
        "market growth CAGR trend demand adoption annually",
        "customer problem need pain survey interviews",
        "launch cities countries regions expansion geography",
    ),
    ReportKind.COMPETITION: (
        "competitors competition competitive landscape rivals alternatives",
        "competitor prices pricing comparison table",
        "differentiation advantage unique positioning moat",
        "barriers to entry switching costs network effects",
        "market share players incumbents startups",
    ),
    ReportKind.PRICE: (
        "pricing price tiers subscription per month plan",
        "unit economics margin cost CAC LTV payback contribution",
        "revenue model fees commission discount",
        "competitor prices price comparison",
        "financial projections revenue break-even",
    ),
    ReportKind.LEGAL: (
        "regulation law compliance legal licence permit",
        "GDPR personal data privacy data protection",
        "consumer protection terms contract liability insurance",
        "authority regulator directive act standard certification",
        "employment tax VAT food safety health",
        "invoice e-invoicing electronic format interface export accessibility",
    ),
    ReportKind.FINAL: (
        "executive summary overview introduction",
        "risks threats mitigation",
    ),
}
SEARCH_LIMIT = 6

_RESULT_HEADER = re.compile(r"^\[(S\d+)\] (.+)$")


def retrieved_text(results: Iterable[str]) -> str:
    """The passages in research tool results, each under a ``Source`` header.

    Results list ``[S4] file, p. 3 — section`` lines each followed by the
    passage; a source shown before is listed without its text and skipped.
    """
    blocks: list[tuple[str, str, list[str]]] = []  # (id, label, text lines)
    for result in results:
        current: list[str] | None = None
        for line in result.splitlines():
            match = _RESULT_HEADER.match(line)
            if match:
                current = None
                if not match.group(2).endswith("(shown above)"):
                    current = []
                    blocks.append((match.group(1), match.group(2), current))
            elif current is not None:
                current.append(line)
    seen: set[str] = set()
    parts: list[str] = []
    for source_id, label, lines in blocks:
        body = "\n".join(lines).strip("\n")
        if source_id in seen or not body.strip():
            continue
        seen.add(source_id)
        where, _, section = label.partition(" — ")
        document = re.sub(r", p\. \d+$", "", where)
        parts.append(f"===== Source {source_id}: {document} | {section} =====\n{body}")
    return "\n\n".join(parts)


# -- parsing ---------------------------------------------------------------------


@dataclass(frozen=True)
class Passage:
    """A sentence, list item or table row, and where the plan has it."""

    text: str
    document: str
    section: str
    position: int
    # For table rows: the table's header cells and this row's cells.
    header: tuple[str, ...] = ()
    cells: tuple[str, ...] = ()
    # The run's source id of the passage it was cut from, when retrieved by a tool.
    source_id: str = ""

    @property
    def is_row(self) -> bool:
        """True for a table row."""
        return bool(self.cells)


@dataclass(frozen=True)
class Table:
    """A Markdown table of the plan."""

    document: str
    section: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass
class Plan:
    """The plan's text cut into passages and tables."""

    passages: list[Passage] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def text(self) -> str:
        """All passages joined (for whole-plan searches)."""
        return "\n".join(p.text for p in self.passages)


def _clean(text: str) -> str:
    text = re.sub(r"\*\*|__|`", "", text)
    text = re.sub(r"(?<!\w)\*(?=\S)|(?<=\S)\*(?!\w)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # links: keep the label
    return re.sub(r"\s+", " ", text).strip()


def _cells(line: str) -> tuple[str, ...]:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|"):
        inner = inner[:-1]
    return tuple(_clean(c) for c in inner.split("|"))


def _sentences(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        before = paragraph[start : match.start()].rstrip(".!?\"”’) ")
        last_word = before.rsplit(" ", 1)[-1].lower().strip("(\"“'[").rstrip(".")
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        pieces.append(paragraph[start : match.start()].strip())
        start = match.end()
    pieces.append(paragraph[start:].strip())
    return [p for p in pieces if p]


def parse_plan(text: str) -> Plan:
    """Cut the combined documents into passages and tables, in reading order."""
    plan = Plan()
    document = "plan"
    section = ""
    source_id = ""
    paragraph: list[str] = []
    table: list[str] = []
    position = 0

    def add(passage_text: str, **extra: tuple[str, ...]) -> None:
        nonlocal position
        cleaned = _clean(passage_text)
        if len(cleaned) < 3:
            return
        plan.passages.append(Passage(cleaned, document, section, position, **extra,
                                     source_id=source_id))
        position += 1

    def flush_paragraph() -> None:
        if paragraph:
            joined = " ".join(line.strip() for line in paragraph)
            if _LIST_ITEM.match(joined):
                add(_LIST_ITEM.sub("", joined, count=1))
            else:
                for sentence in _sentences(_clean(joined)):
                    add(sentence)
            paragraph.clear()

    def flush_table() -> None:
        if not table:
            return
        rows = [_cells(line) for line in table if not _TABLE_SEPARATOR.match(line.strip())]
        has_header = len(table) > 1 and _TABLE_SEPARATOR.match(table[1].strip()) is not None
        header = rows[0] if has_header else ()
        body = rows[1:] if has_header else rows
        plan.tables.append(Table(document, section, header, tuple(body)))
        for cells in body:
            add(_render_row(header, cells), header=header, cells=cells)
        table.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        source_match = _SOURCE_HEADER.match(stripped)
        if source_match:
            flush_paragraph()
            flush_table()
            source_id, document, section = source_match.groups()
            if document not in plan.documents:
                plan.documents.append(document)
            continue
        doc_match = _DOC_HEADER.match(stripped)
        if doc_match:
            flush_paragraph()
            flush_table()
            document = doc_match.group(1)
            plan.documents.append(document)
            section = ""
            continue
        if stripped.startswith("|"):
            flush_paragraph()
            table.append(stripped)
            continue
        flush_table()
        heading = _HEADING.match(stripped)
        if heading:
            flush_paragraph()
            section = _clean(heading.group(2))
            if not plan.title and len(heading.group(1)) == 1:
                plan.title = section
            continue
        if not stripped:
            flush_paragraph()
            continue
        if _LIST_ITEM.match(stripped):
            flush_paragraph()
        paragraph.append(stripped)
    flush_paragraph()
    flush_table()
    if not plan.title and plan.passages:
        plan.title = plan.passages[0].text[:120]
    return plan


def _render_row(header: Sequence[str], cells: Sequence[str]) -> str:
    if not cells:
        return ""
    first = cells[0]
    rest = [
        f"{name}: {value}" if name else value
        for name, value in zip(list(header[1:]) + [""] * len(cells), cells[1:], strict=False)
        if value
    ]
    return f"{first} — {'; '.join(rest)}" if rest else first
