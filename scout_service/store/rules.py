"""The store's rules, written once for both backends.

``MemoryStore`` (dicts and a lock) and ``DynamoStore`` (requests) differ only
in how they keep things; what they keep, and what they refuse, is decided
here: the size limits and their checks, the new values they store (ids,
hashes, timestamps, versions), the range of event sequences, the single
active-run slot and what expired means. The errors themselves are built by
``scout_service.errors``, so both backends say the same thing the same way.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from scout_service import errors
from scout_service.domain import FileInfo, Report, ReportKind, ReportSource, Run, Session, Source
from scout_service.store import _keys as keys

# Sources one put_sources stores: with the session's ttl check, one 100-item transaction.
MAX_SOURCE_BATCH = 99


@dataclass(frozen=True)
class StoreLimits:
    """Size limits the store enforces before it writes anything (and again as it commits)."""

    # Largest uploaded file, in bytes (issue: 25 MB by default).
    max_file_bytes: int = 25 * 1024 * 1024
    # Largest report, in bytes of UTF-8 Markdown.
    max_report_bytes: int = 4 * 1024 * 1024
    # Versions of each report kept readable (the latest included); a save
    # past it deletes the oldest (SCOUT_MAX_REPORT_VERSIONS).
    max_report_versions: int = 20
    # Chunk size for blobs: under DynamoDB's 400 KB item limit with room for
    # the keys and attributes around it.
    chunk_bytes: int = 350 * 1000
    # Longest TTL a session may be given or extended to, in seconds.
    max_ttl_seconds: int = 7 * 24 * 3600
    # Files a session may hold, and their bytes in all (new versions replace old ones).
    max_files_per_session: int = 20
    max_session_bytes: int = 100 * 1024 * 1024

    def file_room(self, *, held: int, used: int, replaced: int | None) -> int:
        """Bytes a file may have in a session holding ``held`` files of ``used`` bytes.

        ``replaced`` is the size of the version it replaces (``None``: a new
        name, which needs a free slot: ``TOO_MANY_FILES`` otherwise). A
        negative result means the session is already over its bytes limit.
        """
        if replaced is None and held >= self.max_files_per_session:
            raise errors.too_many_files(held, self.max_files_per_session)
        return self.max_session_bytes - used + (replaced or 0)

    def check_file_size(self, name: str, size: int, room: int) -> None:
        """Refuse ``size`` bytes of file ``name``: past the session's ``room`` first.

        Then past the per-file limit (a file over both fits nowhere in this session).
        """
        if size > room:
            raise errors.session_too_large(self.max_session_bytes)
        if size > self.max_file_bytes:
            raise errors.file_too_large(name, self.max_file_bytes)

    def check_report(self, kind: ReportKind, raw: bytes) -> None:
        """Refuse a report whose UTF-8 body is over ``max_report_bytes``."""
        if len(raw) > self.max_report_bytes:
            raise errors.report_too_large(kind.value, len(raw), self.max_report_bytes)


# -- liveness -------------------------------------------------------------------------


def expiry(now: float, ttl_seconds: int) -> int:
    """Epoch second at which something created ``now`` with a TTL expires."""
    return int(now) + int(ttl_seconds)


def is_live(ttl: int | float | None, now: float) -> bool:
    """Expired means gone: an item is live only while ``ttl > now``."""
    return ttl is not None and ttl > now


# -- new values -----------------------------------------------------------------------


def new_session(
    owner: str, ttl_seconds: int, labels: Mapping[str, str] | None, now: float
) -> Session:
    """A new session: a fresh id, created ``now``, expiring ``ttl_seconds`` later."""
    return Session(
        session_id=str(uuid.uuid4()),
        owner=owner,
        created_at=now,
        expires_at=expiry(now, ttl_seconds),
        labels=dict(labels or {}),
    )


def new_file(
    session_id: str, name: str, content_type: str, size: int, sha256: str, now: float
) -> FileInfo:
    """The metadata of a file whose ``size`` bytes hash to ``sha256``, stored ``now``."""
    return FileInfo(
        session_id=session_id,
        name=name,
        content_type=content_type,
        size=size,
        sha256=sha256,
        created_at=now,
    )


def new_report(
    session_id: str,
    kind: ReportKind,
    raw: bytes,
    *,
    source: ReportSource,
    author: str,
    run_id: str | None,
    cited: Sequence[str],
    sources_run_id: str | None,
    now: float,
    version: int = 1,
) -> Report:
    """A report version of UTF-8 body ``raw`` (its size and hash), saved ``now``."""
    return Report(
        session_id=session_id,
        kind=kind,
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        updated_at=now,
        source=source,
        author=author,
        run_id=run_id,
        cited=tuple(cited),
        sources_run_id=sources_run_id,
        version=version,
    )


def next_version(previous: int | None) -> int:
    """The version a save gets after the kind's latest ``previous`` (``None``: first save)."""
    return 1 if previous is None else previous + 1


# -- runs and events ------------------------------------------------------------------


def first_version(run: Run) -> Run:
    """A run as ``create_run`` stores it: version 1."""
    return replace(run, version=1)


def updated(run: Run) -> Run:
    """A run as ``update_run`` stores it: one version past the caller's."""
    return replace(run, version=run.version + 1)


def check_run_slot(session_id: str, active_run_id: str | None) -> None:
    """A session runs one research at a time: refuse a run while another holds the slot."""
    if active_run_id is not None:
        raise errors.run_in_progress(session_id, active_run_id)


def claims_slot(run: Run) -> bool:
    """Whether a new run takes the session's active-run slot (a terminal one does not)."""
    return not run.state.is_terminal


def check_sequence(sequence: int) -> None:
    """Event sequences are 1-based and fit the key format's 10 digits."""
    if not 1 <= sequence <= keys.MAX_SEQUENCE:
        raise errors.InvalidArgument(
            f"event sequence {sequence} is out of range 1..{keys.MAX_SEQUENCE}"
        )


def check_source_batch(sources: Sequence[Source]) -> None:
    """Sources stored together belong to one run and fit one transaction."""
    if len(sources) > MAX_SOURCE_BATCH or len({(s.session_id, s.run_id) for s in sources}) > 1:
        raise ValueError(f"put_sources takes at most {MAX_SOURCE_BATCH} sources of one run")
