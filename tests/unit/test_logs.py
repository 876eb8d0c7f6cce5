"""Log lines: every structured field, the call's session and run, never contents."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from scout_service import logs


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved:
        root.addHandler(handler)
    root.setLevel(level)
    logs.set_trace_id_source(None)


def test_json_lines_carry_every_extra_field_and_the_context(capture) -> None:  # type: ignore[no-untyped-def]
    stream = capture
    logs.configure("info", "json", stream)
    token = logs.session_id_var.set("sid-1")
    run = logs.run_id_var.set("run-9")
    try:
        logs.set_trace_id_source(lambda: "0af7651916cd43dd8448eb211c80319c")
        logging.getLogger("scout_service.store").warning(
            "unexpected DynamoDB error",
            extra={"operation": "GetItem", "code": "Boom", "error_message": "x"})
        logging.getLogger("scout_service.x").debug("not at this level")
    finally:
        logs.session_id_var.reset(token)
        logs.run_id_var.reset(run)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "unexpected DynamoDB error"
    assert record["level"] == "WARNING" and record["logger"] == "scout_service.store"
    fields = (record["operation"], record["code"], record["error_message"])
    assert fields == ("GetItem", "Boom", "x")
    assert record["session_id"] == "sid-1" and record["run_id"] == "run-9"
    assert record["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert record["time"].startswith("20")


def test_an_explicit_field_wins_over_the_context_and_contents_are_dropped(capture) -> None:  # type: ignore[no-untyped-def]
    stream = capture
    logs.configure("info", "json", stream)
    token = logs.session_id_var.set("from-context")
    try:
        logging.getLogger("t").info("saved", extra={
            "session_id": "explicit", "prompt": "SECRET-PROMPT", "content": "SECRET-DOC",
            "api_key": "SECRET-KEY", "authorization": "Bearer SECRET"})
    finally:
        logs.session_id_var.reset(token)
    out = stream.getvalue()
    assert json.loads(out)["session_id"] == "explicit"
    assert "SECRET" not in out


def test_text_lines_append_the_fields_and_keep_tracebacks_below(capture) -> None:  # type: ignore[no-untyped-def]
    stream = capture
    logs.configure("info", "text", stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("t").exception("failed", extra={"run_id": "r1", "code": "X"})
    first, *rest = stream.getvalue().splitlines()
    assert first.endswith("ERROR t failed run_id=r1 code=X")
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: boom"


def test_auto_is_json_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert logs.resolve_format("auto") == "json"
    monkeypatch.setattr("sys.stdout", Tty())
    monkeypatch.setattr(logs, "in_container", lambda env=None: False)
    assert logs.resolve_format("auto") == "text"
    monkeypatch.setattr(logs, "in_container", lambda env=None: True)
    assert logs.resolve_format("auto") == "json"
    assert logs.resolve_format("text") == "text"
