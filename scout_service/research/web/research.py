"""One research run's web access: search and fetch, with the run's budgets and guards.

A ``WebResearch`` lives as long as a run and is shared by its agents, so the
budgets (``max_searches_per_run``, ``max_fetches_per_run``) bound what the
whole run spends and how much it can be steered into reading. A budget is
taken before anything is sent, so a spent budget never costs a request.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import logging
import re
import ssl
import time
import zlib
from collections.abc import Callable
from email.message import Message

import httpx

from .extract import page_text
from .guard import PinnedTransport, Resolver, checked_addresses, system_resolver
from .settings import WebSettings
from .types import FetchedPage, SearchProvider, WebResult, WebToolError

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 400
MAX_RESULTS = 20
MAX_URL_CHARS = 2048
ACCEPTED_TYPES = frozenset({"text/html", "text/plain", "application/xhtml+xml"})
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADERS = {
    "User-Agent": "Scout-Research/0.1 (+market research for business plans)",
    "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9",
    # Scout decodes bodies itself so the byte cap bounds what is decompressed too.
    "Accept-Encoding": "identity, gzip;q=0.5, deflate;q=0.5",
}


class WebResearch:
    """Web search and page fetching for the agents of one research run.

    ``http`` is the service's shared client, the one ``make_provider`` built
    ``provider`` on. Fetching never goes through it: a shared client resolves
    names on its own and may follow proxies from the environment, either of
    which would undo the address check, so each fetch uses a
    ``PinnedTransport`` of its own. ``resolver`` (host, port → addresses)
    replaces DNS in tests; ``ssl_context`` is the trust store for https pages
    (default: httpx's, certifi), for a corporate or a test CA; ``clock`` stamps
    ``retrieved_at``.
    """

    def __init__(
        self,
        provider: SearchProvider | None,
        settings: WebSettings,
        http: httpx.AsyncClient,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._provider, self._settings, self._http = provider, settings, http
        self._resolver = resolver or system_resolver
        self._ssl_context = ssl_context
        self._clock = clock
        self._searches = 0
        self._fetches = 0

    @property
    def searches_used(self) -> int:
        """Searches this run has made (attempts count, failed ones included)."""
        return self._searches

    @property
    def fetches_used(self) -> int:
        """Fetches this run has made (attempts count, refused ones included)."""
        return self._fetches

    async def search(self, query: str, *, limit: int = 5) -> list[WebResult]:
        """Up to ``limit`` (1–20) results for ``query``; ``WebToolError`` when it cannot."""
        query = " ".join(query.split())
        if not query:
            raise WebToolError("the search query is empty; say what to search for")
        if len(query) > MAX_QUERY_CHARS:
            raise WebToolError(f"the search query has {len(query)} characters; keep it under "
                               f"{MAX_QUERY_CHARS + 1}")
        if self._provider is None:
            raise WebToolError("web search is switched off for this service; work from the "
                               "uploaded documents")
        budget = self._settings.max_searches_per_run
        if self._searches >= budget:
            raise WebToolError(f"the search budget of this run ({budget} searches) is spent; "
                               "work with the sources already found")
        self._searches += 1
        results = await self._provider.search(query, limit=max(1, min(limit, MAX_RESULTS)))
        logger.info("web search", extra={"provider": self._provider.name,
                                         "results": len(results)})
        return results

    async def fetch(self, url: str) -> FetchedPage:
        """The readable text of the page at ``url`` (http/https, public addresses only)."""
        start = _parse_url(url)
        budget = self._settings.max_fetches_per_run
        if self._fetches >= budget:
            raise WebToolError(f"the fetch budget of this run ({budget} pages) is spent; "
                               "work with the pages already read")
        self._fetches += 1
        timeout = self._settings.fetch_timeout_s
        try:
            async with asyncio.timeout(timeout):
                final, media_type, charset, body, truncated = await self._download(start)
        except TimeoutError:
            raise WebToolError(f"fetching {start} took longer than {timeout:g} s; try another "
                               "source") from None
        retrieved_at = self._clock()
        title, text = await asyncio.to_thread(
            _readable, body, charset, url=str(final), is_html=media_type in _HTML_TYPES)
        if not text:
            raise WebToolError(f"the page {final} has no readable text")
        logger.info("page fetched", extra={"host": final.host, "bytes": len(body),
                                           "truncated": truncated})
        return FetchedPage(
            url=str(start), final_url=str(final), title=title or final.host, text=text,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            retrieved_at=retrieved_at, truncated=truncated,
        )

    async def _download(self, url: httpx.URL) -> tuple[httpx.URL, str, str | None, bytes, bool]:
        """Follow redirects by hand, checking and pinning every hop before it is dialled."""
        s = self._settings
        transport = PinnedTransport(self._ssl_context)
        async with httpx.AsyncClient(transport=transport, headers=_HEADERS, trust_env=False,
                                     follow_redirects=False,
                                     timeout=httpx.Timeout(s.fetch_timeout_s)) as client:
            for _hop in range(s.max_redirects + 1):
                port = url.port or (443 if url.scheme == "https" else 80)
                addresses = await checked_addresses(url.host, port, allow_hosts=s.fetch_allow_hosts,
                                                    resolver=self._resolver)
                transport.approve(url.host, port, addresses)
                try:
                    async with client.stream("GET", url) as response:
                        if response.status_code in _REDIRECTS:
                            url = _redirect_target(url, response)
                            continue
                        if response.status_code != 200:
                            raise WebToolError(f"the page {url} answered HTTP "
                                               f"{response.status_code}")
                        media_type, charset = _content_type(response)
                        body, truncated = await _read_capped(response, s.max_fetch_bytes)
                        return url, media_type, charset, body, truncated
                except httpx.TimeoutException:
                    raise TimeoutError from None
                except httpx.HTTPError as exc:
                    logger.info("page fetch failed", extra={"host": url.host,
                                                            "error": type(exc).__name__})
                    why = ("its TLS certificate could not be verified"
                           if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "connection failed")
                    raise WebToolError(f"the page {url} could not be fetched ({why})") from None
        raise WebToolError(f"the page {url} redirected more than {s.max_redirects} times")


def _parse_url(url: str) -> httpx.URL:
    text = url.strip()
    if len(text) > MAX_URL_CHARS:
        raise WebToolError(f"the URL is longer than {MAX_URL_CHARS} characters")
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise WebToolError(f"{text[:200]!r} is not a valid URL") from None
    if parsed.scheme not in ("http", "https"):
        raise WebToolError(f"only http and https URLs can be fetched, not {text[:200]!r}")
    if not parsed.host:
        raise WebToolError(f"the URL {text[:200]!r} has no host")
    if parsed.userinfo:
        raise WebToolError("URLs with a user name or password cannot be fetched")
    return parsed.copy_with(fragment=None)


def _redirect_target(url: httpx.URL, response: httpx.Response) -> httpx.URL:
    location = response.headers.get("Location")
    if not location:
        raise WebToolError(f"the page {url} redirected without saying where")
    try:
        return _parse_url(str(url.join(location)))
    except (httpx.InvalidURL, ValueError):
        raise WebToolError(f"the page {url} redirected to an invalid URL") from None


def _content_type(response: httpx.Response) -> tuple[str, str | None]:
    header = Message()
    header["Content-Type"] = response.headers.get("Content-Type", "")
    media_type = header.get_content_type() if response.headers.get("Content-Type") else ""
    if media_type not in ACCEPTED_TYPES:
        raise WebToolError(f"the page {response.url} is {media_type or 'of no stated type'}; "
                           "only HTML and plain text pages can be read")
    charset = header.get_param("charset")
    return media_type, charset if isinstance(charset, str) else None


async def _read_capped(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` body bytes (after decompression) and whether more was cut off."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
        raise WebToolError(f"the page {response.url} uses an unsupported encoding {encoding!r}")
    # wbits 47: zlib or gzip header, detected; max_length bounds every step's output.
    inflater = zlib.decompressobj(47) if encoding not in ("identity", "") else None
    body = bytearray()
    try:
        async for chunk in response.aiter_raw():
            room = limit - len(body)
            data = inflater.decompress(chunk, room + 1) if inflater else chunk
            if len(data) > room or (inflater is not None and inflater.unconsumed_tail):
                body += data[:room]
                return bytes(body), True
            body += data
    except zlib.error:
        raise WebToolError(f"the page {response.url} sent a corrupt compressed body") from None
    return bytes(body), False


def _readable(body: bytes, charset: str | None, *, url: str, is_html: bool) -> tuple[str, str]:
    """Decode and extract in one worker-thread call: both are CPU work on up to the byte cap."""
    return page_text(_decode(body, charset, is_html=is_html), url=url, is_html=is_html)


def _decode(body: bytes, charset: str | None, *, is_html: bool) -> str:
    if charset is None and is_html:
        match = _META_CHARSET.search(body[:4096])
        charset = match.group(1).decode("ascii") if match else None
    try:
        codec = codecs.lookup(charset or "utf-8").name
    except LookupError:
        codec = "utf-8"
    return body.decode(codec, errors="replace")
