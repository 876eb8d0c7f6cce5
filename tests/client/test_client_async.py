"""AsyncScoutClient against the in-process fake: the same surface as ScoutClient."""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from scout.v1 import research_pb2, types_pb2
from scout_client import (
    AsyncScoutClient,
    DataLossError,
    ExportInfo,
    FailedPreconditionError,
    NotFoundError,
    UnavailableError,
)

from .fake_server import FakeScout, FakeServer

pytestmark = pytest.mark.timeout(30)

MiB = 1024 * 1024
Flow = Callable[[AsyncScoutClient], Awaitable[None]]


def run(server: FakeServer, flow: Flow) -> None:
    """Run `flow` with a client made inside the loop, with a deadline."""

    async def main() -> None:
        async with AsyncScoutClient(server.address, token="async") as scout:
            await flow(scout)

    asyncio.run(asyncio.wait_for(main(), 20))


def test_sessions(server: FakeServer, fake: FakeScout) -> None:
    async def flow(scout: AsyncScoutClient) -> None:
        created = await scout.create_session(labels={"a": "1"}, ttl=timedelta(hours=1))
        assert created.expire_time.seconds - created.create_time.seconds == 3600
        assert (await scout.get_session(created.session_id)) == created
        others = [(await scout.create_session()).session_id for _ in range(4)]
        page = await scout.list_sessions(page_size=2)
        assert len(page.sessions) == 2 and page.next_page_token
        walked = [s.session_id async for s in scout.iter_sessions(page_size=2)]
        assert sorted(walked) == sorted([created.session_id, *others])
        extended = await scout.extend_session(created.session_id, ttl=timedelta(days=2))
        assert extended.expire_time.seconds > created.expire_time.seconds
        await scout.delete_session(created.session_id)
        with pytest.raises(NotFoundError):
            await scout.get_session(created.session_id)

    run(server, flow)
    assert len(fake.create_request_ids[0]) == 36  # generated idempotency key


def test_files(server: FakeServer, fake: FakeScout, tmp_path: Path) -> None:
    blob = random.Random(11).randbytes(3 * MiB)
    path = tmp_path / "plan.md"
    path.write_text("# Plan\n" * 1000)

    async def pieces() -> AsyncIterator[bytes]:
        yield b"a" * (MiB + 10)  # re-chunked to at most 1 MiB per message
        yield b"b" * 5

    async def flow(scout: AsyncScoutClient) -> None:
        sid = (await scout.create_session()).session_id
        info = await scout.upload_file(sid, blob, file_name="blob.bin")
        assert info.sha256 == hashlib.sha256(blob).hexdigest()
        record = fake.uploads[-1]
        assert record.content == blob and record.messages == 4
        assert record.first is not None and record.first.size_bytes == 3 * MiB

        await scout.upload_file(sid, path)
        record = fake.uploads[-1]
        assert record.first is not None
        assert (record.first.file_name, record.first.content_type) == ("plan.md", "text/markdown")
        assert record.content == path.read_bytes()

        await scout.upload_file(sid, io.BytesIO(b"stream"), file_name="s.txt")
        await scout.upload_file(sid, pieces(), file_name="gen.bin")
        record = fake.uploads[-1]
        assert record.chunk_sizes == [MiB, 10, 5]
        assert record.first is not None and record.first.size_bytes == 0  # unknown

        page = await scout.list_files(sid)
        names = ["blob.bin", "gen.bin", "plan.md", "s.txt"]
        assert [f.file_name for f in page.files] == names
        assert [f.file_name async for f in scout.iter_files(sid, page_size=3)] == names

        assert await scout.download_file(sid, "blob.bin") == blob
        dest = tmp_path / "copy.bin"
        info = await scout.download_file(sid, "blob.bin", dest)
        assert dest.read_bytes() == blob and info.size_bytes == len(blob)
        fake.corrupt_sha256 = True
        with pytest.raises(DataLossError):
            await scout.download_file(sid, "blob.bin", tmp_path / "bad.bin")
        assert not (tmp_path / "bad.bin").exists()

    run(server, flow)


