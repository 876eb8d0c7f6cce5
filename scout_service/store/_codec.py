"""Hand-written codecs between domain values and DynamoDB attribute maps.

boto3's ``TypeSerializer`` walks every value through ``Decimal`` and a type
switch; these functions build and read the low-level ``{"S": …}`` maps
directly, which keeps a small ``get_report`` close to a raw ``get_item``.
Optional fields are simply left out of an item when ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from scout_service.domain import (
    AgentState,
    AgentStatus,
    Brief,
    EventType,
    FileInfo,
    Findings,
    ProgressEvent,
    Question,
    Report,
    ReportKind,
    ReportSource,
    Run,
    RunState,
    Session,
    Source,
    SourceKind,
    TokenUsage,
)
from scout_service.store import _keys as keys

Item = dict[str, Any]


# -- scalars --------------------------------------------------------------------------


def s(value: str) -> dict[str, str]:
    """A string attribute."""
    return {"S": value}


def n(value: float | int) -> dict[str, str]:
    """A number attribute (``repr`` keeps floats exact and short)."""
    return {"N": str(value) if isinstance(value, int) else repr(value)}


def b(value: bytes) -> dict[str, bytes]:
    """A binary attribute: raw bytes (boto3 base64-encodes only on the wire)."""
    return {"B": value}


def string_map(values: Mapping[str, str]) -> dict[str, Any]:
    """A map of strings."""
    return {"M": {k: {"S": v} for k, v in values.items()}}


def get_s(item: Item, name: str) -> str:
    """A required string attribute."""
    value: str = item[name]["S"]
    return value


def opt_s(item: Item, name: str) -> str | None:
    """An optional string attribute."""
    value = item.get(name)
    return None if value is None else str(value["S"])


def get_f(item: Item, name: str) -> float:
    """A required number attribute as float."""
    return float(item[name]["N"])


def opt_f(item: Item, name: str) -> float | None:
    """An optional number attribute as float."""
    value = item.get(name)
    return None if value is None else float(value["N"])


def get_i(item: Item, name: str, default: int | None = None) -> int:
    """A number attribute as int (with a default when it may be missing)."""
    value = item.get(name)
    if value is None:
        if default is None:
            raise KeyError(name)
        return default
    return int(value["N"])


def get_map(item: Item, name: str) -> dict[str, str]:
    """A map-of-strings attribute (empty when missing)."""
    value = item.get(name)
    if value is None:
        return {}
    return {k: str(v["S"]) for k, v in value["M"].items()}


def ttl_of(item: Item) -> int | None:
    """The item's TTL, if it has one."""
    value = item.get("ttl")
    return None if value is None else int(value["N"])


def key(session_id: str, sk: str) -> Item:
    """The primary key of an item."""
    return {"session_id": {"S": session_id}, "sk": {"S": sk}}


def plain_key(raw: Mapping[str, Any]) -> dict[str, str]:
    """A LastEvaluatedKey of string attributes as a plain dict (for page tokens)."""
    return {name: str(value["S"]) for name, value in raw.items()}


def attr_key(plain: Mapping[str, str]) -> Item:
    """A page token's key back as an ExclusiveStartKey."""
    return {name: {"S": value} for name, value in plain.items()}


# -- sessions ---------------------------------------------------------------------------


# Session attributes: how many files it holds and their bytes in all.
FILE_COUNT = "file_count"
FILE_BYTES = "file_bytes"


def session_item(session: Session, *, idem: tuple[str, str] | None = None) -> Item:
    """The SESSION item; ``idem`` is the key of its CreateSession record."""
    item: Item = {
        **key(session.session_id, keys.SESSION_SK),
        "owner": s(session.owner),
        "labels": string_map(session.labels),
        "created_at": n(session.created_at),
        "ttl": n(session.expires_at),
        "gsi1pk": s(keys.owner_pk(session.owner)),
        "gsi1sk": s(keys.session_gsi_sk(session.created_at, session.session_id)),
        # What its files add up to, kept by every file commit (the per-session limits).
        FILE_COUNT: n(0),
        FILE_BYTES: n(0),
    }
    if session.latest_run_id is not None:
        item["latest_run_id"] = s(session.latest_run_id)
    if session.active_run_id is not None:
        item["active_run_id"] = s(session.active_run_id)
    if idem is not None:
        item["idem_pk"], item["idem_sk"] = s(idem[0]), s(idem[1])
    return item


