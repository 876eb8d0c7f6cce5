"""PDFs and .docx files read in worker processes with a hard memory and time limit.

pypdf may spend minutes inside one page and a parser's allocation can grow
far past the file's size; in a thread of the server either would take the
replica's memory and CPU with it, and a thread cannot be stopped when the
caller gives up. Here each such file goes to a worker process
(`scout_service.documents.worker`) that caps its own address space at
``memory_mb``; the server waits for the answer on the event loop (pipes, no
thread) for at most ``timeout_s`` and otherwise kills the worker with
SIGKILL. A worker that is killed, runs out of memory or crashes is
replaced by a fresh one at the next request; the caller gets a
`DocumentError` naming the limit: DOCUMENT_TOO_SLOW or DOCUMENT_TOO_LARGE.

Workers start on first use (about 0.2 s), at most ``workers`` of them, and
serve one document at a time each; more documents wait for a free worker.
Plain text and Markdown are decoded in a thread as before: that costs time
and memory linear in a prefix of at most ``max_chars`` characters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from dataclasses import dataclass
from typing import Any

from scout_service.documents.errors import DocumentError, display_name
from scout_service.documents.extract import (
    PDF_MAGIC,
    DocumentType,
    ExtractedDocument,
    extract_text,
    malformed_error,
    needs_isolation,
)
from scout_service.documents.worker import MEMORY_EXIT, READY, frame

logger = logging.getLogger(__name__)

_LENGTH_BYTES = 8
_MAX_HEADER_BYTES = 1 << 20
_READ_BUFFER = 1 << 20
_EXIT_WAIT_S = 2.0
_DOCUMENT_TYPES = frozenset({"markdown", "text", "pdf", "docx"})


@dataclass(frozen=True)
class ExtractionLimits:
    """What one document may cost, and how many are read at once."""

    # Characters of text kept per document.
    max_chars: int = 2_000_000
    # Soft budget: the readers stop between pages and keep what they have (truncated).
    time_budget_s: float = 20.0
    # Hard limit of wall time per document: the worker is killed (DOCUMENT_TOO_SLOW).
    timeout_s: float = 30.0
    # Address space of each worker (RLIMIT_AS): past it, DOCUMENT_TOO_LARGE.
    memory_mb: int = 1024
    # Worker processes (documents read at once).
    workers: int = 2
    # Time a new worker may take to import the readers and say it is ready.
    start_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        """Refuse limits no worker could run under."""
        if self.max_chars <= 0 or self.workers < 1 or self.memory_mb < 64:
            raise ValueError("max_chars and workers must be positive, memory_mb at least 64")
        if min(self.time_budget_s, self.timeout_s, self.start_timeout_s) <= 0:
            raise ValueError("time limits must be positive")

    @property
    def soft_budget_s(self) -> float:
        """The readers' own budget, kept below the hard limit so long files end truncated."""
        return min(self.time_budget_s, 0.75 * self.timeout_s)


class ExtractorClosed(RuntimeError):
    """The extractor was closed (the replica is stopping) before the document was read."""


class _WorkerLost(Exception):
    """The worker ended, or broke the protocol, before answering."""


