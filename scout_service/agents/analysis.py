"""Scout's extractive analyser: the reports the offline model writes.

No language model is involved. The plan's text is cut into passages
(sentences, list items, table rows), each remembered with the document and
section it came from; fixed patterns pick the passages that speak to each
section of a report's required outline, and a few figures are counted or
compared (amounts, percentages, named competitors, laws and authorities).
Every report says so at its top. The output depends only on the input text,
so the same plan always gives the same reports.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from scout_service.agents.prompts import agent_title, outline
from scout_service.domain import SPECIALISTS, ReportKind

MAX_PASSAGES_PER_SECTION = 8
MAX_PASSAGE_CHARS = 360
MAX_QUOTE_CHARS = 640

OFFLINE_NOTICE = (
    "> **Produced offline, without a language model.** Scout's extractive analyser wrote "
    "this report by selecting and counting passages of the uploaded plan with fixed rules; "
    "it does not understand, verify or add to them. Read it as an index of what the plan "
    "says{about}, and run Scout with a model provider for an actual analysis."
)
OFFLINE_MARKER = "Produced offline, without a language model"

_DOC_HEADER = re.compile(r"^===== Document: (.+?) \(.*\) =====$")
# A passage a research tool returned: its source id, file and section.
_SOURCE_HEADER = re.compile(r"^===== Source (S\d+): (.+?) \| (.*) =====$")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[\"“(]?[A-Z0-9À-Þ])")
_ABBREVIATIONS = frozenset(
    "e.g i.e no art approx vs etc inc ltd co st dr mr ms fig cf al resp incl excl".split()
)

_CURRENCY = r"(?:EUR|USD|GBP|SEK|NOK|DKK|CHF|ISK|PLN|CZK|CAD|AUD|JPY|INR|€|\$|£|kr\.?)"
_NUMBER = r"\d{1,3}(?:[,\u202f\u00a0 ]\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?"
_SCALE = r"(?:\s?(?:thousand|million|billion|trillion|bn|mn|m|k)\b)?"
AMOUNT = re.compile(
    rf"(?:{_CURRENCY}\s?(?:{_NUMBER}){_SCALE}|(?:{_NUMBER}){_SCALE}\s?{_CURRENCY}(?![A-Za-z]))"
)
PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s?%")
_PER_UNIT = re.compile(
    r"\bper (month|week|year|annum|box|portion|unit|seat|user|person|meal|order|drop|delivery|"
    r"customer|subscriber|hour|day|kg|m²|m2|licen[cs]e)\b|/(month|mo|week|wk|year|yr|unit|seat|"
    r"user)\b",
    re.IGNORECASE,
)
_CAPITALISED = r"[A-ZÀ-ÖØ-Þ][\w'’&.-]*"

_STOPWORDS = frozenset(
    """A An And Are As At Be But By Each Every For From Has Have He Her His How If In Into Is It
    Its Most Much Not Of On Or Our Ours She So Some Such That The Their Them Then There These
    They This Those To Under Up Us We What When Where Which While Who Why With Within Without
    You Your All Any Both Existing Industry Price Prices Pricing Table Competitor Competitors
    Competition Market Markets Offer Notes Note Plan Plans Global Large Smaller Small Online
    Swedish Nordic European Norwegian Danish Finnish German French British American Strong
    Weak Their Whose Also Only Other Others Customers Customer Source Sources Total Key Per
    Q1 Q2 Q3 Q4 January February March April May June July August September October November
    December Monday Tuesday Wednesday Thursday Friday Saturday Sunday TAM SAM SOM VAT EBITDA
    CAC LTV GDPR EU EEA Box Boxes Weekly Monthly Free Delivery""".split()
)

_COUNTRIES = (
    "Sweden Norway Denmark Finland Iceland Estonia Latvia Lithuania Germany France Spain Portugal "
    "Italy Netherlands Belgium Luxembourg Austria Switzerland Poland Czechia Slovakia Hungary "
    "Slovenia Croatia Romania Bulgaria Greece Cyprus Malta Ireland United Kingdom UK England "
    "Scotland Wales United States USA US Canada Mexico Brazil Argentina Chile Colombia India "
    "China Japan Korea Singapore Australia New Zealand South Africa Nigeria Kenya Egypt Turkey "
    "Israel United Arab Emirates UAE Saudi Arabia Ukraine"
).split()
_MULTIWORD_COUNTRIES = (
    "United Kingdom",
    "United States",
    "New Zealand",
    "South Africa",
    "United Arab Emirates",
    "Saudi Arabia",
)
_REGIONS = (
    "Nordics",
    "Nordic countries",
    "Scandinavia",
    "Baltics",
    "Europe",
    "European Union",
    "EU",
    "EEA",
    "DACH",
    "Benelux",
    "EMEA",
    "North America",
    "Latin America",
    "Asia",
    "APAC",
)
_PLACE_AFTER_PREPOSITION = re.compile(
    rf"\b(?:in|to|from|across|throughout|around|into)\s+({_CAPITALISED}(?:\s{_CAPITALISED})?"
    rf"(?:\s*(?:,|and|&)\s*{_CAPITALISED}(?:\s{_CAPITALISED})?)*)"
)

_LAW_PATTERNS = (
    re.compile(r"\bRegulation \((?:EU|EC|EEC)\) (?:No\.? )?\d+/\d+"),
    re.compile(r"\bDirective (?:\((?:EU|EC)\) )?\d{2,4}/\d+(?:/(?:EU|EC|EEC))?"),
    re.compile(r"\b\d{4}/\d+/(?:EU|EC|EEC)\b"),
    re.compile(r"\bSFS \d{4}:\d+"),
    re.compile(r"\bGDPR\b"),
    re.compile(
        r"\b(?:the )?(?:[A-Z][\w-]+ ){1,5}(?:Act|Code|Law|Regulation)\b(?: \(?\d{4}:\d+\)?)?"
    ),
    re.compile(r"\b[A-ZÅÄÖ][a-zåäöæø]+(?:lagen|lag|loven|förordningen)\b(?: \d{4}:\d+)?"),
)
_AUTHORITY_PATTERNS = (
    re.compile(
        r"\b(?:[A-Z][\w-]+ ){1,5}(?:Agency|Authority|Commission|Inspectorate|Ombudsman|Board|"
        r"Ministry|Supervisory|Administration)\b"
    ),
    re.compile(r"\b[A-ZÅÄÖ][a-zåäöæø]+(?:verket|myndigheten|inspektionen|tilsynet|styrelsen)\b"),
    re.compile(r"\b[A-Z][a-zåäö]+ municipality\b"),
)


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


# -- picking passages --------------------------------------------------------------


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass(frozen=True)
class Topic:
    """What makes a passage relevant to one section of a report."""

    text: re.Pattern[str]
    # Section headings of the plan whose passages count double.
    heading: re.Pattern[str] | None = None
    # Extra condition a passage must meet (beyond matching ``text``).
    require: Callable[[Passage], bool] | None = None


def _score(passage: Passage, topic: Topic) -> int:
    hits = len({m.group(0).lower() for m in topic.text.finditer(passage.text)})
    if hits == 0 or (topic.require is not None and not topic.require(passage)):
        return 0
    score = hits
    if topic.heading is not None and topic.heading.search(passage.section):
        score += 2
    if AMOUNT.search(passage.text) or PERCENT.search(passage.text):
        score += 1
    return score


def pick(
    plan: Plan,
    topic: Topic,
    used: set[int],
    *,
    limit: int = MAX_PASSAGES_PER_SECTION,
    pool: Iterable[Passage] | None = None,
) -> list[Passage]:
    """The best passages for ``topic`` not used yet, in reading order."""
    scored = [
        (score, p)
        for p in (plan.passages if pool is None else pool)
        if p.position not in used and (score := _score(p, topic)) > 0
    ]
    scored.sort(key=lambda item: (-item[0], item[1].position))
    chosen = sorted((p for _, p in scored[:limit]), key=lambda p: p.position)
    used.update(p.position for p in chosen)
    return chosen


def assign(
    plan: Plan, topics: Sequence[Topic], used: set[int], *, limit: int, min_score: int = 1
) -> list[list[Passage]]:
    """Give each passage to the topic it fits best; the best ``limit`` of each, in order.

    For sections that compete for the same passages (a legal paragraph names
    a regulation *and* personal data), best fit beats first come.
    """
    buckets: list[list[tuple[int, Passage]]] = [[] for _ in topics]
    for passage in plan.passages:
        if passage.position in used:
            continue
        scores = [_score(passage, topic) for topic in topics]
        best = max(scores, default=0)
        if best >= min_score:
            buckets[scores.index(best)].append((best, passage))
    chosen: list[list[Passage]] = []
    for bucket in buckets:
        bucket.sort(key=lambda item: (-item[0], item[1].position))
        passages = sorted((p for _, p in bucket[:limit]), key=lambda p: p.position)
        used.update(p.position for p in passages)
        chosen.append(passages)
    return chosen


def shorten(text: str, limit: int = MAX_PASSAGE_CHARS) -> str:
    """``text`` cut at a word boundary before ``limit`` characters, marked " …"."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + " …"


