"""`scout`: the Scout service from the command line.

    scout session create --label team=growth --ttl 48h
    scout upload SESSION plan.pdf
    scout research SESSION --follow
    scout report get SESSION final
    scout versions SESSION legal
    scout report get SESSION legal --version 1
    scout export SESSION --format pdf -o dossier.pdf

Every command takes `--json` for machine-readable output (ProtoJSON with the
proto field names). Exit codes: 0 success; 1 the service returned an error
(printed as `error: <CODE>: <message>`); 2 usage error, including an input
file that cannot be read; 3 a local file could not be written; 4 a followed
run ended FAILED or CANCELLED; 130 interrupted. The live progress view
needs the `cli` extra (rich); without it progress prints line by line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NoReturn

from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import findings_pb2, research_pb2, types_pb2
from scout_client._channel import DEFAULT_TARGET, DEFAULT_TIMEOUT
from scout_client._version import __version__
from scout_client.client import ScoutClient
from scout_client.errors import ScoutError
from scout_client.kinds import (
    EXPORT_FORMATS,
    REPORT_KINDS,
    export_format_name,
    report_kind,
    report_kind_short_name,
)

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_RPC_ERROR = 1
EXIT_USAGE = 2
EXIT_LOCAL_IO = 3
EXIT_RUN_UNSUCCESSFUL = 4
EXIT_INTERRUPTED = 130

Handler = Callable[[ScoutClient, argparse.Namespace], int]


class UsageError(Exception):
    """A command line that parses but cannot work (e.g. an unreadable input file)."""


# -- argument types -----------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse "90s", "30m", "48h", "2d" or plain seconds into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (use e.g. 90s, 30m, 48h, 2d)")
    value, unit = match.groups()
    return timedelta(seconds=float(value) * _UNIT_SECONDS[unit.lower()])


def parse_label(text: str) -> tuple[str, str]:
    """Parse a "key=value" label."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"invalid label {text!r} (use key=value)")
    return key, value


def parse_version(text: str) -> int:
    """Parse a report version: a whole number from 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a version is a number from 1, got {text!r}")
    return int(text)


def parse_report_kind(text: str) -> types_pb2.ReportKind:
    """Parse a report kind name ("market", "final_report" ...)."""
    try:
        return report_kind(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# -- output -------------------------------------------------------------------


def to_dict(message: Any) -> dict[str, Any]:
    """Return a proto message as ProtoJSON with the .proto field names."""
    result: dict[str, Any] = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )
    return result


def print_json(value: Any, *, compact: bool = False) -> None:
    """Print a JSON value on stdout (one line when compact, for streams)."""
    if compact:
        print(json.dumps(value, separators=(",", ":"), ensure_ascii=False), flush=True)
    else:
        print(json.dumps(value, indent=2, ensure_ascii=False), flush=True)


def _time(timestamp: Any) -> str:
    """Return a Timestamp as "2025-05-21T09:30:00Z" (whole seconds), "-" when unset."""
    if not timestamp.seconds and not timestamp.nanos:
        return "-"
    moment: datetime = timestamp.ToDatetime(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _enum_suffix(enum_type: Any, value: int, prefix: str) -> str:
    try:
        name: str = enum_type.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix(prefix)


def _run_state(state: int) -> str:
    return _enum_suffix(research_pb2.RunState, state, "RUN_STATE_")


def _kind(kind: int) -> str:
    try:
        return report_kind_short_name(kind)
    except ValueError:
        return "-"


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024 or unit == "MiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _table(rows: Iterable[Sequence[str]], header: Sequence[str]) -> None:
    all_rows = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(header))]
    for row in all_rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _print_fields(fields: Sequence[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        print(f"{name.ljust(width)}  {value}")


def print_session(session: types_pb2.Session) -> None:
    """Print a session as "field value" lines."""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(session.labels.items())) or "-"
    _print_fields(
        [
            ("session_id", session.session_id),
            ("owner", session.owner or "-"),
            ("labels", labels),
            ("created", _time(session.create_time)),
            ("expires", _time(session.expire_time)),
            ("latest_run", session.latest_run_id or "-"),
        ]
    )


def print_file(info: types_pb2.FileInfo) -> None:
    """Print a file's metadata as "field value" lines."""
    _print_fields(
        [
            ("file_name", info.file_name),
            ("content_type", info.content_type),
            ("size", f"{info.size_bytes} bytes"),
            ("sha256", info.sha256),
            ("created", _time(info.create_time)),
        ]
    )


