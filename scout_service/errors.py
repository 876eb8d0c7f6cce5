"""Scout's one exception hierarchy.

Every layer raises these; ``scout_service.api.status`` maps them to gRPC
status codes in one place. The store translates DynamoDB's error codes into
them, so nothing above it ever sees a ``botocore`` exception. ``reason`` is a
stable UPPER_SNAKE code sent to callers as ``google.rpc.ErrorInfo.reason``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class ScoutError(Exception):
    """Base of every error Scout raises on purpose."""

    default_reason = "SCOUT_ERROR"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(ScoutError):
    """The request itself is malformed (INVALID_ARGUMENT)."""

    default_reason = "INVALID_ARGUMENT"


class NotFound(ScoutError):
    """Unknown, expired, or someone else's (NOT_FOUND)."""

    default_reason = "NOT_FOUND"


class AlreadyExists(ScoutError):
    """Creation of something that exists (ALREADY_EXISTS)."""

    default_reason = "ALREADY_EXISTS"


class Conflict(ScoutError):
    """A concurrent writer won a conditional write (ABORTED); retry after a read."""

    default_reason = "CONCURRENT_MODIFICATION"


class FailedPrecondition(ScoutError):
    """The target is in the wrong state for this call (FAILED_PRECONDITION)."""

    default_reason = "FAILED_PRECONDITION"


class ResourceExhausted(ScoutError):
    """A configured limit was reached (RESOURCE_EXHAUSTED)."""

    default_reason = "LIMIT_EXCEEDED"


class Unavailable(ScoutError):
    """The store (or another dependency) cannot be reached now (UNAVAILABLE)."""

    default_reason = "STORE_UNAVAILABLE"


class Unauthenticated(ScoutError):
    """No or an unknown credential (UNAUTHENTICATED)."""

    default_reason = "UNAUTHENTICATED"


class PermissionDenied(ScoutError):
    """A known caller may not do this (PERMISSION_DENIED)."""

    default_reason = "PERMISSION_DENIED"


class Cancelled(ScoutError):
    """The operation was cancelled (CANCELLED)."""

    default_reason = "CANCELLED"


class DeadlineExceeded(ScoutError):
    """A time budget ran out (DEADLINE_EXCEEDED)."""

    default_reason = "DEADLINE_EXCEEDED"


def session_not_found(session_id: str) -> NotFound:
    """The one answer for a missing, expired or someone else's session.

    Every layer uses this, so the message cannot tell a foreign session from
    a missing one.
    """
    return NotFound(f"session {session_id} not found or expired", reason="SESSION_NOT_FOUND")


# -- builders: one message and one ErrorInfo schema per condition ---------------------
#
# Every limit error carries ``limit`` (the setting's name) and ``limit_value``
# (its value, in the setting's unit), so a caller branching on metadata meets
# one shape whichever layer refused it.


def format_mb(size: int) -> str:
    """A byte limit in MB for messages ("25 MB", "0.01 MB")."""
    mb = size / (1024 * 1024)
    return f"{mb:g} MB" if mb >= 1 else f"{mb:.2g} MB"


def _mb_value(size: int) -> str:
    """A byte limit as the value of its ``SCOUT_..._MB`` setting."""
    return f"{size / (1024 * 1024):g}"


def limit_exceeded(
    message: str, *, reason: str, limit: str, value: int | float | str, **more: str,
) -> ResourceExhausted:
    """A ``ResourceExhausted`` for setting ``limit`` (e.g. ``SCOUT_MAX_FILE_MB``) set to ``value``.

    ``more`` are further metadata of this error (``limit_bytes``, ``size_bytes``).
    """
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return ResourceExhausted(
        message, reason=reason, metadata={**more, "limit": limit, "limit_value": shown}
    )


def file_too_large(name: str, limit: int) -> ResourceExhausted:
    """A file over ``StoreLimits.max_file_bytes``."""
    return limit_exceeded(
        f"file {name!r} is larger than the {format_mb(limit)} limit ({limit} bytes, "
        "SCOUT_MAX_FILE_MB)",
        reason="FILE_TOO_LARGE", limit="SCOUT_MAX_FILE_MB", value=_mb_value(limit),
        limit_bytes=str(limit),
    )


