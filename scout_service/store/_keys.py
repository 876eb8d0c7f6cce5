"""Item keys, sort orders, page tokens and limit messages shared by both stores.

The memory store orders and pages its data by the very sort keys the DynamoDB
table uses, so both produce the same listings and accept the same (opaque)
page tokens: URL-safe base64 of a small JSON object naming the listing, its
scope (session or owner) and the last key of the previous page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping

from scout_service.errors import (  # noqa: F401 - re-exported: the builders moved there
    InvalidArgument,
    file_too_large,
    format_mb,
    report_too_large,
)

SESSION_SK = "SESSION"
FILE_PREFIX = "FILE#"
REPORT_PREFIX = "REPORT#"
REPORT_VERSION_PREFIX = "REPORTV#"
RUN_PREFIX = "RUN#"
EVENT_PREFIX = "EVENT#"
BLOB_PREFIX = "BLOB#"
IDEM_PREFIX = "IDEM#"
ACTIVE_RUNS = "ACTIVE_RUNS"
OWNER_PREFIX = "OWNER#"
SOURCE_PREFIX = "SOURCE#"
FINDINGS_PREFIX = "FINDINGS#"
QUESTION_PREFIX = "QUESTION#"

# Largest event sequence the key format holds (10 digits).
MAX_SEQUENCE = 9_999_999_999
# A blob at most this big is stored inline in its metadata item (one GetItem
# reads it); bigger ones go to chunk items. DynamoDB items top out at 400 KB.
INLINE_MAX_BYTES = 300 * 1000

OP_CREATE_SESSION = "CreateSession"
OP_START_RESEARCH = "StartResearch"
OP_PUT_REPORT = "PutReport"
OP_ASK_QUESTION = "AskQuestion"

INVALID_TOKEN = "page_token is not valid for this listing"


def file_sk(name: str) -> str:
    """Sort key of a file's metadata item."""
    return FILE_PREFIX + name


def report_sk(name: str) -> str:
    """Sort key of a report's metadata item (``name`` is ReportKind.value)."""
    return REPORT_PREFIX + name


def report_versions_prefix(name: str) -> str:
    """Sort-key prefix of a report kind's versions."""
    return f"{REPORT_VERSION_PREFIX}{name}#"


def report_version_sk(name: str, version: int) -> str:
    """Sort key of one version of a report; zero padding keeps versions in order."""
    return f"{report_versions_prefix(name)}{version:06d}"


def run_sk(run_id: str) -> str:
    """Sort key of a run item."""
    return RUN_PREFIX + run_id


def event_sk(run_id: str, sequence: int) -> str:
    """Sort key of a progress event; zero padding keeps sequences in order."""
    return f"{EVENT_PREFIX}{run_id}#{sequence:010d}"


def question_sk(question_id: str) -> str:
    """Sort key of a question (UUIDv7 ids: questions list in the order asked)."""
    return QUESTION_PREFIX + question_id


def findings_sk(kind_name: str) -> str:
    """Sort key of a kind's findings (``kind_name`` is ReportKind.value)."""
    return FINDINGS_PREFIX + kind_name


def source_prefix(run_id: str) -> str:
    """Sort-key prefix of a run's sources."""
    return f"{SOURCE_PREFIX}{run_id}#"


def source_sk(run_id: str, number: int) -> str:
    """Sort key of source ``S<number>`` of a run; zero padding keeps ids in order."""
    return f"{source_prefix(run_id)}{number:06d}"


def sources_scope(session_id: str, run_id: str) -> str:
    """The page-token scope of one run's source listing."""
    return f"{session_id}/{run_id}"


def blob_sk(blob_id: str, index: int) -> str:
    """Sort key of one chunk of a blob version."""
    return f"{BLOB_PREFIX}{blob_id}#{index:05d}"


def idem_sk(operation: str, request_id: str) -> str:
    """Sort key of an idempotency record inside a session's partition."""
    return f"{IDEM_PREFIX}{operation}#{request_id}"