def print_run(run: research_pb2.Run) -> None:
    """Print a run with one line per agent."""
    _print_fields(
        [
            ("run_id", run.run_id),
            ("session_id", run.session_id),
            ("state", _run_state(run.state)),
            ("model", run.model_provider or "-"),
            ("files", ", ".join(run.file_names) or "(all)"),
            ("tokens", _tokens(run.usage)),
            ("cost", _cost(run.usage)),
            ("created", _time(run.create_time)),
            ("ended", _time(run.end_time)),
            ("last_sequence", str(run.last_sequence)),
        ]
        + ([("queue_position", str(run.queue_position))] if run.queue_position else [])
        + ([("error", run.error)] if run.error else [])
    )
    if run.agents:
        print()
        _table(
            (
                (
                    _kind(agent.kind),
                    _enum_suffix(research_pb2.AgentState, agent.state, "AGENT_STATE_"),
                    str(agent.usage.total_tokens),
                    str(agent.usage.cache_read_tokens),
                    _cost(agent.usage),
                    agent.error,
                )
                for agent in run.agents
            ),
            ("AGENT", "STATE", "TOKENS", "CACHED", "COST", "ERROR"),
        )


def _tokens(usage: research_pb2.TokenUsage) -> str:
    """Total tokens, and how they split when the prompt cache took part."""
    text = f"{usage.total_tokens} ({usage.input_tokens} in, {usage.output_tokens} out"
    if usage.cache_read_tokens or usage.cache_write_tokens:
        text += (f", {usage.cache_read_tokens} cache read, "
                 f"{usage.cache_write_tokens} cache write")
    return text + ")"


def _cost(usage: research_pb2.TokenUsage) -> str:
    """USD to four decimals, or "-" when the server knows no price for the model."""
    return f"${usage.cost_usd:.4f}" if usage.HasField("cost_usd") else "-"


def format_event(event: research_pb2.ProgressEvent) -> str:
    """Return one human line for a progress event."""
    kind = _enum_suffix(research_pb2.ProgressEventType, event.type, "PROGRESS_EVENT_TYPE_")
    agent = _kind(event.agent) if event.agent else "run"
    clock = _time(event.create_time)
    clock = clock[11:19] if len(clock) >= 19 else clock
    message = event.display_message or (event.tool_name and f"tool {event.tool_name}") or ""
    return f"#{event.sequence:<4} {clock}  {agent:<11} {kind:<15} {message}".rstrip()


# -- the live progress board ----------------------------------------------------

_AGENTS: tuple[str, ...] = REPORT_KINDS  # market, competition, price, legal, final
_DONE_STATES = frozenset({"saved", "finished", "failed", "cancelled"})
_STATE_STYLE = {
    "pending": "dim",
    "running": "yellow",
    "saved": "green",
    "finished": "green",
    "failed": "bold red",
    "cancelled": "magenta",
}
_STATE_ICON = {"pending": "·", "saved": "✔", "finished": "✔", "failed": "✘", "cancelled": "■"}


def _seconds(timestamp: Any) -> float:
    """Return a Timestamp as epoch seconds; now when it is unset."""
    if not timestamp.seconds and not timestamp.nanos:
        return time.time()
    seconds: float = timestamp.seconds + timestamp.nanos / 1e9
    return seconds


