"""A real ``scout-service serve`` process on the embedded store, for the eval.

Like ``scout_service.demo``, but the caller's model settings pass through:
``SCOUT_MODEL_PROVIDER``, ``BEDROCK_MODEL_ID``, ``SCOUT_*_MODEL_ID``, API keys
and AWS credentials reach the server unchanged, so ``make eval
SCOUT_MODEL_PROVIDER=bedrock`` evaluates Bedrock on the same frozen inputs.
The store is always the embedded one: settings that point at another
DynamoDB endpoint or table are dropped, so an eval never writes to a real
table.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_STORE_VARIABLES = ("DYNAMODB_", "SCOUT_DYNAMODB_", "SCOUT_CREATE_TABLE", "SCOUT_EMBEDDED",
                    "SCOUT_AUTH_", "SCOUT_TLS_", "SCOUT_LISTEN_ADDRESS", "SCOUT_METRICS_ADDRESS")


def server_env(base: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: ``base`` minus store/listener settings, plus the eval's."""
    env = {k: v for k, v in base.items() if not k.startswith(_STORE_VARIABLES)}
    env.update({
        "SCOUT_EMBEDDED_DYNAMODB": "true",
        "SCOUT_LISTEN_ADDRESS": "127.0.0.1:0",
        "SCOUT_METRICS_ADDRESS": "off",
        "SCOUT_LOG_LEVEL": env.get("SCOUT_LOG_LEVEL", "warning"),
        "SCOUT_PROGRESS_POLL_MS": env.get("SCOUT_PROGRESS_POLL_MS", "50"),
        "PYTHONUNBUFFERED": "1",
    })
    env.setdefault("SCOUT_MODEL_PROVIDER", "offline")
    return env


class EvalServer:
    """One server process; use as a context manager."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        """Prepare (not start) a server with ``env`` (default: this process's)."""
        self.env = server_env(os.environ if env is None else env)
        self.lines: list[str] = []
        self.address = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> EvalServer:
        """Start the server and wait until it listens."""
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "scout_service", "serve"], env=self.env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self._proc is not None and self._proc.stdout is not None
            for line in self._proc.stdout:
                self.lines.append(line)
                if not self.address and (m := re.search(r"listening on ([\d.]+:\d+)", line)):
                    self.address = m.group(1)
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(90) or not self.address:
            self._proc.kill()
            raise RuntimeError("eval: the server did not start:\n" + "".join(self.lines[-30:]))
        return self

    def __exit__(self, *_: object) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