def too_many_files(held: int, limit: int) -> ResourceExhausted:
    """A new file in a session that holds ``StoreLimits.max_files_per_session``."""
    return limit_exceeded(
        f"the session already holds {held} files, the limit "
        f"(SCOUT_MAX_FILES_PER_SESSION) is {limit}",
        reason="TOO_MANY_FILES", limit="SCOUT_MAX_FILES_PER_SESSION", value=limit,
    )


def session_too_large(limit: int) -> ResourceExhausted:
    """Files adding up to more than ``StoreLimits.max_session_bytes``."""
    return limit_exceeded(
        f"the session's files would exceed {limit / 1024 / 1024:g} MB in total "
        "(SCOUT_MAX_SESSION_MB)",
        reason="SESSION_TOO_LARGE", limit="SCOUT_MAX_SESSION_MB", value=_mb_value(limit),
    )


def report_too_large(kind: str, size: int, limit: int) -> ResourceExhausted:
    """A report over ``StoreLimits.max_report_bytes``."""
    return limit_exceeded(
        f"report {kind} is {size} bytes, larger than the {format_mb(limit)} limit "
        "(SCOUT_MAX_REPORT_MB)",
        reason="REPORT_TOO_LARGE", limit="SCOUT_MAX_REPORT_MB", value=_mb_value(limit),
        limit_bytes=str(limit), size_bytes=str(size),
    )


def file_not_found(session_id: str, name: str) -> NotFound:
    """A file name the (live) session does not hold."""
    return NotFound(f"file {name!r} not found in session {session_id}", reason="FILE_NOT_FOUND")


def run_not_found(session_id: str, run_id: str) -> NotFound:
    """A run id the (live) session does not hold."""
    return NotFound(f"run {run_id} not found in session {session_id}", reason="RUN_NOT_FOUND")


def report_not_found(title: str, session_id: str) -> NotFound:
    """A report kind with no stored version."""
    return NotFound(f"{title} not found in session {session_id}", reason="REPORT_NOT_FOUND")


def version_not_found(title: str, session_id: str, version: int,
                      stored: Sequence[int]) -> NotFound:
    """A report version that was never stored or was pruned."""
    held = (f"versions {min(stored)}-{max(stored)} are stored" if len(stored) > 1
            else f"version {stored[0]} is stored" if stored else "no version is stored")
    return NotFound(
        f"{title} version {version} not found in session {session_id}: {held} "
        "(older ones are pruned, SCOUT_MAX_REPORT_VERSIONS)",
        reason="REPORT_VERSION_NOT_FOUND",
        metadata={"version": str(version),
                  "stored_versions": ",".join(str(v) for v in sorted(stored))},
    )


def run_in_progress(session_id: str, active: str) -> FailedPrecondition:
    """A second run in a session whose active-run slot is taken."""
    return FailedPrecondition(
        f"run {active} is still in progress in session {session_id}",
        reason="RUN_IN_PROGRESS",
        metadata={"active_run_id": active},
    )


def run_exists(session_id: str, run_id: str) -> AlreadyExists:
    """A run id that is already stored."""
    return AlreadyExists(f"run {run_id} already exists in session {session_id}",
                         reason="RUN_EXISTS")


def run_version_conflict(run_id: str, expected: int) -> Conflict:
    """An update of a run from a version that is no longer the stored one."""
    return Conflict(f"run {run_id} changed concurrently (expected version {expected})",
                    reason="RUN_VERSION_CONFLICT")


def event_exists(run_id: str, sequence: int) -> Conflict:
    """An event sequence number the run already has."""
    return Conflict(f"run {run_id} already has event {sequence}", reason="EVENT_EXISTS")


def source_exists(run_id: str, ids: Sequence[str]) -> Conflict:
    """A source id that is already stored for its run."""
    return Conflict(f"run {run_id} already has sources {', '.join(ids)}",
                    reason="SOURCE_EXISTS")


def blob_replaced(what: str) -> Conflict:
    """A blob replaced or deleted under a reader (only a replace or delete does this)."""
    return Conflict(
        f"{what} was replaced or deleted while being read; read it again",
        reason="BLOB_REPLACED",
    )