class AgentBoard:
    """Where each agent of a followed run stands, derived from its events.

    pending → running → saved (or finished without a report, failed,
    cancelled); times come from the events, so a replayed run shows the
    durations it really took.
    """

    def __init__(self) -> None:
        self.states: dict[str, str] = dict.fromkeys(_AGENTS, "pending")
        self.details: dict[str, str] = dict.fromkeys(_AGENTS, "")
        self.started: dict[str, float | None] = dict.fromkeys(_AGENTS, None)
        self.ended: dict[str, float | None] = dict.fromkeys(_AGENTS, None)
        self.status = "waiting for the run to start"

    def apply(self, event: research_pb2.ProgressEvent) -> None:
        """Update the board from one event."""
        types = research_pb2
        agent = _kind(event.agent) if event.agent else None
        if event.type == types.PROGRESS_EVENT_TYPE_HEARTBEAT:
            return
        if agent in self.states:
            at = _seconds(event.create_time)
            if self.started[agent] is None:
                self.started[agent] = at
            state = self.states[agent]
            if event.type in (
                types.PROGRESS_EVENT_TYPE_AGENT_STARTED,
                types.PROGRESS_EVENT_TYPE_TOOL_CALL,
            ):
                state = "running" if state not in _DONE_STATES else state
            elif event.type == types.PROGRESS_EVENT_TYPE_REPORT_SAVED:
                state = "saved"
            elif event.type == types.PROGRESS_EVENT_TYPE_AGENT_FINISHED:
                state = state if state in ("saved", "failed") else "finished"
            elif event.type == types.PROGRESS_EVENT_TYPE_AGENT_FAILED:
                state = "failed"
            if state in _DONE_STATES and self.ended[agent] is None:
                self.ended[agent] = at
            self.states[agent] = state
            detail = event.display_message or (event.tool_name and f"tool {event.tool_name}")
            if event.type == types.PROGRESS_EVENT_TYPE_AGENT_FAILED:
                detail = event.attributes.get("error") or detail
            self.details[agent] = detail or self.details[agent]
        else:
            self.status = event.display_message or self.status
        if event.type == types.PROGRESS_EVENT_TYPE_RUN_CANCELLED:
            for name, state in self.states.items():
                if state in ("pending", "running"):
                    self.states[name] = "cancelled"

    def elapsed(self, agent: str) -> str:
        """Return how long the agent has worked, as m:ss; "" before it started."""
        started = self.started[agent]
        if started is None:
            return ""
        ended = self.ended[agent]
        seconds = max(0, int((ended if ended is not None else time.time()) - started))
        return f"{seconds // 60}:{seconds % 60:02d}"

    @property
    def done(self) -> int:
        """How many agents are done, one way or another."""
        return sum(state in _DONE_STATES for state in self.states.values())


def _follow_plain(events: Iterable[research_pb2.ProgressEvent]) -> None:
    for event in events:
        print(format_event(event), flush=True)


def _follow_rich(events: Iterable[research_pb2.ProgressEvent]) -> bool:
    """Show the board live with rich; return False when rich is not installed."""
    try:
        from rich.console import Console, RenderableType
        from rich.live import Live
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text
    except ImportError:
        return False

    board = AgentBoard()
    spinners = {name: Spinner("dots", style="yellow") for name in _AGENTS}

    def render() -> RenderableType:
        table = Table.grid(padding=(0, 1))
        for name in _AGENTS:
            state = board.states[name]
            icon: RenderableType = spinners[name]
            if state != "running":
                icon = Text(_STATE_ICON[state], style=_STATE_STYLE[state])
            table.add_row(
                icon,
                Text(name.ljust(12), style="bold"),
                Text(state.ljust(9), style=_STATE_STYLE[state]),
                Text(board.elapsed(name).rjust(5), style="cyan"),
                Text(board.details[name], style="dim", no_wrap=True, overflow="ellipsis"),
            )
        bar = ProgressBar(total=len(_AGENTS), completed=board.done, width=12)
        table.add_row(
            Text(" "), Text("run".ljust(12), style="bold"), bar, Text(""), Text(board.status)
        )
        return table

    with Live(get_renderable=render, console=Console(), refresh_per_second=8) as live:
        for event in events:
            board.apply(event)
            live.refresh()
    return True


