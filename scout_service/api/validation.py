"""Input validation: every RPC checks its request here before anything else.

Each check raises ``InvalidArgument`` with a message that names the field and
says what a valid value looks like, so a caller can fix the request without
reading the server's code.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence

import langcodes
from google.protobuf import duration_pb2

from scout_service.domain import Brief, ReportKind
from scout_service.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_PAGE_TOKEN_CHARS = 4096
MAX_REQUEST_ID_CHARS = 128
MAX_FILE_NAME_BYTES = 255
MAX_CHUNK_BYTES = 1024 * 1024
MAX_LABELS = 32
_LABEL_KEY = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$")
_TOKEN = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE = re.compile(rf"^{_TOKEN}/{_TOKEN}" r"(\s*;\s*[A-Za-z0-9_.-]+=[A-Za-z0-9_.\"-]+)*$")


def _bad(field: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"{field}: {why}", reason="INVALID_ARGUMENT", metadata={"field": field})


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def uuid_id(value: str, field: str) -> str:
    """A canonical lower-case UUID string (session and run ids)."""
    if _CANONICAL_UUID.fullmatch(value):  # every id Scout hands out: no parsing needed
        return value
    if not value:
        raise _bad(field, "is required")
    try:
        parsed = uuid.UUID(value)
    except (ValueError, AttributeError):
        raise _bad(field, f"must be a UUID like 8c0e5a6e-…, got {value[:64]!r}") from None
    if str(parsed) != value.lower() or len(value) != 36:
        raise _bad(field, f"must be a UUID in canonical 8-4-4-4-12 form, got {value[:64]!r}")
    return value.lower()


def session_id(value: str, field: str = "session_id") -> str:
    """A session id."""
    return uuid_id(value, field)


def optional_run_id(value: str, field: str = "run_id") -> str | None:
    """A run id or empty (meaning: the session's latest run)."""
    return uuid_id(value, field) if value else None


def _has_control(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text)


def file_name(value: str, field: str = "file_name") -> str:
    """A plain file name: no directories, no control characters, ≤ 255 bytes."""
    if not value:
        raise _bad(field, "is required")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME_BYTES:
        raise _bad(field, f"must be at most {MAX_FILE_NAME_BYTES} bytes of UTF-8")
    if "/" in value or "\\" in value or value in (".", ".."):
        raise _bad(field, f"must be a plain file name without path separators, got {value[:64]!r}")
    if _has_control(value):
        raise _bad(field, "must not contain control or format characters")
    if value != value.strip():
        raise _bad(field, "must not start or end with whitespace")
    return unicodedata.normalize("NFC", value)


def content_type(value: str, field: str = "content_type") -> str:
    """A MIME type such as ``application/pdf``; empty means octet-stream."""
    if not value:
        return "application/octet-stream"
    if len(value) > 255 or not _CONTENT_TYPE.match(value):
        raise _bad(field, f"must be a MIME type like application/pdf, got {value[:64]!r}")
    return value


def request_id(value: str, field: str = "request_id") -> str | None:
    """An optional idempotency key: printable, ≤ 128 characters."""
    if not value:
        return None
    if len(value) > MAX_REQUEST_ID_CHARS:
        raise _bad(field, f"must be at most {MAX_REQUEST_ID_CHARS} characters")
    if _has_control(value) or value != value.strip():
        raise _bad(field, "must be printable without surrounding whitespace")
    return value


def labels(value: Mapping[str, str], field: str = "labels") -> dict[str, str]:
    """Session labels: ≤ 32, keys like ``team`` or ``cost-center``, values ≤ 256."""
    if len(value) > MAX_LABELS:
        raise _bad(field, f"at most {MAX_LABELS} labels, got {len(value)}")
    for key, val in value.items():
        if not _LABEL_KEY.match(key):
            raise _bad(f"{field}[{key[:40]!r}]", "keys are 1-63 of a-z 0-9 _ . - "
                       "starting and ending with a letter or digit")
        if len(val) > 256 or _has_control(val):
            raise _bad(f"{field}[{key}]", "values are at most 256 printable characters")
    return dict(value)


def page(page_size: int, page_token: str) -> tuple[int, str | None]:
    """Page size (0 → default) and token, bounded."""
    if page_size < 0 or page_size > MAX_PAGE_SIZE:
        raise _bad("page_size", f"must be between 0 and {MAX_PAGE_SIZE}, got {page_size}")
    if len(page_token) > MAX_PAGE_TOKEN_CHARS:
        raise _bad("page_token", "is not a token this server issued")
    return page_size or DEFAULT_PAGE_SIZE, page_token or None


def report_version(value: int, field: str = "version") -> int | None:
    """A report version: 0 → the latest (None), else 1 or more."""
    if value < 0:
        raise _bad(field, f"must be 0 (the latest) or a version number from 1, got {value}")
    return value or None


def ttl_seconds(
    value: duration_pb2.Duration, present: bool, default: int, maximum: int, field: str = "ttl"
) -> int:
    """A session lifetime: unset → default; otherwise 1 s … maximum."""
    if not present:
        return default
    seconds = value.seconds + value.nanos / 1e9
    if seconds < 1:
        raise _bad(field, "must be at least 1 second")
    if seconds > maximum:
        raise _bad(field, f"must be at most {maximum} seconds ({maximum // 3600} hours)")
    return int(seconds)


def after_sequence(value: int) -> int:
    """A resume point: 0 or a positive sequence."""
    if value < 0:
        raise _bad("after_sequence", f"must be 0 or positive, got {value}")
    return value


def chunk(data: bytes, field: str = "chunk") -> bytes:
    """One upload message's bytes, at most 1 MiB."""
    if len(data) > MAX_CHUNK_BYTES:
        raise _bad(field, f"at most {MAX_CHUNK_BYTES} bytes per message, got {len(data)}")
    return data


MAX_QUESTIONS = 10
MAX_QUESTION_CHARS = 500
MAX_FOCUS_CHARS = 500
MAX_GEOGRAPHY_CHARS = 200
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


def _text(value: str, field: str, limit: int) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > limit:
        raise _bad(field, f"at most {limit} characters, got {len(text)}")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise _bad(field, "must not contain control characters")
    return text


def brief(
    questions: Sequence[str], language: str, agents: Sequence[ReportKind | None],
    web_search: bool | None, max_tokens: int | None, focus: str, geography: str,
) -> Brief:
    """A research brief, every field checked (``agents``: None for an unknown kind)."""
    if len(questions) > MAX_QUESTIONS:
        raise _bad("brief.questions", f"at most {MAX_QUESTIONS} questions, got {len(questions)}")
    asked = []
    for i, question in enumerate(questions):
        text = _text(question, f"brief.questions[{i}]", MAX_QUESTION_CHARS)
        if not text:
            raise _bad(f"brief.questions[{i}]", "must not be empty")
        asked.append(text)
    tag = language.strip()
    if tag:
        if not _LANGUAGE_TAG.match(tag) or not langcodes.tag_is_valid(tag):
            raise _bad("brief.language", f"{tag[:40]!r} is not a BCP-47 language tag; use e.g. "
                       "'de', 'en-GB' or 'pt-BR'")
        tag = langcodes.standardize_tag(tag)
    kinds: list[ReportKind] = []
    for i, kind in enumerate(agents):
        if kind is None or kind is ReportKind.FINAL:
            raise _bad(f"brief.agents[{i}]", "must be one of REPORT_KIND_MARKET, _COMPETITION, "
                       "_PRICE, _LEGAL (the final report is always written)")
        if kind in kinds:
            raise _bad(f"brief.agents[{i}]", f"{kind.value} is listed twice")
        kinds.append(kind)
    if max_tokens is not None and max_tokens <= 0:
        raise _bad("brief.max_tokens", f"must be greater than 0 when set, got {max_tokens}")
    return Brief(
        questions=tuple(asked), language=tag, agents=tuple(kinds), web_search=web_search,
        max_tokens=max_tokens, focus=_text(focus, "brief.focus", MAX_FOCUS_CHARS),
        geography=_text(geography, "brief.geography", MAX_GEOGRAPHY_CHARS),
    )


def question(value: str) -> str:
    """A follow-up question: 1-1000 characters of text."""
    text = _text(value, "question", MAX_FOLLOW_UP_CHARS)
    if not text:
        raise _bad("question", "must not be empty")
    return text


MAX_FOLLOW_UP_CHARS = 1000
