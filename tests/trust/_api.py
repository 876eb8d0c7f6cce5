"""What the trust tests share: raw stubs per caller, the RPC table, outcomes.

The tests talk to real server processes through the generated stubs (no
client-side retries, so every status code is the server's own), and name
each RPC once in ``RPCS`` so "every RPC" means the same list everywhere.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from scout.v1 import (
    report_pb2,
    report_pb2_grpc,
    research_pb2,
    research_pb2_grpc,
    session_pb2,
    session_pb2_grpc,
)
from tests.support.server import TOKENS

C = grpc.StatusCode
# alice, bob and root (admin) as everywhere, plus carol and dave, who own
# nothing but what a test gives them (exact ListSessions checks).
CALLERS = {**TOKENS, "carol": "carol-token-0004", "dave": "dave-token-0005"}
UNKNOWN_ID = "0b7c4a1e-3f7e-4c8e-9d43-5d0c2f1b7a10"
TERMINAL_RUN_STATES = frozenset({research_pb2.RUN_STATE_SUCCEEDED, research_pb2.RUN_STATE_FAILED,
                                 research_pb2.RUN_STATE_CANCELLED})
PLAN = (b"# Nordic meal kits\n\nWe sell weekly meal kits in Stockholm and Oslo for 59 EUR. "
        b"Competitors: HelloFresh, Linas Matkasse. Customers: busy families.\n") * 8


@dataclass(frozen=True)
class Rpc:
    """One method of scout.v1: its stub, its name and its shape."""

    stub: str  # "sessions" | "reports" | "research"
    name: str
    shape: str  # "unary" | "client_stream" | "server_stream"

    @property
    def path(self) -> str:
        """The HTTP/2 path, e.g. ``/scout.v1.SessionService/GetSession``."""
        service = {"sessions": "SessionService", "reports": "ReportService",
                   "research": "ResearchService"}[self.stub]
        return f"/scout.v1.{service}/{self.name}"


RPCS: tuple[Rpc, ...] = (
    Rpc("sessions", "CreateSession", "unary"),
    Rpc("sessions", "GetSession", "unary"),
    Rpc("sessions", "ListSessions", "unary"),
    Rpc("sessions", "ExtendSession", "unary"),
    Rpc("sessions", "DeleteSession", "unary"),
    Rpc("sessions", "UploadFile", "client_stream"),
    Rpc("sessions", "ListFiles", "unary"),
    Rpc("sessions", "DownloadFile", "server_stream"),
    Rpc("reports", "GetReport", "unary"),
    Rpc("reports", "ListReports", "unary"),
    Rpc("reports", "PutReport", "unary"),
    Rpc("reports", "ExportReports", "server_stream"),
    Rpc("research", "StartResearch", "unary"),
    Rpc("research", "GetRun", "unary"),
    Rpc("research", "ListRuns", "unary"),
    Rpc("research", "CancelRun", "unary"),
    Rpc("research", "StreamProgress", "server_stream"),
)
RPC_BY_NAME = {rpc.name: rpc for rpc in RPCS}


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata carrying ``token``."""
    return (("authorization", f"Bearer {token}"),)


