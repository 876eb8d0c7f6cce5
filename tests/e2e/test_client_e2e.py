"""The generated client against a real server process, every method.

Also: a progress stream whose connection is cut again and again mid-run
(through a TCP proxy the test controls) resumes with no event lost or
repeated, and errors arrive as the right ``ScoutError`` subclass.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from scout.v1 import research_pb2, types_pb2
from scout_client import (
    AsyncScoutClient,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    ScoutClient,
    UnauthenticatedError,
)
from tests.support.proxy import TcpProxy
from tests.support.server import ROOT, TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

PLAN = ROOT / "examples" / "nordic-meal-kits.md"
TERMINAL = {research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED,
            research_pb2.PROGRESS_EVENT_TYPE_RUN_FAILED,
            research_pb2.PROGRESS_EVENT_TYPE_RUN_CANCELLED}


def test_every_client_method(shared_server: ServerProcess, tmp_path: Path) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        session = scout.create_session(labels={"team": "e2e"}, ttl=timedelta(hours=2),
                                       request_id="e2e-create-1")
        sid = session.session_id
        again = scout.create_session(labels={"team": "e2e"}, request_id="e2e-create-1")
        assert again.session_id == sid  # idempotent retry
        assert scout.get_session(sid).labels["team"] == "e2e"
        assert sid in {s.session_id for s in scout.iter_sessions()}
        assert sid in {s.session_id for s in scout.list_sessions(page_size=1000).sessions}
        before = scout.get_session(sid).expire_time.ToSeconds()
        extended = scout.extend_session(sid, ttl=timedelta(hours=5))
        assert extended.expire_time.ToSeconds() > before

        info = scout.upload_file(sid, PLAN)
        assert info.sha256 == hashlib.sha256(PLAN.read_bytes()).hexdigest()
        blob = bytes(random.Random(7).randbytes(3_000_000))
        scout.upload_file(sid, blob, file_name="appendix.bin")
        assert {f.file_name for f in scout.list_files(sid).files} == {PLAN.name, "appendix.bin"}
        assert [f.file_name for f in scout.iter_files(sid)] == sorted([PLAN.name, "appendix.bin"])
        assert scout.download_file(sid, "appendix.bin") == blob

        run = scout.start_research(sid, request_id="e2e-run-1", file_names=[PLAN.name])
        assert scout.start_research(sid, request_id="e2e-run-1").run_id == run.run_id
        events = list(scout.stream_progress(sid, run_id=run.run_id))
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED
        done = scout.get_run(sid, run.run_id)
        assert done.state == research_pb2.RUN_STATE_SUCCEEDED
        assert done.usage.total_tokens > 0 and len(done.agents) == 5
        assert [r.run_id for r in scout.list_runs(sid).runs] == [run.run_id]
        assert [r.run_id for r in scout.iter_runs(sid)] == [run.run_id]

        names = {r.name for r in scout.list_reports(sid).reports}
        assert names == {"market_report", "competition_report", "price_report",
                         "legal_report", "final_report"}
        assert len(list(scout.iter_reports(sid))) == 5
        market = scout.get_report(sid, "market")
        assert "offline" in market.content.lower()
        edited = scout.put_report(sid, "market", market.content + "\n\nEdited by a human.\n")
        assert edited.source == types_pb2.REPORT_SOURCE_CALLER and edited.author == "alice"
        assert scout.get_report(sid, "market").content.endswith("Edited by a human.\n")

        md = scout.export_reports(sid, "md")
        assert b"final_report" in md or b"Final report" in md
        html = scout.export_reports(sid, "html")
        assert html.lstrip().lower().startswith(b"<!doctype html")
        pdf = scout.export_reports(sid, "pdf")
        assert pdf.startswith(b"%PDF-")
        with zipfile.ZipFile(io.BytesIO(scout.export_reports(sid, "zip"))) as z:
            assert {"market_report.md", "final_report.md"} <= set(z.namelist())

        with pytest.raises(FailedPreconditionError):
            scout.cancel_run(sid, run.run_id)  # already finished
        scout.delete_session(sid)
        with pytest.raises(NotFoundError) as missing:
            scout.get_session(sid)
        assert missing.value.reason == "SESSION_NOT_FOUND"


def test_errors_are_typed(shared_server: ServerProcess) -> None:
    with ScoutClient(shared_server.address, token=TOKENS["alice"]) as scout:
        with pytest.raises(InvalidArgumentError) as bad:
            scout.get_session("not-a-uuid")
        assert "session_id" in bad.value.message
        with pytest.raises(NotFoundError):
            scout.get_report("0b7c4a1e-3f7e-4c8e-9d43-5d0c2f1b7a10", "final")
    with ScoutClient(shared_server.address, token="wrong") as scout:
        with pytest.raises(UnauthenticatedError) as unauth:
            scout.create_session()
        assert unauth.value.reason == "INVALID_TOKEN"


def test_async_client_flow(shared_server: ServerProcess) -> None:
    async def flow() -> None:
        async with AsyncScoutClient(shared_server.address, token=TOKENS["bob"]) as scout:
            session = await scout.create_session()
            await scout.upload_file(session.session_id, PLAN.read_bytes(), file_name="plan.md")
            run = await scout.start_research(session.session_id)
            seen = [e.sequence async for e in scout.stream_progress(session.session_id)]
            assert seen == list(range(1, len(seen) + 1))
            final = await scout.get_report(session.session_id, "final")
            assert final.run_id == run.run_id

    asyncio.run(asyncio.wait_for(flow(), 120))


def test_stream_resumes_through_repeated_cuts(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server({"SCOUT_OFFLINE_DELAY_MS": "40"})
    proxy = TcpProxy(server.port)
    rng = random.Random(1234)
    stop = threading.Event()

    def cutter() -> None:
        while not stop.wait(rng.uniform(0.2, 0.6)):
            proxy.cut()

    try:
        with ScoutClient(server.address, token=TOKENS["alice"]) as direct:
            sid = direct.create_session().session_id
            direct.upload_file(sid, PLAN)
            run = direct.start_research(sid)
            with ScoutClient(proxy.address, token=TOKENS["alice"]) as via_proxy:
                threading.Thread(target=cutter, daemon=True).start()
                started = time.monotonic()
                seen = list(via_proxy.stream_progress(sid, run_id=run.run_id,
                                                      max_reconnects=50))
                stop.set()
            full = list(direct.stream_progress(sid, run_id=run.run_id))
        assert time.monotonic() - started < 120
        assert proxy.cuts >= 3, "the run ended before the stream was cut enough"
        assert [e.sequence for e in seen] == [e.sequence for e in full]
        assert [(e.type, e.agent, e.display_message) for e in seen] == [
            (e.type, e.agent, e.display_message) for e in full]
        assert seen[-1].type in TERMINAL
    finally:
        stop.set()
        proxy.close()
