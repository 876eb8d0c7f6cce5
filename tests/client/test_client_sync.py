"""ScoutClient against the in-process fake: every method through a real channel."""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from scout.v1 import report_pb2, research_pb2, types_pb2
from scout_client import (
    DataLossError,
    ExportInfo,
    FailedPreconditionError,
    NotFoundError,
    ScoutClient,
)

from .fake_server import FakeScout, FakeServer

pytestmark = pytest.mark.timeout(30)

MiB = 1024 * 1024


@pytest.fixture
def scout(server: FakeServer) -> Iterator[ScoutClient]:
    with ScoutClient(server.address, token="s3cret") as client:
        yield client


def test_sessions_round_trip(scout: ScoutClient, fake: FakeScout) -> None:
    created = scout.create_session(labels={"team": "growth"}, ttl=timedelta(hours=2))
    assert created.labels["team"] == "growth"
    assert created.expire_time.seconds - created.create_time.seconds == 7200

    fetched = scout.get_session(created.session_id)
    assert fetched == created

    extended = scout.extend_session(created.session_id, ttl=timedelta(hours=48))
    assert extended.expire_time.seconds >= created.expire_time.seconds + 46 * 3600

    scout.delete_session(created.session_id)
    with pytest.raises(NotFoundError):
        scout.get_session(created.session_id)


def test_create_session_always_sends_a_request_id(scout: ScoutClient, fake: FakeScout) -> None:
    scout.create_session()
    scout.create_session(request_id="mine-1")
    generated, given = fake.create_request_ids
    assert len(generated) == 36 and generated.count("-") == 4  # a UUID
    assert given == "mine-1"
    again = scout.create_session(request_id="mine-1")
    assert len(fake.sessions) == 2  # the repeat returned the first session
    assert again.session_id == fake.request_ids["session:mine-1"].session_id


def test_list_and_iter_sessions_walk_every_page(scout: ScoutClient) -> None:
    ids = [scout.create_session().session_id for _ in range(7)]
    first = scout.list_sessions(page_size=3)
    assert len(first.sessions) == 3 and first.next_page_token
    second = scout.list_sessions(page_size=3, page_token=first.next_page_token)
    assert {s.session_id for s in second.sessions}.isdisjoint(
        {s.session_id for s in first.sessions}
    )
    walked = [s.session_id for s in scout.iter_sessions(page_size=2)]
    assert sorted(walked) == sorted(ids) and len(walked) == 7


