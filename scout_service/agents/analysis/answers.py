"""The brief's questions answered extractively: the passages sharing most of their words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from scout_service.agents.analysis.parse import parse_plan

# -- the brief's questions --------------------------------------------------------------

_QUESTION_STOPWORDS = frozenset(
    """a an and are as at be by can could do does did for from has have how if in into is it
    its much many of on or our should than that the their them there these they this to was
    were what when where which who why will with would you your we us any per""".split()
)


def _words(text: str) -> set[str]:
    """Content words cut to six letters: a crude stem ("competitors" meets "competition")."""
    return {w[:6] for w in re.findall(r"[\w€$£%-]+", text.lower())
            if len(w) > 2 and w not in _QUESTION_STOPWORDS}


def answer_questions(questions: Sequence[str], documents: str, *, per_question: int = 2
                     ) -> list[dict[str, Any]]:
    """Each question with the retrieved passages that share most of its words.

    Extractive: an answer is the best-matching passages quoted word for word
    with their source ids, or none when no passage shares a word with it.
    """
    passages = [p for p in parse_plan(documents).passages if p.source_id]
    out = []
    for question in questions:
        wanted = _words(question)
        scored = sorted(
            ((len(wanted & _words(f"{p.section} {p.text}")), -i, p)
             for i, p in enumerate(passages)),
            key=lambda item: (item[0], item[1]), reverse=True)
        best = [p for score, _, p in scored[:per_question] if score > 0]
        out.append({"question": question, "passages": best})
    return out
