"""Markdown handling for untrusted report text: heading demotion and safe HTML.

Reports are model output and may contain anything, including HTML meant to
run in a reader's browser. markdown-it is configured with raw HTML off, so
tags in a report are shown as text, and images are rendered as their alt
text, so a rendered report never loads anything from the network.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

REPORT_TOP_LEVEL = 3
"""Report headings start at h3: h1 is the dossier title, h2 the report title."""

_MAX_HEADING_LEVEL = 6

# The hashes of an ATX heading, after any blockquote markers or list marker
# that may precede them on the line.
_ATX_PREFIX = re.compile(r"^([ \t>]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+)?[ \t>]*)(#{1,6})(?=[ \t]|$)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def new_parser() -> MarkdownIt:
    """Return a markdown-it parser for report text (one per call: thread-safe use).

    CommonMark with GFM tables and strikethrough; raw HTML, linkify and
    typographic replacements off.
    """
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    parser.add_render_rule("image", _render_image_as_text)
    parser.add_render_rule("table_open", _render_table_open)
    parser.add_render_rule("table_close", _render_table_close)
    return parser


def heading_shift(tokens: Sequence[Token]) -> int:
    """Levels to add so the report's highest heading lands on `REPORT_TOP_LEVEL`."""
    levels = [int(token.tag[1]) for token in tokens if token.type == "heading_open"]
    return max(0, REPORT_TOP_LEVEL - min(levels)) if levels else 0


def report_to_html(markdown: str) -> str:
    """Render report Markdown to an HTML fragment with headings from h3 down."""
    parser = new_parser()
    tokens = parser.parse(markdown)
    shift = heading_shift(tokens)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + shift, _MAX_HEADING_LEVEL)}"
    html: str = parser.renderer.render(tokens, parser.options, {})
    return html


def demote_headings(markdown: str) -> str:
    """Rewrite report Markdown so its headings start at `REPORT_TOP_LEVEL`.

    Headings are found with the parser, not a regex over lines, so ``#``
    lines inside code blocks are left alone. Setext headings (underlined
    with ``===``/``---``) become ATX headings, since setext has only two levels.
    """
    tokens = new_parser().parse(markdown)
    shift = heading_shift(tokens)
    if shift == 0:
        return markdown
    lines = markdown.splitlines()
    removed: set[int] = set()
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or token.map is None:
            continue
        level = min(int(token.tag[1]) + shift, _MAX_HEADING_LEVEL)
        start, end = token.map
        if token.markup.startswith("#"):
            lines[start] = _ATX_PREFIX.sub(r"\g<1>" + "#" * level, lines[start], count=1)
        elif token.level == 0:
            # Setext: the content lines then the underline; only at top level,
            # where the lines carry no container markers.
            lines[start] = "#" * level + " " + tokens[index + 1].content.replace("\n", " ")
            removed.update(range(start + 1, end))
    text = "\n".join(line for number, line in enumerate(lines) if number not in removed)
    return text + "\n" if markdown.endswith("\n") else text


def escape_inline(text: str) -> str:
    """Escape text (a title, a session id) for use inside Markdown prose."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _render_image_as_text(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    alt = renderer.renderInlineAsText(tokens[idx].children or [], options, env)
    return f'<span class="image-omitted">[image: {escapeHtml(alt)}]</span>'


def _render_table_open(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    return '<div class="table-wrap">\n' + str(renderer.renderToken(tokens, idx, options, env))


def _render_table_close(
    renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    return str(renderer.renderToken(tokens, idx, options, env)) + "</div>\n"
