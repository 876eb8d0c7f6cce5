"""Citations in report Markdown: checked before a report is stored.

A report cites a source of its run as ``[S3]`` (several: ``[S3][S7]``).
Text quoted right before a marker — ``"…" [S3]`` or ``“…” [S3]`` — must
occur in the excerpt of one of the sources it names; an ellipsis inside a
quote separates fragments that must each occur, in order. Comparison
ignores case, Markdown emphasis, link targets and the kind of quote, dash
and white space, so a faithful quote is never refused for typography.

The ``## Sources`` section at the end of a stored report is written here,
from the stored sources, never by the model: any Sources or References
section the author wrote at the end is replaced.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from scout_service.domain import Source

MARKER = re.compile(r"\[(S\d{1,5})\]")
_QUOTE = re.compile(
    r"(?:“([^”\n]{2,3000})”|\"([^\"\n]{2,3000})\")((?:\s*\[S\d{1,5}\])+)"
)
_ELLIPSIS = re.compile(r"…|\.\.\.|\[\.\.\.\]|\[…\]")
_AUTHORED_SOURCES = re.compile(
    r"^#{1,3}[ \t]*(?:sources|references|bibliography|quellen)[ \t]*:?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ANY_HEADING = re.compile(r"^#{1,6}\s", re.MULTILINE)
SOURCES_HEADING = "## Sources"
MAX_PROBLEMS_SHOWN = 12


def normalise(text: str) -> str:
    """Text as citations compare it: case-folded, plain, single-spaced."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # Markdown links: the label
    text = re.sub(r"[*_`]", "", text)  # emphasis marks vanish ("**Price**:" is "Price:")
    text = re.sub(r"[#>|]", " ", text)
    text = re.sub(r"[“”„‟″]", '"', text)
    text = re.sub(r"[‘’‚‛′]", "'", text)
    text = re.sub(r"[‐‑‒–—―−]", "-", text)
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", text).strip().casefold()


def cited_ids(markdown: str) -> tuple[str, ...]:
    """The source ids a text cites, in order of first citation."""
    return tuple(dict.fromkeys(MARKER.findall(markdown)))


def strip_authored_sources(markdown: str) -> str:
    """The report without a Sources/References section its author put last."""
    found = list(_AUTHORED_SOURCES.finditer(markdown))
    last = found[-1] if found else None
    if last is None or _ANY_HEADING.search(markdown, last.end()):
        return markdown.rstrip() + "\n"
    return markdown[: last.start()].rstrip() + "\n"


def quote_holds(quote: str, excerpt: str) -> bool:
    """Whether every fragment of ``quote`` occurs in ``excerpt``, in order."""
    haystack = normalise(excerpt)
    position = 0
    fragments = [normalise(f) for f in _ELLIPSIS.split(quote)]
    fragments = [f.strip(" .,;:") for f in fragments]
    if not any(fragments):
        return True
    for fragment in fragments:
        if not fragment:
            continue
        found = haystack.find(fragment, position)
        if found < 0:
            return False
        position = found + len(fragment)
    return True


def check(markdown: str, sources: Mapping[str, Source]) -> list[str]:
    """Every problem with the citations of ``markdown``; empty when all hold.

    Unknown ids first (one line naming them all), then each misquote.
    """
    problems: list[str] = []
    unknown = [sid for sid in cited_ids(markdown) if sid not in sources]
    if unknown:
        problems.append(
            f"cites {', '.join(unknown)}, which this research run never retrieved; cite only "
            "ids returned by the search and read tools"
        )
    for match in _QUOTE.finditer(markdown):
        quote = match.group(1) if match.group(1) is not None else match.group(2)
        ids = [sid for sid in MARKER.findall(match.group(3)) if sid in sources]
        if ids and not any(quote_holds(quote, sources[sid].excerpt) for sid in ids):
            shown = quote if len(quote) <= 120 else quote[:117] + "..."
            problems.append(
                f'the quote "{shown}" is not in {"/".join(ids)}: quote the source word for '
                "word, or state it without quotation marks"
            )
    return problems


def describe_problems(problems: Sequence[str]) -> str:
    """The problems as one message for the model (bounded)."""
    lines = [f"- {p}" for p in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"- … and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


def sources_section(cited: Sequence[Source]) -> str:
    """The server-written list of the sources a report cites."""
    lines = [SOURCES_HEADING, ""]
    lines += [f"- [{s.source_id}] {s.label}" for s in cited]
    return "\n".join(lines) + "\n"


_LISTED = re.compile(r"^## Sources\n\n(?:- \[S\d{1,5}\] .*(?:\n|\Z))+", re.MULTILINE)


def with_sources(markdown: str, sources: Mapping[str, Source]) -> tuple[str, tuple[str, ...]]:
    """The report as stored, with the server's Sources list; and the ids it cites.

    A Sources list in the server's own format (an edited report keeps the one
    it was given) is written again in place from the stored sources, so text
    after it stays; otherwise an authored Sources section at the end is
    replaced and the list goes last.
    """
    found = list(_LISTED.finditer(markdown))
    if found:
        block = found[-1]
        head, tail = markdown[: block.start()], markdown[block.end():]
    else:
        head, tail = strip_authored_sources(markdown), ""
    ids = cited_ids(head + tail)
    cited = sorted((sources[i] for i in ids if i in sources), key=lambda s: s.number)
    if not cited:  # nothing to list: the report is stored as written
        return markdown, ()
    listing = sources_section(cited)
    stored = f"{head.rstrip()}\n\n{listing}" + (f"\n{tail.lstrip()}" if tail.strip() else "")
    return stored, tuple(s.source_id for s in cited)


def body_of(markdown: str) -> str:
    """The text whose citations are checked: without any Sources list or section."""
    return strip_authored_sources(_LISTED.sub("", markdown))


def without_sources(markdown: str) -> str:
    """A stored report without the server's Sources list (for the synthesis prompt)."""
    found = list(_LISTED.finditer(markdown))
    if not found:
        return markdown
    return markdown[: found[-1].start()].rstrip() + "\n"


def renumber(markdown: str, ids: Mapping[str, str]) -> str:
    """``[S3]`` markers rewritten through ``ids`` (old id → new id), in one pass."""
    return _RENUMBER.sub(lambda m: f"[{ids.get(m.group(1), m.group(1))}]", markdown)


_RENUMBER = re.compile(r"\[(S\d{1,6})\]")
