"""What the blocking client does differently from the asyncio one, and nothing else.

`client.py` is generated from `aio.py` by rewriting `async`/`await` away; the
few operations that are not the same code without them (waiting for the
channel, sleeping between reconnects, feeding an upload's request stream)
stand here and in `_async_ops.py` under the same names, and the generator
swaps one module for the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import session_pb2, types_pb2
from scout_client import _requests as rpc
from scout_client._files import UploadInput, UploadSource
from scout_client.errors import UnavailableError

__all__ = ["UploadInput", "sleep", "upload", "wait_ready"]

sleep = time.sleep


def wait_ready(channel: grpc.Channel, target: str, timeout: float) -> None:
    """Block until the channel is connected; UnavailableError after `timeout`."""
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError as error:
        raise UnavailableError(
            f"{target} not reachable within {timeout:g} s", reason="NOT_READY"
        ) from error


def upload(
    send: Callable[[Iterator[session_pb2.UploadFileRequest]], Any],
    session_id: str,
    source: UploadInput,
    *,
    file_name: str | None,
    content_type: str | None,
    chunk_size: int,
) -> types_pb2.FileInfo:
    """Stream `source` through `send` (the UploadFile call); return the stored FileInfo."""
    upload = UploadSource(
        source, file_name=file_name, content_type=content_type, chunk_size=chunk_size
    )
    # grpc reads the request iterator on its own thread and reports a
    # failure there only as CANCELLED; keep the real exception to raise it.
    read_failures: list[BaseException] = []

    def requests() -> Iterator[session_pb2.UploadFileRequest]:
        try:
            yield upload.header(session_id)
            while chunk := upload.read_chunk():
                yield session_pb2.UploadFileRequest(chunk=chunk)
        except Exception as exc:
            read_failures.append(exc)
            raise

    try:
        response: session_pb2.UploadFileResponse = send(requests())
    except grpc.RpcError as error:
        raise rpc.upload_failure(error, read_failures) from error
    finally:
        upload.close()
    return response.file
