"""The Python client of the Scout market-research service (scout.v1).

`ScoutClient` (blocking) and `AsyncScoutClient` (asyncio) wrap the generated
`scout.v1` stubs with one typed method per RPC, retries for idempotent
calls, resumable progress streams and one exception class per status code.
"""

from scout_client._files import ExportInfo
from scout_client._version import __version__
from scout_client.aio import AsyncScoutClient
from scout_client.client import ScoutClient
from scout_client.errors import (
    AbortedError,
    AlreadyExistsError,
    DataLossError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OutOfRangeError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ScoutCancelledError,
    ScoutError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    UnknownError,
    error_class,
    from_rpc_error,
)
from scout_client.kinds import (
    EXPORT_FORMATS,
    REPORT_KINDS,
    export_format,
    export_format_name,
    report_kind,
    report_kind_name,
    report_kind_short_name,
)

__all__ = [
    "EXPORT_FORMATS",
    "REPORT_KINDS",
    "AbortedError",
    "AlreadyExistsError",
    "AsyncScoutClient",
    "DataLossError",
    "DeadlineExceededError",
    "ExportInfo",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OutOfRangeError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "ScoutCancelledError",
    "ScoutClient",
    "ScoutError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnimplementedError",
    "UnknownError",
    "__version__",
    "error_class",
    "export_format",
    "export_format_name",
    "from_rpc_error",
    "report_kind",
    "report_kind_name",
    "report_kind_short_name",
]