def follow(
    client: ScoutClient, args: argparse.Namespace, session_id: str, run_id: str
) -> research_pb2.Run:
    """Follow a run's progress to its terminal event; return the run as it ended."""
    events = client.stream_progress(session_id, run_id)
    if args.json:
        for event in events:
            print_json({"event": to_dict(event)}, compact=True)
    elif not (sys.stdout.isatty() and _follow_rich(events)):
        _follow_plain(events)
    return client.get_run(session_id, run_id)


# -- commands -----------------------------------------------------------------


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


def _read_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"cannot read {source}: no such file") from None


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


def _money(value: Any) -> str:
    amount = f"{value.amount:,.2f}".removesuffix(".00")
    return f"{value.currency} {amount}" if value.currency else f"{amount} {value.unit}".strip()


def _cite(ids: Iterable[str]) -> str:
    return "".join(f"[{i}]" for i in ids)


def _findings_lines(f: Any) -> list[str]:
    """One kind's findings as short lines for people."""
    body = f.WhichOneof("body")
    lines: list[str] = []
    if body == "market":
        m = f.market
        for layer in ("tam", "sam", "som"):
            if m.HasField(layer):
                size = getattr(m, layer)
                year = f" ({size.year})" if size.year else ""
                lines.append(f"{layer.upper()} {_money(size)}{year} {_cite(size.source_ids)}")
        lines += [f"growth {g.rate_percent:g} % {g.period} {_cite(g.source_ids)}"
                  for g in m.growth_rates]
        lines += [f"segment {s.name} {_cite(s.source_ids)}" for s in m.segments]
    elif body == "competition":
        for c in f.competition.competitors:
            kind = _enum_suffix(findings_pb2.CompetitorKind, c.kind, "COMPETITOR_KIND_").lower()
            prices = ", ".join(f"{_money(p)} {p.unit or ''}".strip() for p in c.price_points)
            lines.append(f"{c.name} ({kind}){': ' + prices if prices else ''} "
                         f"{_cite(c.source_ids)}")
    elif body == "price":
        for p in f.price.price_points:
            period = _enum_suffix(findings_pb2.BillingPeriod, p.billing_period,
                                  "BILLING_PERIOD_").lower()
            lines.append(f"{p.tier}: {_money(p)} per {period} {_cite(p.source_ids)}")
        ue = f.price.unit_economics
        for name in ("unit_cost", "cac", "ltv"):
            if ue.HasField(name):
                value = getattr(ue, name)
                lines.append(f"{name} {_money(value)} {_cite(value.source_ids)}")
        if ue.HasField("gross_margin"):
            lines.append(f"gross margin {ue.gross_margin.percent:g} % "
                         f"{_cite(ue.gross_margin.source_ids)}")
        if ue.HasField("payback"):
            lines.append(f"payback {ue.payback.months:g} months {_cite(ue.payback.source_ids)}")
    elif body == "legal":
        for o in f.legal.obligations:
            severity = _enum_suffix(findings_pb2.Severity, o.severity, "SEVERITY_").lower()
            lines.append(f"{o.regulation} ({o.jurisdiction}, {severity}) {_cite(o.source_ids)}")
    elif body == "final":
        final = f.final
        verdict = _enum_suffix(findings_pb2.Verdict, final.verdict, "VERDICT_")
        lines.append(f"verdict {verdict} (confidence {final.confidence:.2f})")
        lines += [f"condition: {c}" for c in final.conditions]
        lines += [f"risk: {r.risk} {_cite(r.source_ids)}" for r in final.risks]
        lines += [f"answer: {a.question} → {a.answer} {_cite(a.source_ids)}"
                  for a in final.answers]
    lines += [f"warning: {w.field}: {w.message}" for w in f.warnings]
    return lines


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


# -- parser -------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that says how to get help after a usage error."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"error: {message}\n")