class _Worker:
    """One worker process and its pipes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        # Set once the worker may be in any state (killed, mid-document, lost): never reused.
        self.broken = False
        self.closing = False

    @classmethod
    async def spawn(cls, limits: ExtractionLimits) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scout_service.documents.worker",
            str(limits.memory_mb * 1024 * 1024),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=_READ_BUFFER,
        )
        worker = cls(proc)
        try:
            async with asyncio.timeout(limits.start_timeout_s):
                ready = await worker._read_frame(len(READY))
        except (TimeoutError, _WorkerLost):
            worker.kill()
            code = await worker.exit_code()
            raise RuntimeError(f"the document worker did not start (exit status {code}); "
                               "check SCOUT_DOCUMENT_MEMORY_MB") from None
        except BaseException:
            worker.kill()
            raise
        if ready != READY:
            worker.kill()
            raise RuntimeError("the document worker answered something unexpected at start")
        return worker

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def bloated(self, limits: ExtractionLimits) -> bool:
        """Whether the worker kept more than half its address space after a document.

        Python rarely gives freed memory back; a worker that grew that far
        would start its next document with half the room, so it is retired.
        """
        try:
            with open(f"/proc/{self.proc.pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmSize:"):
                        return int(line.split()[1]) * 1024 > limits.memory_mb * 1024 * 1024 // 2
        except (OSError, ValueError):  # not Linux, or already gone
            pass
        return False

    def kill(self) -> None:
        """SIGKILL now; ``exit_code()`` reaps it (its pipes close with it)."""
        self.broken = True
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def exit_code(self) -> int | None:
        """The exit status once the process has ended (killed if it has not after 2 s)."""
        try:
            return await asyncio.wait_for(self.proc.wait(), _EXIT_WAIT_S)
        except TimeoutError:
            self.kill()
            return None

    async def close(self) -> None:
        """End the worker: EOF on its input (it exits), SIGKILL if it does not."""
        self.closing = True
        if self.proc.stdin is not None and not self.broken:
            self.proc.stdin.close()
        else:
            self.kill()
        await self.exit_code()

    async def _read_frame(self, max_bytes: int) -> bytearray:
        """The next frame, read into one buffer of its size (no second copy of a long text)."""
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            size = int.from_bytes(await stdout.readexactly(_LENGTH_BYTES), "big")
            if size > max_bytes:
                raise _WorkerLost(f"frame of {size} bytes, at most {max_bytes} expected")
            buffer = bytearray(size)
            view = memoryview(buffer)
            done = 0
            while done < size:
                chunk = await stdout.read(min(size - done, _READ_BUFFER))
                if not chunk:
                    raise _WorkerLost("end of output inside a frame")
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
            return buffer
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise _WorkerLost(type(exc).__name__) from None

    async def extract(self, data: bytes, name: str, limits: ExtractionLimits
                      ) -> ExtractedDocument:
        """One document, under the hard time limit (raises DocumentError)."""
        assert self.proc.stdin is not None
        request = {"name": name, "max_chars": limits.max_chars,
                   "time_budget_s": limits.soft_budget_s}
        self.broken = True  # until a whole answer is read
        try:
            async with asyncio.timeout(limits.timeout_s):
                self.proc.stdin.write(frame(json.dumps(request).encode()))
                self.proc.stdin.write(len(data).to_bytes(_LENGTH_BYTES, "big"))
                self.proc.stdin.write(data)
                await self.proc.stdin.drain()
                header = await self._read_frame(_MAX_HEADER_BYTES)
                # UTF-8 takes at most 4 bytes per character (surrogates pass as 3).
                text = await self._read_frame(4 * limits.max_chars + 4)
        except TimeoutError:
            self.kill()
            raise too_slow(name, limits.timeout_s) from None
        except (_WorkerLost, ConnectionError) as exc:
            self.kill()
            if self.closing:
                raise ExtractorClosed("the replica stopped while the document was read") from None
            code = await self.exit_code()
            raise self._lost(data, name, code, limits, str(exc)) from None
        except BaseException:  # cancelled: the caller gave up, so does the worker
            self.kill()
            raise
        self.broken = False
        return await asyncio.to_thread(_document, name, json.loads(header), text)

    @staticmethod
    def _lost(data: bytes, name: str, code: int | None, limits: ExtractionLimits,
              detail: str) -> DocumentError:
        # SIGKILL from anyone but us is the kernel's OOM killer in practice.
        if code in (MEMORY_EXIT, -signal.SIGKILL):
            return too_large(name, limits.memory_mb)
        logger.warning("document worker ended without an answer",
                       extra={"exit_status": code, "detail": detail[:200]})
        return malformed_error("MALFORMED_PDF" if data.startswith(PDF_MAGIC)
                               else "MALFORMED_DOCX", name)


def _document(name: str, fields: dict[str, Any], text: bytearray) -> ExtractedDocument:
    """The worker's answer as a document, or its DocumentError raised."""
    if "reason" in fields:
        raise DocumentError(fields["reason"], str(fields["message"]))
    detected: DocumentType = fields["detected_type"]
    if detected not in _DOCUMENT_TYPES:
        raise ValueError(f"document worker sent an unknown type {detected!r}")
    return ExtractedDocument(
        file_name=name,
        detected_type=detected,
        text=text.decode("utf-8", "surrogatepass"),
        pages=None if fields["pages"] is None else int(fields["pages"]),
        truncated=bool(fields["truncated"]),
        page_starts=tuple((int(start), int(page)) for start, page in fields["page_starts"]),
    )