def _source(passage: Passage, plan: Plan) -> str:
    if passage.source_id:
        return f"[{passage.source_id}]"
    where = passage.section or "untitled section"
    if len(plan.documents) > 1:
        where = f"{passage.document} › {where}"
    return where


def bullets(passages: Sequence[Passage], plan: Plan) -> list[str]:
    """Quoted passages as Markdown bullets with their source.

    A retrieved passage is quoted word for word and cited by its source id
    (table rows, which the analyser re-renders, are cited without quotes).
    """
    out = []
    for p in passages:
        if not p.source_id:
            out.append(f"- {shorten(p.text)} *({_source(p, plan)})*")
        elif p.is_row:
            out.append(f"- {shorten(p.text)} [{p.source_id}]")
        else:  # a verified quote: longer sentences are worth keeping whole
            out.append(f"- “{shorten(p.text, MAX_QUOTE_CHARS)}” [{p.source_id}]")
    return out


def _markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |",
             "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


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


# -- writing the reports ----------------------------------------------------------------


def _section(heading: str, lines: Sequence[str], empty: str) -> list[str]:
    return [heading, "", *(lines or [empty]), ""]


_NOTHING = "_The analyser found nothing on this in the plan._"


class _Writer:
    """Builds one specialist report section by section."""

    def __init__(self, kind: ReportKind, plan: Plan, about: str) -> None:
        self.kind = kind
        self.plan = plan
        self.headings = outline(kind)
        self.used: set[int] = set()
        self.gaps: list[str] = []
        self.lines: list[str] = [
            self.headings[0],
            "",
            OFFLINE_NOTICE.format(about=f" about {about}"),
            "",
            _scope_line(plan),
            "",
        ]
        self._next = 1

    def section(self, lines: Sequence[str], gap: str | None = None) -> None:
        heading = self.headings[self._next]
        self._next += 1
        if not lines and gap:
            self.gaps.append(gap)
        self.lines += _section(heading, lines, _NOTHING)

    def topic(self, topic: Topic, gap: str, *, limit: int = MAX_PASSAGES_PER_SECTION,
              before: Sequence[str] = ()) -> None:
        chosen = bullets(pick(self.plan, topic, self.used, limit=limit), self.plan)
        lines = [*before, *([""] if before and chosen else []), *chosen]
        self.section(lines, gap if not lines else None)

    def finish(self, extra_gaps: Sequence[str] = (), tail: Sequence[str] = ()) -> str:
        gaps = [*self.gaps, *extra_gaps]
        self.section([f"- {g}" for g in gaps] or ["- No gap detected by the analyser's checks."])
        for heading in self.headings[self._next :]:
            self.lines += [heading, "", *tail, ""]
        return "\n".join(self.lines).rstrip() + "\n"