class Api:
    """Generated stubs on one channel, calling as one caller (or with given metadata)."""

    def __init__(self, address: str, who: str | None = None,
                 metadata: tuple[tuple[str, str], ...] | None = None) -> None:
        self.address = address
        self.channel = grpc.insecure_channel(
            address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024),
                              ("grpc.max_receive_message_length", 64 * 1024 * 1024)])
        if metadata is None:
            metadata = bearer(CALLERS[who]) if who else ()
        self.md = metadata
        self.sessions = session_pb2_grpc.SessionServiceStub(self.channel)
        self.reports = report_pb2_grpc.ReportServiceStub(self.channel)
        self.research = research_pb2_grpc.ResearchServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def close(self) -> None:
        """Close the channel."""
        self.channel.close()

    def method(self, rpc: Rpc) -> Callable[..., Any]:
        """The stub's callable for ``rpc``."""
        return getattr(getattr(self, rpc.stub), rpc.name)

    def call(self, rpc: Rpc | str, request: Any, timeout: float = 30) -> Any:
        """Call ``rpc``; streams are drained into a list; errors raise ``grpc.RpcError``.

        For UploadFile, ``request`` is an iterable of messages.
        """
        if isinstance(rpc, str):
            rpc = RPC_BY_NAME[rpc]
        fn = self.method(rpc)
        if rpc.shape == "client_stream":
            return fn(iter(request), metadata=self.md, timeout=timeout)
        result = fn(request, metadata=self.md, timeout=timeout)
        if rpc.shape == "server_stream":
            return list(result)
        return result

    # -- conveniences -------------------------------------------------------------

    def create_session(self, **fields: Any) -> str:
        """A new session's id."""
        return str(self.call("CreateSession",
                             session_pb2.CreateSessionRequest(**fields)).session.session_id)

    def upload(self, session_id: str, name: str, data: bytes, *, piece: int = 256 * 1024,
               content_type: str = "text/markdown", declared: int = 0,
               timeout: float = 60) -> Any:
        """Upload ``data`` in ``piece``-sized messages; the FileInfo."""
        messages = [session_pb2.UploadFileRequest(session_id=session_id, file_name=name,
                                                  content_type=content_type, size_bytes=declared)]
        messages += [session_pb2.UploadFileRequest(chunk=data[i:i + piece])
                     for i in range(0, len(data), piece)]
        return self.call("UploadFile", messages, timeout=timeout).file

    def download(self, session_id: str, name: str, timeout: float = 60) -> tuple[Any, bytes]:
        """A file's FileInfo and bytes."""
        parts = self.call("DownloadFile", session_pb2.DownloadFileRequest(
            session_id=session_id, file_name=name), timeout=timeout)
        info = parts[0].file
        return info, b"".join(p.chunk for p in parts[1:])

    def put_report(self, session_id: str, kind: int, content: str, **fields: Any) -> Any:
        """PutReport; the stored Report (without content)."""
        return self.call("PutReport", report_pb2.PutReportRequest(
            session_id=session_id, kind=kind, content=content, **fields)).report

    def start_research(self, session_id: str, **fields: Any) -> Any:
        """StartResearch; the Run."""
        return self.call("StartResearch", research_pb2.StartResearchRequest(
            session_id=session_id, **fields)).run

    def get_run(self, session_id: str, run_id: str, timeout: float = 10) -> Any:
        """GetRun; the Run."""
        return self.call("GetRun", research_pb2.GetRunRequest(
            session_id=session_id, run_id=run_id), timeout=timeout).run

    def wait_run(self, session_id: str, run_id: str, timeout: float = 60) -> Any:
        """Poll until the run is terminal (or fail after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(session_id, run_id)
            if run.state in TERMINAL_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still in state {run.state} after {timeout}s")
            time.sleep(0.1)

    def health_status(self, timeout: float = 5) -> int:
        """The overall health status (``HealthCheckResponse.ServingStatus``)."""
        return int(self.health.Check(health_pb2.HealthCheckRequest(service=""),
                                     timeout=timeout).status)


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its code, message and ErrorInfo (reason, metadata)."""

    code: grpc.StatusCode
    details: str = ""
    reason: str = ""
    metadata: dict[str, str] | None = None
    value: Any = None

    @property
    def ok(self) -> bool:
        """True for OK."""
        return self.code == C.OK


def outcome(send: Callable[[], Any]) -> Outcome:
    """Run ``send()`` and describe how it ended."""
    try:
        value = send()
    except grpc.RpcError as exc:
        reason, meta = "", {}
        try:
            status = rpc_status.from_call(exc)  # type: ignore[arg-type]
        except ValueError:
            status = None
        if status is not None:
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    reason, meta = info.reason, dict(info.metadata)
        return Outcome(exc.code(), exc.details() or "", reason, meta)  # type: ignore[attr-defined]
    return Outcome(C.OK, value=value)


def sha256(data: bytes | str) -> str:
    """Hex SHA-256 of bytes (or of UTF-8 text)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()

