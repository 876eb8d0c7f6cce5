"""The document worker process: ``extract_text`` behind a pipe, under hard limits.

Started by `isolation.IsolatedExtractor` as ``python -m
scout_service.documents.worker MEMORY_BYTES``. It caps its own address space
(``RLIMIT_AS``) before reading anything, lowers its CPU priority, asks the
kernel to kill it when its parent dies, and then answers one request at a
time on stdin/stdout:

- request: a frame of JSON (``name``, ``max_chars``, ``time_budget_s``), then
  a frame of the file's bytes;
- reply: a frame of JSON (the document's fields, or ``reason``/``message``
  of its `DocumentError`), then a frame of the text in UTF-8.

A frame is an 8-byte big-endian length and that many bytes. Nothing is
pickled, so a parser subverted by a hostile file cannot run code in the
server through the reply. Running out of memory ends the process with
`MEMORY_EXIT` (its heap is not worth keeping); the parent then answers
DOCUMENT_TOO_LARGE and starts another worker. The parent enforces the
wall-clock limit by killing the process.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import sys
from typing import IO, Any

MEMORY_EXIT = 86
"""Exit status of a worker that ran out of memory (the parent maps it to DOCUMENT_TOO_LARGE)."""

READY = b"scout-document-worker ready"
"""First frame a worker sends, once its imports are done and its limits applied."""

WORKER_NICENESS = 10
"""Added to the worker's nice value: the server's event loop wins a contended CPU."""

_LENGTH_BYTES = 8


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """One length-prefixed frame."""
    stream.write(len(payload).to_bytes(_LENGTH_BYTES, "big"))
    stream.write(payload)


def frame(payload: bytes) -> bytes:
    """The bytes of one frame (for writers that take a buffer)."""
    return len(payload).to_bytes(_LENGTH_BYTES, "big") + payload


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream: IO[bytes]) -> bytes | None:
    """The next frame, or None at the end of the input (the parent closed the pipe)."""
    prefix = _read_exactly(stream, _LENGTH_BYTES)
    if prefix is None:
        return None
    return _read_exactly(stream, int.from_bytes(prefix, "big"))


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the server process dies, mid-document or not.

    Strictly, when the thread that started it ends: the event loop's thread,
    which lives as long as the server.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl here: the closed pipe still ends us
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(0)


def _limit_memory(max_bytes: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        max_bytes = min(max_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core dump of an upload


def _answer(request: dict[str, Any], data: bytes) -> tuple[dict[str, Any], bytes]:
    from scout_service.documents.errors import DocumentError
    from scout_service.documents.extract import extract_text

    try:
        doc = extract_text(data, str(request["name"]), max_chars=int(request["max_chars"]),
                           time_budget_s=float(request["time_budget_s"]))
    except DocumentError as exc:
        return {"reason": exc.reason, "message": exc.message}, b""
    fields = {"detected_type": doc.detected_type, "pages": doc.pages,
              "truncated": doc.truncated, "page_starts": doc.page_starts}
    return fields, doc.text.encode("utf-8", "surrogatepass")


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer requests until the input ends."""
    write_frame(replies, READY)
    replies.flush()
    while True:
        header = _read_frame(requests)
        data = _read_frame(requests) if header is not None else None
        if header is None or data is None:
            return
        try:
            fields, text = _answer(json.loads(header), data)
        except MemoryError:
            os._exit(MEMORY_EXIT)  # before anything else allocates
        del data
        write_frame(replies, json.dumps(fields).encode())
        write_frame(replies, text)
        replies.flush()


def main(argv: list[str]) -> None:
    """Apply the limits, import the readers, then serve the parent on stdin/stdout."""
    _die_with_parent()
    _limit_memory(int(argv[0]))
    # Calls of the server come first when the CPUs are busy: a parser has seconds
    # to spare, an RPC has milliseconds (only contended CPU time is shared out).
    os.nice(WORKER_NICENESS)
    # Ctrl-C in a terminal reaches the whole process group: the server stops its
    # workers itself (EOF, or SIGKILL mid-document), without a traceback from each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Library warnings would reach the server's stderr as unstructured lines (and
    # may quote a document); the server logs the limits it enforces instead.
    logging.disable(logging.CRITICAL)
    # The protocol gets its own descriptor; anything a library prints goes to stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        import scout_service.documents.extract  # noqa: F401 - before READY, not per request
    except MemoryError:
        os._exit(MEMORY_EXIT)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
