"""Domain ↔ proto conversions, all in one place.

The only module that knows both ``scout_service.domain`` and ``scout.v1``;
servicers call these and nothing else to translate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from google.protobuf import descriptor, json_format, timestamp_pb2

from scout.v1 import findings_pb2, report_pb2, research_pb2, types_pb2
from scout_service import domain
from scout_service.api import validation as valid
from scout_service.errors import InvalidArgument

_KIND_TO_PB = {
    domain.ReportKind.MARKET: types_pb2.REPORT_KIND_MARKET,
    domain.ReportKind.COMPETITION: types_pb2.REPORT_KIND_COMPETITION,
    domain.ReportKind.PRICE: types_pb2.REPORT_KIND_PRICE,
    domain.ReportKind.LEGAL: types_pb2.REPORT_KIND_LEGAL,
    domain.ReportKind.FINAL: types_pb2.REPORT_KIND_FINAL,
}
_KIND_FROM_PB = {v: k for k, v in _KIND_TO_PB.items()}

_RUN_STATE = {
    domain.RunState.QUEUED: research_pb2.RUN_STATE_QUEUED,
    domain.RunState.RUNNING: research_pb2.RUN_STATE_RUNNING,
    domain.RunState.SUCCEEDED: research_pb2.RUN_STATE_SUCCEEDED,
    domain.RunState.FAILED: research_pb2.RUN_STATE_FAILED,
    domain.RunState.CANCELLED: research_pb2.RUN_STATE_CANCELLED,
}
_AGENT_STATE = {
    domain.AgentState.PENDING: research_pb2.AGENT_STATE_PENDING,
    domain.AgentState.RUNNING: research_pb2.AGENT_STATE_RUNNING,
    domain.AgentState.SUCCEEDED: research_pb2.AGENT_STATE_SUCCEEDED,
    domain.AgentState.FAILED: research_pb2.AGENT_STATE_FAILED,
    domain.AgentState.CANCELLED: research_pb2.AGENT_STATE_CANCELLED,
}
_EVENT_TYPE: dict[domain.EventType, research_pb2.ProgressEventType] = {
    t: cast(research_pb2.ProgressEventType,
            research_pb2.ProgressEventType.Value(f"PROGRESS_EVENT_TYPE_{t.value}"))
    for t in domain.EventType
}
_SOURCE = {
    domain.ReportSource.AGENT: types_pb2.REPORT_SOURCE_AGENT,
    domain.ReportSource.CALLER: types_pb2.REPORT_SOURCE_CALLER,
}
_FORMATS = {
    report_pb2.EXPORT_FORMAT_MARKDOWN: "md",
    report_pb2.EXPORT_FORMAT_HTML: "html",
    report_pb2.EXPORT_FORMAT_PDF: "pdf",
    report_pb2.EXPORT_FORMAT_ZIP: "zip",
}


def timestamp(seconds: float | None) -> timestamp_pb2.Timestamp | None:
    """Epoch seconds → Timestamp (None stays unset)."""
    if seconds is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(int(seconds * 1e9))
    return ts


def report_kind_from_pb(value: int, field: str = "kind") -> domain.ReportKind:
    """A required report kind; UNSPECIFIED or unknown → InvalidArgument."""
    try:
        return _KIND_FROM_PB[value]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument(
            f"{field}: must be one of REPORT_KIND_MARKET, _COMPETITION, _PRICE, _LEGAL, _FINAL",
            metadata={"field": field},
        ) from None


def report_kind_to_pb(kind: domain.ReportKind | None) -> types_pb2.ReportKind:
    """Domain kind → proto enum (None → UNSPECIFIED)."""
    return _KIND_TO_PB[kind] if kind else types_pb2.REPORT_KIND_UNSPECIFIED


def export_format_from_pb(value: int) -> str:
    """A required export format → "md" | "html" | "pdf" | "zip"."""
    try:
        return _FORMATS[value]  # type: ignore[index]
    except KeyError:
        raise InvalidArgument(
            "format: must be one of EXPORT_FORMAT_MARKDOWN, _HTML, _PDF, _ZIP",
            metadata={"field": "format"},
        ) from None


def session_to_pb(s: domain.Session) -> types_pb2.Session:
    """Session → proto."""
    return types_pb2.Session(
        session_id=s.session_id,
        owner=s.owner,
        labels=dict(s.labels),
        create_time=timestamp(s.created_at),
        expire_time=timestamp(s.expires_at),
        latest_run_id=s.latest_run_id or "",
    )


def file_to_pb(f: domain.FileInfo) -> types_pb2.FileInfo:
    """FileInfo → proto."""
    return types_pb2.FileInfo(
        session_id=f.session_id,
        file_name=f.name,
        content_type=f.content_type,
        size_bytes=f.size,
        sha256=f.sha256,
        create_time=timestamp(f.created_at),
    )


_SOURCE_KIND = {
    domain.SourceKind.DOCUMENT: types_pb2.SOURCE_KIND_DOCUMENT,
    domain.SourceKind.WEB: types_pb2.SOURCE_KIND_WEB,
}


def source_to_pb(s: domain.Source) -> types_pb2.Source:
    """Source → proto."""
    return types_pb2.Source(
        source_id=s.source_id,
        run_id=s.run_id,
        kind=_SOURCE_KIND[s.kind],
        file_name=s.file_name,
        page=s.page or 0,
        section=s.section,
        url=s.url,
        title=s.title,
        excerpt=s.excerpt,
        start_offset=s.start,
        end_offset=s.end,
        retrieve_time=timestamp(s.retrieved_at),
        sha256=s.sha256,
        first_read_by=(report_kind_to_pb(s.first_read_by) if s.first_read_by is not None
                       else types_pb2.REPORT_KIND_UNSPECIFIED),
    )


def report_to_pb(
    r: domain.Report, sources: Sequence[domain.Source] = ()
) -> types_pb2.Report:
    """Report → proto (content only when loaded; ``sources``: those it cites)."""
    return types_pb2.Report(
        session_id=r.session_id,
        kind=report_kind_to_pb(r.kind),
        name=r.kind.value,
        content=r.content or "",
        size_bytes=r.size,
        sha256=r.sha256,
        update_time=timestamp(r.updated_at),
        run_id=r.run_id or "",
        source=_SOURCE[r.source],
        author=r.author,
        sources=[source_to_pb(s) for s in sources],
        sources_run_id=r.sources_run_id or "",
        version=r.version,
    )


def _usage(u: domain.TokenUsage) -> research_pb2.TokenUsage:
    return research_pb2.TokenUsage(
        input_tokens=u.input_tokens, output_tokens=u.output_tokens, total_tokens=u.total_tokens,
        cache_read_tokens=u.cache_read_tokens, cache_write_tokens=u.cache_write_tokens,
        cost_usd=u.cost_usd,
    )


def run_to_pb(r: domain.Run) -> research_pb2.Run:
    """Run → proto."""
    return research_pb2.Run(
        session_id=r.session_id,
        run_id=r.run_id,
        state=_RUN_STATE[r.state],
        agents=[
            research_pb2.AgentStatus(
                kind=report_kind_to_pb(a.kind),
                state=_AGENT_STATE[a.state],
                error=a.error or "",
                usage=_usage(a.usage),
                start_time=timestamp(a.started_at),
                end_time=timestamp(a.finished_at),
                invocations=a.invocations,
            )
            for a in r.agents
        ],
        usage=_usage(r.usage),
        error=r.error or "",
        create_time=timestamp(r.created_at),
        update_time=timestamp(r.updated_at),
        end_time=timestamp(r.finished_at),
        last_sequence=r.last_sequence,
        model_provider=r.model_provider,
        file_names=list(r.file_names),
        request_id=r.request_id or "",
        brief=None if r.brief.is_empty else brief_to_pb(r.brief),
        queue_position=r.queue_position,
    )


def event_to_pb(e: domain.ProgressEvent) -> research_pb2.ProgressEvent:
    """ProgressEvent → proto."""
    return research_pb2.ProgressEvent(
        session_id=e.session_id,
        run_id=e.run_id,
        sequence=e.sequence,
        create_time=timestamp(e.created_at),
        type=_EVENT_TYPE[e.type],
        agent=report_kind_to_pb(e.agent),
        display_message=e.message,
        tool_name=e.tool_name or "",
        attributes=dict(e.attributes),
    )


_FINDINGS_FIELD = {
    domain.ReportKind.MARKET: "market",
    domain.ReportKind.COMPETITION: "competition",
    domain.ReportKind.PRICE: "price",
    domain.ReportKind.LEGAL: "legal",
    domain.ReportKind.FINAL: "final",
}


def _proto_json(value: Any, message: descriptor.Descriptor) -> Any:
    """Findings JSON (``research/findings.py``) in proto JSON: enum values get their prefix."""
    out = {}
    for name, item in value.items():
        field = message.fields_by_name[name]
        if field.message_type is not None:
            out[name] = ([_proto_json(v, field.message_type) for v in item]
                         if isinstance(item, list) else _proto_json(item, field.message_type))
        elif field.enum_type is not None:
            prefix = field.enum_type.values[0].name.removesuffix("UNSPECIFIED")
            out[name] = prefix + str(item).upper()
        else:
            out[name] = item
    return out


def findings_to_pb(f: domain.Findings) -> findings_pb2.Findings:
    """A kind's stored findings as the proto message."""
    message = findings_pb2.Findings(
        kind=report_kind_to_pb(f.kind), run_id=f.run_id, create_time=timestamp(f.created_at),
        warnings=[findings_pb2.FindingWarning(field=field, message=text)
                  for field, text in f.warnings],
    )
    body = getattr(message, _FINDINGS_FIELD[f.kind])
    json_format.ParseDict(_proto_json(json.loads(f.data), body.DESCRIPTOR), body)
    return message


