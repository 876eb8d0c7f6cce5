"""An embedded DynamoDB endpoint: moto's server in a child process on loopback.

Used by the local default (no AWS configuration), the test suite and the
benchmark. It speaks the real DynamoDB HTTP API, so ``DynamoStore`` runs
against it exactly as against AWS. Nothing global is touched: clients made
for it get fake credentials explicitly (``EmbeddedDynamo.credentials``).
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from types import TracebackType
from typing import IO

logger = logging.getLogger(__name__)

# moto accepts any credentials; boto3 only needs some to sign requests.
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# What the embedded server imports: the ``embedded`` extra, left out of a lean install.
EMBEDDED_MODULES = ("moto", "flask", "flask_cors", "py_partiql_parser", "werkzeug")
INSTALL_HINT = (
    "the embedded DynamoDB needs moto's server, which this install lacks: "
    "pip install 'scout-service[embedded]' (or point DYNAMODB_ENDPOINT_URL at a DynamoDB)"
)


def embedded_available() -> bool:
    """Whether the ``embedded`` extra is installed (looked up, not imported)."""
    return all(importlib.util.find_spec(name) is not None for name in EMBEDDED_MODULES)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedDynamo:
    """moto's DynamoDB HTTP server as a subprocess; a context manager.

    ``start()`` picks a free loopback port (unless given), launches the
    server and waits until it answers HTTP, or raises ``RuntimeError`` with
    the tail of its output after ``startup_timeout``.

    By default the server is moto's app run one request at a time
    (``moto_server``): plain ``python -m moto.server`` (``serialize=False``)
    lets two concurrent conditional writes both succeed, which real
    DynamoDB never does.
    """

    credentials = FAKE_CREDENTIALS

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 30.0,
        serialize: bool = True,
    ) -> None:
        self.host = host
        self.serialize = serialize
        self.module = "scout_service.embedded.moto_server" if serialize else "moto.server"
        self.port = port
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        # The server logs every request; keep the tail for error messages.
        self._output: collections.deque[str] = collections.deque(maxlen=50)
        self._drain: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the running server."""
        if self._process is None:
            raise RuntimeError("EmbeddedDynamo is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmbeddedDynamo:
        """Launch the server and wait until it answers; idempotent."""
        if self._process is not None:
            return self
        if not embedded_available():
            raise RuntimeError(INSTALL_HINT)
        for _ in range(3):  # a free port can be taken between probe and bind
            port = self.port or _free_port(self.host)
            command = [sys.executable, "-m", self.module, "-H", self.host, "-p", str(port)]
            if self.serialize:
                command += ["--parent-pid", str(os.getpid())]  # dies with this process
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert process.stdout is not None
            self._drain = threading.Thread(
                target=self._keep_tail, args=(process.stdout,), daemon=True
            )
            self._drain.start()
            if self._wait_ready(process, port):
                self._process, self.port = process, port
                logger.info("embedded DynamoDB listening", extra={"endpoint": self.endpoint_url})
                return self
            self._kill(process)
            if self.port:
                break
        raise RuntimeError(
            "embedded DynamoDB (moto server) did not start:\n" + "\n".join(self._output)
        )

    def _keep_tail(self, stream: IO[bytes]) -> None:
        for line in stream:
            self._output.append(line.decode("utf-8", "replace").rstrip())

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        url = f"http://{self.host}:{port}/"
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return True
            except urllib.error.HTTPError:
                return True  # any HTTP answer means the server is up
            except OSError:
                time.sleep(0.05)
        return False

    @staticmethod
    def _kill(process: subprocess.Popen[bytes]) -> None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def stop(self) -> None:
        """Terminate the server (and wait for it); safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            self._kill(process)
            if process.stdout is not None:
                with contextlib.suppress(OSError):
                    process.stdout.close()

    def __enter__(self) -> EmbeddedDynamo:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