def session_from(item: Item) -> Session:
    """A Session from its item."""
    return Session(
        session_id=get_s(item, "session_id"),
        owner=get_s(item, "owner"),
        created_at=get_f(item, "created_at"),
        expires_at=get_i(item, "ttl"),
        labels=get_map(item, "labels"),
        latest_run_id=opt_s(item, "latest_run_id"),
        active_run_id=opt_s(item, "active_run_id"),
    )


# -- files and reports --------------------------------------------------------------------

# Attributes of blob metadata items other than the bytes (for list projections).
FILE_META = ("sk", "content_type", "size", "sha256", "created_at", "ttl")
REPORT_META = ("sk", "size", "sha256", "updated_at", "source", "author", "run_id", "cited",
               "sources_run_id", "version", "ttl")
BLOB_REF = ("version_id", "blob_id", "chunk_count", "ttl")


def blob_fields(version_id: str, data: bytes | None, blob_id: str | None, count: int) -> Item:
    """Where a blob's bytes are: inline ``data`` or ``blob_id`` + ``chunk_count``."""
    item: Item = {"version_id": s(version_id)}
    if data is not None:
        item["data"] = b(data)
    else:
        assert blob_id is not None
        item["blob_id"] = s(blob_id)
        item["chunk_count"] = n(count)
    return item


def file_from(session_id: str, item: Item) -> FileInfo:
    """FileInfo from a FILE# item."""
    return FileInfo(
        session_id=session_id,
        name=get_s(item, "sk")[len(keys.FILE_PREFIX) :],
        content_type=get_s(item, "content_type"),
        size=get_i(item, "size"),
        sha256=get_s(item, "sha256"),
        created_at=get_f(item, "created_at"),
    )


def report_fields(report: Report) -> Item:
    """The metadata attributes of a report (REPORT#, REPORTV# and PutReport records)."""
    item: Item = {
        "version": n(report.version),
        "size": n(report.size),
        "sha256": s(report.sha256),
        "updated_at": n(report.updated_at),
        "source": s(report.source.value),
        "author": s(report.author),
    }
    if report.run_id is not None:
        item["run_id"] = s(report.run_id)
    if report.cited:
        item["cited"] = s(",".join(report.cited))
    if report.sources_run_id is not None:
        item["sources_run_id"] = s(report.sources_run_id)
    return item


def report_from(session_id: str, kind: ReportKind, item: Item, content: str | None) -> Report:
    """A Report from a REPORT# or REPORTV# item (or a PutReport idempotency record).

    Items stored before versions existed have no ``version``: they are version 1.
    """
    return Report(
        session_id=session_id,
        kind=kind,
        size=get_i(item, "size"),
        sha256=get_s(item, "sha256"),
        updated_at=get_f(item, "updated_at"),
        source=ReportSource(get_s(item, "source")),
        author=get_s(item, "author"),
        run_id=opt_s(item, "run_id"),
        content=content,
        cited=tuple(filter(None, (opt_s(item, "cited") or "").split(","))),
        sources_run_id=opt_s(item, "sources_run_id"),
        version=get_i(item, "version", 1),
    )


def source_item(source: Source, ttl: int) -> Item:
    """A SOURCE# item."""
    item: Item = {
        **key(source.session_id, keys.source_sk(source.run_id, source.number)),
        "run_id": s(source.run_id),
        "source_id": s(source.source_id),
        "kind": s(source.kind.value),
        "excerpt": s(source.excerpt),
        "retrieved_at": n(source.retrieved_at),
        "sha256": s(source.sha256),
        "start": n(source.start),
        "end": n(source.end),
        "ttl": n(ttl),
    }
    for name in ("title", "file_name", "section", "url"):
        value = getattr(source, name)
        if value:
            item[name] = s(value)
    if source.page is not None:
        item["page"] = n(source.page)
    if source.first_read_by is not None:
        item["first_read_by"] = s(source.first_read_by.value)
    return item


def source_from(item: Item) -> Source:
    """A Source from its item."""
    reader = opt_s(item, "first_read_by")
    return Source(
        session_id=get_s(item, "session_id"),
        run_id=get_s(item, "run_id"),
        source_id=get_s(item, "source_id"),
        kind=SourceKind(get_s(item, "kind")),
        excerpt=get_s(item, "excerpt"),
        retrieved_at=get_f(item, "retrieved_at"),
        sha256=get_s(item, "sha256"),
        title=opt_s(item, "title") or "",
        file_name=opt_s(item, "file_name") or "",
        page=get_i(item, "page") if "page" in item else None,
        section=opt_s(item, "section") or "",
        start=get_i(item, "start"),
        end=get_i(item, "end"),
        url=opt_s(item, "url") or "",
        first_read_by=None if reader is None else ReportKind(reader),
    )


