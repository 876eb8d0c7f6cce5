"""The `scout` command, in-process against the fake, plus one run of the console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from scout.v1 import research_pb2
from scout_client import cli

from .fake_server import FakeScout, FakeServer, scripted_events

pytestmark = pytest.mark.timeout(30)


class Scout:
    """Runs `scout` in-process against the fake and returns (exit code, stdout, stderr)."""

    def __init__(self, address: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.address = address
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = cli.main(["--address", self.address, *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> object:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def scout(server: FakeServer, capsys: pytest.CaptureFixture[str]) -> Scout:
    return Scout(server.address, capsys)


def new_session(scout: Scout) -> str:
    created = scout.json("session", "create")
    assert isinstance(created, dict)
    return str(created["session_id"])


def test_session_commands(scout: Scout, fake: FakeScout) -> None:
    created = scout.json("session", "create", "--label", "team=growth", "--ttl", "2h")
    assert isinstance(created, dict)
    sid = created["session_id"]
    assert created["labels"] == {"team": "growth"}
    assert set(created) >= {"session_id", "owner", "create_time", "expire_time", "latest_run_id"}
    assert fake.sessions[sid].expire_time.seconds - fake.sessions[sid].create_time.seconds == 7200

    code, out, _ = scout("session", "get", sid)
    assert code == 0 and sid in out and "team=growth" in out

    new_session(scout)
    listed = scout.json("session", "list")
    assert isinstance(listed, dict) and len(listed["sessions"]) == 2
    code, out, _ = scout("session", "list")
    assert code == 0 and out.splitlines()[0].split() == [
        "SESSION_ID",
        "CREATED",
        "EXPIRES",
        "LABELS",
    ]
    assert sid in out
    page = scout.json("session", "list", "--page-size", "1")
    assert isinstance(page, dict) and len(page["sessions"]) == 1 and page["next_page_token"]

    before = fake.sessions[sid].expire_time.seconds
    extended = scout.json("session", "extend", sid, "--ttl", "3d")
    assert isinstance(extended, dict)
    assert fake.sessions[sid].expire_time.seconds > before

    code, out, _ = scout("session", "delete", sid)
    assert code == 0 and sid not in fake.sessions


def test_upload_files_download(scout: Scout, fake: FakeScout, tmp_path: Path) -> None:
    sid = new_session(scout)
    plan = tmp_path / "plan.md"
    plan.write_text("# Plan\n\nMeal kits for Nordic cities.\n")
    uploaded = scout.json("upload", sid, str(plan))
    assert isinstance(uploaded, dict)
    assert uploaded["file_name"] == "plan.md" and uploaded["content_type"] == "text/markdown"
    assert uploaded["size_bytes"] == str(plan.stat().st_size)  # ProtoJSON int64
    assert fake.uploads[-1].content == plan.read_bytes()

    code, out, _ = scout("upload", sid, str(plan), "--name", "copy.md")
    assert code == 0 and "copy.md" in out

    files = scout.json("files", sid)
    assert isinstance(files, dict)
    assert [f["file_name"] for f in files["files"]] == ["copy.md", "plan.md"]
    code, out, _ = scout("files", sid)
    assert "plan.md" in out and "text/markdown" in out

    dest = tmp_path / "back.md"
    code, out, _ = scout("download", sid, "plan.md", "-o", str(dest))
    assert code == 0 and dest.read_bytes() == plan.read_bytes() and "verified" in out


def test_reports(scout: Scout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = new_session(scout)
    edited = tmp_path / "market.md"
    edited.write_text("# Market\n\nEdited.\n")
    stored = scout.json("report", "put", sid, "market", str(edited))
    assert isinstance(stored, dict) and stored["name"] == "market_report"

    monkeypatch.setattr(sys, "stdin", io.StringIO("# Final\n\nFrom stdin.\n"))
    code, out, _ = scout("report", "put", sid, "final")
    assert code == 0 and "final_report" in out

    code, out, _ = scout("report", "get", sid, "market")
    assert code == 0 and out == "# Market\n\nEdited.\n"
    report = scout.json("report", "get", sid, "REPORT_KIND_FINAL")
    assert isinstance(report, dict) and report["content"] == "# Final\n\nFrom stdin.\n"
    assert report["kind"] == "REPORT_KIND_FINAL"
    saved = tmp_path / "final.md"
    code, _, _ = scout("report", "get", sid, "final", "-o", str(saved))
    assert code == 0 and saved.read_text() == "# Final\n\nFrom stdin.\n"

    listing = scout.json("report", "list", sid)
    assert isinstance(listing, dict)
    assert [r["name"] for r in listing["reports"]] == ["market_report", "final_report"]
    code, out, _ = scout("report", "list", sid)
    assert "market" in out and "caller" in out

    edited.write_text("# Market\n\nEdited again.\n")
    code, out, _ = scout("report", "put", sid, "market", str(edited))
    assert code == 0 and "version 2" in out
    code, out, _ = scout("versions", sid, "market")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert code == 0 and [row[0] for row in rows] == ["2", "1"]
    versions = scout.json("versions", sid, "market")
    assert isinstance(versions, dict)
    assert [v["version"] for v in versions["versions"]] == ["2", "1"]  # int64: JSON strings
    code, out, _ = scout("report", "get", sid, "market", "--version", "1")
    assert code == 0 and out == "# Market\n\nEdited.\n"
    code, out, _ = scout("report", "get", sid, "market")
    assert out == "# Market\n\nEdited again.\n"
    code, _, err = scout("report", "get", sid, "market", "--version", "7")
    assert code == 1 and "NOT_FOUND" in err
    code, _, err = scout("report", "get", sid, "market", "--version", "0")
    assert code == 2 and "version" in err

    target = tmp_path / "dossier.html"
    code, out, _ = scout("export", sid, "--format", "html", "-o", str(target))
    assert code == 0 and target.read_bytes().startswith(b"[html]")
    exported = scout.json("export", sid, "--format", "zip", "-o", str(tmp_path / "all.zip"))
    assert isinstance(exported, dict) and exported["content_type"] == "application/zip"


def test_research_follow_plain(scout: Scout, fake: FakeScout) -> None:
    sid = new_session(scout)
    breaks = iter([4, 9])
    fake.break_after = lambda: next(breaks, None)  # the stream breaks twice along the way
    code, out, err = scout("research", sid, "--follow")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("run ") and sid in lines[0]
    event_lines = [line for line in lines if line.startswith("#")]
    assert [int(line.split()[0][1:]) for line in event_lines] == list(range(1, 23))
    assert any("market" in line and "REPORT_SAVED" in line for line in event_lines)
    assert "SUCCEEDED" in out
    assert f"scout report get {sid} final" in out


def test_research_follow_json_and_run_commands(scout: Scout, fake: FakeScout) -> None:
    sid = new_session(scout)
    code, out, err = scout("research", sid, "--follow", "--json", "--request-id", "req-9")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert "run" in records[0] and records[0]["run"]["request_id"] == "req-9"
    events = [r["event"] for r in records[1:-1]]
    assert [int(e["sequence"]) for e in events] == list(range(1, 23))
    assert records[-1]["run"]["state"] == "RUN_STATE_SUCCEEDED"
    run_id = records[-1]["run"]["run_id"]

    code, out, _ = scout("progress", sid, "--run", run_id, "--after", "20")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == ["#21", "#22"]
    code, out, _ = scout("progress", sid, "--json")
    assert [json.loads(line)["sequence"] for line in out.splitlines()][-1] == "22"

    code, out, _ = scout("run", "get", sid, run_id)
    assert code == 0 and "SUCCEEDED" in out and "market" in out
    runs = scout.json("run", "list", sid)
    assert isinstance(runs, dict) and [r["run_id"] for r in runs["runs"]] == [run_id]
    running = fake.add_run(sid, state=research_pb2.RUN_STATE_RUNNING)
    cancelled = scout.json("run", "cancel", sid, running.run_id)
    assert isinstance(cancelled, dict) and cancelled["state"] == "RUN_STATE_CANCELLED"


def test_research_without_follow(scout: Scout) -> None:
    sid = new_session(scout)
    run = scout.json("research", sid, "--file", "plan.md")
    assert isinstance(run, dict) and run["file_names"] == ["plan.md"]


def test_failed_run_exits_4(scout: Scout, fake: FakeScout) -> None:
    sid = new_session(scout)
    run = fake.add_run(sid, state=research_pb2.RUN_STATE_FAILED)
    fake.request_ids["run:failing"] = run  # StartResearch returns this run
    code, out, _ = scout("research", sid, "--follow", "--request-id", "failing")
    assert code == cli.EXIT_RUN_UNSUCCESSFUL and "FAILED" in out


def test_errors_and_exit_codes(scout: Scout, fake: FakeScout, tmp_path: Path) -> None:
    code, out, err = scout("session", "get", "nope")
    assert code == 1 and out == ""
    assert err.splitlines()[0] == "error: NOT_FOUND: session nope not found"
    assert "reason: SESSION_NOT_FOUND" in err

    code, _, err = scout("session", "create", "--ttl", "soon")
    assert code == 2 and "invalid duration" in err
    code, _, err = scout("report", "get", "s", "marketing")
    assert code == 2 and "unknown report kind" in err
    code, _, err = scout("export", "s", "--format", "docx")
    assert code == 2
    code, _, err = scout("frobnicate")
    assert code == 2
    sid = new_session(scout)
    code, _, err = scout("upload", sid, str(tmp_path / "missing.pdf"))
    assert code == 2 and "missing.pdf" in err
    assert fake.calls["UploadFile"] == 0


def test_global_flags_anywhere_and_from_the_environment(
    server: FakeServer,
    fake: FakeScout,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCOUT_ADDRESS", server.address)
    monkeypatch.setenv("SCOUT_TOKEN", "from-env")
    assert cli.main(["session", "create"]) == 0
    assert cli.main(["session", "list", "--token", "after-cmd", "--json"]) == 0
    assert cli.main(["--token", "before-cmd", "session", "list"]) == 0
    tokens = [meta.get("authorization") for _, meta in fake.metadata]
    assert tokens == ["Bearer from-env", "Bearer after-cmd", "Bearer before-cmd"]
    out = capsys.readouterr().out
    assert '"sessions"' in out


def test_unreachable_server_is_an_rpc_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--address", "127.0.0.1:1", "--timeout", "2", "session", "list"])
    assert code == 1
    assert capsys.readouterr().err.startswith("error: UNAVAILABLE: ")


def test_parse_duration() -> None:
    assert cli.parse_duration("90s") == timedelta(seconds=90)
    assert cli.parse_duration("30m") == timedelta(minutes=30)
    assert cli.parse_duration("48H") == timedelta(hours=48)
    assert cli.parse_duration("2d") == timedelta(days=2)
    assert cli.parse_duration("3600") == timedelta(hours=1)


def test_agent_board_and_rich_view(capsys: pytest.CaptureFixture[str]) -> None:
    events = scripted_events("s", "r")
    board = cli.AgentBoard()
    assert set(board.states.values()) == {"pending"}
    board.apply(events[1])  # market started
    assert board.states["market"] == "running"
    for event in events[2:5]:
        board.apply(event)
    assert board.states["market"] == "saved" and board.states["competition"] == "pending"
    failed = research_pb2.ProgressEvent(
        sequence=99,
        type=research_pb2.PROGRESS_EVENT_TYPE_AGENT_FAILED,
        agent=4,
        attributes={"error": "model timed out"},
    )
    board.apply(failed)
    assert board.states["legal"] == "failed" and board.details["legal"] == "model timed out"
    board.apply(research_pb2.ProgressEvent(type=research_pb2.PROGRESS_EVENT_TYPE_RUN_CANCELLED))
    assert board.states["competition"] == "cancelled" and board.states["market"] == "saved"

    assert cli._follow_rich(iter(events)) is True
    out = capsys.readouterr().out
    for agent in ("market", "competition", "price", "legal", "final"):
        assert agent in out
    assert "saved" in out


@pytest.mark.timeout(60)
def test_console_script(server: FakeServer, fake: FakeScout, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "scout"
    assert script.exists(), "the scout console script is not installed in this environment"
    env = {**os.environ, "SCOUT_ADDRESS": server.address}
    env.pop("SCOUT_TOKEN", None)
    created = subprocess.run(
        [str(script), "session", "create", "--label", "via=script", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["labels"] == {"via": "script"}
    missing = subprocess.run(
        [str(script), "report", "get", "no-such-session", "final"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: NOT_FOUND: ")
    usage = subprocess.run(
        [str(script), "session"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert usage.returncode == 2