def _scope_line(plan: Plan) -> str:
    docs = ", ".join(plan.documents) if plan.documents else "the uploaded plan"
    if any(p.source_id for p in plan.passages):
        return (
            f"Source: {docs} ({len(plan.passages)} passages retrieved by searching the "
            "documents). Each bullet quotes a retrieved passage word for word and cites its "
            "source id in brackets; the Sources list at the end says where each one is."
        )
    return (
        f"Source: {docs} ({len(plan.passages)} passages read). Each bullet quotes the plan; "
        "the section it comes from is in brackets."
    )


def _market(plan: Plan) -> str:
    w = _Writer(ReportKind.MARKET, plan, "its market")
    w.topic(
        Topic(
            _rx(r"\b(deliver|sell|offer|provide|platform|service|product|subscription|"
                r"market for|we make|we build)\w*"),
            heading=_rx(r"summary|overview|product|business|concept|introduction|solution"),
            require=lambda p: not p.is_row,
        ),
        "The plan does not define its market in a sentence the analyser could find.",
        limit=4,
    )
    size = Topic(
        _rx(r"\bTAM\b|\bSAM\b|\bSOM\b|total addressable|serviceable|obtainable|market size|"
            r"market (?:is|was) (?:estimated|valued|worth)|valued at|worth|\bbillion\b|"
            r"\bmillion\b|\bpenetration\b|households"),
        heading=_rx(r"market|size|opportunity"),
        require=lambda p: bool(_BIG_FIGURE.search(p.text)) and bool(_MARKET_WORDS.search(p.text)),
    )
    layers = [
        p for p in plan.passages
        if p.is_row and p.cells and re.fullmatch(r"(TAM|SAM|SOM)\b.*", p.cells[0])
    ]
    w.used.update(p.position for p in layers)
    size_lines = bullets(pick(plan, size, w.used), plan)
    if layers:
        size_lines = [
            *_markdown_table(
                ("Layer", "As stated in the plan"),
                [(p.cells[0], "; ".join(c for c in p.cells[1:] if c)
                  + (f" [{p.source_id}]" if p.source_id else "")) for p in layers],
            ),
            "",
            *size_lines,
        ]
    w.section(size_lines, "No market size (TAM, SAM or SOM) with a figure was found.")
    w.topic(
        Topic(
            _rx(r"\b(customers?|segments?|households?|families|family|couples|consumers|users|"
                r"buyers|audience|target (?:customers?|groups?|audience|segments?|market)|"
                r"personas?|SMEs?|enterprises?|B2B|B2C|professionals|students|aged)\b"),
            heading=_rx(r"target|customer|segment"),
            require=lambda p: not p.is_row and not _NOT_SEGMENT_SECTION.search(p.section),
        ),
        "No customer segment is described.",
        limit=6,
    )
    trend_lines = bullets(
        pick(plan, Topic(
            _rx(r"\b(grow|grew|growth|growing|CAGR|trends?|increas\w*|declin\w*|adoption|"
                r"rising|demand|drivers?|annually|year-on-year|penetration)\b"),
            heading=_rx(r"market|trend|opportunity|problem"),
            require=lambda p: bool(_TREND_WORDS.search(p.text))
            or bool(re.search(r"market|trend|opportunity|problem", p.section, re.I)),
        ), w.used, limit=6),
        plan,
    )
    rates = _growth_rates(plan)
    if rates:
        trend_lines = [f"Growth rates stated in the plan: {', '.join(rates)}.", "", *trend_lines]
    w.section(trend_lines, "No growth rate or demand trend is given.")
    w.topic(
        Topic(
            _rx(r"\b(problem|pain|customers? needs?|needs of|wants?|struggl|frustrat|waste|"
                r"throw away|time-consuming|takes|hours|expensive|perceived|survey|report that|"
                r"say that|complain|reason)\w*"),
            heading=_rx(r"problem|need|customer|pain"),
            require=lambda p: not _LEGAL_SECTION.search(p.section),
        ),
        "The plan gives no evidence of customer needs (survey, interviews, churn reasons).",
    )
    found_places = places(plan)
    places_rx = _names_rx(found_places)
    geo_lines = bullets(
        pick(plan, Topic(  # a passage already quoted above may be quoted here again
            _rx(r"\b(launch|expand|expansion|cit(?:y|ies)|countr(?:y|ies)|regions?|"
                r"metropolitan|nationwide|international|postcodes?|starting|areas?)\w*"),
            heading=_rx(r"go-to-market|market|expansion|geograph"),
            require=lambda p: bool(places_rx and places_rx.search(p.text)),
        ), set(), limit=4),
        plan,
    )
    if found_places:
        geo_lines = [f"Places named in the plan: {', '.join(found_places)}.", "", *geo_lines]
    w.section(geo_lines, "The plan does not say where it sells.")
    extra = []
    if not layers and not any("SOM" in p.text for p in plan.passages):
        extra.append("No obtainable market (SOM) or target share is stated.")
    return w.finish(extra)


