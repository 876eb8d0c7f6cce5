"""Research briefs through the real server: grpcurl, the client and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scout.v1 import research_pb2, types_pb2
from scout_client import FailedPreconditionError, InvalidArgumentError, ScoutClient
from tests.e2e.test_grpcurl import _grpcurl, call
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

KINDS = ("market", "competition", "price", "legal", "final")


def _finish(scout: ScoutClient, sid: str, run_id: str) -> list[research_pb2.ProgressEvent]:
    events = list(scout.stream_progress(sid, run_id=run_id))
    assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED, events[-1]
    return events


def test_a_legal_only_rerun_through_grpcurl_keeps_the_other_reports_byte_identical(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "urban-ebike-rental.docx")
        _finish(scout, sid, scout.start_research(sid).run_id)
        before = {k: scout.get_report(sid, k) for k in KINDS}

        [started] = call(shared_server, "scout.v1.ResearchService/StartResearch", {
            "session_id": sid, "request_id": "legal-again",
            "brief": {"agents": ["REPORT_KIND_LEGAL"],
                      "questions": ["What does the Commuter Flex plan cost per month?"]}})
        run = started["run"]
        assert [a["kind"] for a in run["agents"]] == ["REPORT_KIND_LEGAL", "REPORT_KIND_FINAL"]
        assert run["brief"]["agents"] == ["REPORT_KIND_LEGAL"]
        events = _finish(scout, sid, run["runId"])
        assert "legal analyst is working" in events[0].display_message

        after = {k: scout.get_report(sid, k) for k in KINDS}
        for kind in ("market", "competition", "price"):
            assert after[kind].sha256 == before[kind].sha256, kind
        for kind in ("legal", "final"):
            assert after[kind].run_id == run["runId"] != before[kind].run_id
        final = after["final"].content
        section = final.split("## Answers to the brief's questions", 1)[1].split("\n## ", 1)[0]
        assert "### What does the Commuter Flex plan cost per month?" in section
        cited = {s.source_id: s for s in after["final"].sources}
        assert any("79" in cited[i].excerpt for i in cited if f"[{i}]" in section)

        # the same request_id returns the same run
        [again] = call(shared_server, "scout.v1.ResearchService/StartResearch", {
            "session_id": sid, "request_id": "legal-again",
            "brief": {"agents": ["REPORT_KIND_LEGAL"]}})
        assert again["run"]["runId"] == run["runId"]


@pytest.mark.parametrize("brief, field", [
    ({"language": "klingon"}, "brief.language"),
    ({"questions": [""]}, "brief.questions[0]"),
    ({"questions": [f"q{i}?" for i in range(11)]}, "brief.questions"),
    ({"agents": ["REPORT_KIND_LEGAL", "REPORT_KIND_LEGAL"]}, "brief.agents[1]"),
    ({"agents": ["REPORT_KIND_FINAL"]}, "brief.agents[0]"),
    ({"agents": [9]}, "brief.agents[0]"),
    ({"max_tokens": "0"}, "brief.max_tokens"),
])
def test_a_bad_brief_is_invalid_argument_naming_the_field(
        shared_server: ServerProcess, brief: dict[str, object], field: str) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, b"# Plan\n\nWe sell bikes for EUR 79 per month.\n",
                          file_name="plan.md")
        done = _grpcurl(shared_server, "scout.v1.ResearchService/StartResearch",
                        data=json.dumps({"session_id": sid, "brief": brief}))
        assert done.returncode != 0 and "InvalidArgument" in done.stderr
        assert field in done.stderr
        assert list(scout.iter_runs(sid)) == []


def test_the_client_and_cli_send_a_brief_and_web_search_needs_a_provider(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "nordic-meal-kits.md")
        with pytest.raises(InvalidArgumentError) as refused:
            scout.start_research(sid, language="en_US")
        assert "brief.language" in str(refused.value)
        with pytest.raises(FailedPreconditionError) as no_web:
            scout.start_research(sid, web_search=True)
        assert "SCOUT_WEB_SEARCH_PROVIDER" in str(no_web.value)

        env = {"SCOUT_ADDRESS": shared_server.address, "SCOUT_TOKEN": TOKENS["alice"],
               "PATH": "/usr/bin:/bin"}
        started = subprocess.run(
            [sys.executable, "-m", "scout_client.cli", "research", sid, "--json",
             "--question", "What does a box cost?", "--lang", "de", "--agents", "market,price"],
            env=env, capture_output=True, text=True, timeout=60, check=True)
        run = json.loads(started.stdout)
        assert run["brief"]["language"] == "de"
        assert run["brief"]["questions"] == ["What does a box cost?"]
        assert [a["kind"] for a in run["agents"]] == [
            "REPORT_KIND_MARKET", "REPORT_KIND_PRICE", "REPORT_KIND_FINAL"]
        _finish(scout, sid, run["run_id"])
        market = scout.get_report(sid, types_pb2.REPORT_KIND_MARKET).content
        assert "the language `de`: the offline analyser cannot translate" in market
