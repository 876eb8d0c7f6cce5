"""Errors arrive typed with their ErrorInfo; retries happen only where safe."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

import scout_client
from scout_client import (
    AsyncScoutClient,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    ScoutCancelledError,
    ScoutClient,
    ScoutError,
    UnauthenticatedError,
    UnavailableError,
    UnknownError,
    error_class,
    from_rpc_error,
)
from scout_client._channel import RETRIED_METHODS, channel_options, service_config

from .fake_server import FakeScout, FakeServer

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def scout(server: FakeServer) -> Iterator[ScoutClient]:
    with ScoutClient(server.address, token="s3cret") as client:
        yield client


class _FakeRpcError(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """A sync-style failed call, as grpc raises it."""

    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._trailers

    def initial_metadata(self) -> tuple:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: object) -> bool:
        return False


def test_every_status_code_has_its_own_class() -> None:
    codes = [code for code in grpc.StatusCode if code is not grpc.StatusCode.OK]
    classes = {error_class(code) for code in codes}
    assert len(classes) == len(codes) == 16
    assert all(issubclass(cls, ScoutError) for cls in classes)
    assert error_class(grpc.StatusCode.CANCELLED) is ScoutCancelledError
    assert not issubclass(ScoutCancelledError, asyncio.CancelledError)
    for cls in classes:
        assert getattr(scout_client, cls.__name__) is cls  # exported


def test_from_rpc_error_reads_error_info_from_the_trailer() -> None:
    packed = any_pb2.Any()
    packed.Pack(
        error_details_pb2.ErrorInfo(reason="TOO_BIG", domain="scout.v1", metadata={"limit": "25"})
    )
    status = status_pb2.Status(
        code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="file too big", details=[packed]
    )
    trailers = rpc_status.to_status(status).trailing_metadata
    error = from_rpc_error(
        _FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "file too big", trailers)
    )
    assert isinstance(error, ResourceExhaustedError)
    assert (error.code, error.message, error.reason, error.domain) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "file too big",
        "TOO_BIG",
        "scout.v1",
    )
    assert error.metadata == {"limit": "25"}
    assert len(error.details) == 1
    assert str(error) == "RESOURCE_EXHAUSTED: file too big"


def test_from_rpc_error_without_or_with_a_corrupt_trailer() -> None:
    plain = from_rpc_error(_FakeRpcError(grpc.StatusCode.UNAVAILABLE, "down"))
    assert isinstance(plain, UnavailableError)
    assert plain.reason is None and plain.metadata == {} and plain.details == ()
    corrupt = from_rpc_error(
        _FakeRpcError(grpc.StatusCode.INTERNAL, "boom", (("grpc-status-details-bin", b"\xff\xfe"),))
    )
    assert corrupt.code == grpc.StatusCode.INTERNAL and corrupt.reason is None
    bare = from_rpc_error(grpc.RpcError("no status"))
    assert isinstance(bare, UnknownError)


def test_server_errors_arrive_as_subclasses_with_reason(scout: ScoutClient) -> None:
    with pytest.raises(NotFoundError) as missing:
        scout.get_session("3b0e4a56-0000-4000-8000-000000000000")
    error = missing.value
    assert error.reason == "SESSION_NOT_FOUND"
    assert error.domain == "scout.v1"
    assert error.metadata == {"session_id": "3b0e4a56-0000-4000-8000-000000000000"}
    assert isinstance(error.__cause__, grpc.RpcError)
    assert "not found" in error.message


def test_injected_error_on_every_kind_of_rpc(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    scout.upload_file(sid, b"x", file_name="x.txt")
    run = scout.start_research(sid)
    cases = {
        "UploadFile": lambda: scout.upload_file(sid, b"abc", file_name="y.txt"),
        "DownloadFile": lambda: scout.download_file(sid, "x.txt"),
        "ExportReports": lambda: scout.export_reports(sid, "md"),
        "StreamProgress": lambda: list(scout.stream_progress(sid, run.run_id)),
        "CancelRun": lambda: scout.cancel_run(sid, run.run_id),
        "PutReport": lambda: scout.put_report(sid, "final", "x"),
    }
    for method, call in cases.items():
        fake.fail(method, grpc.StatusCode.INVALID_ARGUMENT, message=f"bad {method}", reason="BAD")
        with pytest.raises(InvalidArgumentError) as bad:
            call()
        assert (bad.value.message, bad.value.reason) == (f"bad {method}", "BAD")


def test_bearer_token_is_sent_on_every_call(scout: ScoutClient, fake: FakeScout) -> None:
    fake.required_token = "s3cret"
    sid = scout.create_session().session_id
    scout.upload_file(sid, b"data", file_name="d.bin")
    scout.download_file(sid, "d.bin")
    run = scout.start_research(sid)
    list(scout.stream_progress(sid, run.run_id))
    assert len(fake.metadata) == 5
    assert all(meta.get("authorization") == "Bearer s3cret" for _, meta in fake.metadata)


def test_wrong_or_missing_token_is_unauthenticated(server: FakeServer, fake: FakeScout) -> None:
    fake.required_token = "s3cret"
    with ScoutClient(server.address) as anonymous, pytest.raises(UnauthenticatedError) as err:
        anonymous.create_session()
    assert err.value.reason == "TOKEN"
    assert "authorization" not in fake.metadata[-1][1]


def test_async_client_sends_the_token_and_types_errors(server: FakeServer, fake: FakeScout) -> None:
    async def flow() -> None:
        async with AsyncScoutClient(server.address, token="async-t") as scout:
            await scout.create_session()
            with pytest.raises(NotFoundError) as missing:
                await scout.get_session("nope")
            assert missing.value.reason == "SESSION_NOT_FOUND"

    asyncio.run(asyncio.wait_for(flow(), 20))
    assert [meta["authorization"] for _, meta in fake.metadata] == ["Bearer async-t"] * 2


def test_idempotent_call_is_retried_on_unavailable(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    fake.fail("GetSession", grpc.StatusCode.UNAVAILABLE, times=2)
    assert scout.get_session(sid).session_id == sid
    assert fake.calls["GetSession"] == 3


def test_retries_give_up_after_four_attempts(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    fake.fail("ListFiles", grpc.StatusCode.UNAVAILABLE, times=10, message="store down")
    with pytest.raises(UnavailableError, match="store down"):
        scout.list_files(sid)
    assert fake.calls["ListFiles"] == 4


def test_only_unavailable_is_retried(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    fake.fail("GetSession", grpc.StatusCode.INTERNAL, times=2)
    with pytest.raises(scout_client.InternalError):
        scout.get_session(sid)
    assert fake.calls["GetSession"] == 1


def test_non_idempotent_call_is_not_retried(scout: ScoutClient, fake: FakeScout) -> None:
    sid = scout.create_session().session_id
    fake.fail("DeleteSession", grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(UnavailableError):
        scout.delete_session(sid)
    assert fake.calls["DeleteSession"] == 1
    fake.fail("UploadFile", grpc.StatusCode.UNAVAILABLE)
    with pytest.raises(UnavailableError):
        scout.upload_file(sid, b"abc", file_name="a.txt")
    assert fake.calls["UploadFile"] == 1


def test_retried_create_reuses_its_generated_request_id(
    scout: ScoutClient, fake: FakeScout
) -> None:
    fake.fail("CreateSession", grpc.StatusCode.UNAVAILABLE, times=1)
    scout.create_session()
    assert fake.calls["CreateSession"] == 2
    first, second = fake.create_request_ids
    assert first and first == second  # the retry carried the same idempotency key
    assert len(fake.sessions) == 1


def test_service_config_names_exactly_the_safe_methods() -> None:
    config = json.loads(service_config())
    (method_config,) = config["methodConfig"]
    assert method_config["retryPolicy"] == {
        "maxAttempts": 4,
        "initialBackoff": "0.2s",
        "maxBackoff": "3s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }
    names = {(n["service"].split(".")[-1], n["method"]) for n in method_config["name"]}
    assert ("SessionService", "DeleteSession") not in names
    assert ("SessionService", "UploadFile") not in names
    assert ("ResearchService", "CancelRun") not in names
    assert ("ResearchService", "StreamProgress") not in names
    for required in [
        ("SessionService", "GetSession"),
        ("SessionService", "ListSessions"),
        ("SessionService", "ListFiles"),
        ("SessionService", "ExtendSession"),
        ("SessionService", "CreateSession"),
        ("ReportService", "GetReport"),
        ("ReportService", "ListReports"),
        ("ReportService", "PutReport"),
        ("ResearchService", "GetRun"),
        ("ResearchService", "ListRuns"),
        ("ResearchService", "StartResearch"),
    ]:
        assert required in names
    assert sum(len(m) for m in RETRIED_METHODS.values()) == len(names)
    # gRPC's limits: 0 < maxTokens <= 1000, tokenRatio > 0 (three decimals at most).
    assert config["retryThrottling"] == {"maxTokens": 10, "tokenRatio": 0.1}


def test_channel_options() -> None:
    options = dict(channel_options([("grpc.keepalive_time_ms", 60_000)]))
    assert options["grpc.max_send_message_length"] == 16 * 1024 * 1024
    assert options["grpc.max_receive_message_length"] == 16 * 1024 * 1024
    assert options["grpc.keepalive_time_ms"] == 60_000  # caller's value wins
    assert options["grpc.keepalive_timeout_ms"] == 10_000
    assert options["grpc.keepalive_permit_without_calls"] == 0
    assert options["grpc.http2.max_pings_without_data"] == 0
    assert options["grpc.enable_retries"] == 1
    assert json.loads(options["grpc.service_config"])["methodConfig"]


def test_default_deadline_applies_and_is_overridable(server: FakeServer, fake: FakeScout) -> None:
    with ScoutClient(server.address, timeout=0.3) as scout:
        sid = scout.create_session().session_id
        fake.delays["GetSession"] = 1.0
        with pytest.raises(scout_client.DeadlineExceededError):
            scout.get_session(sid)
        assert scout.get_session(sid, timeout=5).session_id == sid
        assert scout.get_session(sid, timeout=None).session_id == sid
