"""`AsyncBase`: what every group of `AsyncScoutClient` methods stands on.

The channel, its stubs, the default deadlines and the call metadata (set by
the client's `__init__`), and the two ways to call: a unary call that maps
grpc errors to `ScoutError`s, and a streaming call with the transfer deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout_client import _requests as rpc
from scout_client._channel import Deadlines, Metadata, Timeout
from scout_client.errors import from_rpc_error

__all__ = ["AsyncBase"]

R = TypeVar("R")


class AsyncBase:
    """The channel and the plumbing the method groups share."""

    target: str
    _channel: Any
    _stubs: rpc.Stubs
    _metadata: Metadata
    _deadlines: Deadlines

    async def _call(self, call: rpc.Unary[R], timeout: Timeout) -> R:
        try:
            response = await call.method(self._stubs)(
                call.request, timeout=self._deadlines.for_unary(timeout), metadata=self._metadata
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from error
        return call.result(response)

    def _stream(self, method: Callable[..., Any], request: Any, timeout: Timeout) -> Any:
        return method(
            request, timeout=self._deadlines.for_transfer(timeout), metadata=self._metadata
        )
