"""scout-client installs and works on its own, without the server's dependencies.

A fresh virtualenv gets `pip install clients/python` (from a copy, so the build
leaves nothing in the work tree), then a script in it checks that neither
scout_service nor boto3 nor strands is importable and drives the fake service
running in this test process, through the library and the `scout` command
(which must work without the optional rich).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .fake_server import FakeServer

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "python"

SCRIPT = textwrap.dedent(
    """
    import importlib.util
    import sys

    for name in ("scout_service", "boto3", "strands", "rich"):
        assert importlib.util.find_spec(name) is None, f"{name} must not be installed"

    import scout_client
    from scout_client import NotFoundError, ScoutClient

    address = sys.argv[1]
    with ScoutClient(address, token="standalone") as scout:
        scout.wait_until_ready(timeout=10)
        session = scout.create_session(labels={"from": "fresh-venv"})
        info = scout.upload_file(session.session_id, b"# Plan\\n", file_name="plan.md")
        assert info.size_bytes == 7, info
        run = scout.start_research(session.session_id)
        events = list(scout.stream_progress(session.session_id, run.run_id))
        assert events[-1].sequence == len(events) > 0
        assert "final_report" in scout.get_report(session.session_id, "final").content
        try:
            scout.get_session("missing")
        except NotFoundError as error:
            assert error.reason == "SESSION_NOT_FOUND"
        else:
            raise AssertionError("expected NotFoundError")
    print("standalone-ok", scout_client.__version__, session.session_id)
    """
)


def _run(args: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.timeout(600)
def test_client_package_stands_alone(tmp_path: Path) -> None:
    source = tmp_path / "scout-client-src"
    shutil.copytree(
        PACKAGE,
        source,
        ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", "*.pyc"),
    )
    venv = tmp_path / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    made = _run([base_python, "-m", "venv", str(venv)], cwd=tmp_path, timeout=120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"

    installed = _run(
        [str(python), "-m", "pip", "install", "--quiet", str(source)], cwd=tmp_path, timeout=480
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    script = tmp_path / "standalone.py"
    script.write_text(SCRIPT)
    with FakeServer() as server:
        result = _run([str(python), str(script), server.address], cwd=tmp_path, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("standalone-ok ")
        session_id = result.stdout.split()[-1]
        assert server.fake.sessions[session_id].labels["from"] == "fresh-venv"
        assert {meta.get("authorization") for _, meta in server.fake.metadata} == {
            "Bearer standalone"
        }

        cli = _run(
            [str(venv / "bin" / "scout"), "--address", server.address, "session", "list"],
            cwd=tmp_path,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        assert session_id in cli.stdout
        followed = _run(
            [str(venv / "bin" / "scout"), "--address", server.address]
            + ["research", session_id, "--follow"],
            cwd=tmp_path,
            timeout=60,
        )
        assert followed.returncode == 0, followed.stderr
        assert "RUN_COMPLETED" in followed.stdout and "SUCCEEDED" in followed.stdout
