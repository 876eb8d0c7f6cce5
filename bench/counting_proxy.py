"""An HTTP proxy that counts DynamoDB requests, put between a replica and moto.

DynamoDB's API is one ``POST /`` per operation, named by the
``X-Amz-Target`` header (``DynamoDB_20120810.PutItem``). The proxy forwards
every request unchanged (the response too, byte for byte: botocore checks
DynamoDB's CRC32 of the body) and counts requests per operation, request
bytes, and the request-body bytes of the operations that write. That is
what a research run costs in DynamoDB terms, measured from outside the
server, whatever the server thinks it does.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)
# Headers that belong to one hop, not to the message.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                         "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Counts:
    """What passed through the proxy between two snapshots."""

    requests: Counter[str] = field(default_factory=Counter)
    request_bytes: int = 0
    write_bytes: int = 0

    @property
    def total(self) -> int:
        """Requests of every operation."""
        return sum(self.requests.values())

    @property
    def writes(self) -> int:
        """Requests of writing operations (labels start with the operation's name)."""
        return sum(n for label, n in self.requests.items()
                   if label.split(" ", 1)[0].split("(", 1)[0] in WRITE_OPERATIONS)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.requests - other.requests, self.request_bytes - other.request_bytes,
                      self.write_bytes - other.write_bytes)


def operation_of(target: str | None) -> str:
    """``DynamoDB_20120810.PutItem`` → ``PutItem`` (``-`` without the header)."""
    if not target:
        return "-"
    return target.rpartition(".")[2] or target


class CountingProxy:
    """``ThreadingHTTPServer`` on loopback forwarding to ``upstream``; a context manager."""

    def __init__(self, upstream: str, host: str = "127.0.0.1",
                 classify: Callable[[str, bytes], str] | None = None) -> None:
        """``classify(operation, body)`` labels a request (e.g. ``GetItem SESSION``).

        Labels should start with the operation's name; write bytes are
        counted by the operation whatever the label.
        """
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"upstream must be http://HOST:PORT, got {upstream!r}")
        self._upstream = (parts.hostname, parts.port)
        self._classify = classify
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._request_bytes = 0
        self._write_bytes = 0
        self._local = threading.local()
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://host:port`` for clients."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CountingProxy:
        """Serve on a thread; idempotent."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            name="counting-proxy", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listener."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> Counts:
        """Everything counted so far (subtract two snapshots for an interval)."""
        with self._lock:
            return Counts(Counter(self._requests), self._request_bytes, self._write_bytes)

    def _count(self, operation: str, label: str, size: int) -> None:
        with self._lock:
            self._requests[label] += 1
            self._request_bytes += size
            if operation in WRITE_OPERATIONS:
                self._write_bytes += size

    def _connection(self) -> http.client.HTTPConnection:
        """One persistent upstream connection per proxy thread (= per client connection)."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*self._upstream, timeout=60)
            self._local.conn = conn
        return conn

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in range(2):  # a kept-alive upstream connection may have been closed
            conn = self._connection()
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.endheaders(body or None)
                response = conn.getresponse()
                data = response.read()
                return response.status, response.reason, response.getheaders(), data
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as boto3's pool expects

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = operation_of(self.headers.get("X-Amz-Target"))
                label = operation
                if proxy._classify is not None:
                    label = proxy._classify(operation, body)
                proxy._count(operation, label, len(body))
                headers = [(k, v) for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP]
                try:
                    status, reason, out_headers, data = proxy._forward(
                        self.command, self.path, headers, body)
                except OSError as exc:
                    self.send_error(502, f"upstream unreachable: {exc}")
                    return
                self.send_response_only(status, reason)
                for name, value in out_headers:
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _relay  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # one line per request would drown the benchmark's output

        return Handler
