"""The one mapping from Scout's errors to gRPC status codes.

Each ``ScoutError`` subclass has exactly one status code; the reason travels
as ``google.rpc.ErrorInfo`` (domain ``scout.v1``) in the status details, so a
caller can branch on ``RUN_IN_PROGRESS`` or ``FILE_TOO_LARGE`` without
parsing messages.
"""

from __future__ import annotations

from typing import cast

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from scout_service import errors

ERROR_DOMAIN = "scout.v1"

_CODES: dict[type[errors.ScoutError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.Conflict: grpc.StatusCode.ABORTED,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Cancelled: grpc.StatusCode.CANCELLED,
    errors.DeadlineExceeded: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_code_of(error: errors.ScoutError) -> grpc.StatusCode:
    """The status code of a domain error (INTERNAL for the bare base class)."""
    for cls in type(error).__mro__:
        if cls in _CODES:
            return _CODES[cls]
    return grpc.StatusCode.INTERNAL


def to_rpc_status(error: errors.ScoutError) -> grpc.Status:
    """A ``grpc.Status`` carrying code, message and an ``ErrorInfo`` detail."""
    code = status_code_of(error)
    info = error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    proto = status_pb2.Status(
        code=getattr(code_pb2, code.name), message=error.message, details=[detail]
    )
    return cast(grpc.Status, rpc_status.to_status(proto))