_MARKET_WORDS = _rx(r"\bmarkets?\b|\bTAM\b|\bSAM\b|\bSOM\b|\bhouseholds\b|\bpenetration\b|"
                    r"\bspend\b|addressable")
_BIG_FIGURE = re.compile(
    r"\b(?:million|billion|bn)\b|\b\d{1,3}(?:,\d{3}){2,}\b|\b\d{2,3},\d{3}\b|%|" + AMOUNT.pattern
)
_TREND_WORDS = _rx(r"\b(?:grow|grew|growth|growing|CAGR|trends?|adoption|penetration|rising|"
                   r"increasing|declining)\b|\bshift(?:s|ing)? (?:to|from|towards)\b")
_NOT_SEGMENT_SECTION = _rx(
    r"regulat|legal|compliance|go-to-market|financ|pric|operation|risk|team|problem"
)
_LEGAL_SECTION = _rx(r"regulat|legal|compliance")


def _growth_rates(plan: Plan) -> list[str]:
    rates: list[str] = []
    for passage in plan.passages:
        if re.search(r"grow|growth|CAGR|per year|annually|year-on-year", passage.text, re.I):
            for match in PERCENT.finditer(passage.text):
                context = passage.text[max(0, match.start() - 60) : match.end() + 60]
                if re.search(r"grow|growth|CAGR|per year|annually|year-on-year", context, re.I):
                    value = f"{match.group(0)} ({_source(passage, plan)})"
                    if value not in rates:
                        rates.append(value)
    return rates[:6]


