"""A fake of Bedrock's ConverseStream on 127.0.0.1, reached through botocore's endpoint URL.

The same agent and the same prefix caching as ``FakeAnthropic``, in
Bedrock's shapes: ``POST /model/{id}/converse-stream`` with ``toolConfig``,
``system`` and ``messages`` whose ``cachePoint`` blocks mark the end of a
cached prefix, answered as an AWS event stream (binary frames with CRCs,
which botocore decodes) ending with ``metadata.usage`` carrying
``cacheReadInputTokens`` and ``cacheWriteInputTokens``. Errors come as
Bedrock sends them: the code in ``x-amzn-ErrorType`` (429
``ThrottlingException``, 403 ``UnrecognizedClientException``).
"""

from __future__ import annotations

import binascii
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from bench.fake_anthropic import FakeAnthropic, Usage, _next_call


def _header(name: str, value: str) -> bytes:
    key, text = name.encode(), value.encode()
    return struct.pack("B", len(key)) + key + b"\x07" + struct.pack(">H", len(text)) + text


def frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One AWS event-stream message: prelude, its CRC, headers, JSON payload, message CRC."""
    headers = (_header(":event-type", event_type) + _header(":content-type", "application/json")
               + _header(":message-type", "event"))
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + headers + body
    return message + struct.pack(">I", binascii.crc32(message))


_ERRORS = {429: "ThrottlingException", 403: "UnrecognizedClientException",
           401: "UnrecognizedClientException", 404: "ResourceNotFoundException",
           503: "ServiceUnavailableException"}


@dataclass
class FakeBedrock(FakeAnthropic):
    """ConverseStream; ``endpoint_url`` is what BedrockModel's ``endpoint_url`` should be."""

    _content_type = "application/vnd.amazon.eventstream"

    @property
    def endpoint_url(self) -> str:
        """The Bedrock runtime endpoint to give botocore."""
        return self.base_url

    def _serves(self, path: str) -> bool:
        return path.startswith("/model/") and path.endswith("/converse-stream")

    def _error(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        code = _ERRORS.get(status, "InternalServerException")
        data = json.dumps({"message": f"fake {status}"}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _blocks(self, body: dict[str, Any]) -> list[tuple[str, bool]]:
        out: list[tuple[str, bool]] = []

        def add(kind: str, blocks: list[Any]) -> None:
            for block in blocks:
                if isinstance(block, dict) and "cachePoint" in block:
                    if out:  # a cache point ends the prefix at the block before it
                        out[-1] = (out[-1][0], True)
                    continue
                out.append((kind + json.dumps(block, sort_keys=True), False))

        add("tool:", (body.get("toolConfig") or {}).get("tools") or [])
        add("system:", body.get("system") or [])
        for message in body.get("messages") or []:
            add(f"{message.get('role')}:", message.get("content") or [])
        return out

    def _next(self, body: dict[str, Any]) -> tuple[str, str]:
        tools = [str(t["toolSpec"]["name"]) for t in (body.get("toolConfig") or {}).get(
            "tools") or [] if "toolSpec" in t]
        by_id: dict[str, str] = {}
        done: list[str] = []
        for message in body.get("messages") or []:
            for block in message.get("content") or []:
                if "toolUse" in block:
                    by_id[block["toolUse"]["toolUseId"]] = block["toolUse"]["name"]
                elif "toolResult" in block:
                    done.append(by_id.get(block["toolResult"].get("toolUseId", ""), ""))
        return _next_call(tools, done, self.searches, self.report_chars)

    def _stream(self, body: dict[str, Any], name: str, arguments: str,
                usage: Usage) -> Iterator[bytes]:
        tool_id = f"tooluse_{binascii.crc32(arguments.encode()):08x}"
        yield frame("messageStart", {"role": "assistant"})
        yield frame("contentBlockStart", {"contentBlockIndex": 0, "start": {
            "toolUse": {"toolUseId": tool_id, "name": name}}})
        for start in range(0, len(arguments), 400):
            yield frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
                "toolUse": {"input": arguments[start:start + 400]}}})
        yield frame("contentBlockStop", {"contentBlockIndex": 0})
        yield frame("messageStop", {"stopReason": "tool_use"})
        total = usage.input_tokens + usage.cache_read + usage.cache_write + usage.output_tokens
        yield frame("metadata", {"usage": {
            "inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens,
            "totalTokens": total, "cacheReadInputTokens": usage.cache_read,
            "cacheWriteInputTokens": usage.cache_write}, "metrics": {"latencyMs": 1}})