def question_fields(q: Question) -> Item:
    """A question's attributes (the QUESTION# item and its idempotency record)."""
    item: Item = {
        "question_id": s(q.question_id),
        "question": s(q.question),
        "answer": s(q.answer),
        "created_at": n(q.created_at),
        "author": s(q.author),
    }
    if q.cited:
        item["cited"] = s(",".join(q.cited))
    if q.request_id is not None:
        item["request_id"] = s(q.request_id)
    return item


def question_from(session_id: str, item: Item) -> Question:
    """A Question from its item (or its idempotency record)."""
    cited = opt_s(item, "cited")
    return Question(
        session_id=session_id,
        question_id=get_s(item, "question_id"),
        question=get_s(item, "question"),
        answer=get_s(item, "answer"),
        created_at=get_f(item, "created_at"),
        author=get_s(item, "author"),
        cited=tuple(cited.split(",")) if cited else (),
        request_id=opt_s(item, "request_id"),
    )


def findings_item(findings: Findings, ttl: int) -> Item:
    """A FINDINGS# item."""
    return {
        **key(findings.session_id, keys.findings_sk(findings.kind.value)),
        "kind": s(findings.kind.value),
        "run_id": s(findings.run_id),
        "data": s(findings.data),
        "created_at": n(findings.created_at),
        "warnings": s(json.dumps(findings.warnings)),
        "ttl": n(ttl),
    }


def findings_from(item: Item) -> Findings:
    """Findings from their item."""
    return Findings(
        session_id=get_s(item, "session_id"),
        kind=ReportKind(get_s(item, "kind")),
        run_id=get_s(item, "run_id"),
        data=get_s(item, "data"),
        created_at=get_f(item, "created_at"),
        warnings=tuple((str(f), str(m)) for f, m in json.loads(opt_s(item, "warnings") or "[]")),
    )


def report_kind_of(sk: str) -> ReportKind:
    """The kind of a REPORT# sort key."""
    return ReportKind(sk[len(keys.REPORT_PREFIX) :])


# -- runs -------------------------------------------------------------------------------


def _agent(status: AgentStatus) -> dict[str, Any]:
    m: Item = {
        "kind": s(status.kind.value),
        "state": s(status.state.value),
        "input_tokens": n(status.usage.input_tokens),
        "output_tokens": n(status.usage.output_tokens),
        "invocations": n(status.invocations),
    }
    if status.usage.cache_read_tokens:
        m["cache_read_tokens"] = n(status.usage.cache_read_tokens)
    if status.usage.cache_write_tokens:
        m["cache_write_tokens"] = n(status.usage.cache_write_tokens)
    if status.usage.cost_usd is not None:
        m["cost_usd"] = n(status.usage.cost_usd)
    if status.error is not None:
        m["error"] = s(status.error)
    if status.started_at is not None:
        m["started_at"] = n(status.started_at)
    if status.finished_at is not None:
        m["finished_at"] = n(status.finished_at)
    return {"M": m}


def _agent_from(value: dict[str, Any]) -> AgentStatus:
    m: Item = value["M"]
    return AgentStatus(
        kind=ReportKind(get_s(m, "kind")),
        state=AgentState(get_s(m, "state")),
        error=opt_s(m, "error"),
        usage=TokenUsage(
            get_i(m, "input_tokens", 0), get_i(m, "output_tokens", 0),
            get_i(m, "cache_read_tokens", 0), get_i(m, "cache_write_tokens", 0),
            # Runs stored before costs were recorded carry none: unknown.
            opt_f(m, "cost_usd"),
        ),
        started_at=opt_f(m, "started_at"),
        finished_at=opt_f(m, "finished_at"),
        invocations=get_i(m, "invocations", 0),
    )


# Optional run attributes: written when set, REMOVEd by update_run when None.
RUN_OPTIONAL = ("request_id", "error", "finished_at", "lease_owner", "queue_turn")


