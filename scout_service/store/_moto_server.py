"""moto's DynamoDB server with one request at a time (run by ``EmbeddedDynamo``).

``python -m moto.server`` serves requests on many threads and moto's
in-memory backend has no locking, so two concurrent conditional writes can
both pass their condition — DynamoDB never allows that, and Scout relies on
it (run versions, the active-run slot, event sequences). This entry point
runs the same WSGI app behind a lock, which makes every request atomic like
DynamoDB's. moto is pure Python under the GIL anyway, so little is lost.

It also exits on its own when the process that started it is gone (given
``--parent-pid``), so a service killed without stopping its embedded
endpoint does not leave a server behind.

Usage: ``python -m scout_service.store._moto_server -H 127.0.0.1 -p 5000 [--parent-pid N]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def serialized(app: WsgiApp) -> WsgiApp:
    """The WSGI app, one request at a time (the response fully built inside)."""
    lock = threading.Lock()

    def handle(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))

    return handle


def exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Exit this process once its parent is gone (it is re-parented then)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """Parse ``-H``/``-p`` and serve until terminated."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--parent-pid", type=int, default=None)
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # as moto.server does (this process only)
    # One log line per request is noise for an embedded store (and costs time).
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
