# Generated from _async_sessions.py by scripts/unasync.py (make unasync): edit that.
"""`ScoutClient`'s SessionService methods: sessions and their files."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from functools import partial
from typing import overload

from scout.v1 import session_pb2, types_pb2
from scout_client import _requests as rpc
from scout_client import _sync_ops as ops
from scout_client._channel import DEFAULT, Timeout
from scout_client._files import DEFAULT_CHUNK_SIZE, Destination
from scout_client._receivers import FileReceiver
from scout_client._sync_base import Base
from scout_client._sync_ops import UploadInput

__all__ = ["SessionMethods"]


class SessionMethods(Base):
    """Sessions (open, list, extend, delete) and their files (upload, list, download)."""

    # -- sessions ----------------------------------------------------------

    def create_session(
        self,
        labels: Mapping[str, str] | None = None,
        ttl: timedelta | None = None,
        request_id: str | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.Session:
        """Open a new session (TTL: the server's default, 24 h, unless given).

        Safe to retry: without a `request_id` the client sends a fresh UUID,
        so grpc's retry on UNAVAILABLE returns the session the first attempt
        created. Pass your own `request_id` to make your own retries safe.
        """
        return self._call(rpc.create_session(labels, ttl, request_id), timeout)

    def get_session(
        self, session_id: str, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Return one of the caller's sessions; NotFoundError when gone or expired."""
        return self._call(rpc.get_session(session_id), timeout)

    def list_sessions(
        self, page_size: int = 0, page_token: str = "", *, timeout: Timeout = DEFAULT
    ) -> session_pb2.ListSessionsResponse:
        """Return one page of the caller's live sessions, newest first."""
        return self._call(rpc.list_sessions(page_size, page_token), timeout)

    def iter_sessions(
        self, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> Iterator[types_pb2.Session]:
        """Yield all of the caller's sessions, fetching page after page."""
        fetch = partial(self.list_sessions, page_size, timeout=timeout)
        return rpc.walk_pages(fetch, lambda page: page.sessions)

    def extend_session(
        self, session_id: str, ttl: timedelta | None = None, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.Session:
        """Push the session's expiry out to now + ttl (server default if None)."""
        return self._call(rpc.extend_session(session_id, ttl), timeout)

    def delete_session(self, session_id: str, *, timeout: Timeout = DEFAULT) -> None:
        """Delete the session and everything in it (not retried automatically)."""
        self._call(rpc.delete_session(session_id), timeout)

    # -- files -------------------------------------------------------------

    def upload_file(
        self,
        session_id: str,
        source: UploadInput,
        *,
        file_name: str | None = None,
        content_type: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        timeout: Timeout = DEFAULT,
    ) -> types_pb2.FileInfo:
        """Upload a file into the session and return what the server stored.

        `source` is a path, bytes, or a binary file object (read from its
        current position). The file is read lazily, one `chunk_size` message
        at a time. `file_name` defaults to the path's (or file object's)
        name; `content_type` is guessed from the name when not given.
        Uploading a name again replaces that file. Not retried automatically:
        a stream cannot be replayed from a file object.
        """
        return ops.upload(
            lambda requests: self._stream(self._stubs.sessions.UploadFile, requests, timeout),
            session_id,
            source,
            file_name=file_name,
            content_type=content_type,
            chunk_size=chunk_size,
        )

    def list_files(
        self,
        session_id: str,
        page_size: int = 0,
        page_token: str = "",
        *,
        timeout: Timeout = DEFAULT,
    ) -> session_pb2.ListFilesResponse:
        """Return one page of the session's files, by name."""
        return self._call(rpc.list_files(session_id, page_size, page_token), timeout)

    def iter_files(
        self, session_id: str, page_size: int = 0, *, timeout: Timeout = DEFAULT
    ) -> Iterator[types_pb2.FileInfo]:
        """Yield all files of the session, fetching page after page."""
        fetch = partial(self.list_files, session_id, page_size, timeout=timeout)
        return rpc.walk_pages(fetch, lambda page: page.files)

    @overload
    def download_file(
        self, session_id: str, file_name: str, dest: None = None, *, timeout: Timeout = DEFAULT
    ) -> bytes: ...

    @overload
    def download_file(
        self, session_id: str, file_name: str, dest: Destination, *, timeout: Timeout = DEFAULT
    ) -> types_pb2.FileInfo: ...

    def download_file(
        self,
        session_id: str,
        file_name: str,
        dest: Destination | None = None,
        *,
        timeout: Timeout = DEFAULT,
    ) -> bytes | types_pb2.FileInfo:
        """Download a file: its bytes, or its FileInfo once written to `dest`.

        `dest` is a path (written as `<path>.part`, renamed when complete) or
        a binary file object. The size and SHA-256 are checked against the
        server's FileInfo; a mismatch raises DataLossError.
        """
        request = rpc.download_file(session_id, file_name)
        receiver = FileReceiver(dest, file_name)
        with receiver:
            call = self._stream(self._stubs.sessions.DownloadFile, request, timeout)
            for response in call:
                receiver.receive(response)
        return receiver.result()
