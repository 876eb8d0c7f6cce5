"""What the sync and asyncio clients share about downloads and exports.

A receiver takes a stream's messages, writes their bytes to a `DownloadSink`
and, when the stream ends, checks them against what the server announced
(size and SHA-256 for a file): it commits the sink when all is well and
drops what was written otherwise. Both clients feed the same receivers, one
blocking `for`, the other `async for`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import report_pb2, session_pb2, types_pb2
from scout_client._files import Destination, DownloadSink, ExportInfo
from scout_client.errors import UnavailableError, from_rpc_error

__all__ = ["ExportReceiver", "FileReceiver"]


class _Receiver:
    """A stream being written to a DownloadSink; use as a context manager.

    Leaving the block normally verifies the content and commits the sink;
    leaving it with an exception (or a failed check) drops what was written,
    a grpc error raised as its ScoutError.
    """

    def __init__(self, dest: Destination | None) -> None:
        self.dest = dest
        self.sink = DownloadSink(dest)

    def verify(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                self.verify()
            except BaseException:
                self.sink.abort()
                raise
            self.sink.commit()
            return
        self.sink.abort()
        if isinstance(exc, grpc.RpcError):
            raise from_rpc_error(exc) from exc


class FileReceiver(_Receiver):
    """DownloadFile's stream: FileInfo first, checked for size and SHA-256."""

    def __init__(self, dest: Destination | None, file_name: str) -> None:
        super().__init__(dest)
        self.file_name = file_name
        self.info: types_pb2.FileInfo | None = None

    def receive(self, response: Any) -> None:
        """Take one DownloadFileResponse."""
        message: session_pb2.DownloadFileResponse = response
        if self.info is None and message.HasField("file"):
            self.info = message.file
        self.sink.write(message.chunk)

    def verify(self) -> None:
        """Check size and SHA-256 against the FileInfo."""
        self.sink.verify_file(self.info, f"download of {self.file_name!r}")

    def result(self) -> bytes | types_pb2.FileInfo:
        """The bytes (no dest), else the FileInfo."""
        if self.dest is None:
            return self.sink.content()
        assert self.info is not None
        return self.info


class ExportReceiver(_Receiver):
    """ExportReports' stream: the first message names the document."""

    def __init__(self, dest: Destination | None) -> None:
        super().__init__(dest)
        self.header: report_pb2.ExportReportsResponse | None = None

    def receive(self, response: Any) -> None:
        """Take one ExportReportsResponse."""
        message: report_pb2.ExportReportsResponse = response
        if self.header is None:
            self.header = message
        self.sink.write(message.chunk)

    def verify(self) -> None:
        """Check the announced size, if any."""
        if self.header is None:
            raise UnavailableError("the export stream ended before its first message")
        self.sink.verify(size=self.header.size_bytes or None, sha256=None, what="export")

    def result(self) -> bytes | ExportInfo:
        """The bytes (no dest), else where the document went."""
        if self.dest is None:
            return self.sink.content()
        assert self.header is not None
        return ExportInfo(self.header.file_name, self.header.content_type, self.sink.size)
