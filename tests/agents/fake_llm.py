"""A tiny fake of an OpenAI-compatible and an Ollama chat endpoint on 127.0.0.1.

Each request offers exactly one save tool and one findings tool (Scout binds
one of each per agent). The first turn answers with a call to the save tool;
once the request carries its result, with a call to the findings tool (strands'
structured output, which ends the invocation). OpenAI chunks are streamed as
server-sent events (``chat.completion.chunk``), Ollama's as NDJSON lines.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeLLM:
    """Serves both APIs; records every request body and its headers.

    ``throttle_every=3`` answers every third request with 429 (rate limited);
    ``refuse=401`` answers every request with that error status;
    ``cached_tokens=100`` reports that many of each request's prompt tokens as
    read from the cache (OpenAI counts them inside ``prompt_tokens``).
    """

    def __init__(self, *, throttle_every: int = 0, refuse: int = 0,
                 cached_tokens: int = 0) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.throttled = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    outer.requests.append((self.path, dict(self.headers.items()), body))
                    count = len(outer.requests)
                    throttle = throttle_every > 0 and count % throttle_every == 0
                    outer.throttled += throttle
                if refuse or throttle:
                    self._error(refuse or 429)
                elif self.path.endswith("/chat/completions"):
                    self._send(_openai_events(body, cached_tokens), "text/event-stream")
                elif self.path == "/api/chat":
                    self._send(_ollama_lines(body), "application/x-ndjson")
                else:
                    self.send_error(404)

            def _error(self, status: int) -> None:
                kind = {401: "invalid_api_key", 404: "model_not_found"}.get(
                    status, "rate_limit_exceeded")
                data = json.dumps({"error": {"message": f"fake {status}", "type": kind,
                                             "code": kind}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send(self, parts: Iterator[bytes], content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for part in parts:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def report_for(tool_name: str) -> str:
    kind = tool_name.removeprefix("save_").removesuffix("_report")
    return f"# {kind.capitalize()} report\n\nWritten by the fake endpoint for {tool_name}.\n"


def _tool_name(body: dict[str, Any]) -> str:
    tools = [str(t["function"]["name"]) for t in body.get("tools") or []]
    saves = [name for name in tools if name.startswith("save_")]
    assert len(saves) == 1, "each Scout agent has exactly one save tool"
    assert {"search_documents", "read_source"} <= set(tools), "and the research tools"
    return saves[0]


def _findings_call(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """After the save: the agent's structured-output (findings) tool, with minimal findings."""
    tools = [str(t["function"]["name"]) for t in body.get("tools") or []]
    names = [name for name in tools if name.endswith("Findings")]
    assert len(names) == 1, "each Scout agent has exactly one findings tool"
    final = {"verdict": "NO_GO", "confidence": 0.2,
             "conditions": ["Written by the fake endpoint."]}
    return names[0], final if names[0] == "FinalFindings" else {}


def _openai_events(body: dict[str, Any], cached_tokens: int = 0) -> Iterator[bytes]:
    def chunk(choices: list[Any], **extra: Any) -> bytes:
        data = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0,
                "model": body.get("model"), "choices": choices, **extra}
        return f"data: {json.dumps(data)}\n\n".encode()

    answered = any(m.get("role") == "tool" for m in body.get("messages", []))
    if answered:
        name, findings = _findings_call(body)
        arguments = json.dumps(findings)
    else:
        name = _tool_name(body)
        arguments = json.dumps({"content": report_for(name)})
    yield chunk([{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_1", "type": "function",
         "function": {"name": name, "arguments": ""}}]}, "finish_reason": None}])
    for start in range(0, len(arguments), 20):
        yield chunk([{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": arguments[start:start + 20]}}]},
            "finish_reason": None}])
    yield chunk([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])
    usage: dict[str, Any] = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
    if cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    yield chunk([], usage=usage)
    yield b"data: [DONE]\n\n"


def _ollama_lines(body: dict[str, Any]) -> Iterator[bytes]:
    def line(message: dict[str, Any], done: bool, **extra: Any) -> bytes:
        data = {"model": body.get("model"), "created_at": "2025-01-01T00:00:00Z",
                "message": message, "done": done, **extra}
        return (json.dumps(data) + "\n").encode()

    answered = any(m.get("role") == "tool" for m in body.get("messages", []))
    if answered:
        name, findings = _findings_call(body)
        yield line({"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": name, "arguments": findings}}]}, False)
    else:
        name = _tool_name(body)
        yield line({"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": name, "arguments": {"content": report_for(name)}}}]}, False)
    yield line({"role": "assistant", "content": ""}, True, done_reason="stop",
               prompt_eval_count=80, eval_count=20, total_duration=1_000_000)
