"""The offline legal report: the laws, authorities and compliance topics the plan names."""

from __future__ import annotations

import re
from collections.abc import Callable

from scout_service.agents.analysis.extract import legal_references, places
from scout_service.agents.analysis.parse import Passage, Plan
from scout_service.agents.analysis.patterns import _COUNTRIES, _MULTIWORD_COUNTRIES, _REGIONS, _rx
from scout_service.agents.analysis.pick import Topic, assign, bullets
from scout_service.agents.analysis.writer import _LEGAL_SECTION, _Writer
from scout_service.domain import ReportKind

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
