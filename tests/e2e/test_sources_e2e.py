"""Sources and verified citations through the real server: grpcurl, the client, exports."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from scout.v1 import research_pb2, types_pb2
from scout_client import InvalidArgumentError, ScoutClient
from tests.e2e.test_grpcurl import _grpcurl, call
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

STUDY = (b"# Market study note (2025)\n\n## Market size\n\nIndependent analysts put the "
         b"Swedish meal-kit market at EUR 355 million in 2025, growing 11 % a year.\n")


def test_reports_cite_sources_of_both_files_that_list_sources_resolves(
        shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        sid = scout.create_session().session_id
        scout.upload_file(sid, ROOT / "examples" / "urban-ebike-rental.docx")
        scout.upload_file(sid, STUDY, file_name="study.md")
        run = scout.start_research(sid)
        events = list(scout.stream_progress(sid, run_id=run.run_id))
        assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED
        assert any(e.display_message.startswith("Searching the documents for") for e in events)

        # grpcurl: ListSources of the latest run (run_id left empty)
        [page] = call(shared_server, "scout.v1.ReportService/ListSources",
                      {"session_id": sid, "page_size": 1000})
        assert page["runId"] == run.run_id
        listed = {s["sourceId"]: s for s in page["sources"]}
        assert {s["fileName"] for s in listed.values()} == {"urban-ebike-rental.docx",
                                                           "study.md"}
        cited_files = set()
        for kind in ("market", "competition", "price", "legal", "final"):
            report = scout.get_report(sid, kind)
            assert report.sources_run_id == run.run_id
            ids = re.findall(r"\[(S\d+)\]", report.content)
            assert ids and {s.source_id for s in report.sources} == set(ids)
            for source in report.sources:
                assert listed[source.source_id]["excerpt"] == source.excerpt
                cited_files.add(source.file_name)
        assert cited_files == {"urban-ebike-rental.docx", "study.md"}
        assert len(list(scout.iter_sources(sid, run.run_id, page_size=3))) == len(listed)

        # a caller's edit goes through the same check
        with pytest.raises(InvalidArgumentError) as refused:
            scout.put_report(sid, "market", "# Market\n\nHuge [S9999].\n")
        assert "S9999" in str(refused.value)
        assert "S9999" not in scout.get_report(sid, "market").content
        first = sorted(listed, key=lambda i: int(i[1:]))[0]
        words = " ".join(listed[first]["excerpt"].split()[:6])
        edited = scout.put_report(sid, "market", f'# Market\n\nAs stated, "{words}" [{first}].\n')
        assert edited.source == types_pb2.REPORT_SOURCE_CALLER
        stored = scout.get_report(sid, "market")
        assert stored.content.rstrip().splitlines()[-1].startswith(f"- [{first}] ")
        misquote = _grpcurl(shared_server, "scout.v1.ReportService/PutReport", data=json.dumps(
            {"session_id": sid, "kind": "REPORT_KIND_PRICE",
             "content": f'"a sentence nobody wrote" [{first}]'}))
        assert misquote.returncode != 0 and "InvalidArgument" in misquote.stderr

        archive = zipfile.ZipFile(io.BytesIO(scout.export_reports(sid, "zip")))
        exported = json.loads(archive.read("sources.json"))["sources"]
        assert {s["source_id"] for s in exported} <= set(listed) and exported
        html = scout.export_reports(sid, "html").decode()
        assert f'href="#final_report-{first}"' in html or 'class="cite"' in html
        assert re.search(r'<li id="final_report-S\d+">', html)
