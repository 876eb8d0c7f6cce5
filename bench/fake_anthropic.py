"""A fake of Anthropic's Messages API on 127.0.0.1 that caches prompt prefixes as Anthropic does.

Enough of the API for strands' ``AnthropicModel`` driving a Scout agent:
``POST /v1/messages`` with ``stream: true`` answers with server-sent events
(``message_start`` … ``message_stop``). The fake plays the agent: it searches
the documents ``searches`` times with the queries below, then calls the save
tool with a report, then the findings tool.

Prompt caching follows Anthropic's rules closely enough to measure Scout's
use of it:

- the request is read as blocks in Anthropic's order: tools, system, then
  every message's content blocks; a block with ``cache_control`` is a
  breakpoint;
- a breakpoint's prefix (all blocks up to it) is written to the cache when
  the response that carried it *begins* (after ``first_token_s``), so
  requests sent together all miss; prefixes shorter than
  ``min_cache_tokens`` are not cached;
- a request reads the longest cached prefix ending at any of its block
  boundaries up to its last breakpoint (Anthropic looks back from each
  breakpoint), writes the rest up to its last breakpoint, and pays full
  price only for what follows;
- tokens are characters / 4 of each block's JSON.

``usage`` reports ``input_tokens`` (uncached), ``cache_read_input_tokens`` and
``cache_creation_input_tokens`` like the real API. ``throttle_every=3``
answers every third request with 429; ``refuse=401`` refuses every request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

QUERIES = ("market size customers growth", "competitors prices positioning",
           "pricing plan revenue margin", "regulation licence data protection",
           "risks assumptions", "team operations costs")


def tokens(text: str) -> int:
    """The fake's token count: one per four characters, at least one."""
    return max(1, len(text) // 4)


@dataclass
class Usage:
    """What one request was billed for."""

    input_tokens: int
    cache_read: int
    cache_write: int
    output_tokens: int = 0


@dataclass
class FakeAnthropic:
    """Serves the fake; ``usages`` lists every answered request's usage, in order."""

    searches: int = 3
    first_token_s: float = 0.0
    chunk_delay_s: float = 0.0
    min_cache_tokens: int = 1024
    throttle_every: int = 0
    refuse: int = 0
    report_chars: int = 3000
    usages: list[Usage] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    throttled: int = 0

    def __post_init__(self) -> None:
        self._cache: set[str] = set()
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not outer._serves(self.path):
                    self.send_error(404)
                    return
                with outer._lock:
                    outer.requests.append(body)
                    count = len(outer.requests)
                    throttle = outer.throttle_every > 0 and count % outer.throttle_every == 0
                    outer.throttled += throttle
                if outer.refuse or throttle:
                    outer._error(self, outer.refuse or 429)
                    return
                outer._answer(self, body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What ``ANTHROPIC_BASE_URL`` would be."""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the API's own shape (FakeBedrock overrides these) --------------------------------------

    def _serves(self, path: str) -> bool:
        return path.endswith("/v1/messages")

    def _error(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        kind = {401: "authentication_error", 404: "not_found_error",
                529: "overloaded_error"}.get(status, "rate_limit_error")
        data = json.dumps({"type": "error",
                           "error": {"type": kind, "message": f"fake {status}"}}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _stream(self, body: dict[str, Any], name: str, arguments: str,
                usage: Usage) -> Iterator[bytes]:
        return _events(body, name, arguments, usage)

    # -- caching ----------------------------------------------------------------------------

    def _blocks(self, body: dict[str, Any]) -> list[tuple[str, bool]]:
        """The request as (serialized block, is a breakpoint), in Anthropic's prefix order."""
        out: list[tuple[str, bool]] = []

        def add(kind: str, block: Any) -> None:
            marked = isinstance(block, dict) and "cache_control" in block
            plain = ({k: v for k, v in block.items() if k != "cache_control"}
                     if isinstance(block, dict) else block)
            out.append((kind + json.dumps(plain, sort_keys=True), marked))

        for tool in body.get("tools") or []:
            add("tool:", tool)
        system = body.get("system")
        for block in ([{"type": "text", "text": system}] if isinstance(system, str)
                      else system or []):
            add("system:", block)
        for message in body.get("messages") or []:
            content = message.get("content")
            for block in ([{"type": "text", "text": content}] if isinstance(content, str)
                          else content or []):
                add(f"{message.get('role')}:", block)
        return out

    _content_type = "text/event-stream"

    def _next(self, body: dict[str, Any]) -> tuple[str, str]:
        return _next_call(_tool_names(body), _results(body), self.searches, self.report_chars)

    def _plan(self, body: dict[str, Any]) -> tuple[Usage, list[str]]:
        """The request's usage, and the prefixes it writes once its response begins."""
        blocks = self._blocks(body)
        keys: list[str] = []
        counts: list[int] = []
        digest = hashlib.sha256()
        total = 0
        for text, _ in blocks:
            digest.update(text.encode())
            keys.append(digest.hexdigest())
            total += tokens(text)
            counts.append(total)
        marks = [i for i, (_, marked) in enumerate(blocks) if marked]
        last = marks[-1] if marks else -1
        with self._lock:
            hit = max((i for i in range(last + 1) if keys[i] in self._cache), default=-1)
        read = counts[hit] if hit >= 0 else 0
        upto = counts[last] if last >= 0 else 0
        writes = [keys[i] for i in marks if counts[i] >= self.min_cache_tokens]
        write = upto - read if writes and upto > read else 0
        return Usage(total - read - write, read, write), writes

    # -- answering ------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        usage, writes = self._plan(body)
        name, arguments = self._next(body)
        if self.first_token_s:
            time.sleep(self.first_token_s)
        with self._lock:  # the entries are usable once this response has begun
            self._cache.update(writes)
        handler.send_response(200)
        handler.send_header("Content-Type", self._content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        usage.output_tokens = tokens(arguments) + 20
        with self._lock:
            self.usages.append(usage)
        try:
            for part in self._stream(body, name, arguments, usage):
                handler.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                handler.wfile.flush()
                if self.chunk_delay_s:
                    time.sleep(self.chunk_delay_s)
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its read timeout): nothing to answer


def _tool_names(body: dict[str, Any]) -> list[str]:
    return [str(t.get("name")) for t in body.get("tools") or []]


def _results(body: dict[str, Any]) -> list[str]:
    """The names of the tools whose results the conversation holds, in order."""
    by_id: dict[str, str] = {}
    names: list[str] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if block.get("type") == "tool_use":
                by_id[block["id"]] = block["name"]
            elif block.get("type") == "tool_result":
                names.append(by_id.get(block.get("tool_use_id", ""), ""))
    return names


def _next_call(tools: list[str], done: list[str], searches: int,
               report_chars: int) -> tuple[str, str]:
    """The agent's next tool call: searches, then the save tool, then the findings."""
    save = next(n for n in tools if n.startswith("save_"))
    findings = [n for n in tools if n.endswith("Findings")]
    searched = sum(1 for n in done if n == "search_documents")
    if save not in done and searched < searches:
        return "search_documents", json.dumps({"query": QUERIES[searched % len(QUERIES)]})
    if save not in done:
        kind = save.removeprefix("save_").removesuffix("_report")
        text = f"# {kind.capitalize()} report\n\n" + (
            "Written by the fake Anthropic endpoint from what the searches returned. "
            * (report_chars // 72 + 1))[:report_chars] + "\n"
        return save, json.dumps({"content": text})
    final = {"verdict": "NO_GO", "confidence": 0.2, "conditions": ["Written by the fake."]}
    name = findings[0] if findings else save
    return name, json.dumps(final if name == "FinalFindings" else {})


def _events(body: dict[str, Any], name: str, arguments: str, usage: Usage) -> Iterator[bytes]:
    def event(kind: str, data: dict[str, Any]) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    yield event("message_start", {"message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model"),
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": usage.input_tokens, "output_tokens": 1,
                  "cache_read_input_tokens": usage.cache_read,
                  "cache_creation_input_tokens": usage.cache_write}}})
    yield event("content_block_start", {"index": 0, "content_block": {
        "type": "tool_use", "id": f"toolu_{hashlib.sha1(arguments.encode()).hexdigest()[:12]}",
        "name": name, "input": {}}})
    for start in range(0, len(arguments), 400):
        yield event("content_block_delta", {"index": 0, "delta": {
            "type": "input_json_delta", "partial_json": arguments[start:start + 400]}})
    yield event("content_block_stop", {"index": 0})
    yield event("message_delta", {"delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                  "usage": {"output_tokens": usage.output_tokens}})
    yield event("message_stop", {})