def _competition(plan: Plan) -> str:
    w = _Writer(ReportKind.COMPETITION, plan, "its competitors")
    names = competitors(plan)
    own = own_names(plan)
    lines: list[str] = []
    for name in names:
        mentions = [p for p in plan.passages if name in p.text]
        row = next((p for p in mentions if p.is_row and p.cells[0].startswith(name)), None)
        detail = shorten(row.text[len(row.cells[0]) :].lstrip(" —"), 240) if row else ""
        count = len(mentions)
        lines.append(
            f"- **{name}** — named {count} time{'s' if count != 1 else ''} in the plan"
            + (f"; {detail}" if detail else "")
        )
        if row is not None:
            w.used.add(row.position)
    w.section(lines, "The plan names no competitor.")

    w.topic(
        Topic(
            _rx(r"\b(alternatives?|instead|substitut\w*|supermarkets?|grocer\w*|restaurants?|"
                r"takeaway|take-away|delivery apps?|themselves|DIY|in-house|manual|"
                r"spreadsheets?|status quo|add-on|convenience)\b"),
            heading=_rx(r"competit|alternative|market"),
            require=lambda p: not p.is_row and not re.search(r"team|legal|regulat", p.section,
                                                             re.I),
        ),
        "No indirect competitor or alternative (what customers do today) is described.",
        limit=5,
    )

    comparison = [
        t for t in plan.tables
        if t.header and re.search(r"competitor|company|player|brand|rival", t.header[0], re.I)
    ]
    position_lines: list[str] = []
    for table in comparison:
        position_lines += _markdown_table(table.header, table.rows)
        position_lines.append("")
    name_rx = _names_rx(names)
    position_lines += bullets(
        pick(plan, Topic(
            _rx(r"\b(price|prices|priced|cheaper|premium|discount|share|position\w*|per portion|"
                r"per box|per month|lower|higher)\b"),
            heading=_rx(r"competit"),
            require=lambda p: bool(name_rx and name_rx.search(p.text)) and not p.is_row,
        ), w.used, limit=5),
        plan,
    )
    w.section(position_lines, "No competitor prices or positions are given.")

    w.topic(
        Topic(
            _rx(r"\b(strong|strength|leader|leading|large|weak|weakness|churn|expensive|cheap|"
                r"advantage|disadvantage|brand|loyal\w*|discounts?|pioneer|focus\w*|limited|slow|"
                r"hold|share)\b"),
            heading=_rx(r"competit|risk"),
            require=lambda p: bool(name_rx and name_rx.search(p.text)),
        ),
        "No competitor strength or weakness is described.",
    )
    own_rx = _names_rx(sorted(own))
    w.topic(
        Topic(
            _rx(r"\b(differen\w*|unique|unlike|edge|advantage|competes? on|position\w*|USP|"
                r"only|first|lower price|instead of|sustainab\w*|local\w*)\b"),
            heading=_rx(r"summary|competit|product|position"),
            require=lambda p: not p.is_row and (
                bool(own_rx and own_rx.search(p.text)) or bool(re.search(r"\b(our|we)\b",
                                                                           p.text, re.I))
            ),
        ),
        "The plan does not say how it differs from competitors.",
        limit=5,
    )
    w.topic(
        Topic(
            _rx(r"\b(barriers?|switching|scale|capital|network effects?|lock-in|patents?|"
                r"exclusive|economies|price war|retaliat\w*|copy|imitat\w*|regulat\w*|"
                r"brand loyalty|cost base)\b"),
            heading=_rx(r"competit|risk|barrier"),
            require=lambda p: bool(re.search(r"competit|risk|barrier", p.section, re.I))
            or bool(_BARRIER_WORDS.search(p.text)),
        ),
        "No barrier to entry or incumbent reaction is discussed.",
        limit=5,
    )
    extra = []
    if len(names) == 1:
        extra.append("Only one competitor is named; a like-for-like comparison needs more.")
    if names and not comparison:
        extra.append("Competitors are named but not compared side by side (offer, price).")
    return w.finish(extra)


_BARRIER_WORDS = _rx(r"\b(barriers?|switching costs?|economies of scale|network effects?|"
                     r"lock-in|patents?|price war|retaliat\w*|imitat\w*|brand loyalty)\b")


