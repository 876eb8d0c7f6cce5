"""File plumbing shared by both clients: upload sources and download sinks.

An upload reads its source lazily, one chunk per message, so a 25 MB plan is
never held in memory twice. A download writes chunks as they arrive, hashes
them on the way, and checks size and SHA-256 against the server's FileInfo
before it hands anything over: a file written to a path appears under its
name only once it verified.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, TypeAlias

from scout.v1 import session_pb2, types_pb2
from scout_client.errors import DataLossError

DEFAULT_CHUNK_SIZE: Final = 1024 * 1024
#: The contract's limit on bytes per UploadFileRequest.
MAX_CHUNK_SIZE: Final = 1024 * 1024
_FALLBACK_CONTENT_TYPE: Final = "application/octet-stream"
# mimetypes' table depends on the platform; these matter for business plans.
_KNOWN_TYPES: Final = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}

PathLike: TypeAlias = str | os.PathLike[str]
UploadInput: TypeAlias = bytes | bytearray | memoryview | PathLike | IO[bytes]
Destination: TypeAlias = PathLike | IO[bytes]


def guess_content_type(file_name: str) -> str:
    """Return a content type for a file name, "application/octet-stream" if unknown."""
    suffix = Path(file_name).suffix.lower()
    if suffix in _KNOWN_TYPES:
        return _KNOWN_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(file_name, strict=False)
    return guessed or _FALLBACK_CONTENT_TYPE


class UploadSource:
    """The bytes of one upload, read chunk by chunk.

    A path is opened here, in the caller's thread, so a missing file fails
    before any RPC starts; the request stream then only reads from it.
    """

    def __init__(
        self,
        source: UploadInput,
        *,
        file_name: str | None,
        content_type: str | None,
        chunk_size: int,
    ) -> None:
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE} bytes")
        self.chunk_size = chunk_size
        self._data: memoryview | None = None
        self._file: IO[bytes] | None = None
        self._owns_file = False
        self._position = 0
        self.size = 0  # 0 = unknown, as the contract reads it

        if isinstance(source, bytes | bytearray | memoryview):
            if not file_name:
                raise ValueError("file_name is required when uploading bytes")
            self._data = memoryview(source).cast("B")
            self.size = self._data.nbytes
        elif isinstance(source, str | os.PathLike):
            path = Path(source)
            self._file = path.open("rb")
            self._owns_file = True
            self.size = os.fstat(self._file.fileno()).st_size
            file_name = file_name or path.name
        else:
            self._file = source
            name = getattr(source, "name", None)
            if not file_name and isinstance(name, str):
                file_name = os.path.basename(name)
            if not file_name:
                raise ValueError("file_name is required for a stream without a name")
            self.size = _remaining(source)
        self.file_name: str = file_name
        self.content_type = content_type or guess_content_type(file_name)

    def header(self, session_id: str) -> session_pb2.UploadFileRequest:
        """Return the first message of the stream: who, what and how big."""
        return session_pb2.UploadFileRequest(
            session_id=session_id,
            file_name=self.file_name,
            content_type=self.content_type,
            size_bytes=self.size,
        )

    def read_chunk(self) -> bytes:
        """Return the next chunk; b"" at the end. May block on file I/O."""
        if self._data is not None:
            chunk = self._data[self._position : self._position + self.chunk_size].tobytes()
            self._position += len(chunk)
            return chunk
        assert self._file is not None
        return self._file.read(self.chunk_size)

    @property
    def in_memory(self) -> bool:
        """True when reading never blocks (the source is bytes)."""
        return self._data is not None

    def close(self) -> None:
        """Close the file this source opened (never a caller's stream)."""
        if self._owns_file and self._file is not None:
            self._file.close()


def _remaining(stream: IO[bytes]) -> int:
    """Return how many bytes a seekable stream has left, 0 when unknowable."""
    try:
        if not stream.seekable():
            return 0
        position = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(position)
        return max(end - position, 0)
    except (OSError, ValueError, AttributeError):
        return 0


class DownloadSink:
    """Collects a downloaded stream into memory, a path or a caller's stream.

    A path is written as `<name>.part` and renamed only after the content
    verified, so a corrupt or interrupted download never sits under the real
    name.
    """

    def __init__(self, dest: Destination | None) -> None:
        self._hash = hashlib.sha256()
        self.size = 0
        self._path: Path | None = None
        self._part: Path | None = None
        self._buffer: io.BytesIO | None = None
        self._owns_out = False
        self._out: IO[bytes]
        if dest is None:
            self._buffer = io.BytesIO()
            self._out = self._buffer
        elif isinstance(dest, str | os.PathLike):
            self._path = Path(dest)
            self._part = self._path.with_name(self._path.name + ".part")
            self._out = self._part.open("wb")
            self._owns_out = True
        else:
            self._out = dest

    def write(self, chunk: bytes) -> None:
        """Write the next chunk (and hash it)."""
        if chunk:
            self._hash.update(chunk)
            self.size += len(chunk)
            self._out.write(chunk)

    def verify(self, *, size: int | None, sha256: str | None, what: str) -> None:
        """Raise DataLossError when the content does not match what the server announced."""
        if size is not None and size != self.size:
            raise DataLossError(
                f"{what}: received {self.size} bytes, the server announced {size}",
                reason="SIZE_MISMATCH",
            )
        if sha256 and sha256.lower() != self._hash.hexdigest():
            raise DataLossError(
                f"{what}: SHA-256 {self._hash.hexdigest()} does not match "
                f"the server's {sha256.lower()}",
                reason="CHECKSUM_MISMATCH",
            )

    def verify_file(self, info: types_pb2.FileInfo | None, what: str) -> None:
        """Check the content against the FileInfo from the stream's first message."""
        if info is None:
            raise DataLossError(f"{what}: the stream carried no file metadata")
        self.verify(size=info.size_bytes, sha256=info.sha256, what=what)

    def commit(self) -> None:
        """Finish successfully: close and move a path download into place."""
        if self._owns_out:
            self._out.close()
            assert self._part is not None and self._path is not None
            os.replace(self._part, self._path)
            self._owns_out = False

    def abort(self) -> None:
        """Finish unsuccessfully: drop a partial path download."""
        if self._owns_out:
            self._out.close()
            assert self._part is not None
            self._part.unlink(missing_ok=True)
            self._owns_out = False

    def content(self) -> bytes:
        """Return what was collected in memory (only when dest was None)."""
        assert self._buffer is not None
        return self._buffer.getvalue()


@dataclass(frozen=True)
class ExportInfo:
    """What ExportReports wrote to a destination: the server's name, type and size."""

    file_name: str
    content_type: str
    size_bytes: int
