"""Malformed input to every RPC gets its exact status code and changes nothing.

The table below is the contract for bad input: each row sends one malformed
request through a real channel to a real server process and names the status
code it must get. Afterwards the DynamoDB table must hold exactly what it held
before (compared item by item through a raw scan).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import grpc
import pytest
from google.protobuf import duration_pb2

from scout.v1 import (
    report_pb2,
    report_pb2_grpc,
    research_pb2,
    research_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
    types_pb2,
)
from tests.support.server import TOKENS, ServerProcess

pytestmark = pytest.mark.e2e

C = grpc.StatusCode
UNKNOWN_ID = "0b7c4a1e-3f7e-4c8e-9d43-5d0c2f1b7a10"


class Api:
    """Generated stubs on one channel, calling as one principal."""

    def __init__(self, address: str, who: str) -> None:
        self.channel = grpc.insecure_channel(
            address, options=[("grpc.max_send_message_length", 32 * 1024 * 1024)]
        )
        self.md = (("authorization", f"Bearer {TOKENS[who]}"),)
        self.sessions = session_pb2_grpc.SessionServiceStub(self.channel)
        self.reports = report_pb2_grpc.ReportServiceStub(self.channel)
        self.research = research_pb2_grpc.ResearchServiceStub(self.channel)

    def call(self, fn: Callable[..., Any], request: Any) -> Any:
        result = fn(request, metadata=self.md, timeout=30)
        if hasattr(result, "__iter__") and not hasattr(result, "ListFields"):
            return list(result)
        return result


def _scan(endpoint: str, table: str) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="eu-north-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["session_id"]["S"], i["sk"]["S"]))


@pytest.fixture(scope="module")
def world(dynamodb_endpoint: str) -> Iterator[dict[str, Any]]:
    """A server, a session of alice's with a file and a report, one of bob's, one empty."""
    table = f"scout-bad-{uuid.uuid4().hex[:8]}"
    server = ServerProcess(dynamodb_endpoint, table, {"SCOUT_MAX_REPORT_MB": "0.25",
                                                      "SCOUT_MAX_FILE_MB": "1"}).start()
    alice, bob = Api(server.address, "alice"), Api(server.address, "bob")
    s = alice.call(alice.sessions.CreateSession, session_pb2.CreateSessionRequest()).session
    empty = alice.call(alice.sessions.CreateSession, session_pb2.CreateSessionRequest()).session
    b = bob.call(bob.sessions.CreateSession, session_pb2.CreateSessionRequest()).session
    alice.sessions.UploadFile(iter([
        session_pb2.UploadFileRequest(session_id=s.session_id, file_name="plan.md",
                                      content_type="text/markdown"),
        session_pb2.UploadFileRequest(chunk=b"# Plan\n\nWe sell meal kits for 59 EUR.\n"),
    ]), metadata=alice.md, timeout=30)
    alice.call(alice.reports.PutReport, report_pb2.PutReportRequest(
        session_id=s.session_id, kind=types_pb2.REPORT_KIND_MARKET, content="# Market\n\nok"))
    yield {"server": server, "alice": alice, "bob": bob, "s": s.session_id,
           "empty": empty.session_id, "b": b.session_id, "endpoint": dynamodb_endpoint,
           "table": table}
    server.stop()


def _upload(*messages: session_pb2.UploadFileRequest) -> Callable[[Api], Any]:
    return lambda api: api.sessions.UploadFile(iter(messages), metadata=api.md, timeout=30)


def cases(s: str, empty: str, b: str) -> list[tuple[str, Callable[[Api], Any], grpc.StatusCode]]:
    """(name, call as alice, expected code) for every RPC."""
    sp, rp, rs = session_pb2, report_pb2, research_pb2
    K = types_pb2

    def u(fn_name: str, stub: str, req: Any) -> Callable[[Api], Any]:
        return lambda api: api.call(getattr(getattr(api, stub), fn_name), req)

    big_ttl = duration_pb2.Duration(seconds=10**9)
    return [
        ("CreateSession bad label", u("CreateSession", "sessions",
         sp.CreateSessionRequest(labels={"Bad Key": "x"})), C.INVALID_ARGUMENT),
        ("CreateSession negative ttl", u("CreateSession", "sessions",
         sp.CreateSessionRequest(ttl=duration_pb2.Duration(seconds=-5))), C.INVALID_ARGUMENT),
        ("CreateSession huge ttl", u("CreateSession", "sessions",
         sp.CreateSessionRequest(ttl=big_ttl)), C.INVALID_ARGUMENT),
        ("CreateSession long request_id", u("CreateSession", "sessions",
         sp.CreateSessionRequest(request_id="r" * 200)), C.INVALID_ARGUMENT),
        ("GetSession empty id", u("GetSession", "sessions", sp.GetSessionRequest()),
         C.INVALID_ARGUMENT),
        ("GetSession not a uuid", u("GetSession", "sessions",
         sp.GetSessionRequest(session_id="../../etc")), C.INVALID_ARGUMENT),
        ("GetSession unknown", u("GetSession", "sessions",
         sp.GetSessionRequest(session_id=UNKNOWN_ID)), C.NOT_FOUND),
        ("GetSession of another principal", u("GetSession", "sessions",
         sp.GetSessionRequest(session_id=b)), C.NOT_FOUND),
        ("ListSessions page_size 1e9", u("ListSessions", "sessions",
         sp.ListSessionsRequest(page_size=10**9)), C.INVALID_ARGUMENT),
        ("ListSessions negative page_size", u("ListSessions", "sessions",
         sp.ListSessionsRequest(page_size=-1)), C.INVALID_ARGUMENT),
        ("ListSessions garbage token", u("ListSessions", "sessions",
         sp.ListSessionsRequest(page_token="garbage!!")), C.INVALID_ARGUMENT),
        ("ExtendSession bad id", u("ExtendSession", "sessions",
         sp.ExtendSessionRequest(session_id="x")), C.INVALID_ARGUMENT),
        ("ExtendSession unknown", u("ExtendSession", "sessions",
         sp.ExtendSessionRequest(session_id=UNKNOWN_ID)), C.NOT_FOUND),
        ("ExtendSession huge ttl", u("ExtendSession", "sessions",
         sp.ExtendSessionRequest(session_id=s, ttl=big_ttl)), C.INVALID_ARGUMENT),
        ("DeleteSession bad id", u("DeleteSession", "sessions",
         sp.DeleteSessionRequest(session_id="1234")), C.INVALID_ARGUMENT),
        ("DeleteSession unknown", u("DeleteSession", "sessions",
         sp.DeleteSessionRequest(session_id=UNKNOWN_ID)), C.NOT_FOUND),
        ("DeleteSession of another principal", u("DeleteSession", "sessions",
         sp.DeleteSessionRequest(session_id=b)), C.NOT_FOUND),
        ("UploadFile empty stream", _upload(), C.INVALID_ARGUMENT),
        ("UploadFile path traversal", _upload(sp.UploadFileRequest(
            session_id=s, file_name="../../etc/passwd", content_type="text/plain"),
            sp.UploadFileRequest(chunk=b"x")), C.INVALID_ARGUMENT),
        ("UploadFile backslash", _upload(sp.UploadFileRequest(
            session_id=s, file_name="..\\evil.md"), sp.UploadFileRequest(chunk=b"x")),
         C.INVALID_ARGUMENT),
        ("UploadFile control char", _upload(sp.UploadFileRequest(
            session_id=s, file_name="a\x00b.md"), sp.UploadFileRequest(chunk=b"x")),
         C.INVALID_ARGUMENT),
        ("UploadFile 300-byte name", _upload(sp.UploadFileRequest(
            session_id=s, file_name="é" * 150), sp.UploadFileRequest(chunk=b"x")),
         C.INVALID_ARGUMENT),
        ("UploadFile oversize chunk", _upload(sp.UploadFileRequest(
            session_id=s, file_name="big.bin"), sp.UploadFileRequest(chunk=b"x" * (2 << 20))),
         C.INVALID_ARGUMENT),
        ("UploadFile declared too large", _upload(sp.UploadFileRequest(
            session_id=s, file_name="big.bin", size_bytes=10**12),
            sp.UploadFileRequest(chunk=b"x")), C.RESOURCE_EXHAUSTED),
        ("UploadFile streamed too large", _upload(sp.UploadFileRequest(
            session_id=s, file_name="plan.md"), *[sp.UploadFileRequest(chunk=b"y" * 700_000)
                                                  for _ in range(3)]), C.RESOURCE_EXHAUSTED),
        ("UploadFile bad content type", _upload(sp.UploadFileRequest(
            session_id=s, file_name="a.md", content_type="not a type"),
            sp.UploadFileRequest(chunk=b"x")), C.INVALID_ARGUMENT),
        ("UploadFile metadata repeated", _upload(sp.UploadFileRequest(
            session_id=s, file_name="a.md"), sp.UploadFileRequest(session_id=b, chunk=b"x")),
         C.INVALID_ARGUMENT),
        ("UploadFile unknown session", _upload(sp.UploadFileRequest(
            session_id=UNKNOWN_ID, file_name="a.md"), sp.UploadFileRequest(chunk=b"x")),
         C.NOT_FOUND),
        ("UploadFile other principal", _upload(sp.UploadFileRequest(
            session_id=b, file_name="a.md"), sp.UploadFileRequest(chunk=b"x")), C.NOT_FOUND),
        ("ListFiles garbage token", u("ListFiles", "sessions",
         sp.ListFilesRequest(session_id=s, page_token="AAAA")), C.INVALID_ARGUMENT),
        ("ListFiles page_size 1e9", u("ListFiles", "sessions",
         sp.ListFilesRequest(session_id=s, page_size=10**9)), C.INVALID_ARGUMENT),
        ("DownloadFile unknown file", u("DownloadFile", "sessions",
         sp.DownloadFileRequest(session_id=s, file_name="nope.md")), C.NOT_FOUND),
        ("DownloadFile traversal", u("DownloadFile", "sessions",
         sp.DownloadFileRequest(session_id=s, file_name="../plan.md")), C.INVALID_ARGUMENT),
        ("GetReport unspecified kind", u("GetReport", "reports",
         rp.GetReportRequest(session_id=s)), C.INVALID_ARGUMENT),
        ("GetReport unknown kind", u("GetReport", "reports",
         rp.GetReportRequest(session_id=s, kind=99)), C.INVALID_ARGUMENT),
        ("GetReport missing", u("GetReport", "reports",
         rp.GetReportRequest(session_id=s, kind=K.REPORT_KIND_LEGAL)), C.NOT_FOUND),
        ("GetReport other principal", u("GetReport", "reports",
         rp.GetReportRequest(session_id=b, kind=K.REPORT_KIND_MARKET)), C.NOT_FOUND),
        ("ListReports page_size 1e9", u("ListReports", "reports",
         rp.ListReportsRequest(session_id=s, page_size=10**9)), C.INVALID_ARGUMENT),
        ("ListReports garbage token", u("ListReports", "reports",
         rp.ListReportsRequest(session_id=s, page_token="%%%")), C.INVALID_ARGUMENT),
        ("PutReport unspecified kind", u("PutReport", "reports",
         rp.PutReportRequest(session_id=s, content="x")), C.INVALID_ARGUMENT),
        ("PutReport empty content", u("PutReport", "reports",
         rp.PutReportRequest(session_id=s, kind=K.REPORT_KIND_MARKET)), C.INVALID_ARGUMENT),
        ("PutReport too large", u("PutReport", "reports", rp.PutReportRequest(
            session_id=s, kind=K.REPORT_KIND_MARKET, content="z" * 300_000)),
         C.RESOURCE_EXHAUSTED),
        ("PutReport other principal", u("PutReport", "reports", rp.PutReportRequest(
            session_id=b, kind=K.REPORT_KIND_MARKET, content="x")), C.NOT_FOUND),
        ("ExportReports unspecified format", u("ExportReports", "reports",
         rp.ExportReportsRequest(session_id=s)), C.INVALID_ARGUMENT),
        ("ExportReports no reports", u("ExportReports", "reports",
         rp.ExportReportsRequest(session_id=empty, format=rp.EXPORT_FORMAT_MARKDOWN)),
         C.FAILED_PRECONDITION),
        ("StartResearch no files", u("StartResearch", "research",
         rs.StartResearchRequest(session_id=empty)), C.FAILED_PRECONDITION),
        ("StartResearch bad id", u("StartResearch", "research",
         rs.StartResearchRequest(session_id="nope")), C.INVALID_ARGUMENT),
        ("StartResearch unknown file", u("StartResearch", "research",
         rs.StartResearchRequest(session_id=s, file_names=["missing.pdf"])),
         C.FAILED_PRECONDITION),
        ("StartResearch traversal file", u("StartResearch", "research",
         rs.StartResearchRequest(session_id=s, file_names=["../x"])), C.INVALID_ARGUMENT),
        ("StartResearch other principal", u("StartResearch", "research",
         rs.StartResearchRequest(session_id=b)), C.NOT_FOUND),
        ("GetRun bad run id", u("GetRun", "research",
         rs.GetRunRequest(session_id=s, run_id="r1")), C.INVALID_ARGUMENT),
        ("GetRun unknown run", u("GetRun", "research",
         rs.GetRunRequest(session_id=s, run_id=UNKNOWN_ID)), C.NOT_FOUND),
        ("ListRuns garbage token", u("ListRuns", "research",
         rs.ListRunsRequest(session_id=s, page_token="eyJ4IjoxfQ")), C.INVALID_ARGUMENT),
        ("CancelRun unknown run", u("CancelRun", "research",
         rs.CancelRunRequest(session_id=s, run_id=UNKNOWN_ID)), C.NOT_FOUND),
        ("CancelRun empty run id", u("CancelRun", "research",
         rs.CancelRunRequest(session_id=s)), C.INVALID_ARGUMENT),
        ("StreamProgress no run yet", u("StreamProgress", "research",
         rs.StreamProgressRequest(session_id=s)), C.NOT_FOUND),
        ("StreamProgress negative after", u("StreamProgress", "research",
         rs.StreamProgressRequest(session_id=s, after_sequence=-1)), C.INVALID_ARGUMENT),
        ("StreamProgress bad run id", u("StreamProgress", "research",
         rs.StreamProgressRequest(session_id=s, run_id="zz")), C.INVALID_ARGUMENT),
    ]


def test_bad_input_gets_exact_codes_and_changes_nothing(world: dict[str, Any]) -> None:
    before = _scan(world["endpoint"], world["table"])
    alice: Api = world["alice"]
    wrong: list[str] = []
    for name, send, expected in cases(world["s"], world["empty"], world["b"]):
        try:
            send(alice)
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code != expected:
                wrong.append(f"{name}: expected {expected.name}, got {code.name} "
                             f"({exc.details()})")  # type: ignore[attr-defined]
            elif not exc.details():  # type: ignore[attr-defined]
                wrong.append(f"{name}: {code.name} without a message")
        else:
            wrong.append(f"{name}: expected {expected.name}, got OK")
    assert not wrong, "\n".join(wrong)
    after = _scan(world["endpoint"], world["table"])
    assert after == before


def test_error_info_reason_reaches_the_caller(world: dict[str, Any]) -> None:
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    alice: Api = world["alice"]
    with pytest.raises(grpc.RpcError) as info:
        alice.call(alice.research.StartResearch,
                   research_pb2.StartResearchRequest(session_id=world["empty"]))
    status = rpc_status.from_call(info.value)  # type: ignore[arg-type]
    assert status is not None
    detail = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(detail)
    assert detail.domain == "scout.v1" and detail.reason == "NO_DOCUMENTS"
