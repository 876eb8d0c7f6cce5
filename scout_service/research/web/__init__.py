"""Web search and page fetching for research agents, with budgets and an SSRF guard.

``make_provider`` builds the configured search API client; ``WebResearch``
(one per run) is what agent tools call. Page text comes back as plain text
with a sha256, ready to become a cited ``Source`` of the run.
"""

from .guard import Resolver, refusal, system_resolver
from .providers import (
    BraveProvider,
    ExaProvider,
    SearxngProvider,
    TavilyProvider,
    make_provider,
)
from .research import WebResearch
from .settings import ProviderName, WebSettings, web_settings
from .types import FetchedPage, SearchProvider, WebResult, WebToolError

__all__ = [
    "BraveProvider",
    "ExaProvider",
    "FetchedPage",
    "ProviderName",
    "Resolver",
    "SearchProvider",
    "SearxngProvider",
    "TavilyProvider",
    "WebResearch",
    "WebResult",
    "WebSettings",
    "WebToolError",
    "make_provider",
    "refusal",
    "system_resolver",
    "web_settings",
]
