"""Decoding of plain-text uploads and telling Markdown from prose.

Only encodings that can be recognised without guessing are accepted: UTF-8
(with or without BOM) and UTF-16 with a BOM. Anything else is refused with a
message asking for UTF-8, rather than decoded into mojibake the agents would
then analyse.
"""

from __future__ import annotations

import codecs
import re
from typing import Literal

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Control characters that never occur in text files; tab, newlines and form
# feed are fine. A NUL or a run of these means the bytes are a binary file.
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_CONTROL_RATIO = 0.001

_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,3}[.)])[ \t]+\S", re.MULTILINE)
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-{3,}:?[ \t]*\|", re.MULTILINE)
_INLINE_MARKUP = re.compile(r"\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\s]+\)|^ {0,3}```", re.MULTILINE)
_SNIFF_CHARS = 65_536


def decode_text(data: bytes, max_chars: int) -> tuple[str, bool] | None:
    """Decode at most about `max_chars` characters; None if this is not text.

    Returns the text with newlines normalised and whether it was cut at
    `max_chars`. Only a prefix of a very large file is decoded, so a huge
    upload costs no more than the characters that will be kept.
    """
    encoding = "utf-8"
    body = data
    for bom, bom_encoding in _BOMS:
        if data.startswith(bom):
            encoding, body = bom_encoding, data[len(bom) :]
            break
    # 4 bytes per character is the UTF-8 maximum; +1 char tells us if we cut.
    prefix_bytes = (max_chars + 1) * 4
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(body[:prefix_bytes], final=len(body) <= prefix_bytes)
    except UnicodeDecodeError:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    controls = len(_BINARY_CONTROL.findall(text))
    if "\x00" in text or controls > _MAX_CONTROL_RATIO * len(text):
        return None
    truncated = len(text) > max_chars or len(body) > prefix_bytes
    return text[:max_chars], truncated


def text_kind(text: str) -> Literal["markdown", "text"]:
    """Classify decoded text as Markdown when it uses Markdown structure.

    A single heading or table is decisive; lists alone are common in plain
    notes too, so they count only together with other inline markup.
    """
    sample = text[:_SNIFF_CHARS]
    if _ATX_HEADING.search(sample) or _TABLE_DELIMITER.search(sample):
        return "markdown"
    list_items = len(_LIST_ITEM.findall(sample))
    if list_items >= 2 and _INLINE_MARKUP.search(sample):
        return "markdown"
    return "text"