def _names_rx(names: Sequence[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    return re.compile("|".join(rf"(?<!\w){re.escape(n)}(?!\w)" for n in names))


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


_LEGAL_TOPICS: tuple[tuple[str, str, str], ...] = (
    (
        r"\b(licen[cs]e\w*|permits?|registration|registered|register|authori[sz]ation|approval|"
        r"certif\w*|notif\w*)\b",
        r"regulat|legal|compliance|licen",
        "The plan names no licence, permit or registration; check what the activity needs.",
    ),
    (
        r"\b(regulations?|directives?|hygiene|HACCP|food safety|safety|standards?|packaging|"
        r"environment\w*|producer responsibility|allergens?|labell?ing|cold chain|inspection|"
        r"control authority)\b",
        r"regulat|legal|compliance|operation",
        "No sector-specific regulation is discussed.",
    ),
    (
        r"\b(GDPR|data protection|personal data|privacy|consent|processors?|controller|DPO|"
        r"Article 9|Article 28|cookies?|encryption|breach|2016/679|special category)\b",
        r"regulat|legal|compliance|data|privacy|risk",
        "The plan does not address data protection (GDPR) although most businesses process "
        "personal data.",
    ),
    (
        r"\b(consumers?|distance|withdrawal|cancel\w*|refunds?|warrant\w*|price information|"
        r"lowest-price|price reductions?|unfair|terms and conditions|2011/83)\b",
        r"regulat|legal|compliance|consumer",
        "Consumer law (distance selling, withdrawal, cancellation) is not addressed.",
    ),
    (
        r"\b(trade ?marks?|brand names?|patents?|copyright|intellectual property|design rights?|"
        r"domain names?|recipes? (?:are|is) owned)\b",
        r"legal|ip|brand|intellectual",
        "Intellectual property (name, trade mark, content, software) is not addressed.",
    ),
    (
        r"\b(employ\w*|staff|hir\w*|contractors?|collective agreements?|working time|wages?|"
        r"salar\w*|unions?|shifts?|work environment|health and safety)\b",
        r"team|staff|operation|employ|organi[sz]ation",
        "Employment (contracts, collective agreements, working time) is not addressed.",
    ),
    (
        r"\b(contracts?|agreements?|lease\w*|liabilit\w*|insurance|indemn\w*|suppliers?|SLA)\b",
        r"legal|operation|risk|partner",
        "No key contract, liability or insurance arrangement is described.",
    ),
    (
        r"\b(VAT|tax\w*|excise|duty|duties)\b",
        r"financ|pric|tax|legal",
        "Tax (VAT rate and registration) is not mentioned.",
    ),
)


def _legal(plan: Plan) -> str:
    w = _Writer(ReportKind.LEGAL, plan, "its legal and regulatory position")
    laws, authorities = legal_references(plan)
    jurisdictions = [
        p for p in places(plan)
        if p in _COUNTRIES or p in _MULTIWORD_COUNTRIES or p in _REGIONS
    ]
    scope: list[str] = []
    scope.append(
        "- Jurisdictions named in the plan: "
        + (", ".join(jurisdictions) if jurisdictions else "none found")
        + ". Rules differ between countries: every point below applies only where the plan "
        "says it operates, and must be checked for each new country it enters."
    )
    scope += [
        "",
        "### Laws, regulations and authorities named in the plan",
        "",
        *([f"- {law}" for law in laws] or ["- No law or regulation is named."]),
        *[f"- {authority} (authority)" for authority in authorities],
    ]
    w.section(scope, None if jurisdictions else "The plan does not say which countries' law "
                                                   "applies.")
    # Passages under a legal heading first; elsewhere only clear mentions (two terms or more,
    # except for tax, where one "VAT" says enough).
    in_legal = [
        Topic(_rx(pattern), heading=_rx(heading),
              require=lambda p: bool(_LEGAL_SECTION.search(p.section)))
        for pattern, heading, _ in _LEGAL_TOPICS
    ]
    elsewhere = [
        Topic(_rx(pattern), heading=_rx(heading),
              require=_clear_mention(pattern, 1 if "VAT" in pattern else 2))
        for pattern, heading, _ in _LEGAL_TOPICS
    ]
    first = assign(plan, in_legal, w.used, limit=6)
    second = assign(plan, elsewhere, w.used, limit=3)
    for (_, _, gap), a, b in zip(_LEGAL_TOPICS, first, second, strict=True):
        w.section(bullets(sorted(a + b, key=lambda p: p.position), plan), gap)
    disclaimer = [
        "This report is **not legal advice**. It lists what the plan itself says about legal "
        "and regulatory matters, found by keyword rules without a language model and without "
        "knowing the facts the plan leaves out. Laws differ between jurisdictions and change "
        "over time; a lawyer qualified in each jurisdiction where the business operates must "
        "review these points before anyone relies on them.",
    ]
    return w.finish(tail=disclaimer)


def _clear_mention(pattern: str, hits: int) -> Callable[[Passage], bool]:
    return lambda passage: _distinct_hits(passage, pattern) >= hits


def _distinct_hits(passage: Passage, pattern: str) -> int:
    return len({m.group(0).lower() for m in re.finditer(pattern, passage.text, re.IGNORECASE)})


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


# -- synthesis -------------------------------------------------------------------------


def report_sections(report: str) -> dict[str, list[str]]:
    """A Markdown report's ``## `` sections: heading text → content lines (non-empty)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in report.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        elif current is not None and line.strip() and not line.startswith("### "):
            current.append(line.rstrip())
    return sections


def _section_of(sections: Mapping[str, list[str]], pattern: str) -> list[str]:
    for heading, lines in sections.items():
        if re.search(pattern, heading, re.IGNORECASE):
            return lines
    return []


def _bullets_of(lines: Sequence[str]) -> list[str]:
    return [line[2:].strip() for line in lines if line.startswith("- ")]


def _has_evidence(lines: Sequence[str]) -> bool:
    return any(
        (line.startswith("- ") or line.startswith("|")) and not line.startswith("| ---")
        for line in lines
    ) and not all(_NOTHING in line for line in lines)


def synthesise(
    reports: Mapping[ReportKind, str], missing: Mapping[ReportKind, str], documents: str
) -> str:
    """The final report from the saved specialist reports (and the plan for context)."""
    plan = parse_plan(documents)
    parsed = {kind: report_sections(text) for kind, text in reports.items()}
    headings = outline(ReportKind.FINAL)
    out = [
        headings[0],
        "",
        OFFLINE_NOTICE.format(about=" and what the specialist reports quoted from it"),
        "",
        f"Built from {len(reports)} of 4 specialist reports"
        + (f" ({', '.join(k.title.lower() for k in SPECIALISTS if k in reports)})."
           if reports else "."),
        "",
    ]

    # 1. Executive summary
    summary_passages = [
        p for p in plan.passages
        if re.search(r"summary|overview|introduction", p.section, re.I) and not p.is_row
    ][:3] or [p for p in plan.passages if not p.is_row][:2]
    summary = ["**The plan, in its own words:**", ""]
    summary += bullets(summary_passages, plan) or ["- (no summary found in the plan)"]
    summary += ["", "**What the specialist reports found:**", ""]
    summary += _headlines(parsed) or ["- No specialist report was available."]
    out += _section(headings[1], summary, "")

    # 2. Recommendation
    checks = evidence_checks(parsed)
    passed = sum(ok for _, ok in checks)
    if passed == len(checks):
        verdict = "GO to the next stage of due diligence (conditional go)"
    elif passed >= len(checks) - 2:
        verdict = "CONDITIONAL GO: close the gaps marked ✗ before deciding"
    else:
        verdict = "NO-GO for now: the plan lacks too much of the evidence a decision needs"
    rec = [
        f"**Offline heuristic, not a recommendation by a model: {verdict}.**",
        "",
        f"The heuristic only counts which kinds of evidence the plan and the saved reports "
        f"contain ({passed} of {len(checks)} checks passed); it does not judge whether that "
        "evidence is credible or whether the business is attractive.",
        "",
        *[f"- {'✓' if ok else '✗'} {label}" for label, ok in checks],
    ]
    out += _section(headings[2], rec, "")

    # 3. Key findings
    findings: list[str] = []
    for kind in SPECIALISTS:
        if kind not in parsed:
            continue
        findings += [f"### {kind.title}", ""]
        picked = []
        for heading, lines in parsed[kind].items():
            if re.search(r"gaps|not legal advice", heading, re.I):
                continue
            finding = _first_finding(lines)
            if finding:
                picked.append(f"- {heading.split('. ', 1)[-1]}: {finding}")
            if len(picked) >= 4:
                break
        findings += (picked or ["- (no findings)"]) + [""]
    out += _section(headings[3], findings, "_No specialist report was available._")

    # 4. Key risks
    risks: list[str] = []
    risk_rows = [
        p for p in plan.passages if re.search(r"risk", p.section, re.I)
    ][:6]
    if risk_rows:
        risks += ["Risks the plan itself lists:", "", *bullets(risk_rows, plan), ""]
    for kind in SPECIALISTS:
        if kind in missing:
            risks.append(
                f"- **No {kind.title.lower()}** ({missing[kind]}): every conclusion about this "
                "area rests on no analysis."
            )
    gaps = _all_gaps(parsed)
    if gaps:
        risks += ["", "Evidence the plan does not give (from the reports' gap sections):", ""]
        risks += [f"- {area}: {gap}" for area, gap in gaps[:8]]
    out += _section(headings[4], risks, "_No risk found by the analyser._")

    # 5. Next steps
    steps: list[str] = []
    for kind in SPECIALISTS:
        if kind in missing:
            steps.append(f"Re-run the research to obtain the {kind.title.lower()} "
                         f"(it is missing: {missing[kind]}).")
    steps += [f"Find evidence for the gap in {area.lower()}: {gap}" for area, gap in gaps[:5]]
    steps.append("Check every quoted figure against an independent source before relying on it.")
    if ReportKind.LEGAL in parsed:
        steps.append("Have a lawyer qualified in each target jurisdiction review the legal "
                     "report.")
    steps.append("Run Scout with a model provider (bedrock, anthropic, openai or ollama) for an "
                 "analytical rather than extractive dossier.")
    out += _section(headings[5], [f"{i}. {s}" for i, s in enumerate(steps, 1)], "")

    # 6. Missing specialist reports
    missing_lines = [
        f"- **{kind.title}** (`{kind.value}`): {missing[kind]}"
        for kind in SPECIALISTS if kind in missing
    ]
    out += _section(
        headings[6], missing_lines,
        "None: all four specialist reports were saved for this run.",
    )
    return "\n".join(out).rstrip() + "\n"


def _first_finding(lines: Sequence[str]) -> str | None:
    """A section's lead: its summary line, else its table in brief, else its first bullet."""
    for line in lines:
        if not line.startswith(("- ", "|", "_", "1.")) and not line.endswith(":"):
            return line
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| ---")]
    if len(rows) > 1:
        cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:4]]
        return "; ".join(" ".join(c for c in row[:3] if c) for row in cells) + (
            " …" if len(rows) > 4 else "")
    found = _bullets_of(lines)
    return found[0] if found else None


