"""Joining several extracted documents into the one text the agents read."""

from __future__ import annotations

from collections.abc import Sequence

from scout_service.documents.errors import display_name
from scout_service.documents.extract import ExtractedDocument

TRUNCATION_MARKER = "\n[… document shortened to fit the analysis limit …]"
_DOCUMENT_SEPARATOR = "\n\n"
_CUT_LOOKBACK = 200
"""How far back a cut may move to land on a line or word boundary."""


def document_header(doc: ExtractedDocument) -> str:
    """Return the label line that introduces `doc` in the combined text."""
    details: list[str] = [doc.detected_type]
    if doc.pages is not None:
        details.append(f"{doc.pages} page" + ("" if doc.pages == 1 else "s"))
    if doc.truncated:
        details.append("truncated")
    return f"===== Document: {display_name(doc.file_name)} ({', '.join(details)}) ====="


def combine_documents(docs: Sequence[ExtractedDocument], max_chars: int) -> str:
    """Concatenate documents, each under its header, in at most `max_chars`.

    When the texts do not fit, the space is shared fairly: documents shorter
    than an equal share keep all their text and the rest is split evenly
    among the longer ones, so one huge appendix cannot crowd out the plan.
    Headers are always kept whole (unless `max_chars` cannot even hold them).
    """
    if max_chars <= 0:
        raise ValueError("max_chars must be positive")
    if not docs:
        return ""
    headers = [document_header(doc) + "\n" for doc in docs]
    overhead = sum(len(h) for h in headers) + len(_DOCUMENT_SEPARATOR) * (len(docs) - 1)
    allowances = _fair_shares([len(doc.text) for doc in docs], max_chars - overhead)
    parts = [
        header + _shorten(doc.text, allowance)
        for header, doc, allowance in zip(headers, docs, allowances, strict=True)
    ]
    combined = _DOCUMENT_SEPARATOR.join(parts)
    return combined[:max_chars]


def _fair_shares(lengths: Sequence[int], budget: int) -> list[int]:
    """Split `budget` among texts of `lengths` by water-filling (max-min fairness)."""
    shares = [0] * len(lengths)
    remaining = max(budget, 0)
    pending = sorted(range(len(lengths)), key=lambda i: lengths[i])
    for position, index in enumerate(pending):
        equal_share = remaining // (len(pending) - position)
        shares[index] = min(lengths[index], equal_share)
        remaining -= shares[index]
    return shares


def _shorten(text: str, allowance: int) -> str:
    """Return `text` cut to `allowance` characters, marker included, when too long."""
    if len(text) <= allowance:
        return text
    room = allowance - len(TRUNCATION_MARKER)
    if room <= 0:
        return text[: max(allowance, 0)]
    cut = text[:room]
    boundary = max(cut.rfind("\n"), cut.rfind(" "))
    if boundary >= room - _CUT_LOOKBACK and boundary > 0:
        cut = cut[:boundary]
    return cut.rstrip() + TRUNCATION_MARKER
