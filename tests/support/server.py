"""A real ``scout-service serve`` process for end-to-end tests.

Started with ``python -m scout_service serve`` on a free loopback port against
the test's DynamoDB endpoint (moto's server over HTTP); the bound gRPC and
metrics ports are read from its first lines of output.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"alice": "alice-token-0001", "bob": "bob-token-0002", "root": "root-token-0003"}


def token_env(tokens: Mapping[str, str] = TOKENS) -> str:
    """SCOUT_AUTH_TOKENS for the given name → token pairs."""
    return ",".join(f"{n}:{hashlib.sha256(t.encode()).hexdigest()}" for n, t in tokens.items())


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, so no replica outlives it."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class ServerProcess:
    """One server replica in a subprocess; ``stop()`` sends SIGTERM."""

    def __init__(self, endpoint_url: str, table_name: str,
                 extra_env: Mapping[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SCOUT_", "DYNAMODB_"))}
        env.update({
            "DYNAMODB_ENDPOINT_URL": endpoint_url,
            "DYNAMODB_TABLE_NAME": table_name,
            "DYNAMODB_REGION": "eu-north-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SCOUT_CREATE_TABLE": "true",
            "SCOUT_LISTEN_ADDRESS": "127.0.0.1:0",
            "SCOUT_METRICS_ADDRESS": "127.0.0.1:0",
            "SCOUT_AUTH_TOKENS": token_env(),
            "SCOUT_ADMIN_PRINCIPALS": "root",
            "SCOUT_SHUTDOWN_GRACE_S": "3",
            "SCOUT_HEARTBEAT_INTERVAL_S": "1",
            "SCOUT_PROGRESS_POLL_MS": "100",
            "SCOUT_LEASE_SECONDS": "3",
            "SCOUT_CLAIM_INTERVAL_S": "1",
            "PYTHONUNBUFFERED": "1",
        })
        env.update(extra_env or {})
        self.env = env
        self.lines: list[str] = []
        self.port = 0
        self.metrics_port = 0
        self.proc: subprocess.Popen[str] | None = None

    @property
    def address(self) -> str:
        """host:port of the gRPC listener."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start and wait until the server prints its port."""
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scout_service", "serve"], cwd=ROOT, env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_die_with_parent,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if not ready.wait(timeout) or not self.port:
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines[-50:]))
        return self

    def _pump(self, ready: threading.Event) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line)
            if m := re.search(r"listening on [\d.]+:(\d+)", line):
                self.port = int(m.group(1))
            if m := re.search(r"metrics on http://[\d.]+:(\d+)/metrics", line):
                self.metrics_port = int(m.group(1))
            if "try: grpcurl" in line:
                ready.set()
        ready.set()

    def output(self) -> str:
        """Everything the server printed so far."""
        return "".join(self.lines)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: a crash, as far as the server knows."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not met in time")
