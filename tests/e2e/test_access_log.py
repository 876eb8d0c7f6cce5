"""One log line and one metric sample per RPC, never contents (a real replica).

The boundary records each call after its answer is on the way (on the
loop's next turn): the lines and counters must still appear, one per call,
with the right method, code, session and caller.
"""

from __future__ import annotations

import re
import urllib.request

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
    server = start_server()
    secret = "MARKER-7f3c-do-not-log"
    with ScoutClient(server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        with pytest.raises(NotFoundError):
            scout.get_report(sid, "market")
        scout.put_report(sid, "market", f"# Market\n\n{secret}\n")
        assert secret in scout.get_report(sid, "market").content

    def lines(method: str, code: str) -> list[str]:
        pattern = re.compile(rf"rpc {method} code={code} duration_ms=[\d.]+ "
                             rf"session_id={sid} principal=alice$")
        return [line for line in server.output().splitlines() if pattern.search(line)]

    assert wait_for(lambda: len(lines("GetReport", "OK")) == 1, timeout=10)
    assert len(lines("GetReport", "NOT_FOUND")) == 1
    assert len(lines("PutReport", "OK")) == 1
    assert rpc_count(server, "GetReport", "OK") == 1
    assert rpc_count(server, "GetReport", "NOT_FOUND") == 1
    assert rpc_count(server, "PutReport", "OK") == 1
    assert secret not in server.output()