def brief_from_pb(b: research_pb2.ResearchBrief) -> domain.Brief:
    """A request's brief, validated (``InvalidArgument`` naming the field)."""
    return valid.brief(
        list(b.questions), b.language,
        [_KIND_FROM_PB.get(k) for k in b.agents],
        b.web_search if b.HasField("web_search") else None,
        b.max_tokens if b.HasField("max_tokens") else None,
        b.focus, b.geography,
    )


def brief_to_pb(b: domain.Brief) -> research_pb2.ResearchBrief:
    """A run's brief as the proto message."""
    message = research_pb2.ResearchBrief(
        questions=list(b.questions), language=b.language,
        agents=[report_kind_to_pb(k) for k in b.agents], focus=b.focus, geography=b.geography,
    )
    if b.web_search is not None:
        message.web_search = b.web_search
    if b.max_tokens is not None:
        message.max_tokens = b.max_tokens
    return message


def question_to_pb(q: domain.Question, sources: Sequence[domain.Source] = ()
                   ) -> research_pb2.QuestionAnswer:
    """A stored question and its answer (with the sources it cites, when given)."""
    return research_pb2.QuestionAnswer(
        question_id=q.question_id, question=q.question, answer=q.answer,
        sources=[source_to_pb(s) for s in sources], create_time=timestamp(q.created_at),
        request_id=q.request_id or "", author=q.author,
    )
