"""The runner reads documents through its isolated extractor (issue 17, items 1-2).

A document over a bound refuses StartResearch with FAILED_PRECONDITION, its
reason and the file's name; a replica that stops while a document is being
read answers UNAVAILABLE (retry elsewhere), kills the worker, and leaves no
run behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from scout_service.errors import FailedPrecondition, Unavailable
from scout_service.store import MemoryStore
from tests.support.hostile_docs import lying_docx, slow_pdf

from .support import FAST, make_runner, new_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(120)]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SETTINGS = replace(FAST, document_timeout_s=2.0, document_workers=1)


async def test_documents_over_a_bound_refuse_the_run() -> None:
    store = MemoryStore()
    runner = make_runner(store, settings=SETTINGS)
    try:
        for name, data, reason in (("slow.pdf", slow_pdf(), "DOCUMENT_TOO_SLOW"),
                                   ("bomb.docx", lying_docx(256), "DOCUMENT_TOO_LARGE")):
            session = await new_session(store, {name: data})
            with pytest.raises(FailedPrecondition) as info:
                await runner.start_research(session, request_id=None, file_names=[])
            assert info.value.reason == reason
            assert info.value.metadata == {"file_name": name}
            assert not (await store.list_runs(session.session_id, page_size=10)).items
        ok = await new_session(store, {"plan.pdf": (EXAMPLES / "fieldservice-saas.pdf")
                                       .read_bytes()})
        run = await runner.start_research(ok, request_id=None, file_names=[])
        assert run.file_names == ("plan.pdf",)
        assert runner.documents.killed == 1  # the slow PDF's worker, replaced for plan.pdf
    finally:
        await runner.shutdown(0.5)


async def test_shutdown_while_a_document_is_read_answers_unavailable() -> None:
    store = MemoryStore()
    runner = make_runner(store, settings=replace(SETTINGS, document_timeout_s=60))
    session = await new_session(store, {"slow.pdf": slow_pdf()})
    start = asyncio.ensure_future(runner.start_research(session, request_id=None, file_names=[]))
    while not runner.documents.worker_pids():
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    await runner.shutdown(0.5)
    with pytest.raises(Unavailable) as info:
        await start
    assert info.value.reason == "REPLICA_SHUTTING_DOWN"
    assert runner.documents.worker_pids() == []