def _headlines(parsed: Mapping[ReportKind, Mapping[str, list[str]]]) -> list[str]:
    lines: list[str] = []
    market = parsed.get(ReportKind.MARKET)
    if market is not None:
        size = _section_of(market, r"size")
        rows = [line for line in size if line.startswith("| ") and not line.startswith("| ---")]
        if len(rows) > 1:
            lines.append("- Market: " + "; ".join(
                " ".join(c.strip() for c in row.strip("|").split("|")) for row in rows[1:4]
            ) + ".")
        elif _bullets_of(size):
            lines.append(f"- Market: {_bullets_of(size)[0]}")
        rates = [line for line in _section_of(market, r"trend") if line.startswith("Growth")]
        if rates:
            lines.append(f"- {rates[0]}")
    competition = parsed.get(ReportKind.COMPETITION)
    if competition is not None:
        names = re.findall(r"^- \*\*(.+?)\*\*", "\n".join(_section_of(competition, r"direct")),
                           re.M)
        if names:
            lines.append(f"- Competitors named: {', '.join(names)}.")
    price = parsed.get(ReportKind.PRICE)
    if price is not None:
        spread = [b for b in _bullets_of(_section_of(price, r"price points"))
                  if b.startswith("Amounts")]
        if spread:
            lines.append(f"- Prices: {spread[0]}")
    legal = parsed.get(ReportKind.LEGAL)
    if legal is not None:
        refs = [b for b in _bullets_of(_section_of(legal, r"jurisdiction"))
                if not b.startswith("Jurisdictions") and not b.startswith("No law")]
        lines.append(f"- Legal: {len(refs)} laws, regulations or authorities named in the plan.")
    return lines


