"""Report versions through the real server: the client, grpcurl and the bound."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator

import pytest

from scout.v1 import research_pb2
from scout_client import InvalidArgumentError, NotFoundError, ScoutClient
from tests.e2e.test_grpcurl import _grpcurl, call
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

EDIT = "# Legal review\n\nEdited by counsel: the rental contract needs a deposit clause.\n"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _finish(scout: ScoutClient, sid: str, run_id: str) -> None:
    events = list(scout.stream_progress(sid, run_id=run_id))
    assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED, events[-1]


def test_an_edit_before_a_rerun_stays_readable_as_an_earlier_version(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "urban-ebike-rental.docx")
        first_run = scout.start_research(sid).run_id
        _finish(scout, sid, first_run)
        agent_v1 = scout.get_report(sid, "legal")
        assert agent_v1.version == 1 and agent_v1.sources  # it cites what it read

        edited = scout.put_report(sid, "legal", EDIT)
        assert edited.version == 2
        rerun = scout.start_research(sid, agents=["legal"]).run_id
        _finish(scout, sid, rerun)

        latest = scout.get_report(sid, "legal")
        assert (latest.version, latest.run_id) == (3, rerun)
        kept = scout.get_report(sid, "legal", version=2)
        assert (kept.content, kept.sha256, kept.author) == (EDIT, _sha(EDIT), "alice")
        assert kept.run_id == "" and kept.version == 2
        old = scout.get_report(sid, "legal", version=1)
        assert (old.content, old.sha256, old.run_id) == (
            agent_v1.content, agent_v1.sha256, first_run)
        # An old version keeps its own citations and the run they belong to.
        assert old.sources_run_id == first_run
        assert [s.source_id for s in old.sources] == [s.source_id for s in agent_v1.sources]

        listed = list(scout.iter_report_versions(sid, "legal", page_size=2))
        assert [(r.version, r.sha256) for r in listed] == [
            (3, latest.sha256), (2, _sha(EDIT)), (1, agent_v1.sha256)]
        assert [r.version for r in scout.iter_report_versions(sid, "final")] == [2, 1]
        assert [r.version for r in scout.iter_report_versions(sid, "market")] == [1]
        # Lists and exports read the latest version.
        reports = {r.name: r.version for r in scout.iter_reports(sid)}
        assert reports["legal_report"] == 3 and reports["market_report"] == 1
        exported = scout.export_reports(sid, "md").decode()
        assert latest.content.strip().splitlines()[-1] in exported
        assert "Edited by counsel" not in exported

        with pytest.raises(NotFoundError) as missing:
            scout.get_report(sid, "legal", version=4)
        assert missing.value.reason == "REPORT_VERSION_NOT_FOUND"
        assert missing.value.metadata["stored_versions"] == "1,2,3"


def test_versions_through_grpcurl(shared_server: ServerProcess) -> None:
    [created] = call(shared_server, "scout.v1.SessionService/CreateSession", {})
    sid = created["session"]["sessionId"]
    for text in ("# Price v1\n", "# Price v2, edited\n"):
        call(shared_server, "scout.v1.ReportService/PutReport",
             {"session_id": sid, "kind": "REPORT_KIND_PRICE", "content": text})

    [listed] = call(shared_server, "scout.v1.ReportService/ListReportVersions",
                    {"session_id": sid, "kind": "REPORT_KIND_PRICE"})
    assert [(v["version"], v["sha256"]) for v in listed["versions"]] == [
        ("2", _sha("# Price v2, edited\n")), ("1", _sha("# Price v1\n"))]
    [paged] = call(shared_server, "scout.v1.ReportService/ListReportVersions",
                   {"session_id": sid, "kind": "REPORT_KIND_PRICE", "page_size": 1})
    assert [v["version"] for v in paged["versions"]] == ["2"] and paged["nextPageToken"]

    [old] = call(shared_server, "scout.v1.ReportService/GetReport",
                 {"session_id": sid, "kind": "REPORT_KIND_PRICE", "version": 1})
    assert old["report"]["content"] == "# Price v1\n" and old["report"]["version"] == "1"
    [latest] = call(shared_server, "scout.v1.ReportService/GetReport",
                    {"session_id": sid, "kind": "REPORT_KIND_PRICE"})
    assert latest["report"]["version"] == "2"

    bad = _grpcurl(shared_server, "scout.v1.ReportService/GetReport", data=json.dumps(
        {"session_id": sid, "kind": "REPORT_KIND_PRICE", "version": -1}))
    assert bad.returncode != 0 and "InvalidArgument" in bad.stderr and "version" in bad.stderr
    gone = _grpcurl(shared_server, "scout.v1.ReportService/GetReport", data=json.dumps(
        {"session_id": sid, "kind": "REPORT_KIND_PRICE", "version": 9}))
    assert gone.returncode != 0 and "NotFound" in gone.stderr
    assert "versions 1-2 are stored" in gone.stderr
    unknown_kind = _grpcurl(shared_server, "scout.v1.ReportService/ListReportVersions",
                            data=json.dumps({"session_id": sid}))
    assert unknown_kind.returncode != 0 and "InvalidArgument" in unknown_kind.stderr
    with ScoutClient(shared_server.address, token=TOKENS["bob"]) as bob:
        with pytest.raises(NotFoundError):  # someone else's session
            bob.list_report_versions(sid, "price")


def test_an_edit_before_a_rerun_through_grpcurl(shared_server: ServerProcess) -> None:
    [created] = call(shared_server, "scout.v1.SessionService/CreateSession", {})
    sid = created["session"]["sessionId"]
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        scout.upload_file(sid, ROOT / "examples" / "nordic-meal-kits.md")
        _finish(scout, sid, scout.start_research(sid).run_id)
        [stored] = call(shared_server, "scout.v1.ReportService/PutReport",
                        {"session_id": sid, "kind": "REPORT_KIND_LEGAL", "content": EDIT})
        assert stored["report"]["version"] == "2"
        [started] = call(shared_server, "scout.v1.ResearchService/StartResearch", {
            "session_id": sid, "brief": {"agents": ["REPORT_KIND_LEGAL"]}})
        _finish(scout, sid, started["run"]["runId"])
    [kept] = call(shared_server, "scout.v1.ReportService/GetReport",
                  {"session_id": sid, "kind": "REPORT_KIND_LEGAL", "version": 2})
    assert kept["report"]["content"] == EDIT and kept["report"]["sha256"] == _sha(EDIT)
    [latest] = call(shared_server, "scout.v1.ReportService/GetReport",
                    {"session_id": sid, "kind": "REPORT_KIND_LEGAL"})
    assert latest["report"]["version"] == "3"
    assert latest["report"]["runId"] == started["run"]["runId"]


@pytest.fixture(scope="module")
def bounded_server(dynamodb_endpoint: str) -> Iterator[ServerProcess]:
    """A replica that keeps two versions per report."""
    server = ServerProcess(dynamodb_endpoint, f"scout-e2e-{uuid.uuid4().hex[:10]}",
                           {"SCOUT_MAX_REPORT_VERSIONS": "2"}).start()
    yield server
    server.stop(timeout=20)


def test_versions_past_the_bound_are_pruned(bounded_server: ServerProcess) -> None:
    big = "# Market\n\n" + "Chunked text. " * 40_000  # ~560 KB: chunked blobs
    with ScoutClient(bounded_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        texts = [big + "v1\n", "# Market v2\n", big + "v3\n"]
        for text in texts:
            scout.put_report(sid, "market", text)
        assert [r.version for r in scout.iter_report_versions(sid, "market")] == [3, 2]
        assert scout.get_report(sid, "market", version=2).content == texts[1]
        assert scout.get_report(sid, "market", version=3).sha256 == _sha(texts[2])
        with pytest.raises(NotFoundError) as pruned:
            scout.get_report(sid, "market", version=1)
        assert pruned.value.reason == "REPORT_VERSION_NOT_FOUND"
        assert "versions 2-3 are stored" in pruned.value.message
        with pytest.raises(InvalidArgumentError):
            scout.list_report_versions(sid, "market", page_size=-1)
        scout.delete_session(sid)
        with pytest.raises(NotFoundError):
            scout.get_report(sid, "market", version=2)
