"""What the asyncio client does differently from the blocking one, and nothing else.

The asyncio twin of `_sync_ops.py` (same names): waiting for the channel,
sleeping between reconnects, and feeding an upload's request stream, which
here also takes an async iterable of bytes and reads files in a worker
thread so the event loop never blocks on disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any, TypeAlias

import grpc  # type: ignore[import-untyped, unused-ignore]
import grpc.aio  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import session_pb2, types_pb2
from scout_client import _requests as rpc
from scout_client._files import UploadInput, UploadSource
from scout_client.errors import UnavailableError

__all__ = ["AsyncUploadInput", "sleep", "upload", "wait_ready"]

AsyncUploadInput: TypeAlias = UploadInput | AsyncIterable[bytes]

sleep = asyncio.sleep


async def wait_ready(channel: grpc.aio.Channel, target: str, timeout: float) -> None:
    """Wait until the channel is connected; UnavailableError after `timeout`."""
    try:
        await asyncio.wait_for(channel.channel_ready(), timeout)
    except TimeoutError as error:
        raise UnavailableError(
            f"{target} not reachable within {timeout:g} s", reason="NOT_READY"
        ) from error


async def upload(
    send: Callable[[AsyncIterator[session_pb2.UploadFileRequest]], Any],
    session_id: str,
    source: AsyncUploadInput,
    *,
    file_name: str | None,
    content_type: str | None,
    chunk_size: int,
) -> types_pb2.FileInfo:
    """Stream `source` through `send` (the UploadFile call); return the stored FileInfo."""
    read_failures: list[BaseException] = []
    requests: AsyncIterator[session_pb2.UploadFileRequest]
    upload: UploadSource | None = None
    if isinstance(source, AsyncIterable):
        header = rpc.upload_stream_header(session_id, file_name, content_type, chunk_size)
        requests = _stream_requests(header, source, chunk_size, read_failures)
    else:
        upload = UploadSource(
            source, file_name=file_name, content_type=content_type, chunk_size=chunk_size
        )
        requests = _source_requests(upload, session_id, read_failures)
    try:
        response: session_pb2.UploadFileResponse = await send(requests)
    except grpc.RpcError as error:
        raise rpc.upload_failure(error, read_failures) from error
    except asyncio.CancelledError:
        # grpc.aio cancels the call when the request iterator raises.
        if read_failures:
            raise read_failures[0] from None
        raise
    finally:
        if upload is not None:
            upload.close()
    return response.file


async def _source_requests(
    upload: UploadSource, session_id: str, failures: list[BaseException]
) -> AsyncIterator[session_pb2.UploadFileRequest]:
    try:
        yield upload.header(session_id)
        while True:
            if upload.in_memory:
                chunk = upload.read_chunk()
            else:
                chunk = await asyncio.to_thread(upload.read_chunk)
            if not chunk:
                return
            yield session_pb2.UploadFileRequest(chunk=chunk)
    except Exception as exc:
        failures.append(exc)
        raise


async def _stream_requests(
    header: session_pb2.UploadFileRequest,
    source: AsyncIterable[bytes],
    chunk_size: int,
    failures: list[BaseException],
) -> AsyncIterator[session_pb2.UploadFileRequest]:
    try:
        yield header
        async for piece in source:
            view = memoryview(piece).cast("B")
            for start in range(0, view.nbytes, chunk_size):
                yield session_pb2.UploadFileRequest(
                    chunk=view[start : start + chunk_size].tobytes()
                )
    except Exception as exc:
        failures.append(exc)
        raise
