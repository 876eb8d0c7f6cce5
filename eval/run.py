"""Run the frozen set through a real server and score every dossier.

All dossiers run concurrently through one server (one session each), so the
offline eval takes about as long as its slowest dossier.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]
from google.protobuf import json_format, message_factory

from eval.generate import DOSSIERS_DIR
from eval.scoring import (
    REPORT_KINDS,
    Score,
    SourceInfo,
    UploadedFile,
    citation_coverage,
    citation_precision,
    fact_recall,
    findings_accuracy,
    outline_compliance,
    wrong_facts,
)
from scout.v1 import report_pb2, report_pb2_grpc, research_pb2
from scout_client import ScoutClient
from scout_client.errors import NotFoundError
from scout_service.agents.prompts import outline
from scout_service.documents import extract_text
from scout_service.domain import ReportKind

RUN_TIMEOUT_S = 1800.0
"""How long one dossier's research run may take (a real provider is slow)."""

LIST_SOURCES_UNSERVED = "ListSources not served"
FINDINGS_UNSERVED = "n/a (GetFindings not served)"


@dataclass
class DossierResult:
    """What the server produced for one dossier, and its score."""

    dossier: str
    run_id: str = ""
    state: str = ""
    provider: str = ""
    tokens: int = 0
    cost: float | None = None
    wall_s: float = 0.0
    reports: dict[str, str] = field(default_factory=dict)
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    sources_status: str = "ok"
    findings: Any = None
    findings_status: str = FINDINGS_UNSERVED
    score: Score = field(default_factory=Score)


def load_key(folder: Path) -> dict[str, Any]:
    """A dossier's answer key."""
    key: dict[str, Any] = json.loads((folder / "key.json").read_text(encoding="utf-8"))
    return key


def dossier_folders(root: Path = DOSSIERS_DIR, only: Sequence[str] = ()) -> list[Path]:
    """The dossiers of the set (or the named ones), in a stable order."""
    folders = sorted(p for p in root.iterdir() if (p / "key.json").is_file())
    if only:
        folders = [p for p in folders if p.name in only]
    return folders


def outlines() -> dict[str, tuple[str, ...]]:
    """Every report kind's required headings (from the agents' prompts)."""
    return {kind: outline(ReportKind(f"{kind}_report")) for kind in REPORT_KINDS}


def _source_info(source: Any) -> SourceInfo:
    return SourceInfo(source_id=source.source_id, file_name=source.file_name,
                      excerpt=source.excerpt, sha256=source.sha256, run_id=source.run_id,
                      url=source.url)


def list_sources(channel: grpc.Channel, session_id: str,
                 run_id: str) -> tuple[dict[str, SourceInfo], str]:
    """Every source of the run through ListSources, and 'ok' or why there are none."""
    stub = report_pb2_grpc.ReportServiceStub(channel)  # type: ignore[no-untyped-call]
    found: dict[str, SourceInfo] = {}
    token = ""
    while True:
        try:
            page = stub.ListSources(report_pb2.ListSourcesRequest(
                session_id=session_id, run_id=run_id, page_size=1000, page_token=token),
                timeout=30)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                return found, LIST_SOURCES_UNSERVED
            return found, f"ListSources failed: {error.code().name}: {error.details()}"
        for source in page.sources:
            found[source.source_id] = _source_info(source)
        token = page.next_page_token
        if not token:
            return found, "ok"


def get_findings(channel: grpc.Channel, session_id: str, run_id: str) -> tuple[Any, str]:
    """The run's typed findings as JSON-like data, when the contract and server have them."""
    service = report_pb2.DESCRIPTOR.services_by_name["ReportService"]
    method = service.methods_by_name.get("GetFindings")
    if method is None:
        return None, FINDINGS_UNSERVED
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    fields = {"session_id": session_id}
    if "run_id" in method.input_type.fields_by_name:
        fields["run_id"] = run_id
    call = channel.unary_unary(f"/{service.full_name}/GetFindings",
                               request_serializer=request_class.SerializeToString,
                               response_deserializer=response_class.FromString)
    try:
        response = call(request_class(**fields), timeout=30)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            return None, FINDINGS_UNSERVED
        return None, f"GetFindings failed: {error.code().name}"
    return json_format.MessageToDict(response), "ok"


