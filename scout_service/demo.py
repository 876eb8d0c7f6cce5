"""``make demo``: a whole research session on the embedded default.

Starts ``scout-service serve`` (embedded DynamoDB, offline model) as a child
process, then, through the generated client only: creates a session, uploads
an example business plan, starts research, prints live per-agent progress,
and writes the five reports plus HTML and PDF exports to
``./out/<session_id>/``. Stops everything it started; exits non-zero if any
step failed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scout_client import ScoutClient

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("market", "competition", "price", "legal", "final")


def _start_server(delay_ms: int) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCOUT_", "DYNAMODB_"))}
    env.update({
        "SCOUT_EMBEDDED_DYNAMODB": "true",
        "SCOUT_LISTEN_ADDRESS": "127.0.0.1:0",
        "SCOUT_METRICS_ADDRESS": "off",
        "SCOUT_MODEL_PROVIDER": "offline",
        "SCOUT_OFFLINE_DELAY_MS": str(delay_ms),
        "SCOUT_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    proc = subprocess.Popen(
        [sys.executable, "-m", "scout_service", "serve"], env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    address: list[str] = []
    ready = threading.Event()
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if m := re.search(r"listening on ([\d.]+:\d+)", line):
                address.append(m.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(90) or not address:
        proc.kill()
        raise SystemExit("demo: the server did not start:\n" + "".join(lines[-30:]))
    return proc, address[0]


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_demo(plan: Path, out_dir: Path, delay_ms: int) -> int:
    """Run one session end to end; returns the process exit code."""
    t0 = time.monotonic()
    print("▶ starting scout-service (embedded DynamoDB, offline model)…", flush=True)
    proc, address = _start_server(delay_ms)
    try:
        with ScoutClient(address) as scout:
            scout.wait_until_ready(timeout=60)
            session = scout.create_session(labels={"source": "make-demo"})
            sid = session.session_id
            print(f"▶ session {sid} (expires {session.expire_time.ToJsonString()})")
            info = scout.upload_file(sid, plan)
            print(f"▶ uploaded {info.file_name}: {info.size_bytes:,} bytes, sha256 "
                  f"{info.sha256[:12]}…")
            run = scout.start_research(sid)
            print(f"▶ research run {run.run_id} started; four specialists in parallel, "
                  "then the synthesis:")
            for event in scout.stream_progress(sid, run_id=run.run_id):
                agent = scout_agent_name(event.agent)
                print(f"  #{event.sequence:<3} {agent:<12} {event.display_message}", flush=True)
            run = scout.get_run(sid, run.run_id)
            state = scout_state_name(run.state)
            print(f"▶ run {state}: {run.usage.total_tokens:,} tokens "
                  f"({run.model_provider} model)")
            target = out_dir / sid
            target.mkdir(parents=True, exist_ok=True)
            written = []
            for report in scout.list_reports(sid).reports:
                full = scout.get_report(sid, report.kind)
                path = target / f"{full.name}.md"
                path.write_text(full.content, encoding="utf-8")
                written.append(path)
            for fmt in ("html", "pdf"):
                data = scout.export_reports(sid, fmt)
                path = target / f"scout-{sid}.{fmt}"
                path.write_bytes(data)
                written.append(path)
            print(f"▶ wrote {len(written)} files to {target}/:")
            for path in written:
                print(f"    {path.name:<50} {path.stat().st_size:>9,} bytes")
            ok = state == "SUCCEEDED" and sum(p.suffix == ".md" for p in written) == 5
            print(f"{'✔' if ok else '✘'} demo {'finished' if ok else 'FAILED'} in "
                  f"{time.monotonic() - t0:.1f}s")
            return 0 if ok else 1
    finally:
        _stop(proc)


def scout_agent_name(kind: int) -> str:
    """Short agent name for a ReportKind value."""
    return {1: "market", 2: "competition", 3: "price", 4: "legal", 5: "final"}.get(kind, "run")


def scout_state_name(state: int) -> str:
    """RunState value → name without prefix."""
    from scout.v1 import research_pb2

    name: str = research_pb2.RunState.Name(state)
    return name.removeprefix("RUN_STATE_")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m scout_service.demo``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--plan", type=Path, default=ROOT / "examples" / "nordic-meal-kits.md",
                        help="business plan to upload (Markdown, text, PDF or DOCX)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder")
    parser.add_argument("--delay-ms", type=int, default=10,
                        help="offline model delay per streamed chunk, to watch progress")
    args = parser.parse_args(argv)
    try:
        return run_demo(args.plan, args.out, args.delay_ms)
    except Exception as exc:  # the demo's outermost boundary: say what failed
        print(f"✘ demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
