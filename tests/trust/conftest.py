"""Servers for the trust tests: small limits, known callers, one table each."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest

from tests.support.server import ROOT, ServerProcess, token_env
from tests.trust._api import CALLERS

# The trust server's limits, small enough to reach in a test.
MAX_FILE_BYTES = 512 * 1024  # SCOUT_MAX_FILE_MB=0.5
MAX_SESSION_BYTES = 1024 * 1024  # SCOUT_MAX_SESSION_MB=1
MAX_FILES = 3
MAX_REPORT_BYTES = 256 * 1024  # SCOUT_MAX_REPORT_MB=0.25
MAX_RUNS_PER_HOUR = 2


class SpawnedServer(ServerProcess):
    """A ``ServerProcess`` started with posix_spawn instead of fork.

    The test process holds gRPC channels, and gRPC installs fork handlers.
    ``Popen`` normally uses vfork (which skips them), but falls back to fork
    when vfork fails, and then gRPC's prefork handler can block forever
    (grpc/grpc#37259) — seen once here, a whole suite hung in ``Popen``, where
    pytest-timeout's signal cannot reach. With no ``cwd`` and
    ``close_fds=False``, ``Popen`` uses posix_spawn, which runs no fork
    handlers (and Python's own descriptors are not inheritable anyway).
    """

    def __init__(self, endpoint_url: str, table_name: str,
                 extra_env: Mapping[str, str] | None = None) -> None:
        super().__init__(endpoint_url, table_name, extra_env)
        path = [str(ROOT), *filter(None, [self.env.get("PYTHONPATH")])]
        self.env["PYTHONPATH"] = os.pathsep.join(path)

    def start(self, timeout: float = 60.0) -> SpawnedServer:
        """Start and wait until the server prints its port (as ``ServerProcess.start``)."""
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scout_service", "serve"], env=self.env, close_fds=False,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()
        threading.Thread(target=self._pump, args=(ready,), daemon=True).start()
        if not ready.wait(timeout) or not self.port:
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines[-50:]))
        return self


@dataclass(frozen=True)
class Deployment:
    """A running server and where its data lives."""

    server: ServerProcess
    endpoint: str
    table: str

    @property
    def address(self) -> str:
        """host:port of the gRPC listener."""
        return self.server.address


def deploy(endpoint: str, extra_env: dict[str, str], prefix: str) -> Deployment:
    """Start a replica on a fresh table of ``endpoint`` with CALLERS."""
    table = f"scout-{prefix}-{uuid.uuid4().hex[:8]}"
    env = {"SCOUT_AUTH_TOKENS": token_env(CALLERS), "SCOUT_ADMIN_PRINCIPALS": "root",
           "SCOUT_MODEL_PROVIDER": "offline", **extra_env}
    return Deployment(SpawnedServer(endpoint, table, env).start(), endpoint, table)


def shut(deployment: Deployment) -> None:
    """Stop the replica (kill it if it does not stop)."""
    try:
        deployment.server.stop(timeout=20)
    except Exception:  # noqa: BLE001 - teardown must not hide the test's result
        deployment.server.kill()


@pytest.fixture(scope="package")
def trust_server(dynamodb_endpoint: str) -> Iterator[Deployment]:
    """A replica with small per-session limits, shared by the callers and limits tests."""
    deployment = deploy(dynamodb_endpoint, {
        "SCOUT_MAX_FILE_MB": "0.5",
        "SCOUT_MAX_SESSION_MB": "1",
        "SCOUT_MAX_FILES_PER_SESSION": str(MAX_FILES),
        "SCOUT_MAX_REPORT_MB": "0.25",
        "SCOUT_MAX_RUNS_PER_SESSION_PER_HOUR": str(MAX_RUNS_PER_HOUR),
    }, "trust")
    yield deployment
    shut(deployment)
