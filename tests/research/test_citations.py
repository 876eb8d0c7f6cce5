"""Citation checks, passages and the FTS5 index (fast unit tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scout_service.documents import extract_text
from scout_service.domain import ReportKind, Source, SourceKind
from scout_service.research import citations
from scout_service.research.index import CorpusCache, IndexBuilder
from scout_service.research.passages import MAX_CHARS, split_passages
from scout_service.research.sources import SourceRegistry
from scout_service.store import MemoryStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _source(sid: str, excerpt: str) -> Source:
    return Source(session_id="s", run_id="r", source_id=sid, kind=SourceKind.DOCUMENT,
                  excerpt=excerpt, retrieved_at=0.0, sha256="x", file_name="plan.md",
                  section="Pricing")


SOURCES = {
    "S1": _source("S1", "The **Family box** costs EUR 79 per week, delivered on Sundays."),
    "S2": _source("S2", "Competitor HelloFresh charges EUR 89\nper week for four portions."),
}


def test_a_report_citing_known_sources_with_faithful_quotes_passes() -> None:
    text = ('The family box “costs EUR 79 per week” [S1]; HelloFresh "charges EUR 89 per '
            'week" [S2][S1]. Prices … compared [S2].')
    assert citations.check(text, SOURCES) == []


def test_unknown_ids_are_named() -> None:
    problems = citations.check("Market is big [S9] and growing [S12][S1].", SOURCES)
    assert len(problems) == 1 and "S9, S12" in problems[0]


def test_a_misquote_is_refused_and_ellipses_split_fragments() -> None:
    assert citations.check('It "costs EUR 69 per week" [S1].', SOURCES)
    assert citations.check('“The Family box … on Sundays” [S1]', SOURCES) == []
    # fragments must come in order
    assert citations.check('“on Sundays … The Family box” [S1]', SOURCES)
    # a quote is held against the sources it cites, not any source
    assert citations.check('"charges EUR 89" [S1]', SOURCES)


def test_authored_sources_section_is_replaced_by_the_servers() -> None:
    text = "# Price\n\nEUR 79 [S1].\n\n## Sources\n\n- [S1] made up by the model\n"
    stored, cited = citations.with_sources(text, SOURCES)
    assert cited == ("S1",)
    assert "made up by the model" not in stored
    assert stored.rstrip().endswith("- [S1] plan.md — Pricing")
    assert citations.without_sources(stored).rstrip() == "# Price\n\nEUR 79 [S1]."


def test_a_sources_heading_followed_by_more_sections_is_kept() -> None:
    text = "# R\n\n## Sources\n\nof revenue\n\n## Next\n\nmore\n"
    assert citations.strip_authored_sources(text) == text


@given(st.text(min_size=3, max_size=200))
def test_any_excerpt_quotes_itself(excerpt: str) -> None:
    if '"' in excerpt or "\n" in excerpt or "…" in excerpt or "..." in excerpt:
        return
    source = {"S1": _source("S1", excerpt)}
    assert citations.check(f'"{excerpt}" [S1]', source) == [] or not citations.normalise(
        excerpt).strip(" .,;:")


def test_passages_keep_file_page_section_and_offsets() -> None:
    doc = extract_text((EXAMPLES / "fieldservice-saas.pdf").read_bytes(), "plan.pdf")
    passages = list(split_passages(doc, "abc"))
    assert len(passages) > 5
    for p in passages:
        assert doc.text[p.start:p.end] == p.text
        assert len(p.text) <= MAX_CHARS and p.page is not None
    assert {p.page for p in passages} == {1, 2, 3, 4}
    md = extract_text((EXAMPLES / "nordic-meal-kits.md").read_bytes(), "plan.md")
    sections = {p.section for p in split_passages(md, "def")}
    assert "6. Pricing" in sections


def test_index_ranks_the_passage_holding_the_words(tmp_path: Path) -> None:
    filler = "\n\n".join(
        f"Paragraph {i} about weather, rivers and old trains." for i in range(3000))
    text = filler + "\n\n## Appendix C\n\nThe tariff sheet sets the premium tier at EUR 149.\n"
    doc = extract_text(text.encode(), "big.md", max_chars=10_000_000)
    assert len(doc.text) > 100_000
    builder = IndexBuilder(tmp_path / "i.db")
    builder.add(doc, "sha")
    index = builder.finish()
    hits = index.search("premium tier tariff", limit=3)
    assert hits and "EUR 149" in hits[0].passage.text
    assert hits[0].passage.section == "Appendix C"
    # FTS5 syntax in a query is only words
    assert index.search('premium" OR NEAR(x) *', limit=3)
    assert index.search("!!! ???", limit=3) == []


async def test_cache_builds_a_corpus_once_and_registry_numbers_sources() -> None:
    cache = CorpusCache(max_entries=2)
    doc = extract_text(b"# Plan\n\nWe sell boxes at EUR 79.\n", "plan.md")
    builds = 0

    async def load(builder: IndexBuilder) -> None:
        nonlocal builds
        builds += 1
        await asyncio.to_thread(builder.add, doc, "sha")

    key = (("plan.md", "sha"),)
    first, second = await asyncio.gather(cache.get(key, load), cache.get(key, load))
    assert first is second and builds == 1
    store = MemoryStore()
    session = await store.create_session(owner="a", ttl_seconds=60)
    registry = SourceRegistry(store, session.session_id, "run-1", clock=lambda: 1.0)
    passages = [h.passage for h in first.search("boxes", limit=5)]
    a = await registry.register(passages, reader=ReportKind.MARKET)
    b = await registry.register(passages, reader=ReportKind.PRICE)
    assert [s.source_id for s in a] == ["S1"] and b == a
    stored = await store.list_sources(session.session_id, "run-1", page_size=10)
    assert [s.source_id for s in stored.items] == ["S1"]
    resumed = await SourceRegistry.load(store, session.session_id, "run-1", clock=lambda: 2.0)
    assert resumed.get("S1") == a[0]
    cache.close()


pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
