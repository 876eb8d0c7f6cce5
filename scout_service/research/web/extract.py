"""Page bytes → the readable plain text and title an agent reads and cites.

trafilatura finds the main text of an HTML page (no menus, footers, cookie
banners); it is CPU-bound, so callers run ``page_text`` in a worker thread.
When it finds nothing (a page that is all navigation, a tiny document), a
plain strip of the markup keeps the page usable rather than empty. The
result is only text: markup, scripts and comments are gone, and nothing is
added to it, so whatever a page says reaches the model as data to weigh.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_INVISIBLE = re.compile(r"<(script|style|noscript|template|svg|head)\b.*?</\1\s*>|<!--.*?-->",
                        re.IGNORECASE | re.DOTALL)
_BLOCK = re.compile(r"</?(p|div|br|li|tr|h[1-6]|section|article|blockquote|pre|table)\b[^>]*>",
                    re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_BLANKS = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


def _tidy(text: str) -> str:
    lines = (_BLANKS.sub(" ", line).strip() for line in text.splitlines())
    return _LINES.sub("\n\n", "\n".join(lines)).strip()


def strip_markup(markup: str) -> str:
    """HTML → text without trafilatura: drop invisible parts and tags, keep paragraphs."""
    text = _INVISIBLE.sub(" ", markup)
    text = _BLOCK.sub("\n", text)
    return _tidy(html.unescape(_TAG.sub(" ", text)))


def html_title(markup: str) -> str:
    """The document's ``<title>``, as plain text ('' when there is none)."""
    match = _TITLE.search(markup)
    return _tidy(html.unescape(_TAG.sub(" ", match.group(1)))).replace("\n", " ") if match else ""


def page_text(markup: str, *, url: str, is_html: bool) -> tuple[str, str]:
    """``(title, text)`` of a page body already decoded to ``str`` (blocking: run in a thread)."""
    if not is_html:
        return "", _tidy(markup)
    # Imported here: heavy (lxml, justext), and only a run that fetches needs it.
    import trafilatura

    document: Any = trafilatura.bare_extraction(
        markup, url=url, with_metadata=True, include_comments=False, include_tables=True,
        include_images=False, include_links=False, output_format="python")
    text = getattr(document, "text", None) or ""
    title = getattr(document, "title", None) or html_title(markup)
    if not text.strip():
        text = strip_markup(markup)
    return _tidy(str(title)).replace("\n", " "), _tidy(str(text))
