"""Picking the passages that speak to a topic, and rendering them as cited bullets."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from scout_service.agents.analysis.parse import Passage, Plan
from scout_service.agents.analysis.patterns import (
    AMOUNT,
    MAX_PASSAGE_CHARS,
    MAX_PASSAGES_PER_SECTION,
    MAX_QUOTE_CHARS,
    PERCENT,
)


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
