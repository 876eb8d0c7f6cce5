"""One log line and one metric sample per RPC, never contents (a real replica).

The boundary records each call after its answer is on the way (on the
loop's next turn): the lines and counters must still appear, one per call,
with the right method, code, session and caller. With SCOUT_LOG_FORMAT=json
every line the replica logs is one JSON object.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from scout_client import NotFoundError, ScoutClient
from tests.support.server import TOKENS, ServerProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def rpc_count(server: ServerProcess, method: str, code: str) -> float:
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        for line in response.read().decode().splitlines():
            if (line.startswith("scout_rpcs_total{") and f'method="{method}"' in line
                    and f'code="{code}"' in line):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_each_call_is_logged_and_counted_once_without_contents(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server({"SCOUT_LOG_FORMAT": "json"})
    secret = "MARKER-7f3c-do-not-log"
    with ScoutClient(server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        with pytest.raises(NotFoundError):
            scout.get_report(sid, "market")
        scout.put_report(sid, "market", f"# Market\n\n{secret}\n")
        assert secret in scout.get_report(sid, "market").content

    def records() -> list[dict[str, Any]]:
        # The replica prints its address lines with print(); everything logged is JSON.
        return [json.loads(line) for line in server.output().splitlines()
                if line.startswith("{")]

    def lines(method: str, code: str) -> list[dict[str, Any]]:
        return [r for r in records() if r.get("logger") == "scout_service.rpc"
                and r.get("method") == method and r.get("code") == code
                and r.get("session_id") == sid and r.get("principal") == "alice"
                and isinstance(r.get("duration_ms"), float) and r["level"] == "INFO"]

    assert wait_for(lambda: len(lines("GetReport", "OK")) == 1, timeout=10)
    assert len(lines("GetReport", "NOT_FOUND")) == 1
    assert len(lines("PutReport", "OK")) == 1
    assert rpc_count(server, "GetReport", "OK") == 1
    assert rpc_count(server, "GetReport", "NOT_FOUND") == 1
    assert rpc_count(server, "PutReport", "OK") == 1
    assert secret not in server.output()
    # Every log line parses, and the lines of the calls carry the session id.
    logged = [line for line in server.output().splitlines()
              if not line.startswith(("scout-service listening", "metrics on", "try: "))]
    assert logged and all(line.startswith("{") for line in logged), logged[:5]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records())
