"""Scout's extractive analyser: the reports the offline model writes.

No language model is involved. The plan's text is cut into passages
(sentences, list items, table rows), each remembered with the document and
section it came from; fixed patterns pick the passages that speak to each
section of a report's required outline, and a few figures are counted or
compared (amounts, percentages, named competitors, laws and authorities).
Every report says so at its top. The output depends only on the input text,
so the same plan always gives the same reports.

``patterns`` (fixed expressions and word lists) → ``parse`` (passages,
tables, ``Plan``) → ``pick`` (topics, cited bullets) → ``extract`` (places,
competitors, laws, price points) → ``writer`` (what every report shares) →
``market``, ``competition``, ``pricing``, ``legal`` (one writer per kind,
chosen in ``writers``) and ``synthesis`` (the final report). The typed
findings the offline model gives with its reports: ``amounts`` (money,
years, percentages) and ``flat_tables`` (tables PDF extraction flattened)
→ ``typed`` (findings per kind, the verdict); ``answers`` quotes passages
for the brief's questions.
"""

from scout_service.agents.analysis.amounts import _to_number, amounts
from scout_service.agents.analysis.answers import answer_questions
from scout_service.agents.analysis.extract import (
    PricePoint,
    _context,
    competitors,
    legal_references,
    own_names,
    places,
    price_points,
)
from scout_service.agents.analysis.flat_tables import FlatTable, flat_tables
from scout_service.agents.analysis.parse import (
    SEARCH_LIMIT,
    SEARCHES,
    Passage,
    Plan,
    Table,
    parse_plan,
    retrieved_text,
)
from scout_service.agents.analysis.patterns import (
    _SOURCE_HEADER,
    _STOPWORDS,
    AMOUNT,
    MAX_PASSAGE_CHARS,
    MAX_PASSAGES_PER_SECTION,
    MAX_QUOTE_CHARS,
    OFFLINE_MARKER,
    OFFLINE_NOTICE,
    PERCENT,
)
from scout_service.agents.analysis.pick import Topic, assign, bullets, pick, shorten
from scout_service.agents.analysis.synthesis import evidence_checks, report_sections, synthesise
from scout_service.agents.analysis.typed import findings, verdict
from scout_service.agents.analysis.writers import analyse

__all__ = [
    "AMOUNT",
    "FlatTable",
    "MAX_PASSAGES_PER_SECTION",
    "MAX_PASSAGE_CHARS",
    "MAX_QUOTE_CHARS",
    "OFFLINE_MARKER",
    "OFFLINE_NOTICE",
    "PERCENT",
    "Passage",
    "Plan",
    "PricePoint",
    "SEARCHES",
    "SEARCH_LIMIT",
    "Table",
    "Topic",
    "amounts",
    "analyse",
    "answer_questions",
    "assign",
    "bullets",
    "competitors",
    "evidence_checks",
    "findings",
    "flat_tables",
    "legal_references",
    "own_names",
    "parse_plan",
    "pick",
    "places",
    "price_points",
    "report_sections",
    "retrieved_text",
    "shorten",
    "synthesise",
    "verdict",
    "_SOURCE_HEADER",
    "_STOPWORDS",
    "_context",
    "_to_number",
]
