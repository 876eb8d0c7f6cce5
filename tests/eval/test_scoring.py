"""The eval's scorer on synthetic reports: each metric moves when it should."""

from __future__ import annotations

import hashlib

import pytest

from eval.scoring import (
    SourceInfo,
    UploadedFile,
    amounts,
    citation_coverage,
    citation_precision,
    fact_recall,
    findings_accuracy,
    outline_compliance,
    quote_occurs,
    statements,
    wrong_facts,
)

PLAN = "plan.md"
STUDY = "study.pdf"
PLAN_TEXT = "## Market\nThe market is worth EUR 62 million per year in 2025.\nWe charge EUR 24."
STUDY_TEXT = ("Veterinary telehealth is estimated at EUR 62 million in 2025.\n"
              "The 2019 edition, now superseded, estimated EUR 9 million.")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


FILES = {PLAN: UploadedFile.of(PLAN_TEXT.encode(), PLAN_TEXT),
         STUDY: UploadedFile.of(STUDY_TEXT.encode(), STUDY_TEXT)}
SOURCES = {
    "S1": SourceInfo("S1", PLAN, "The market is worth EUR 62 million per year in 2025.",
                     _sha(PLAN_TEXT), "run-1"),
    "S2": SourceInfo("S2", STUDY, "Veterinary telehealth is estimated at EUR 62 million in 2025.",
                     _sha(STUDY_TEXT), "run-1"),
}
TAM = {"id": "tam", "report": "market", "rule": {"type": "amount", "value": 62e6,
                                                  "currency": "EUR"},
       "context": [], "cite_files": [STUDY]}
STALE = {"id": "stale", "rule": {"type": "amount", "value": 9e6, "currency": "EUR"},
         "context": []}


def test_statements_exclude_the_sources_section_and_keep_markers_with_their_sentence() -> None:
    report = ("# Market report\n\nIt is EUR 62 million. [S2] Second sentence.\n\n"
              "- a bullet [S1]\n\n## Sources\n- [S1] plan.md — EUR 99 million\n")
    found = statements(report)
    assert [s.text for s in found] == ["It is EUR 62 million. [S2]", "Second sentence.",
                                       "a bullet [S1]"]
    assert found[0].markers == ("S2",)


def test_amounts_are_normalised() -> None:
    assert amounts("EUR 1.2 billion, €62m, 3 million EUR, DKK 1,450 per month") == [
        (1.2e9, "EUR"), (62e6, "EUR"), (1450.0, "DKK"), (3e6, "EUR")]
    assert amounts("EUR 230–460 per seat") == [(230.0, "EUR"), (460.0, "EUR")]


def test_recall_needs_the_right_report_and_a_marker_of_the_expected_file() -> None:
    good = {"market": "The telehealth market is EUR 62 million [S2]."}
    stated, recalled, _ = fact_recall([TAM], good, SOURCES)
    assert (stated.hits, recalled.hits) == (1, 1)

    wrong_file = {"market": "The telehealth market is EUR 62 million [S1]."}
    stated, recalled, misses = fact_recall([TAM], wrong_file, SOURCES)
    assert (stated.hits, recalled.hits) == (1, 0)
    assert "not cited to study.pdf" in misses[0]

    wrong_report = {"price": "The telehealth market is EUR 62 million [S2]."}
    stated, recalled, _ = fact_recall([TAM], wrong_report, SOURCES)
    assert (stated.hits, recalled.hits) == (0, 0)

    unknown_marker = {"market": "The telehealth market is EUR 62 million [S9]."}
    assert fact_recall([TAM], unknown_marker, SOURCES)[1].hits == 0


def test_a_stale_figure_stated_as_current_is_a_wrong_fact() -> None:
    as_current = {"market": "- The market is worth EUR 9 million per year [S2]"}
    assert wrong_facts([STALE], as_current)[0].hits == 1
    flagged = {"market": "- The superseded 2019 edition said EUR 9 million; use EUR 62 million."}
    assert wrong_facts([STALE], flagged)[0].hits == 0
    assert wrong_facts([STALE], {"market": "EUR 62 million."})[0].hits == 0


def test_a_contradicted_price_counts_only_next_to_its_competitor() -> None:
    distractor = {"id": "old", "rule": {"type": "amount", "value": 19.5, "currency": "EUR"},
                  "context": ["VetLijn"]}
    assert wrong_facts([distractor], {"competition": "VetLijn charges EUR 19.50."})[0].hits == 1
    assert wrong_facts([distractor], {"competition": "Rival charges EUR 19.50."})[0].hits == 0
    contradicted = {"competition": "The plan's EUR 19.50 for VetLijn contradicts the survey."}
    assert wrong_facts([distractor], contradicted)[0].hits == 0