def evidence_checks(
    parsed: Mapping[ReportKind, Mapping[str, list[str]]],
) -> list[tuple[str, bool]]:
    """The kinds of evidence a decision needs, and whether the reports hold each."""
    def has(kind: ReportKind, pattern: str) -> bool:
        sections = parsed.get(kind)
        return sections is not None and _has_evidence(_section_of(sections, pattern))

    legal = parsed.get(ReportKind.LEGAL, {})
    legal_points = sum(
        len(_bullets_of(lines)) for heading, lines in legal.items()
        if not re.search(r"jurisdiction|gaps|advice", heading, re.I)
    )
    return [
        ("all four specialist reports were saved", len(parsed) == 4),
        ("the market size is quantified", has(ReportKind.MARKET, r"size")),
        ("growth or demand trends are stated", has(ReportKind.MARKET, r"trend")),
        ("competitors are named", has(ReportKind.COMPETITION, r"direct")),
        ("price points are stated", has(ReportKind.PRICE, r"price points")),
        ("unit economics are stated", has(ReportKind.PRICE, r"unit economics")),
        ("regulatory points are identified", legal_points >= 3),
    ]


def _all_gaps(parsed: Mapping[ReportKind, Mapping[str, list[str]]]) -> list[tuple[str, str]]:
    gaps: list[tuple[str, str]] = []
    for kind in SPECIALISTS:
        sections = parsed.get(kind)
        if sections is None:
            continue
        for gap in _bullets_of(_section_of(sections, r"gaps"))[:2]:
            if not gap.startswith("No gap detected"):
                gaps.append((agent_title(kind).replace(" analyst", ""), gap))
    return gaps
