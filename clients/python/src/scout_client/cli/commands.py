"""One handler a subcommand: call the client, print the answer, return the exit code."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scout.v1 import research_pb2, types_pb2
from scout_client.cli.board import follow
from scout_client.cli.output import (
    _cost,
    _enum_suffix,
    _findings_lines,
    _kind,
    _run_state,
    _size,
    _table,
    _time,
    format_event,
    print_file,
    print_json,
    print_run,
    print_session,
    to_dict,
)
from scout_client.cli.values import EXIT_OK, EXIT_RUN_UNSUCCESSFUL, UsageError, _read_text
from scout_client.client import ScoutClient
from scout_client.kinds import (
    export_format_name,
)


def _show(args: argparse.Namespace, message: Any, human: Callable[[Any], None]) -> int:
    """Print one message as JSON or for people; return EXIT_OK."""
    if args.json:
        print_json(to_dict(message))
    else:
        human(message)
    return EXIT_OK


def cmd_session_create(client: ScoutClient, args: argparse.Namespace) -> int:
    session = client.create_session(
        labels=dict(args.label or []), ttl=args.ttl, request_id=args.request_id
    )
    return _show(args, session, print_session)


def cmd_session_get(client: ScoutClient, args: argparse.Namespace) -> int:
    session = client.get_session(args.session)
    return _show(args, session, print_session)


def cmd_session_list(client: ScoutClient, args: argparse.Namespace) -> int:
    next_token = ""
    if args.page_size or args.page_token:
        page = client.list_sessions(args.page_size or 0, args.page_token or "")
        sessions = list(page.sessions)
        next_token = page.next_page_token
    else:
        sessions = list(client.iter_sessions())
    if args.json:
        print_json({"sessions": [to_dict(s) for s in sessions], "next_page_token": next_token})
        return EXIT_OK
    _table(
        (
            (
                s.session_id,
                _time(s.create_time),
                _time(s.expire_time),
                ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())),
            )
            for s in sessions
        ),
        ("SESSION_ID", "CREATED", "EXPIRES", "LABELS"),
    )
    if next_token:
        print(f"next page: --page-token {next_token}")
    return EXIT_OK


def cmd_session_extend(client: ScoutClient, args: argparse.Namespace) -> int:
    session = client.extend_session(args.session, args.ttl)
    return _show(args, session, print_session)


def cmd_session_delete(client: ScoutClient, args: argparse.Namespace) -> int:
    client.delete_session(args.session)
    if args.json:
        print_json({"deleted": args.session})
    else:
        print(f"deleted session {args.session}")
    return EXIT_OK


def cmd_upload(client: ScoutClient, args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"cannot read {args.file}: no such file")
    info = client.upload_file(
        args.session, path, file_name=args.name, content_type=args.content_type
    )
    return _show(args, info, print_file)


def cmd_files(client: ScoutClient, args: argparse.Namespace) -> int:
    files = list(client.iter_files(args.session))
    if args.json:
        print_json({"files": [to_dict(f) for f in files]})
        return EXIT_OK
    _table(
        (
            (f.file_name, _size(f.size_bytes), f.content_type, f.sha256[:12], _time(f.create_time))
            for f in files
        ),
        ("NAME", "SIZE", "CONTENT_TYPE", "SHA256", "CREATED"),
    )
    return EXIT_OK


def cmd_download(client: ScoutClient, args: argparse.Namespace) -> int:
    if args.output == "-":
        data = client.download_file(args.session, args.name)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    output = args.output or os.path.basename(args.name)
    info = client.download_file(args.session, args.name, output)
    if args.json:
        print_json({**to_dict(info), "path": str(output)})
    else:
        print(f"saved {output} ({info.size_bytes} bytes, sha256 {info.sha256[:12]}… verified)")
    return EXIT_OK


def cmd_report_get(client: ScoutClient, args: argparse.Namespace) -> int:
    report = client.get_report(args.session, args.kind, version=args.version or 0)
    if args.json:
        print_json(to_dict(report))
    elif args.output and args.output != "-":
        Path(args.output).write_text(report.content, encoding="utf-8")
        print(f"saved {report.name} version {report.version} to {args.output} "
              f"({report.size_bytes} bytes)")
    else:
        sys.stdout.write(report.content)
        if report.content and not report.content.endswith("\n"):
            sys.stdout.write("\n")
    return EXIT_OK


def cmd_report_list(client: ScoutClient, args: argparse.Namespace) -> int:
    reports = list(client.iter_reports(args.session))
    if args.json:
        print_json({"reports": [to_dict(r) for r in reports]})
        return EXIT_OK
    _table(
        (
            (
                _kind(r.kind),
                str(r.version),
                _size(r.size_bytes),
                _time(r.update_time),
                _enum_suffix(types_pb2.ReportSource, r.source, "REPORT_SOURCE_").lower(),
                r.author,
            )
            for r in reports
        ),
        ("KIND", "VERSION", "SIZE", "UPDATED", "SOURCE", "AUTHOR"),
    )
    return EXIT_OK


def cmd_versions(client: ScoutClient, args: argparse.Namespace) -> int:
    versions = list(client.iter_report_versions(args.session, args.kind))
    if args.json:
        print_json({"versions": [to_dict(r) for r in versions]})
        return EXIT_OK
    if not versions:
        print(f"no {_kind(args.kind)} report yet")
        return EXIT_OK
    _table(
        (
            (
                str(r.version),
                _size(r.size_bytes),
                _time(r.update_time),
                _enum_suffix(types_pb2.ReportSource, r.source, "REPORT_SOURCE_").lower(),
                r.author,
                r.run_id or "-",
                r.sha256[:12],
            )
            for r in versions
        ),
        ("VERSION", "SIZE", "UPDATED", "SOURCE", "AUTHOR", "RUN", "SHA256"),
    )
    return EXIT_OK


def cmd_sources(client: ScoutClient, args: argparse.Namespace) -> int:
    sources = list(client.iter_sources(args.session, args.run or ""))
    if args.json:
        print_json({"sources": [to_dict(s) for s in sources]})
        return EXIT_OK
    _table(
        (
            (
                s.source_id,
                s.url or (s.file_name + (f" p. {s.page}" if s.page else "")),
                (s.section or s.title)[:40],
                " ".join(s.excerpt.split())[:60],
            )
            for s in sources
        ),
        ("ID", "WHERE", "SECTION", "EXCERPT"),
    )
    return EXIT_OK


def cmd_findings(client: ScoutClient, args: argparse.Namespace) -> int:
    found = client.get_findings(args.session, args.kind)
    if args.json:
        print_json({"findings": [to_dict(f) for f in found]})
        return EXIT_OK
    if not found:
        print("no findings yet (a research run stores them as its agents finish)")
    for f in found:
        print(f"{_kind(f.kind)} (run {f.run_id})")
        for line in _findings_lines(f):
            print(f"  {line}")
    return EXIT_OK


def cmd_ask(client: ScoutClient, args: argparse.Namespace) -> int:
    for message in client.ask(args.session, args.question, request_id=args.request_id):
        event = message.WhichOneof("event")
        if args.json:
            if event == "answer":
                print_json({"answer": to_dict(message.answer)})
        elif event == "progress":
            print(f"… {message.progress}", file=sys.stderr, flush=True)
        elif event == "text_delta":
            print(message.text_delta, end="", flush=True)
        elif event == "answer" and not message.answer.answer.endswith("\n"):
            print()
    return EXIT_OK


def cmd_questions(client: ScoutClient, args: argparse.Namespace) -> int:
    answers = list(client.iter_questions(args.session))
    if args.json:
        print_json({"answers": [to_dict(a) for a in answers]})
        return EXIT_OK
    _table(((a.question_id, _time(a.create_time), a.question[:70]) for a in answers),
           ("ID", "ASKED", "QUESTION"))
    return EXIT_OK


def cmd_report_put(client: ScoutClient, args: argparse.Namespace) -> int:
    content = _read_text(args.file)
    report = client.put_report(args.session, args.kind, content, request_id=args.request_id)
    if args.json:
        print_json(to_dict(report))
    else:
        print(f"stored {report.name} version {report.version} ({report.size_bytes} bytes, "
              f"sha256 {report.sha256[:12]}…)")
    return EXIT_OK


def cmd_export(client: ScoutClient, args: argparse.Namespace) -> int:
    if args.output == "-":
        data = client.export_reports(args.session, args.format)
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    output = args.output or f"scout-{args.session}.{export_format_name(args.format)}"
    info = client.export_reports(args.session, args.format, output)
    if args.json:
        print_json(
            {
                "path": str(output),
                "file_name": info.file_name,
                "content_type": info.content_type,
                "size_bytes": info.size_bytes,
            }
        )
    else:
        print(f"saved {output} ({info.content_type}, {info.size_bytes} bytes)")
    return EXIT_OK


def _finish_followed_run(args: argparse.Namespace, run: research_pb2.Run) -> int:
    if args.json:
        print_json({"run": to_dict(run)}, compact=True)
    else:
        print()
        state = _run_state(run.state)
        cost = f", {_cost(run.usage)}" if run.usage.HasField("cost_usd") else ""
        print(f"run {run.run_id} {state} ({run.usage.total_tokens} tokens{cost})")
        if run.error:
            print(f"error: {run.error}")
        print("fetch the reports with:")
        print(f"  scout report list {run.session_id}")
        print(f"  scout report get {run.session_id} final")
        print(f"  scout export {run.session_id} --format pdf -o dossier.pdf")
    if run.state in (research_pb2.RUN_STATE_FAILED, research_pb2.RUN_STATE_CANCELLED):
        return EXIT_RUN_UNSUCCESSFUL
    return EXIT_OK


def cmd_research(client: ScoutClient, args: argparse.Namespace) -> int:
    run = client.start_research(
        args.session, request_id=args.request_id, file_names=args.file,
        questions=args.question, language=args.lang or "",
        agents=[a for value in args.agents for a in value.split(",") if a],
        web_search=args.web, max_tokens=args.max_tokens, focus=args.focus or "",
        geography=args.geography or "")
    if not args.follow:
        return _show(args, run, print_run)
    if args.json:
        print_json({"run": to_dict(run)}, compact=True)
    else:
        print(f"run {run.run_id} started on session {run.session_id}", flush=True)
    return _finish_followed_run(args, follow(client, args, args.session, run.run_id))


def cmd_progress(client: ScoutClient, args: argparse.Namespace) -> int:
    events = client.stream_progress(
        args.session, args.run or "", args.after, heartbeats=args.heartbeats
    )
    for event in events:
        if args.json:
            print_json(to_dict(event), compact=True)
        else:
            print(format_event(event), flush=True)
    return EXIT_OK


def cmd_run_get(client: ScoutClient, args: argparse.Namespace) -> int:
    run = client.get_run(args.session, args.run)
    return _show(args, run, print_run)


def cmd_run_list(client: ScoutClient, args: argparse.Namespace) -> int:
    runs = list(client.iter_runs(args.session))
    if args.json:
        print_json({"runs": [to_dict(r) for r in runs]})
        return EXIT_OK
    _table(
        (
            (r.run_id, _run_state(r.state), _time(r.create_time), str(r.usage.total_tokens),
             _cost(r.usage))
            for r in runs
        ),
        ("RUN_ID", "STATE", "CREATED", "TOKENS", "COST"),
    )
    return EXIT_OK


def cmd_run_cancel(client: ScoutClient, args: argparse.Namespace) -> int:
    run = client.cancel_run(args.session, args.run)
    return _show(args, run, print_run)