def test_a_misquote_lowers_citation_precision() -> None:
    exact = {"market": 'The study says "estimated at EUR 62 million" [S2].'}
    ratio, problems = citation_precision(exact, SOURCES, FILES, "run-1")
    assert (ratio.hits, ratio.total, problems) == (1, 1, [])

    misquote = {"market": 'The study says "estimated at EUR 65 million" [S2].'}
    ratio, problems = citation_precision(misquote, SOURCES, FILES, "run-1")
    assert (ratio.hits, ratio.total) == (0, 1)
    assert "quote not in excerpt" in problems[0]


def test_a_quote_with_an_ellipsis_needs_its_fragments_in_order() -> None:
    excerpt = SOURCES["S2"].excerpt
    assert quote_occurs("Veterinary telehealth … EUR 62 million", excerpt)
    assert not quote_occurs("EUR 62 million … Veterinary telehealth", excerpt)


@pytest.mark.parametrize("source, reason", [
    (SourceInfo("S2", STUDY, "A sentence the study never wrote.", _sha(STUDY_TEXT), "run-1"),
     "excerpt is not in the text"),
    (SourceInfo("S2", STUDY, SOURCES["S2"].excerpt, _sha("another file"), "run-1"),
     "sha256 differs"),
    (SourceInfo("S2", STUDY, SOURCES["S2"].excerpt, _sha(STUDY_TEXT), "run-0"),
     "belongs to run"),
    (SourceInfo("S2", "other.pdf", SOURCES["S2"].excerpt, _sha(STUDY_TEXT), "run-1"),
     "was not uploaded"),
])
def test_an_unfaithful_source_makes_its_citations_invalid(source: SourceInfo, reason: str) -> None:
    report = {"market": "The market is EUR 62 million [S2]."}
    ratio, problems = citation_precision(report, {**SOURCES, "S2": source}, FILES, "run-1")
    assert ratio.hits == 0 and ratio.total == 1
    assert reason in problems[0]


def test_an_uncited_number_lowers_coverage() -> None:
    cited = {"market": "The market is EUR 62 million [S2]. It has many vets."}
    assert (citation_coverage(cited).hits, citation_coverage(cited).total) == (1, 1)
    uncited = {"market": "The market is EUR 62 million [S2]. It grows 18 % a year."}
    ratio = citation_coverage(uncited)
    assert (ratio.hits, ratio.total) == (1, 2)


def test_outline_needs_every_heading_in_order() -> None:
    required = {"market": ("# Market report", "## 1. Definition", "## 2. Size")}
    ok = {"market": "# Market report\n## 1. Definition\n### extra\n## 2. Size\n"}
    assert outline_compliance(ok, required)[0].hits == 1
    swapped = {"market": "# Market report\n## 2. Size\n## 1. Definition\n"}
    assert outline_compliance(swapped, required)[0].hits == 0


def test_findings_accuracy_reads_the_typed_findings_field_by_field() -> None:
    expected = {"market_sizes": [{"layer": "TAM", "value": 62e6, "currency": "EUR"},
                                 {"layer": "SOM", "value": 1.9e6, "currency": "EUR"}],
                "competitors": [{"name": "VetLijn", "price": 29, "currency": "EUR"}],
                "price_points": [{"name": "Consult", "price": 24, "currency": "EUR"}],
                "regulations": ["GDPR"], "not_applicable": ["2017/745"],
                "verdict": "GO_WITH_CONDITIONS"}

    def served(som: float = 1.9e6, rival_price: float = 29, law: str = "GDPR",
               verdict: str = "VERDICT_GO_WITH_CONDITIONS") -> dict[str, object]:
        return {"findings": [
            {"kind": "REPORT_KIND_MARKET", "market": {
                "tam": {"amount": 62e6, "currency": "EUR"},
                "som": {"amount": som, "currency": "EUR"}}},
            {"kind": "REPORT_KIND_COMPETITION", "competition": {"competitors": [
                {"name": "VetLijn B.V.", "pricePoints": [
                    {"amount": rival_price, "currency": "EUR"}]}]}},
            {"kind": "REPORT_KIND_PRICE", "price": {"pricePoints": [
                {"tier": "Consult", "amount": 24, "currency": "EUR"}]}},
            {"kind": "REPORT_KIND_LEGAL", "legal": {"obligations": [{"regulation": law}]}},
            {"kind": "REPORT_KIND_FINAL", "final": {"verdict": verdict}},
        ]}

    assert findings_accuracy(expected, served())[0].hits == 7
    # a value in the wrong layer, a wrong price, a regulation that does not apply, the verdict
    assert findings_accuracy(expected, served(som=62e6))[0].hits == 6
    assert findings_accuracy(expected, served(rival_price=19.5))[0].hits == 6
    ratio, misses = findings_accuracy(expected, served(law="Regulation (EU) 2017/745"))
    assert ratio.hits == 5 and any("does not apply" in m for m in misses)
    assert findings_accuracy(expected, served(verdict="VERDICT_NO_GO"))[0].hits == 6
    assert findings_accuracy(expected, None)[0].hits == 1  # only "no inapplicable law" holds
