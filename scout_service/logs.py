"""Log lines operators can read and machines can parse.

``SCOUT_LOG_FORMAT=json`` writes one JSON object per line (python-json-logger)
with every structured field a call site passed in ``extra={...}``; ``text``
writes the classic line with those fields appended as ``key=value``. Both
add the session and run the current call or run works for (context
variables the RPC boundary and the runner set, so a line deep in the store
carries them without being passed them) and, while tracing is on, the
current trace id. ``auto`` picks JSON in containers and wherever stdout is
not a terminal (a log collector), text on a terminal.

Fields that could hold contents — prompts, document text, tokens, keys —
are dropped by name before a line is written, whoever passed them.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# The session and run the current task works for; the boundary and the runner set them.
session_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("log_session_id",
                                                                     default="")
run_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("log_run_id", default="")

# Never written, whoever passes them: contents, prompts, credentials.
NEVER_LOGGED = frozenset({
    "content", "contents", "text", "body", "prompt", "prompts", "messages", "document",
    "token", "api_key", "authorization", "password", "secret", "credentials",
})

# What every LogRecord has: everything else on a record came from ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "taskName",
}

# Set while tracing is on: the current trace id as 32 hex digits, or "".
_trace_id: Callable[[], str] | None = None


def set_trace_id_source(source: Callable[[], str] | None) -> None:
    """Let every line carry ``trace_id`` from ``source`` (tracing on), or stop."""
    global _trace_id
    _trace_id = source


class ContextFields(logging.Filter):
    """Adds session_id, run_id and trace_id from the context; drops contents by name."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record`` (never drops it)."""
        fields = record.__dict__
        if "session_id" not in fields:
            sid = session_id_var.get()
            if sid:
                record.session_id = sid
        if "run_id" not in fields:
            rid = run_id_var.get()
            if rid:
                record.run_id = rid
        if _trace_id is not None and "trace_id" not in fields:
            tid = _trace_id()
            if tid:
                record.trace_id = tid
        for name in NEVER_LOGGED.intersection(fields):
            del fields[name]
        return True


class TextFormatter(logging.Formatter):
    """The classic line, then each structured field as ``key=value``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line, with the record's extra fields after its message."""
        line = super().format(record)
        extra = [f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD]
        if not extra:
            return line
        head, sep, tail = line.partition("\n")  # a traceback stays below the fields
        return f"{head} {' '.join(extra)}{sep}{tail}"


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message and every extra field."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def in_container(env: dict[str, str] | None = None) -> bool:
    """Whether this process runs in a container (Docker, Kubernetes)."""
    env = dict(os.environ) if env is None else env
    return bool(env.get("KUBERNETES_SERVICE_HOST")) or Path("/.dockerenv").exists()


def resolve_format(choice: str) -> str:
    """``json`` or ``text`` for ``SCOUT_LOG_FORMAT`` (``auto`` decided here)."""
    if choice != "auto":
        return choice
    return "text" if sys.stdout.isatty() and not in_container() else "json"


def configure(level: str, log_format: str, stream: Any = None) -> None:
    """Send every log line to stderr (or ``stream``) in ``log_format``, from ``level`` up."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(json_formatter() if resolve_format(log_format) == "json"
                         else TextFormatter())
    handler.addFilter(ContextFields())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
