"""Web search providers: Tavily, Exa, Brave Search and SearXNG behind one interface.

Each provider is a few lines against the provider's documented REST API on a
shared ``httpx.AsyncClient``. The vendors' SDKs (``tavily-python``,
``exa-py``) are synchronous ``requests`` clients: they would block the event
loop or need a thread per call, and they pull in dependencies for what is one
POST. Results are normalised to ``WebResult`` with the snippet reduced to
plain text (Brave marks query terms with ``<strong>``), and every failure
becomes a ``WebToolError`` the model can read, never the key or a traceback.

Provider endpoints are configured by the operator, so they are not subject
to the fetch guard's address rules (a SearXNG instance on the private network
is the usual set-up); only pages that agents ask for are.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Mapping
from typing import Any

import httpx

from scout_service.config import ConfigError, Secret

from .settings import WebSettings
from .types import SearchProvider, WebResult, WebToolError

logger = logging.getLogger(__name__)

TAVILY_BASE_URL = "https://api.tavily.com"
EXA_BASE_URL = "https://api.exa.ai"
BRAVE_BASE_URL = "https://api.search.brave.com"
MAX_SNIPPET_CHARS = 1000

_TAG = re.compile(r"<[^>]{0,500}>")
_SPACE = re.compile(r"\s+")


def plain_snippet(value: object) -> str:
    """Provider excerpt → one line of plain text, bounded in size."""
    if not isinstance(value, str):
        return ""
    text = _SPACE.sub(" ", html.unescape(_TAG.sub("", value))).strip()
    return text[:MAX_SNIPPET_CHARS]


def _result(url: object, title: object, snippet: object) -> WebResult | None:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    return WebResult(url=url, title=plain_snippet(title) or url, snippet=plain_snippet(snippet))


async def _call(
    http: httpx.AsyncClient,
    name: str,
    method: str,
    url: str,
    *,
    timeout: float,
    headers: Mapping[str, str],
    params: Mapping[str, str | int] | None = None,
    json: Mapping[str, Any] | None = None,
) -> Any:
    """One API call; provider trouble → ``WebToolError`` worded for the model."""
    try:
        response = await http.request(method, url, headers=dict(headers), params=params,
                                      json=json, timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException:
        raise WebToolError(f"the web search ({name}) timed out; try again later") from None
    except httpx.HTTPError as exc:
        logger.warning("web search provider unreachable", extra={"provider": name,
                                                                 "error": type(exc).__name__})
        raise WebToolError(f"the web search ({name}) could not be reached") from None
    status = response.status_code
    if status in (401, 403):
        logger.warning("web search provider refused the request",
                       extra={"provider": name, "status": status})
        raise WebToolError(f"the web search ({name}) refused Scout's request (HTTP {status}); "
                           "web search is unavailable in this run")
    if status == 429:
        raise WebToolError(f"the web search ({name}) is rate limited; search less often")
    if status != 200:
        logger.warning("web search provider failed", extra={"provider": name, "status": status})
        raise WebToolError(f"the web search ({name}) failed (HTTP {status})")
    try:
        return response.json()
    except ValueError:
        raise WebToolError(f"the web search ({name}) answered with malformed JSON") from None


def _items(body: Any, *path: str) -> list[Any]:
    for key in path:
        body = body.get(key) if isinstance(body, dict) else None
    return body if isinstance(body, list) else []


def _collect(results: list[WebResult | None], limit: int) -> list[WebResult]:
    return [r for r in results if r is not None][:limit]


class TavilyProvider:
    """Tavily: ``POST /search`` with a bearer key; hits carry an extracted ``content``."""

    name = "tavily"

    def __init__(self, http: httpx.AsyncClient, api_key: Secret, *, base_url: str | None = None,
                 timeout: float = 20) -> None:
        self._http, self._key, self._timeout = http, api_key, timeout
        self._url = f"{(base_url or TAVILY_BASE_URL).rstrip('/')}/search"

    async def search(self, query: str, *, limit: int) -> list[WebResult]:
        """Tavily's basic search depth: one credit per call."""
        body = await _call(
            self._http, self.name, "POST", self._url, timeout=self._timeout,
            headers={"Authorization": f"Bearer {self._key.reveal()}"},
            json={"query": query, "max_results": limit, "search_depth": "basic",
                  "include_answer": False, "include_raw_content": False,
                  "include_images": False},
        )
        return _collect([_result(r.get("url"), r.get("title"), r.get("content"))
                         for r in _items(body, "results") if isinstance(r, dict)], limit)


