"""Typed errors of the Scout client: one exception class per gRPC status code.

Every failed call of `ScoutClient` and `AsyncScoutClient` raises a subclass of
`ScoutError`, never a raw `grpc.RpcError`, so callers branch with `except
NotFoundError:` instead of comparing status codes. Where the server attached a
`google.rpc.ErrorInfo` to the status (in the `grpc-status-details-bin`
trailer), its `reason`, `domain` and `metadata` are on the exception too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "AbortedError",
    "AlreadyExistsError",
    "DataLossError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "ScoutCancelledError",
    "ScoutError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
    "error_class",
    "from_rpc_error",
]


class ScoutError(Exception):
    """A call to the Scout service failed.

    Attributes:
        code: The gRPC status code.
        message: The server's human-readable message (the status details).
        reason: `ErrorInfo.reason` when the server sent one, e.g.
            "SESSION_NOT_FOUND"; the value to branch on in code.
        domain: `ErrorInfo.domain` when the server sent one.
        metadata: `ErrorInfo.metadata`; empty when there is none.
        details: Every detail of the `google.rpc.Status`, still packed as
            `google.protobuf.Any` (ErrorInfo, RetryInfo, BadRequest ...).
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode | None = None,
        reason: str | None = None,
        domain: str | None = None,
        metadata: Mapping[str, str] | None = None,
        details: Sequence[Any] = (),
    ) -> None:
        """Build an error; `code` defaults to the subclass's own status code."""
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.reason = reason
        self.domain = domain
        self.metadata: dict[str, str] = dict(metadata or {})
        self.details: tuple[Any, ...] = tuple(details)

    def __str__(self) -> str:
        """Return "CODE: message", as the CLI prints it."""
        return f"{self.code.name}: {self.message}"

    def __repr__(self) -> str:
        """Return the class, message and reason."""
        reason = f", reason={self.reason!r}" if self.reason else ""
        return f"{type(self).__name__}({self.message!r}{reason})"


class ScoutCancelledError(ScoutError):
    """CANCELLED: the call was cancelled (named so it never shadows asyncio's)."""

    code = grpc.StatusCode.CANCELLED


class UnknownError(ScoutError):
    """UNKNOWN: the server failed in a way it did not classify."""

    code = grpc.StatusCode.UNKNOWN


class InvalidArgumentError(ScoutError):
    """INVALID_ARGUMENT: the request is malformed; retrying it cannot help."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceededError(ScoutError):
    """DEADLINE_EXCEEDED: the call's deadline passed before it finished."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(ScoutError):
    """NOT_FOUND: an unknown or expired session, file, report or run."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(ScoutError):
    """ALREADY_EXISTS: the thing to create is there already."""

    code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDeniedError(ScoutError):
    """PERMISSION_DENIED: the caller may not touch this resource."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(ScoutError):
    """RESOURCE_EXHAUSTED: a size, count or rate limit was hit."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(ScoutError):
    """FAILED_PRECONDITION: the resource is in the wrong state for the call."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(ScoutError):
    """ABORTED: a concurrent change conflicted with this one."""

    code = grpc.StatusCode.ABORTED


class OutOfRangeError(ScoutError):
    """OUT_OF_RANGE: a position or page outside the valid range."""

    code = grpc.StatusCode.OUT_OF_RANGE


class UnimplementedError(ScoutError):
    """UNIMPLEMENTED: the server does not offer this RPC."""

    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(ScoutError):
    """INTERNAL: a bug or broken invariant on the server (or the transport)."""

    code = grpc.StatusCode.INTERNAL


class UnavailableError(ScoutError):
    """UNAVAILABLE: the service or its store cannot be reached right now."""

    code = grpc.StatusCode.UNAVAILABLE


class DataLossError(ScoutError):
    """DATA_LOSS: content was lost or corrupted, e.g. a checksum mismatch."""

    code = grpc.StatusCode.DATA_LOSS


class UnauthenticatedError(ScoutError):
    """UNAUTHENTICATED: no valid credentials were sent."""

    code = grpc.StatusCode.UNAUTHENTICATED


_CLASSES: tuple[type[ScoutError], ...] = (
    ScoutCancelledError,
    UnknownError,
    InvalidArgumentError,
    DeadlineExceededError,
    NotFoundError,
    AlreadyExistsError,
    PermissionDeniedError,
    ResourceExhaustedError,
    FailedPreconditionError,
    AbortedError,
    OutOfRangeError,
    UnimplementedError,
    InternalError,
    UnavailableError,
    DataLossError,
    UnauthenticatedError,
)
_BY_CODE: dict[grpc.StatusCode, type[ScoutError]] = {cls.code: cls for cls in _CLASSES}


def error_class(code: grpc.StatusCode) -> type[ScoutError]:
    """Return the `ScoutError` subclass for a `grpc.StatusCode`.

    OK and codes this client does not know map to `UnknownError`.
    """
    return _BY_CODE.get(code, UnknownError)


def _rich_status(error: grpc.RpcError) -> status_pb2.Status | None:
    """Return the `google.rpc.Status` from the error's trailers, or None.

    `rpc_status.from_call` only reads `code()`, `details()` and
    `trailing_metadata()`, which sync errors and `grpc.aio.AioRpcError` both
    offer synchronously. A status whose code or message disagrees with the
    call's is ignored rather than trusted.
    """
    try:
        return rpc_status.from_call(error)
    except Exception:  # a corrupt or foreign trailer must never hide the real error
        return None


def from_rpc_error(error: grpc.RpcError) -> ScoutError:
    """Translate a `grpc.RpcError` (sync or `grpc.aio`) into a `ScoutError`.

    The original error is kept as `__cause__`.
    """
    if callable(getattr(error, "code", None)):
        code = error.code()
        message = error.details() or ""
    else:  # a bare RpcError that is not a Call carries no status at all
        code = grpc.StatusCode.UNKNOWN
        message = str(error)

    reason: str | None = None
    domain: str | None = None
    metadata: dict[str, str] = {}
    details: tuple[Any, ...] = ()
    status: status_pb2.Status | None = _rich_status(error)
    if status is not None:
        details = tuple(status.details)
        for packed in status.details:
            if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                packed.Unpack(info)
                reason = info.reason or None
                domain = info.domain or None
                metadata = dict(info.metadata)
                break

    exc = error_class(code)(
        message,
        code=code,
        reason=reason,
        domain=domain,
        metadata=metadata,
        details=details,
    )
    exc.__cause__ = error
    return exc