def uploaded_files(folder: Path, names: Sequence[str]) -> dict[str, UploadedFile]:
    """Hash and extract (the server's own extractor, no size cap) every file of a dossier."""
    files = {}
    for name in names:
        data = (folder / name).read_bytes()
        text = extract_text(data, name, max_chars=50_000_000, time_budget_s=120).text
        files[name] = UploadedFile.of(data, text)
    return files


def run_dossier(scout: ScoutClient, channel: grpc.Channel, folder: Path) -> DossierResult:
    """Upload one dossier, research it, and collect what the server produced."""
    key = load_key(folder)
    result = DossierResult(dossier=key["dossier"])
    session = scout.create_session(labels={"source": "make-eval", "dossier": key["dossier"]})
    sid = session.session_id
    for name in key["files"]:
        scout.upload_file(sid, folder / name)
    started = time.monotonic()
    run = scout.start_research(sid)
    for _ in scout.stream_progress(sid, run_id=run.run_id, timeout=RUN_TIMEOUT_S):
        pass
    result.wall_s = time.monotonic() - started
    run = scout.get_run(sid, run.run_id)
    result.run_id = run.run_id
    result.state = research_pb2.RunState.Name(run.state).removeprefix("RUN_STATE_")
    result.provider = run.model_provider
    result.tokens = run.usage.total_tokens
    cost_field = "cost_usd" if "cost_usd" in run.DESCRIPTOR.fields_by_name else ""
    if cost_field:
        result.cost = float(getattr(run, cost_field))
    elif run.model_provider == "offline":
        result.cost = 0.0
    report_sources: dict[str, SourceInfo] = {}
    for kind in REPORT_KINDS:
        try:
            report = scout.get_report(sid, kind)
        except NotFoundError:
            continue
        result.reports[kind] = report.content
        for source in report.sources:
            report_sources.setdefault(source.source_id, _source_info(source))
    result.sources, result.sources_status = list_sources(channel, sid, run.run_id)
    result.findings, result.findings_status = get_findings(channel, sid, run.run_id)
    score_dossier(result, key, folder, report_sources)
    scout.delete_session(sid)
    return result


def score_dossier(result: DossierResult, key: Mapping[str, Any], folder: Path,
                  report_sources: Mapping[str, SourceInfo]) -> None:
    """Fill ``result.score`` from what the server produced and the answer key."""
    score = result.score
    if result.state != "SUCCEEDED":
        score.notes.append(f"run {result.state}")
    # Markers resolve against the listed sources and, when ListSources is not
    # served, against the sources each report says it cites; precision is
    # failed either way without ListSources (see below).
    resolvable = {**report_sources, **result.sources}
    score.facts_stated, score.fact_recall, misses = fact_recall(
        key["checkpoints"], result.reports, resolvable)
    score.notes += misses
    score.wrong_facts, wrong = wrong_facts(key["distractors"], result.reports)
    score.notes += [f"wrong fact: {w}" for w in wrong]
    files = uploaded_files(folder, key["files"])
    score.citations, problems = citation_precision(result.reports, result.sources, files,
                                                   result.run_id)
    if result.sources_status != "ok":
        # Not served is a failure, never a skip: every marker (at least one) counts as wrong.
        score.citations.hits = 0
        score.citations.total = max(score.citations.total, 1)
        score.notes.insert(0, f"CITATIONS FAILED: {result.sources_status}")
    elif score.citations.total == 0:
        score.citations.total = 1
        score.notes.append("citations: the reports carry no citation markers")
    score.notes += [f"citation: {p}" for p in problems[:10]]
    score.coverage = citation_coverage(result.reports)
    score.outline, outline_problems = outline_compliance(result.reports, outlines())
    score.notes += [f"outline: {p}" for p in outline_problems]
    if result.findings_status == "ok":
        score.findings, findings_misses = findings_accuracy(key["findings"], result.findings)
        score.notes += findings_misses


def run_eval(folders: Sequence[Path], env: Mapping[str, str] | None = None
             ) -> tuple[list[DossierResult], float]:
    """Start a server, run every dossier concurrently, stop it; returns results and wall time."""
    from eval.server import EvalServer

    started = time.monotonic()
    with EvalServer(env) as server, ScoutClient(server.address, timeout=60,
                                                transfer_timeout=300) as scout:
        scout.wait_until_ready(timeout=60)
        channel = grpc.insecure_channel(server.address)
        try:
            with ThreadPoolExecutor(max_workers=max(len(folders), 1)) as pool:
                results = list(pool.map(lambda f: run_dossier(scout, channel, f), folders))
        finally:
            channel.close()
    return results, time.monotonic() - started