def too_slow(file_name: str, timeout_s: float) -> DocumentError:
    """The error for a document that was still being read at the hard time limit."""
    return DocumentError(
        "DOCUMENT_TOO_SLOW",
        f"{display_name(file_name)} could not be read within {timeout_s:g} s (the limit, "
        "SCOUT_DOCUMENT_TIMEOUT_S). Export it again (for example printed to a new PDF) "
        "or upload a shorter version.",
    )


def too_large(file_name: str, memory_mb: int) -> DocumentError:
    """The error for a document whose reading needed more than the worker's memory."""
    return DocumentError(
        "DOCUMENT_TOO_LARGE",
        f"{display_name(file_name)} needs more than {memory_mb} MB of memory to read (the "
        "limit, SCOUT_DOCUMENT_MEMORY_MB). Export it again or upload a shorter version.",
    )


class IsolatedExtractor:
    """``extract_text`` for the server: PDFs and .docx in bounded worker processes."""

    def __init__(self, limits: ExtractionLimits) -> None:
        """Nothing starts here; the first PDF or .docx starts a worker."""
        self.limits = limits
        self._slots = asyncio.Semaphore(limits.workers)
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._reaping: set[asyncio.Future[int | None]] = set()
        self._closed = False
        # Workers started so far, and killed on a limit (for tests and the bench).
        self.started = 0
        self.killed = 0

    async def extract(self, data: bytes, name: str) -> ExtractedDocument:
        """The document's text; `DocumentError` when it is unusable or over a limit."""
        if not needs_isolation(data):
            return await asyncio.to_thread(
                extract_text, data, name, max_chars=self.limits.max_chars,
                time_budget_s=self.limits.soft_budget_s)
        async with self._slots:
            if self._closed:
                raise ExtractorClosed("the document extractor is closed")
            worker = await self._take()
            try:
                return await worker.extract(data, name, self.limits)
            except DocumentError as exc:
                if worker.broken:
                    self.killed += 1
                    logger.warning("document worker stopped at a limit",
                                   extra={"reason": exc.reason, "bytes": len(data)})
                raise
            finally:
                if worker.broken or self._closed or worker.bloated(self.limits):
                    self._retire(worker)
                else:
                    self._idle.append(worker)

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker and reap it in the background (close() waits for that too)."""
        worker.kill()
        self._workers.discard(worker)
        reaped = asyncio.ensure_future(worker.exit_code())
        self._reaping.add(reaped)
        reaped.add_done_callback(self._reaping.discard)

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            self._retire(worker)
        worker = await _Worker.spawn(self.limits)
        self.started += 1
        self._workers.add(worker)
        return worker

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for the bench's memory readings and tests)."""
        return [w.proc.pid for w in self._workers if w.alive]

    async def close(self) -> None:
        """Stop every worker; a document being read fails at once."""
        self._closed = True
        workers = list(self._workers)
        self._workers.clear()
        self._idle.clear()
        await asyncio.gather(*(w.close() for w in workers), *self._reaping,
                             return_exceptions=True)