class ExaProvider:
    """Exa: ``POST /search`` with ``x-api-key``, asking for a bounded text excerpt."""

    name = "exa"

    def __init__(self, http: httpx.AsyncClient, api_key: Secret, *, base_url: str | None = None,
                 timeout: float = 20) -> None:
        self._http, self._key, self._timeout = http, api_key, timeout
        self._url = f"{(base_url or EXA_BASE_URL).rstrip('/')}/search"

    async def search(self, query: str, *, limit: int) -> list[WebResult]:
        """Exa's auto search type with ``contents.text`` capped at the snippet size."""
        body = await _call(
            self._http, self.name, "POST", self._url, timeout=self._timeout,
            headers={"x-api-key": self._key.reveal()},
            json={"query": query, "type": "auto", "numResults": limit,
                  "contents": {"text": {"maxCharacters": MAX_SNIPPET_CHARS}}},
        )
        results = []
        for r in _items(body, "results"):
            if isinstance(r, dict):
                highlights = r.get("highlights")
                fallback = " … ".join(h for h in highlights if isinstance(h, str)) \
                    if isinstance(highlights, list) else r.get("summary")
                results.append(_result(r.get("url"), r.get("title"), r.get("text") or fallback))
        return _collect(results, limit)


class BraveProvider:
    """Brave Search API: ``GET /res/v1/web/search`` with ``X-Subscription-Token``."""

    name = "brave"

    def __init__(self, http: httpx.AsyncClient, api_key: Secret, *, base_url: str | None = None,
                 timeout: float = 20) -> None:
        self._http, self._key, self._timeout = http, api_key, timeout
        self._url = f"{(base_url or BRAVE_BASE_URL).rstrip('/')}/res/v1/web/search"

    async def search(self, query: str, *, limit: int) -> list[WebResult]:
        """Web results only; Brave allows at most 20 per request."""
        body = await _call(
            self._http, self.name, "GET", self._url, timeout=self._timeout,
            headers={"Accept": "application/json", "X-Subscription-Token": self._key.reveal()},
            params={"q": query, "count": min(limit, 20)},
        )
        return _collect([_result(r.get("url"), r.get("title"), r.get("description"))
                         for r in _items(body, "web", "results") if isinstance(r, dict)], limit)


class SearxngProvider:
    """A SearXNG instance's JSON API (``format=json`` must be enabled in its settings)."""

    name = "searxng"

    def __init__(self, http: httpx.AsyncClient, base_url: str, *, timeout: float = 20) -> None:
        self._http, self._timeout = http, timeout
        self._url = f"{base_url.rstrip('/')}/search"

    async def search(self, query: str, *, limit: int) -> list[WebResult]:
        """First result page; SearXNG has no result-count parameter, so cut locally."""
        body = await _call(
            self._http, self.name, "GET", self._url, timeout=self._timeout,
            headers={"Accept": "application/json"},
            params={"q": query, "format": "json", "pageno": 1},
        )
        return _collect([_result(r.get("url"), r.get("title"), r.get("content"))
                         for r in _items(body, "results") if isinstance(r, dict)], limit)


def _need(value: Secret | None, provider: str, setting: str) -> Secret:
    if value is None or not value.reveal():
        raise ConfigError(f"SCOUT_WEB_SEARCH_PROVIDER={provider} needs {setting}")
    return value


def make_provider(settings: WebSettings, http: httpx.AsyncClient) -> SearchProvider | None:
    """The configured provider on ``http``, or None when web search is off.

    Raises ``ConfigError`` (a ``ValueError``) naming the missing setting, the
    same message ``load_settings`` stops start-up with.
    """
    base, timeout = settings.provider_base_url, settings.search_timeout_s
    match settings.provider:
        case "off":
            return None
        case "tavily":
            key = _need(settings.tavily_api_key, "tavily", "SCOUT_TAVILY_API_KEY")
            return TavilyProvider(http, key, base_url=base, timeout=timeout)
        case "exa":
            key = _need(settings.exa_api_key, "exa", "SCOUT_EXA_API_KEY")
            return ExaProvider(http, key, base_url=base, timeout=timeout)
        case "brave":
            key = _need(settings.brave_api_key, "brave", "SCOUT_BRAVE_API_KEY")
            return BraveProvider(http, key, base_url=base, timeout=timeout)
        case "searxng":
            url = base or settings.searxng_url
            if not url:
                raise ConfigError("SCOUT_WEB_SEARCH_PROVIDER=searxng needs SCOUT_SEARXNG_URL")
            return SearxngProvider(http, url, timeout=timeout)
    raise ConfigError(f"SCOUT_WEB_SEARCH_PROVIDER: unknown provider {settings.provider!r}")