def create_idem_key(owner: str, request_id: str) -> tuple[str, str]:
    """(partition, sort key) of a CreateSession idempotency record.

    It cannot live in the session's partition (there is no session yet), so it
    gets a partition per owner; hashing keeps owner strings out of keys.
    """
    digest = hashlib.sha256(owner.encode("utf-8")).hexdigest()
    return f"{IDEM_PREFIX}{digest}", f"{OP_CREATE_SESSION}#{request_id}"


def millis(seconds: float) -> str:
    """Epoch seconds as zero-padded milliseconds: sorts like the number."""
    return f"{max(0, int(seconds * 1000)):015d}"


def owner_pk(owner: str) -> str:
    """GSI partition of an owner's sessions."""
    return OWNER_PREFIX + owner


def session_gsi_sk(created_at: float, session_id: str) -> str:
    """GSI sort key of a session: creation time, then id for ties."""
    return f"{millis(created_at)}#{session_id}"


def active_run_gsi_sk(lease_expires_at: float, session_id: str, run_id: str) -> str:
    """GSI sort key of a non-terminal run: lease expiry first."""
    return f"{millis(lease_expires_at)}#{session_id}#{run_id}"


# -- page tokens -----------------------------------------------------------------

LIST_FILES = "files"
LIST_REPORTS = "reports"
LIST_RUNS = "runs"
LIST_SESSIONS = "sessions"
LIST_ALL_SESSIONS = "all_sessions"
LIST_SOURCES = "sources"
LIST_REPORT_VERSIONS = "report_versions"
LIST_QUESTIONS = "questions"

_PREFIX_OF = {LIST_FILES: FILE_PREFIX, LIST_REPORTS: REPORT_PREFIX, LIST_RUNS: RUN_PREFIX,
              LIST_QUESTIONS: QUESTION_PREFIX}


def encode_token(listing: str, scope: str, key: Mapping[str, str]) -> str:
    """Opaque page token carrying the last key of a page."""
    raw = json.dumps({"l": listing, "s": scope, "k": dict(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_token(token: str, listing: str, scope: str) -> dict[str, str]:
    """The key a token carries, checked to belong to this listing and scope.

    Anything else (garbage, another session's token, a token of another
    listing, a key of the wrong shape) raises ``InvalidArgument``.
    """
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise InvalidArgument(INVALID_TOKEN, reason="INVALID_PAGE_TOKEN") from None
    if not isinstance(data, dict) or data.get("l") != listing or data.get("s") != scope:
        raise InvalidArgument(INVALID_TOKEN, reason="INVALID_PAGE_TOKEN")
    key = data.get("k")
    if not isinstance(key, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in key.items()
    ):
        raise InvalidArgument(INVALID_TOKEN, reason="INVALID_PAGE_TOKEN")
    if not _key_fits(listing, scope, key):
        raise InvalidArgument(INVALID_TOKEN, reason="INVALID_PAGE_TOKEN")
    return key


def _key_fits(listing: str, scope: str, key: Mapping[str, str]) -> bool:
    if listing in _PREFIX_OF:
        return (
            set(key) == {"session_id", "sk"}
            and key["session_id"] == scope
            and key["sk"].startswith(_PREFIX_OF[listing])
        )
    if listing == LIST_SESSIONS:
        return (
            set(key) == {"session_id", "sk", "gsi1pk", "gsi1sk"}
            and key["sk"] == SESSION_SK
            and key["gsi1pk"] == owner_pk(scope)
            and key["gsi1sk"].endswith("#" + key["session_id"])
        )
    if listing == LIST_ALL_SESSIONS:
        return set(key) == {"gsi1sk"}
    if listing == LIST_REPORT_VERSIONS:
        session_id, _, name = scope.partition("/")
        return (
            set(key) == {"session_id", "sk"}
            and key["session_id"] == session_id
            and key["sk"].startswith(report_versions_prefix(name))
        )
    if listing == LIST_SOURCES:
        session_id, _, run_id = scope.partition("/")
        return (
            set(key) == {"session_id", "sk"}
            and key["session_id"] == session_id
            and key["sk"].startswith(source_prefix(run_id))
        )
    return False


def report_versions_scope(session_id: str, name: str) -> str:
    """The page-token scope of one report kind's version listing."""
    return f"{session_id}/{name}"
