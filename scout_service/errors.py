"""Scout's one exception hierarchy.

Every layer raises these; ``scout_service.api.status`` maps them to gRPC
status codes in one place. The store translates DynamoDB's error codes into
them, so nothing above it ever sees a ``botocore`` exception. ``reason`` is a
stable UPPER_SNAKE code sent to callers as ``google.rpc.ErrorInfo.reason``.
"""

from __future__ import annotations

from collections.abc import Mapping


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
