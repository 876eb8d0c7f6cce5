"""How the CLI prints: ProtoJSON for --json, fields, tables and event lines for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped, unused-ignore]

from scout.v1 import findings_pb2, research_pb2, types_pb2
from scout_client.kinds import (
    report_kind_short_name,
)


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
