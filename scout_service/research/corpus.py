"""A run's corpus: its files indexed for search, and the digest agents get instead.

The runner asks for the corpus of a run's files when the run is admitted
(so an unreadable document is refused at ``StartResearch``) and again on
the replica that resumes it; ``CorpusCache`` makes that one build per file
set per replica. Agents get ``digest`` — names, types, sizes and outlines —
and search for the rest, so no agent's prompt grows with the documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from scout_service.documents import ExtractedDocument
from scout_service.domain import FileInfo
from scout_service.research.index import CorpusCache, CorpusIndex, IndexBuilder

Extract = Callable[[bytes, str], Awaitable[ExtractedDocument]]
ReadFile = Callable[[str], Awaitable[tuple[FileInfo, bytes]]]
GetFile = Callable[[str], Awaitable[FileInfo]]


@dataclass(frozen=True)
class Corpus:
    """The index of a run's files and the digest shown to its agents."""

    index: CorpusIndex
    digest: str


async def build_corpus(
    names: Sequence[str], *, cache: CorpusCache, get_file: GetFile, read_file: ReadFile,
    extract: Extract,
) -> Corpus:
    """The corpus of the current versions of ``names`` (built once per file set here)."""
    infos = [await get_file(name) for name in names]
    key = tuple(sorted((info.name, info.sha256) for info in infos))

    async def load(builder: IndexBuilder) -> None:
        for info in infos:
            stored, data = await read_file(info.name)
            doc = await extract(data, stored.name)
            await asyncio.to_thread(builder.add, doc, stored.sha256)

    index = await cache.get(key, load)
    return Corpus(index, digest(index))


def digest(index: CorpusIndex) -> str:
    """A compact description of the indexed files: what to search, not what they say."""
    lines = [f"{len(index.files)} document(s), {index.passage_count} searchable passages."]
    for f in index.files:
        details = [f.detected_type, f"{f.chars:,} characters", f"{f.passages} passages"]
        if f.pages:
            details.append(f"{f.pages} pages")
        if f.truncated:
            details.append("indexed in part")
        lines.append(f"\n- {f.file_name} ({', '.join(details)})")
        if f.headings:
            lines.append("  Outline: " + " · ".join(f.headings))
    return "\n".join(lines)
