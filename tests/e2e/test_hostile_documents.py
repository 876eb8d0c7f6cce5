"""Hostile documents through a real server (issue 17, items 1 and 2).

StartResearch on a session holding the 1 GB lying .docx or the slow PDF
answers FAILED_PRECONDITION with the reason naming the bound and the file
in the metadata, while GetSession calls on the same replica keep being
answered; the server's peak RSS (``VmHWM``) stays within 512 MB of what it
was before. Afterwards an ordinary PDF still starts a run (the killed
worker was replaced). Latency itself is measured by ``make bench``, not
asserted here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from scout_client import AsyncScoutClient
from scout_client.errors import FailedPreconditionError
from tests.support.hostile_docs import MIB, lying_docx, slow_pdf
from tests.support.server import TOKENS, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180), pytest.mark.anyio]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _memory_kib(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return {line.split(":")[0]: int(line.split()[1]) for line in status
                if line.startswith(("VmRSS:", "VmHWM:"))}


async def test_hostile_documents_answer_their_bound_and_the_replica_keeps_serving(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server({"SCOUT_DOCUMENT_TIMEOUT_S": "3", "SCOUT_DOCUMENT_WORKERS": "1"})
    assert server.proc is not None
    async with AsyncScoutClient(server.address, token=TOKENS["alice"]) as scout:
        slow = (await scout.create_session()).session_id
        await scout.upload_file(slow, slow_pdf(), file_name="slow.pdf")
        bomb = (await scout.create_session()).session_id
        await scout.upload_file(bomb, lying_docx(inflated_mib=1024), file_name="bomb.docx")
        probe = (await scout.create_session()).session_id
        before = _memory_kib(server.proc.pid)

        answered = 0
        stop = asyncio.Event()

        async def keep_asking() -> None:
            nonlocal answered
            while not stop.is_set():
                await scout.get_session(probe, timeout=10)
                answered += 1
                await asyncio.sleep(0.01)

        prober = asyncio.create_task(keep_asking())
        errors: dict[str, FailedPreconditionError] = {}
        for name, sid in (("slow.pdf", slow), ("bomb.docx", bomb)):
            with pytest.raises(FailedPreconditionError) as info:
                await scout.start_research(sid, timeout=60)
            errors[name] = info.value
        stop.set()
        await prober  # any failed or timed-out GetSession raises here
        after = _memory_kib(server.proc.pid)

        assert errors["slow.pdf"].reason == "DOCUMENT_TOO_SLOW"
        assert "SCOUT_DOCUMENT_TIMEOUT_S" in errors["slow.pdf"].message
        assert errors["bomb.docx"].reason == "DOCUMENT_TOO_LARGE"
        for name, error in errors.items():
            assert error.metadata["file_name"] == name
        assert answered > 0
        assert after["VmHWM"] * 1024 <= max(before["VmHWM"] * 1024,
                                            before["VmRSS"] * 1024 + 512 * MIB)

        good = (await scout.create_session()).session_id
        await scout.upload_file(good, (EXAMPLES / "fieldservice-saas.pdf").read_bytes(),
                                file_name="plan.pdf")
        run = await scout.start_research(good, timeout=60)
        await scout.cancel_run(good, run.run_id)
