"""Telling a client stream's clean end from a cancelled call, in ``grpc.aio``.

A client-streaming handler must act on the end of its request stream only
when the client half-closed it (sent all it meant to send). ``grpc.aio`` does
not tell: its receive merges "end of stream" and "the call failed" into one
EOF (``_receive_message`` in grpc's ``callback_common.pyx.pxi``), so a
request iterator also ends with a plain ``StopAsyncIteration`` when the
client cancels, disconnects or dies, when the deadline passes, and when the
server cancels its calls on shutdown. ``context.cancelled()`` is still False
at that point, and the ``CancelledError`` grpc injects into the handler
arrives only at a later ``await`` — after a commit may already have started.

Core, though, has cancelled the call before it fails the receive, so every
later operation on the call fails. ``ended_cleanly`` uses that: it sends the
response headers, which go out with the response anyway (a clean call costs
no extra frame, let alone a store round trip).
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from scout_service.errors import Cancelled

log = logging.getLogger(__name__)


async def ended_cleanly(context: grpc.aio.ServicerContext[Any, Any], what: str) -> None:
    """Return if the request stream that just ended was half-closed; else raise ``Cancelled``.

    Call it once, right after the request iterator is exhausted and before
    anything is committed; ``what`` names the call in the error.
    """
    try:
        await context.send_initial_metadata(())
    except grpc.aio.BaseError:
        # A failed batch (the call was cancelled, its deadline passed, the
        # client went away) or a stopped server: the end was not the client's.
        raise Cancelled(
            f"{what}: the call ended before the client finished sending (cancelled, "
            "disconnected, past its deadline or the server is stopping); nothing was stored",
            reason="STREAM_NOT_FINISHED",
        ) from None
