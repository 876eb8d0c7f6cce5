"""The web tools' own settings, cut out of the service's ``Settings``.

The web package takes this small value instead of the whole ``Settings`` so
it can be built and tested on its own, and so a research run cannot read
settings it has no business with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from scout_service.config import Secret, Settings

ProviderName = Literal["off", "tavily", "exa", "brave", "searxng"]


@dataclass(frozen=True)
class WebSettings:
    """What web search and page fetching may do (defaults match ``config.OPTIONS``)."""

    provider: ProviderName = "off"
    tavily_api_key: Secret | None = None
    exa_api_key: Secret | None = None
    brave_api_key: Secret | None = None
    searxng_url: str | None = None
    # Replaces the provider's public API base URL (a corporate proxy, a test fake).
    provider_base_url: str | None = None
    # Hosts fetched even when they resolve to private/loopback addresses.
    fetch_allow_hosts: frozenset[str] = frozenset()
    max_fetch_bytes: int = 2_000_000
    fetch_timeout_s: float = 15
    search_timeout_s: float = 20
    max_searches_per_run: int = 20
    max_fetches_per_run: int = 20
    max_redirects: int = 5


def web_settings(settings: Settings) -> WebSettings:
    """The web part of the service's settings (validated by ``load_settings``)."""
    return WebSettings(
        provider=cast(ProviderName, settings.web_search_provider),
        tavily_api_key=settings.tavily_api_key,
        exa_api_key=settings.exa_api_key,
        brave_api_key=settings.brave_api_key,
        searxng_url=settings.searxng_url,
        provider_base_url=settings.web_search_base_url,
        fetch_allow_hosts=settings.fetch_allow_hosts,
        max_fetch_bytes=settings.fetch_max_bytes,
        fetch_timeout_s=settings.fetch_timeout_s,
        max_searches_per_run=settings.max_web_searches_per_run,
        max_fetches_per_run=settings.max_fetches_per_run,
    )