def run_fields(run: Run, *, version: int) -> Item:
    """Every attribute of a RUN# item except its key and ttl.

    Non-terminal runs carry the ACTIVE_RUNS GSI keys so that
    ``list_resumable_runs`` is one index query on lease expiry.
    """
    item: Item = {
        "run_id": s(run.run_id),
        "state": s(run.state.value),
        "created_at": n(run.created_at),
        "updated_at": n(run.updated_at),
        "agents": {"L": [_agent(a) for a in run.agents]},
        "model_provider": s(run.model_provider),
        "file_names": {"L": [s(name) for name in run.file_names]},
        "owner": s(run.owner),
        "last_sequence": n(run.last_sequence),
        "cancel_requested": {"BOOL": run.cancel_requested},
        "lease_expires_at": n(run.lease_expires_at),
        "version": n(version),
    }
    if run.request_id is not None:
        item["request_id"] = s(run.request_id)
    if run.error is not None:
        item["error"] = s(run.error)
    if run.finished_at is not None:
        item["finished_at"] = n(run.finished_at)
    if run.lease_owner is not None:
        item["lease_owner"] = s(run.lease_owner)
    if not run.brief.is_empty:
        item["brief"] = s(brief_json(run.brief))
    if run.queue_turn:
        item["queue_turn"] = n(run.queue_turn)
    if not run.state.is_terminal:
        item["gsi1pk"] = s(keys.ACTIVE_RUNS)
        item["gsi1sk"] = s(keys.active_run_gsi_sk(run.lease_expires_at, run.session_id, run.run_id))
    return item


def brief_json(brief: Brief) -> str:
    """A run's brief as JSON (the RUN# item's ``brief``)."""
    return json.dumps({
        "questions": list(brief.questions), "language": brief.language,
        "agents": [k.value for k in brief.agents], "web_search": brief.web_search,
        "max_tokens": brief.max_tokens, "focus": brief.focus, "geography": brief.geography,
    }, ensure_ascii=False, separators=(",", ":"))


def brief_from(text: str | None) -> Brief:
    """A brief from its JSON (an empty brief when absent)."""
    if not text:
        return Brief()
    data = json.loads(text)
    return Brief(
        questions=tuple(data.get("questions", ())), language=data.get("language", ""),
        agents=tuple(ReportKind(k) for k in data.get("agents", ())),
        web_search=data.get("web_search"), max_tokens=data.get("max_tokens"),
        focus=data.get("focus", ""), geography=data.get("geography", ""),
    )


def run_from(item: Item) -> Run:
    """A Run from its item."""
    return Run(
        session_id=get_s(item, "session_id"),
        run_id=get_s(item, "run_id"),
        state=RunState(get_s(item, "state")),
        created_at=get_f(item, "created_at"),
        updated_at=get_f(item, "updated_at"),
        agents=tuple(_agent_from(a) for a in item["agents"]["L"]),
        model_provider=get_s(item, "model_provider"),
        file_names=tuple(str(v["S"]) for v in item.get("file_names", {"L": []})["L"]),
        request_id=opt_s(item, "request_id"),
        owner=get_s(item, "owner"),
        error=opt_s(item, "error"),
        finished_at=opt_f(item, "finished_at"),
        last_sequence=get_i(item, "last_sequence", 0),
        cancel_requested=bool(item.get("cancel_requested", {"BOOL": False})["BOOL"]),
        lease_owner=opt_s(item, "lease_owner"),
        lease_expires_at=get_f(item, "lease_expires_at"),
        version=get_i(item, "version"),
        brief=brief_from(opt_s(item, "brief")),
        queue_turn=get_i(item, "queue_turn", 0),
    )


# -- events -----------------------------------------------------------------------------


def event_item(event: ProgressEvent, ttl: int) -> Item:
    """An EVENT# item."""
    item: Item = {
        **key(event.session_id, keys.event_sk(event.run_id, event.sequence)),
        "run_id": s(event.run_id),
        "sequence": n(event.sequence),
        "created_at": n(event.created_at),
        "type": s(event.type.value),
        "message": s(event.message),
        "attributes": string_map(event.attributes),
        "ttl": n(ttl),
    }
    if event.agent is not None:
        item["agent"] = s(event.agent.value)
    if event.tool_name is not None:
        item["tool_name"] = s(event.tool_name)
    return item


def event_from(item: Item) -> ProgressEvent:
    """A ProgressEvent from its item."""
    agent = opt_s(item, "agent")
    return ProgressEvent(
        session_id=get_s(item, "session_id"),
        run_id=get_s(item, "run_id"),
        sequence=get_i(item, "sequence"),
        created_at=get_f(item, "created_at"),
        type=EventType(get_s(item, "type")),
        message=get_s(item, "message"),
        agent=None if agent is None else ReportKind(agent),
        tool_name=opt_s(item, "tool_name"),
        attributes=get_map(item, "attributes"),
    )