def _connection_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """Add the global options; on subcommands with defaults suppressed.

    Suppressed defaults let a global option stand before or after the
    subcommand without the subcommand's copy overwriting it.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    group.add_argument(
        "--address",
        default=default(os.environ.get("SCOUT_ADDRESS", DEFAULT_TARGET)),
        help="host:port of the service (env SCOUT_ADDRESS; default %(default)s)",
    )
    group.add_argument(
        "--token",
        default=default(os.environ.get("SCOUT_TOKEN")),
        help="bearer token (env SCOUT_TOKEN)",
    )
    group.add_argument("--tls", action="store_true", default=default(False), help="use TLS")
    group.add_argument(
        "--ca-file", default=default(None), help="PEM roots to trust (implies --tls)"
    )
    group.add_argument("--cert-file", default=default(None), help="client certificate for mTLS")
    group.add_argument("--key-file", default=default(None), help="client private key for mTLS")
    group.add_argument(
        "--timeout",
        type=float,
        default=default(DEFAULT_TIMEOUT),
        help="deadline of each call in seconds (default %(default)s)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print machine-readable JSON",
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the `scout` argument parser."""
    parser = _Parser(
        prog="scout",
        description="Drive the Scout market-research service.",
        epilog="Exit codes: 0 ok, 1 service error, 2 usage, 3 local file, 4 run failed.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _connection_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _connection_options(common, suppress=True)

    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(group: Any, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        sub.set_defaults(handler=handler)
        return sub

    def group(name: str, help_text: str) -> Any:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        return sub.add_subparsers(dest="action", metavar="ACTION", required=True)

    kinds = ", ".join(REPORT_KINDS)

    sessions = group("session", "create, inspect, extend and delete sessions")
    sub = command(sessions, "create", cmd_session_create, "open a new session")
    sub.add_argument(
        "--label", action="append", type=parse_label, metavar="KEY=VALUE", help="repeatable"
    )
    sub.add_argument("--ttl", type=parse_duration, help="lifetime, e.g. 48h (server default 24h)")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")
    sub = command(sessions, "get", cmd_session_get, "show a session")
    sub.add_argument("session")
    sub = command(sessions, "list", cmd_session_list, "list your sessions")
    sub.add_argument("--page-size", type=int, help="fetch one page of this size")
    sub.add_argument("--page-token", help="fetch the page after this token")
    sub = command(sessions, "extend", cmd_session_extend, "push a session's expiry out")
    sub.add_argument("session")
    sub.add_argument("--ttl", type=parse_duration, help="new lifetime from now, e.g. 48h")
    sub = command(sessions, "delete", cmd_session_delete, "delete a session and its content")
    sub.add_argument("session")

    sub = command(commands, "upload", cmd_upload, "upload a file into a session")
    sub.add_argument("session")
    sub.add_argument("file")
    sub.add_argument("--name", help="file name in the session (default: the file's)")
    sub.add_argument("--content-type", help="default: guessed from the name")

    sub = command(commands, "files", cmd_files, "list a session's files")
    sub.add_argument("session")

    sub = command(commands, "download", cmd_download, "download a file (verified by SHA-256)")
    sub.add_argument("session")
    sub.add_argument("name")
    sub.add_argument("-o", "--output", help="where to write it; - for stdout (default: NAME)")

    sub = command(commands, "research", cmd_research, "start a research run")
    sub.add_argument("session")
    sub.add_argument("--follow", action="store_true", help="show progress until the run ends")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")
    sub.add_argument("--file", action="append", default=[], metavar="NAME", help="only these files")
    sub.add_argument("--question", action="append", default=[], metavar="TEXT",
                     help="a question the final report must answer (repeatable)")
    sub.add_argument("--lang", metavar="TAG", help="language of the reports (BCP-47, e.g. de)")
    sub.add_argument("--agents", action="append", default=[], metavar="KINDS",
                     help="only these specialists, e.g. legal or market,price (repeatable)")
    sub.add_argument("--web", action=argparse.BooleanOptionalAction, default=None,
                     help="web search on or off for this run (default: the server's setting)")
    sub.add_argument("--max-tokens", type=int, metavar="N", help="token budget of the run")
    sub.add_argument("--focus", metavar="TEXT", help="what to focus on")
    sub.add_argument("--geography", metavar="TEXT", help="where the business operates")

    sub = command(commands, "progress", cmd_progress, "follow a run's progress events")
    sub.add_argument("session")
    sub.add_argument("--run", help="run id (default: the session's latest run)")
    sub.add_argument("--after", type=int, default=0, help="replay events after this sequence")
    sub.add_argument("--heartbeats", action="store_true", help="show heartbeats too")

    runs = group("run", "inspect and cancel research runs")
    sub = command(runs, "get", cmd_run_get, "show a run and its agents")
    sub.add_argument("session")
    sub.add_argument("run")
    sub = command(runs, "list", cmd_run_list, "list a session's runs")
    sub.add_argument("session")
    sub = command(runs, "cancel", cmd_run_cancel, "cancel a run")
    sub.add_argument("session")
    sub.add_argument("run")

    reports = group("report", "read, list and store reports")
    sub = command(reports, "get", cmd_report_get, "print a report's Markdown")
    sub.add_argument("session")
    sub.add_argument("kind", type=parse_report_kind, help=kinds)
    sub.add_argument("-o", "--output", help="write it to this file instead of stdout")
    sub.add_argument("--version", type=parse_version, metavar="N",
                     help="this version (see 'scout versions'; default: the latest)")
    sub = command(reports, "list", cmd_report_list, "list a session's reports")
    sub.add_argument("session")
    sub = command(reports, "put", cmd_report_put,
                  "store a report as its next version (e.g. an edited one)")
    sub.add_argument("session")
    sub.add_argument("kind", type=parse_report_kind, help=kinds)
    sub.add_argument("file", nargs="?", default="-", help="Markdown file (default: stdin)")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")

    sub = command(commands, "versions", cmd_versions,
                  "list the stored versions of a report, newest first")
    sub.add_argument("session")
    sub.add_argument("kind", type=parse_report_kind, help=kinds)

    sub = command(commands, "sources", cmd_sources, "list what the agents of a run read")
    sub.add_argument("session")
    sub.add_argument("--run", help="the run (default: the session's latest)")

    sub = command(commands, "ask", cmd_ask,
                  "ask a follow-up question about the dossier (the answer streams)")
    sub.add_argument("session")
    sub.add_argument("question")
    sub.add_argument("--request-id", help="idempotency key (default: a fresh UUID)")

    sub = command(commands, "questions", cmd_questions, "list the questions asked so far")
    sub.add_argument("session")

    sub = command(commands, "findings", cmd_findings,
                  "show the typed findings (verdict, market sizes, prices, obligations)")
    sub.add_argument("session")
    sub.add_argument("--kind", type=parse_report_kind, help=kinds)

    sub = command(commands, "export", cmd_export, "export all reports as one document")
    sub.add_argument("session")
    sub.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    sub.add_argument("-o", "--output", help="where to write it; - for stdout")
    return parser


def _read_bytes(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None


def _client(args: argparse.Namespace) -> ScoutClient:
    if bool(args.cert_file) != bool(args.key_file):
        raise UsageError("--cert-file and --key-file go together")
    cert = _read_bytes(args.cert_file)
    key = _read_bytes(args.key_file)
    return ScoutClient(
        args.address,
        token=args.token,
        tls=args.tls,
        root_certificates=_read_bytes(args.ca_file),
        client_certificate=(cert, key) if cert is not None and key is not None else None,
        timeout=args.timeout if args.timeout and args.timeout > 0 else None,
    )


def _fail(message: str, code: int, stream: IO[str] | None = None) -> int:
    print(f"error: {message}", file=stream or sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `scout` command; return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        with _client(args) as client:
            handler: Handler = args.handler
            return handler(client, args)
    except ScoutError as error:
        code = _fail(f"{error.code.name}: {error.message}", EXIT_RPC_ERROR)
        if error.reason:
            print(f"reason: {error.reason}", file=sys.stderr)
        return code
    except UsageError as error:
        return _fail(str(error), EXIT_USAGE)
    except ValueError as error:  # e.g. a report kind or format the helpers refuse
        return _fail(str(error), EXIT_USAGE)
    except OSError as error:
        return _fail(str(error), EXIT_LOCAL_IO)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
