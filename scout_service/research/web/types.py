"""The values and the one error that the web tools hand to agents.

Everything here is a plain frozen value so an agent tool can turn it into a
``Source`` of the run without touching the network code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WebResult:
    """One hit of a web search: where it is and the provider's short excerpt."""

    url: str
    title: str
    snippet: str


@dataclass(frozen=True)
class FetchedPage:
    """The readable text of one fetched page, with what a citation needs.

    ``url`` is what the agent asked for, ``final_url`` where redirects ended;
    ``sha256`` (hex, of the UTF-8 ``text``) lets a report prove which text it
    quoted; ``truncated`` says the body was cut at the configured byte limit.
    """

    url: str
    final_url: str
    title: str
    text: str
    sha256: str
    retrieved_at: float
    truncated: bool


class WebToolError(Exception):
    """A search or fetch the agent asked for did not happen.

    ``str(exc)`` is written for the model: it says what went wrong in terms
    the model can act on (try another URL, stop searching), and never carries
    a credential or a raw traceback.
    """


class SearchProvider(Protocol):
    """A web search API behind Scout's one interface."""

    name: str

    async def search(self, query: str, *, limit: int) -> list[WebResult]:
        """At most ``limit`` results for ``query``; ``WebToolError`` on failure."""
        ...