def test_upload_streams_metadata_then_chunks(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    blob = random.Random(3).randbytes(3 * MiB)
    info = scout.upload_file(sid, blob, file_name="appendix.bin")

    record = fake.uploads[-1]
    assert record.content == blob  # byte-identical
    assert record.first is not None
    assert record.first.session_id == sid
    assert record.first.file_name == "appendix.bin"
    assert record.first.content_type == "application/octet-stream"
    assert record.first.size_bytes == 3 * MiB
    assert record.first.chunk == b""  # metadata first, bytes after
    assert record.messages == 1 + 3  # 1 MiB per chunk
    assert record.chunk_sizes == [MiB, MiB, MiB]
    assert info.sha256 == hashlib.sha256(blob).hexdigest()
    assert info.size_bytes == len(blob)


def test_upload_from_path_guesses_name_and_type(
    scout: ScoutClient, fake: FakeScout, tmp_path: Path
) -> None:
    sid = scout.create_session().session_id
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(b"%PDF-1.7\n" + b"x" * 2_500_000)
    info = scout.upload_file(sid, plan, chunk_size=512 * 1024)
    record = fake.uploads[-1]
    assert record.first is not None
    assert (record.first.file_name, record.first.content_type) == ("plan.pdf", "application/pdf")
    assert record.first.size_bytes == plan.stat().st_size
    assert record.messages == 1 + 5  # ceil(2.5 MB / 512 KiB)
    assert record.content == plan.read_bytes()
    assert info.file_name == "plan.pdf"


def test_upload_from_file_object_and_markdown_type(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    stream = io.BytesIO(b"skip# Plan\n\nSell meal kits.\n")
    stream.seek(4)  # uploads from the current position
    info = scout.upload_file(sid, stream, file_name="plan.md")
    record = fake.uploads[-1]
    assert record.first is not None and record.first.content_type == "text/markdown"
    assert record.first.size_bytes == len(b"# Plan\n\nSell meal kits.\n")
    assert record.content == b"# Plan\n\nSell meal kits.\n"
    assert info.size_bytes == record.first.size_bytes


def test_upload_of_a_missing_file_fails_before_any_rpc(
    scout: ScoutClient, fake: FakeScout, tmp_path: Path
) -> None:
    sid = scout.create_session().session_id
    with pytest.raises(FileNotFoundError):
        scout.upload_file(sid, tmp_path / "nope.pdf")
    assert fake.calls["UploadFile"] == 0


def test_upload_keeps_the_reader_error(scout: ScoutClient, fake: FakeScout) -> None:
    class Broken(io.RawIOBase):
        name = "broken.bin"

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            raise OSError("disk on fire")

    sid = scout.create_session().session_id
    with pytest.raises(OSError, match="disk on fire"):
        scout.upload_file(sid, Broken())  # type: ignore[arg-type]


def test_files_list_download_and_integrity(
    scout: ScoutClient, fake: FakeScout, tmp_path: Path
) -> None:
    sid = scout.create_session().session_id
    blob = random.Random(5).randbytes(1_000_001)
    scout.upload_file(sid, blob, file_name="b.bin")
    scout.upload_file(sid, b"tiny", file_name="a.txt")
    assert [f.file_name for f in scout.list_files(sid).files] == ["a.txt", "b.bin"]
    assert [f.file_name for f in scout.iter_files(sid, page_size=1)] == ["a.txt", "b.bin"]

    assert scout.download_file(sid, "b.bin") == blob
    dest = tmp_path / "out.bin"
    info = scout.download_file(sid, "b.bin", dest)
    assert dest.read_bytes() == blob and info.sha256 == hashlib.sha256(blob).hexdigest()
    sink = io.BytesIO()
    scout.download_file(sid, "a.txt", sink)
    assert sink.getvalue() == b"tiny"

    fake.corrupt_sha256 = True
    with pytest.raises(DataLossError) as lost:
        scout.download_file(sid, "b.bin")
    assert lost.value.reason == "CHECKSUM_MISMATCH"
    corrupt = tmp_path / "corrupt.bin"
    with pytest.raises(DataLossError):
        scout.download_file(sid, "b.bin", corrupt)
    assert not corrupt.exists() and not (tmp_path / "corrupt.bin.part").exists()


def test_reports_round_trip(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    stored = scout.put_report(sid, "market", "# Market\n\nBig.\n")
    assert stored.kind == types_pb2.REPORT_KIND_MARKET and stored.name == "market_report"
    assert stored.content == ""  # PutReport returns metadata only
    for kind in ("market", "market_report", "REPORT_KIND_MARKET", types_pb2.REPORT_KIND_MARKET, 1):
        assert scout.get_report(sid, kind).content == "# Market\n\nBig.\n"
    scout.put_report(sid, types_pb2.REPORT_KIND_FINAL, "# Final\n", request_id="edit-1")
    assert [r.name for r in scout.list_reports(sid).reports] == ["market_report", "final_report"]
    assert [r.name for r in scout.iter_reports(sid, page_size=1)] == [
        "market_report",
        "final_report",
    ]
    with pytest.raises(ValueError, match="unknown report kind"):
        scout.get_report(sid, "marketing")
    with pytest.raises(NotFoundError):
        scout.get_report(sid, "legal")


def test_report_versions(scout: ScoutClient) -> None:
    sid = scout.create_session().session_id
    first = scout.put_report(sid, "legal", "# Legal v1\n")
    second = scout.put_report(sid, "legal", "# Legal, edited\n")
    assert (first.version, second.version) == (1, 2)
    assert scout.get_report(sid, "legal").content == "# Legal, edited\n"
    assert scout.get_report(sid, "legal", version=1).content == "# Legal v1\n"
    page = scout.list_report_versions(sid, "legal", page_size=1)
    assert [r.version for r in page.versions] == [2] and page.next_page_token
    assert [(r.version, r.content) for r in scout.iter_report_versions(sid, "legal", 1)] == [
        (2, ""), (1, "")]
    with pytest.raises(NotFoundError):
        scout.get_report(sid, "legal", version=3)
    with pytest.raises(ValueError, match="version"):
        scout.get_report(sid, "legal", version=-1)


def test_export_to_bytes_and_to_a_file(scout: ScoutClient, tmp_path: Path) -> None:
    sid = scout.create_session().session_id
    scout.put_report(sid, "final", "# Final\n")
    markdown = scout.export_reports(sid, "md")
    assert markdown.startswith(b"[md]\n# Final")
    assert scout.export_reports(sid, report_pb2.EXPORT_FORMAT_PDF).startswith(b"[pdf]")
    dest = tmp_path / "dossier.zip"
    info = scout.export_reports(sid, "zip", dest)
    assert info == ExportInfo(f"scout-{sid}.zip", "application/zip", dest.stat().st_size)
    assert dest.read_bytes().startswith(b"[zip]")


def test_research_runs(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    run = scout.start_research(sid, request_id="run-1", file_names=["plan.md"])
    assert run.request_id == "run-1" and list(run.file_names) == ["plan.md"]
    assert scout.start_research(sid, request_id="run-1").run_id == run.run_id
    generated = scout.start_research(sid)
    assert len(generated.request_id) == 36  # the client made one up
    assert scout.get_run(sid, run.run_id).state == research_pb2.RUN_STATE_SUCCEEDED
    listed = [r.run_id for r in scout.list_runs(sid).runs]
    assert listed == [generated.run_id, run.run_id]
    assert [r.run_id for r in scout.iter_runs(sid, page_size=1)] == listed

    running = fake.add_run(sid, state=research_pb2.RUN_STATE_RUNNING)
    assert scout.cancel_run(sid, running.run_id).state == research_pb2.RUN_STATE_CANCELLED
    with pytest.raises(FailedPreconditionError) as ended:
        scout.cancel_run(sid, run.run_id)
    assert ended.value.reason == "RUN_ENDED"


def test_stream_progress_plain(scout: ScoutClient) -> None:
    sid = scout.create_session().session_id
    run = scout.start_research(sid)
    events = list(scout.stream_progress(sid, run.run_id))
    assert [e.sequence for e in events] == list(range(1, 23))
    assert events[-1].type == research_pb2.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    tail = list(scout.stream_progress(sid, run.run_id, after_sequence=20))
    assert [e.sequence for e in tail] == [21, 22]


def test_wait_until_ready(server: FakeServer) -> None:
    with ScoutClient(server.address) as client:
        client.wait_until_ready(timeout=5)
