"""An HTTP proxy in front of DynamoDB that fails requests on a seeded schedule.

Point a server's ``DYNAMODB_ENDPOINT_URL`` at ``proxy.url`` and every
DynamoDB call passes through here on its way to the real endpoint (moto's
server in tests). While ``armed``, each request draws its fate from one
``random.Random(seed)``, so a run of the suite injects the same sequence of
faults (which request gets which one still depends on thread timing):

- ``drop``: close the connection without forwarding or answering;
- ``lost_reply``: forward (the write happens) and close without answering, the
  ambiguous failure a client cannot tell from ``drop``;
- ``delay``: wait a little, then forward;
- ``error_500``: answer ``InternalServerError`` (HTTP 500) without forwarding;
- ``throttle`` / ``provisioned``: answer HTTP 400 ``ThrottlingException`` /
  ``ProvisionedThroughputExceededException`` without forwarding.

Now and then an ``outage`` starts: for a second or few every request fails,
which outlasts the client's retries and makes failures visible to callers.
The number of faults is bounded (``max_faults``), and ``stats`` counts
requests and faults by kind. A test that needs one exact fault at one exact
request (say, the reply of the commit of a chunked file) sets a ``rule``:
it sees each request first and may decide its fault itself.

DynamoDB makes ``TransactWriteItems`` idempotent on its ``ClientRequestToken``
(botocore sends the same token on every retry of a call); moto does not. So
that a lost reply is not turned into a conflict real DynamoDB never reports,
the proxy remembers the answer to each successful token and replays it.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

DROP = "drop"
LOST_REPLY = "lost_reply"
DELAY = "delay"
ERROR_500 = "error_500"
THROTTLE = "throttle"
PROVISIONED = "provisioned"
KINDS = (DROP, LOST_REPLY, DELAY, ERROR_500, THROTTLE, PROVISIONED)

DEFAULT_WEIGHTS: Mapping[str, float] = {
    DROP: 2, LOST_REPLY: 2, DELAY: 3, ERROR_500: 2, THROTTLE: 1, PROVISIONED: 1,
}

_ERRORS = {
    ERROR_500: (500, "com.amazonaws.dynamodb.v20120810#InternalServerError",
                "Internal server error (injected by FaultyProxy)"),
    THROTTLE: (400, "com.amazon.coral.availability#ThrottlingException",
               "Rate of requests exceeds the allowed throughput (injected by FaultyProxy)"),
    PROVISIONED: (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                  "The level of configured provisioned throughput for the table was exceeded "
                  "(injected by FaultyProxy)"),
}
# rule(operation, body) -> None (use the schedule) or (fault or None, delay seconds).
Rule = Callable[[str, bytes], "tuple[str | None, float] | None"]

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                         "proxy-connection", "te", "trailer", "upgrade"})


class FaultyProxy:
    """A threaded HTTP/1.1 proxy on 127.0.0.1 that injects DynamoDB faults.

    ``fault_rate``: chance that a request (outside an outage) gets a fault.
    ``outage_rate`` / ``outage_s``: chance that a request starts an outage,
    and how long (range, seconds) every request then fails.
    ``max_faults``: no more faults after this many. ``delay_s``: range of
    the ``delay`` fault. Nothing is injected until ``arm()``.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        seed: int,
        fault_rate: float = 0.1,
        weights: Mapping[str, float] = DEFAULT_WEIGHTS,
        outage_rate: float = 0.004,
        outage_s: tuple[float, float] = (1.0, 3.0),
        max_faults: int = 1000,
        delay_s: tuple[float, float] = (0.05, 0.8),
    ) -> None:
        parts = urlsplit(upstream_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.seed = seed
        self.fault_rate = fault_rate
        self.weights = {k: w for k, w in weights.items() if w > 0}
        self.outage_rate = outage_rate
        self.outage_s = outage_s
        self.max_faults = max_faults
        self.delay_s = delay_s
        self.stats: Counter[str] = Counter()
        self.faults_by_operation: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._armed = False
        self._outage_until = 0.0
        self._tokens: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}
        self.rule: Rule | None = None
        handler = type("_BoundHandler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``DYNAMODB_ENDPOINT_URL``."""
        return f"http://127.0.0.1:{self.port}"

    def arm(self) -> None:
        """Start injecting faults."""
        with self._lock:
            self._armed = True

    def disarm(self) -> None:
        """Stop injecting faults (requests in flight keep theirs)."""
        with self._lock:
            self._armed = False
            self._outage_until = 0.0

    @property
    def faults(self) -> int:
        """Faults injected so far (every kind)."""
        return sum(self.stats[k] for k in KINDS)

    def summary(self) -> dict[str, int]:
        """Requests, forwarded requests, outages and faults by kind."""
        return {key: self.stats[key] for key in ("requests", "forwarded", "outages",
                                                  "token_replays", *KINDS)}

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the schedule -------------------------------------------------------------

    def _decide(self, operation: str, body: bytes) -> tuple[str | None, float]:
        """The fault (or None) for the next request, and a delay for ``delay``."""
        with self._lock:
            self.stats["requests"] += 1
            # Draw the same numbers whether armed or not, so the schedule of
            # the armed part does not depend on how many requests came before.
            roll, outage_roll, length_roll, pick, delay = (self._rng.random() for _ in range(5))
            ruled = self.rule(operation, body) if self.rule is not None else None
            if ruled is not None:
                if ruled[0] is not None:
                    self.stats[ruled[0]] += 1
                    self.faults_by_operation[f"{operation}:{ruled[0]}"] += 1
                return ruled
            if not self._armed or self.faults >= self.max_faults:
                return None, 0.0
            kinds = list(self.weights)
            weights = [self.weights[k] for k in kinds]
            now = time.monotonic()
            if now >= self._outage_until and outage_roll < self.outage_rate:
                lo, hi = self.outage_s
                self._outage_until = now + lo + length_roll * (hi - lo)
                self.stats["outages"] += 1
            if now < self._outage_until:
                # Outages fail for real (no mere delays).
                kinds = [k for k in kinds if k != DELAY] or kinds
                weights = [self.weights[k] for k in kinds]
            elif roll >= self.fault_rate:
                return None, 0.0
            kind = _weighted(kinds, weights, pick)
            self.stats[kind] += 1
            self.faults_by_operation[f"{operation}:{kind}"] += 1
            lo_d, hi_d = self.delay_s
            return kind, lo_d + delay * (hi_d - lo_d)

    # -- one request ----------------------------------------------------------------

    def _handle(self, req: _Handler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        target = req.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2] or req.command
        fault, delay = self._decide(operation, body)
        if fault == DROP:
            req.close_connection = True
            _shut(req.connection)
            return
        if fault in _ERRORS:
            status, error_type, message = _ERRORS[fault]
            payload = json.dumps({"__type": error_type, "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.0"),
                       ("x-amzn-RequestId", uuid.uuid4().hex)]
            _answer(req, status, headers, payload)
            return
        if fault == DELAY:
            time.sleep(delay)
        try:
            status, headers, payload = self._forward(req, operation, body)
        except OSError:
            # The upstream is down or hung up: so do we.
            req.close_connection = True
            _shut(req.connection)
            return
        if fault == LOST_REPLY:
            req.close_connection = True
            _shut(req.connection)
            return
        _answer(req, status, headers, payload)

    def _forward(self, req: _Handler, operation: str,
                 body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        token = None
        if operation == "TransactWriteItems":
            try:
                token = json.loads(body).get("ClientRequestToken")
            except ValueError:
                token = None
            if token:
                with self._lock:
                    cached = self._tokens.get(token)
                if cached is not None:
                    self.stats["token_replays"] += 1
                    return cached
        conn = req.upstream_connection(self.upstream)
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            conn.request(req.command, req.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            raise OSError("upstream failed") from None
        with self._lock:
            self.stats["forwarded"] += 1
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
        if token and response.status == 200:
            with self._lock:
                self._tokens[token] = (response.status, kept, payload)
        return response.status, kept, payload


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: FaultyProxy
    _upstream: http.client.HTTPConnection | None = None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.proxy._handle(self)

    do_GET = do_POST  # noqa: N815

    def upstream_connection(self, address: tuple[str, int]) -> http.client.HTTPConnection:
        """This client connection's own keep-alive connection to the upstream."""
        if self._upstream is None:
            self._upstream = http.client.HTTPConnection(*address, timeout=30)
        return self._upstream

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        if self._upstream is not None:
            self._upstream.close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def _answer(req: _Handler, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
    try:
        req.send_response_only(status)
        for key, value in headers:
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        req.wfile.write(payload)
        req.wfile.flush()
    except OSError:
        req.close_connection = True


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _weighted(kinds: list[str], weights: list[float], u: float) -> str:
    """The kind at quantile ``u`` of the weights (one draw, deterministic)."""
    total = sum(weights)
    acc = 0.0
    for kind, weight in zip(kinds, weights, strict=True):
        acc += weight / total
        if u < acc:
            return kind
    return kinds[-1]