def test_upload_reader_failure_surfaces(server: FakeServer) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"first"
        raise OSError("source vanished")

    async def flow(scout: AsyncScoutClient) -> None:
        sid = (await scout.create_session()).session_id
        with pytest.raises(OSError, match="source vanished"):
            await scout.upload_file(sid, broken(), file_name="x.bin")
        with pytest.raises(ValueError, match="file_name"):
            await scout.upload_file(sid, broken())

    run(server, flow)


def test_reports_and_export(server: FakeServer, tmp_path: Path) -> None:
    async def flow(scout: AsyncScoutClient) -> None:
        sid = (await scout.create_session()).session_id
        stored = await scout.put_report(sid, "price", "# Price\n")
        assert stored.kind == types_pb2.REPORT_KIND_PRICE
        assert (await scout.get_report(sid, "price_report")).content == "# Price\n"
        assert [r.name for r in (await scout.list_reports(sid)).reports] == ["price_report"]
        assert [r.name async for r in scout.iter_reports(sid)] == ["price_report"]
        assert (await scout.export_reports(sid, "html")).startswith(b"[html]\n# Price")
        info = await scout.export_reports(sid, "pdf", tmp_path / "d.pdf")
        assert info == ExportInfo(f"scout-{sid}.pdf", "application/pdf", info.size_bytes)
        assert (tmp_path / "d.pdf").stat().st_size == info.size_bytes > 0

    run(server, flow)


def test_report_versions(server: FakeServer) -> None:
    async def flow(scout: AsyncScoutClient) -> None:
        sid = (await scout.create_session()).session_id
        await scout.put_report(sid, "price", "# Price v1\n")
        edited = await scout.put_report(sid, "price", "# Price, edited\n")
        assert edited.version == 2
        assert (await scout.get_report(sid, "price", version=1)).content == "# Price v1\n"
        assert (await scout.get_report(sid, "price")).version == 2
        page = await scout.list_report_versions(sid, "price")
        assert [r.version for r in page.versions] == [2, 1]
        assert [r.version async for r in scout.iter_report_versions(sid, "price", 1)] == [2, 1]

    run(server, flow)


def test_research(server: FakeServer, fake: FakeScout) -> None:
    async def flow(scout: AsyncScoutClient) -> None:
        sid = (await scout.create_session()).session_id
        started = await scout.start_research(sid, request_id="r1", file_names=["a.md"])
        assert (await scout.start_research(sid, request_id="r1")).run_id == started.run_id
        assert (await scout.get_run(sid, started.run_id)).file_names == ["a.md"]
        assert [r.run_id for r in (await scout.list_runs(sid)).runs] == [started.run_id]
        assert [r.run_id async for r in scout.iter_runs(sid)] == [started.run_id]
        events = [e async for e in scout.stream_progress(sid)]
        assert [e.sequence for e in events] == list(range(1, 23))
        assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED
        running = fake.add_run(sid, state=research_pb2.RUN_STATE_RUNNING)
        cancelled = await scout.cancel_run(sid, running.run_id)
        assert cancelled.state == research_pb2.RUN_STATE_CANCELLED
        with pytest.raises(FailedPreconditionError):
            await scout.cancel_run(sid, started.run_id)

    run(server, flow)


def test_retry_and_no_retry(server: FakeServer, fake: FakeScout) -> None:
    async def flow(scout: AsyncScoutClient) -> None:
        sid = (await scout.create_session()).session_id
        fake.fail("GetSession", grpc.StatusCode.UNAVAILABLE, times=2)
        assert (await scout.get_session(sid)).session_id == sid
        assert fake.calls["GetSession"] == 3
        fake.fail("DeleteSession", grpc.StatusCode.UNAVAILABLE)
        with pytest.raises(UnavailableError):
            await scout.delete_session(sid)
        assert fake.calls["DeleteSession"] == 1
        await scout.wait_until_ready(timeout=5)

    run(server, flow)
