"""Fuzzing every RPC through a real channel: bad input never crashes or confuses the server.

Hypothesis throws random field values (through the generated stubs) and raw
bytes (through generic ``channel.unary_unary(path)`` calls that send a payload
as-is: garbage, truncated and bit-flipped valid messages) at every RPC of one
server process, shared by the module. Whatever comes in, the answer is a
status code the caller can act on — never UNKNOWN or INTERNAL (the codes of
"the server did not expect this"), never a hang — and afterwards the process
is alive and its health is SERVING.

Bounded: ``MAX_EXAMPLES`` per group, derandomized (the same examples on every
run), no example database written into the tree.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scout.v1 import report_pb2, research_pb2, session_pb2
from tests.trust._api import PLAN, RPCS, Api, C, Outcome, Rpc, outcome
from tests.trust.conftest import Deployment, deploy, shut

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 150
CALL_TIMEOUT = 15.0
# Codes that mean "the server did not expect this input" (or hung on it).
NOT_FOR_BAD_INPUT = frozenset({C.UNKNOWN, C.INTERNAL, C.DEADLINE_EXCEEDED, C.UNIMPLEMENTED,
                               C.DATA_LOSS})

FUZZ = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])

sp, rp, rs = session_pb2, report_pb2, research_pb2


@pytest.fixture(scope="module")
def fuzz_server(dynamodb_endpoint: str) -> Iterator[Deployment]:
    """One replica for the whole module; a generous rate limit (the fuzzer is fast)."""
    deployment = deploy(dynamodb_endpoint, {
        "SCOUT_RATE_LIMIT_BURST": "1000000", "SCOUT_RATE_LIMIT_RPS": "100000",
        "SCOUT_MAX_FILE_MB": "1", "SCOUT_MAX_REPORT_MB": "0.5",
    }, "fuzz")
    yield deployment
    shut(deployment)


@pytest.fixture(scope="module")
def seeds(fuzz_server: Deployment) -> Iterator[dict[str, Any]]:
    """Real ids for the fuzzer to aim at: a session with a file, reports and a run."""
    apis = {who: Api(fuzz_server.address, who) for who in ("alice", "bob", "root")}
    alice = apis["alice"]
    sid = alice.create_session(labels={"fuzz": "seed"})
    alice.upload(sid, "plan.md", PLAN)
    run = alice.start_research(sid, request_id="fuzz-seed")
    alice.wait_run(sid, run.run_id)
    yield {"apis": apis, "sid": sid, "run_id": run.run_id,
           "other": apis["bob"].create_session()}
    for api in apis.values():
        api.close()


# -- strategies -------------------------------------------------------------------------

INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
TEXT = st.one_of(
    st.text(max_size=64),
    st.text(max_size=600),
    st.sampled_from(["", " ", ".", "..", "../..", "a/b", "a\\b", "\x00", "\u202e", "é" * 200,
                     "%00", "${jndi:x}", "'; DROP TABLE x; --", "SESSION", "FILE#x", "#ttl"]),
)
DURATION = st.builds(duration_pb2.Duration,
                     seconds=st.one_of(st.integers(-10, 10**6), st.integers(-315576000000,
                                                                            315576000000)),
                     nanos=st.integers(-999_999_999, 999_999_999))


class Fields:
    """Field strategies: plausible values only (``wild=False``, so calls get past
    validation into the service and the store) or plausible and anything at all."""

    def __init__(self, s: dict[str, Any], wild: bool) -> None:
        self.wild = wild
        self.sid = self.pick(st.sampled_from([s["sid"], s["other"]]),
                             st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()), TEXT)
        self.foreign_sid = self.pick(st.just(s["other"]), st.uuids().map(str), TEXT)
        self.run_id = self.pick(st.just(s["run_id"]), st.uuids().map(str), TEXT)
        self.opt_run_id = self.pick(st.sampled_from(["", s["run_id"]]), st.uuids().map(str),
                                    TEXT)
        self.name = self.pick(
            st.one_of(st.sampled_from(["plan.md", "notes.md", "PLAN.MD"]),
                      st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 ._()-]{0,40}\.(md|pdf|txt)",
                                    fullmatch=True)), TEXT)
        self.content_type = self.pick(st.sampled_from(["", "text/plain", "text/markdown",
                                                       "application/pdf"]), TEXT)
        self.request_id = self.pick(st.one_of(st.just(""), st.from_regex(r"[a-z0-9-]{1,40}",
                                                                         fullmatch=True)), TEXT)
        self.labels = self.pick(
            st.dictionaries(st.from_regex(r"[a-z0-9]([a-z0-9_.-]{0,10}[a-z0-9])?",
                                          fullmatch=True), st.text(max_size=40), max_size=5),
            st.dictionaries(TEXT, TEXT, max_size=40))
        self.ttl = self.pick(st.one_of(st.none(), st.builds(
            duration_pb2.Duration, seconds=st.integers(1, 7 * 24 * 3600))), DURATION)
        self.page_size = self.pick(st.integers(0, 100), INT32)
        self.page_token = self.pick(st.just(""), TEXT)
        self.kind = self.pick(st.integers(1, 5), INT32)
        self.format = self.pick(st.integers(1, 2), INT32)
        self.content = self.pick(st.text(min_size=1, max_size=2000).filter(str.strip), TEXT)
        self.size = self.pick(st.integers(0, 4096), INT64)
        self.after = self.pick(st.integers(0, 40), INT64)

    def pick(self, plausible: st.SearchStrategy[Any],
             *anything: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        """``plausible``, or (when wild) any of the alternatives too."""
        return st.one_of(plausible, *anything) if self.wild else plausible


def request_strategy(rpc: Rpc, f: Fields) -> st.SearchStrategy[Any]:
    """Random requests of ``rpc`` (for UploadFile: a list of messages)."""
    page = {"page_size": f.page_size, "page_token": f.page_token}
    upload_head = st.builds(sp.UploadFileRequest, session_id=f.sid, file_name=f.name,
                            content_type=f.content_type, size_bytes=f.size)
    upload_body = st.lists(st.builds(sp.UploadFileRequest, chunk=st.binary(max_size=4096)),
                           max_size=4)
    upload = st.tuples(upload_head, upload_body).map(lambda t: [t[0], *t[1]])
    if f.wild:  # anything in any message, too
        upload = st.one_of(upload, st.lists(st.builds(
            sp.UploadFileRequest, session_id=st.one_of(st.just(""), f.sid),
            file_name=st.one_of(st.just(""), f.name), content_type=f.content_type,
            size_bytes=f.size, chunk=st.binary(max_size=2048)), max_size=5))
    builders: dict[str, st.SearchStrategy[Any]] = {
        "CreateSession": st.builds(sp.CreateSessionRequest, request_id=f.request_id,
                                   labels=f.labels, ttl=f.ttl),
        "GetSession": st.builds(sp.GetSessionRequest, session_id=f.sid),
        "ListSessions": st.builds(sp.ListSessionsRequest, **page),
        "ExtendSession": st.builds(sp.ExtendSessionRequest, session_id=f.sid, ttl=f.ttl),
        # Never the seed session itself: deleting it would end the fuzzing of everything else.
        "DeleteSession": st.builds(sp.DeleteSessionRequest, session_id=f.foreign_sid),
        "UploadFile": upload,
        "ListFiles": st.builds(sp.ListFilesRequest, session_id=f.sid, **page),
        "DownloadFile": st.builds(sp.DownloadFileRequest, session_id=f.sid, file_name=f.name),
        "GetReport": st.builds(rp.GetReportRequest, session_id=f.sid, kind=f.kind),
        "ListReports": st.builds(rp.ListReportsRequest, session_id=f.sid, **page),
        "PutReport": st.builds(rp.PutReportRequest, session_id=f.sid, kind=f.kind,
                               content=f.content, request_id=f.request_id),
        "ExportReports": st.builds(rp.ExportReportsRequest, session_id=f.sid, format=f.format),
        "StartResearch": st.builds(rs.StartResearchRequest, session_id=f.sid,
                                   request_id=f.request_id,
                                   file_names=st.lists(f.name, max_size=3)),
        "GetRun": st.builds(rs.GetRunRequest, session_id=f.sid, run_id=f.run_id),
        "ListRuns": st.builds(rs.ListRunsRequest, session_id=f.sid, **page),
        "CancelRun": st.builds(rs.CancelRunRequest, session_id=f.sid, run_id=f.run_id),
        "StreamProgress": st.builds(rs.StreamProgressRequest, session_id=f.sid,
                                    run_id=f.opt_run_id, after_sequence=f.after),
    }
    return builders[rpc.name]


def calls_of(names: set[str], s: dict[str, Any]) -> st.SearchStrategy[tuple[Rpc, Any, str]]:
    """(rpc, request, caller) for the RPCs named: half plausible, half wild."""
    who = st.sampled_from(["alice", "alice", "alice", "bob", "root"])
    return st.one_of(*(st.tuples(st.just(rpc), request_strategy(rpc, fields), who)
                       for fields in (Fields(s, wild=False), Fields(s, wild=True))
                       for rpc in RPCS if rpc.name in names))


# How the fuzzed calls ended, by code (printed at the end: shows how deep the fuzzing got).
TALLY: dict[str, Counter[str]] = defaultdict(Counter)


def acceptable(got: Outcome, what: str, group: str) -> None:
    """A code a caller can act on, with a message when it is an error."""
    TALLY[group][got.code.name] += 1
    assert got.code not in NOT_FOR_BAD_INPUT, f"{what}: {got.code.name} {got.details!r}"
    assert got.ok or got.details, f"{what}: {got.code.name} without a message"


def check_call(seeds: dict[str, Any], call: tuple[Rpc, Any, str]) -> None:
    rpc, request, who = call
    api: Api = seeds["apis"][who]
    got = outcome(lambda: api.call(rpc, request, timeout=CALL_TIMEOUT))
    acceptable(got, f"{rpc.name}({request!r:.300}) as {who}", "fields")


GROUPS = {
    "sessions": {"CreateSession", "GetSession", "ListSessions", "ExtendSession", "DeleteSession",
                 "UploadFile", "ListFiles", "DownloadFile"},
    "reports": {"GetReport", "ListReports", "PutReport", "ExportReports"},
    "research": {"StartResearch", "GetRun", "ListRuns", "CancelRun", "StreamProgress"},
}


@pytest.mark.parametrize("group", list(GROUPS))
def test_random_field_values(group: str, seeds: dict[str, Any]) -> None:
    @FUZZ
    @given(call=calls_of(GROUPS[group], seeds))
    def run(call: tuple[Rpc, Any, str]) -> None:
        check_call(seeds, call)

    run()


# -- raw bytes ----------------------------------------------------------------------------

# Every method the server exposes, with its shape; health and reflection too.
RAW_METHODS: list[tuple[str, str]] = [(rpc.path, rpc.shape) for rpc in RPCS] + [
    ("/grpc.health.v1.Health/Check", "unary"),
    ("/grpc.health.v1.Health/Watch", "server_stream"),
]


def _valid_bytes(s: dict[str, Any]) -> list[bytes]:
    """Serialized well-formed requests, as material to truncate and flip."""
    sid, run_id = s["sid"], s["run_id"]
    return [m.SerializeToString() for m in (
        sp.GetSessionRequest(session_id=sid),
        sp.UploadFileRequest(session_id=sid, file_name="plan.md", content_type="text/plain",
                             size_bytes=5, chunk=b"hello"),
        rp.PutReportRequest(session_id=sid, kind=1, content="# x", request_id="r"),
        rs.StreamProgressRequest(session_id=sid, run_id=run_id, after_sequence=3),
        sp.CreateSessionRequest(labels={"a": "b"}, ttl=duration_pb2.Duration(seconds=60)),
    )]


def payloads(s: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Garbage, and valid messages truncated, extended or with bits flipped."""
    valid = _valid_bytes(s)

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(valid)))
        for _ in range(draw(st.integers(1, 4))):
            op = draw(st.sampled_from(["flip", "cut", "append", "insert"]))
            if op == "flip" and data:
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= 1 << draw(st.integers(0, 7))
            elif op == "cut" and data:
                del data[draw(st.integers(0, len(data) - 1)):]
            elif op == "append":
                data += draw(st.binary(max_size=16))
            else:
                i = draw(st.integers(0, len(data)))
                data[i:i] = draw(st.binary(min_size=1, max_size=8))
        return bytes(data)

    return st.one_of(st.binary(max_size=512), mutated(),
                     st.sampled_from([b"\xff", b"\x0a\xff", b"\x0a\x02\xff\xfe", b"\x08",
                                      b"\x12\x80\x80\x80\x80\x10", b"\x0a\x7f"]))


def raw_call(channel: grpc.Channel, path: str, shape: str, payload: bytes,
             metadata: tuple[tuple[str, str], ...]) -> Any:
    """Send ``payload`` to ``path`` as-is (no serializer) and read the answer."""
    if shape == "unary":
        return channel.unary_unary(path)(payload, metadata=metadata, timeout=CALL_TIMEOUT)
    if shape == "server_stream":
        stream = channel.unary_stream(path)(payload, metadata=metadata, timeout=CALL_TIMEOUT)
        if path.endswith("/Watch"):  # never ends on its own: the first message is an answer
            return next(stream)
        return list(stream)
    return channel.stream_unary(path)(iter([payload, payload[::-1]]), metadata=metadata,
                                      timeout=CALL_TIMEOUT)


def test_raw_bytes_to_every_method(seeds: dict[str, Any]) -> None:
    alice: Api = seeds["apis"]["alice"]

    @FUZZ
    @given(method=st.sampled_from(RAW_METHODS), payload=payloads(seeds),
           authed=st.booleans())
    def run(method: tuple[str, str], payload: bytes, authed: bool) -> None:
        path, shape = method
        got = outcome(lambda: raw_call(alice.channel, path, shape, payload,
                                       alice.md if authed else ()))
        acceptable(got, f"{path} <- {payload!r:.200}", "raw bytes")

    run()


def test_raw_bytes_to_client_streaming_upload(seeds: dict[str, Any]) -> None:
    """Undecodable upload messages are the caller's fault: INVALID_ARGUMENT, not INTERNAL."""
    alice: Api = seeds["apis"]["alice"]
    path = "/scout.v1.SessionService/UploadFile"

    @FUZZ
    @given(payload=payloads(seeds))
    def run(payload: bytes) -> None:
        got = outcome(lambda: raw_call(alice.channel, path, "client_stream", payload, alice.md))
        acceptable(got, f"UploadFile <- {payload!r:.200}", "raw upload")

    run()


# -- afterwards -----------------------------------------------------------------------------


def test_server_survived_the_fuzzing(fuzz_server: Deployment, seeds: dict[str, Any],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        for group, tally in TALLY.items():
            print(f"\nfuzz outcomes ({group}): {dict(tally.most_common())}", end="")
        print()
    assert fuzz_server.server.proc is not None and fuzz_server.server.proc.poll() is None, (
        "the server process died:\n" + fuzz_server.server.output()[-3000:])
    alice: Api = seeds["apis"]["alice"]
    assert alice.health_status() == health_pb2.HealthCheckResponse.SERVING
    # ... and still works: every file of the seed session reads back intact.
    files = alice.call("ListFiles", sp.ListFilesRequest(session_id=seeds["sid"],
                                                        page_size=1000)).files
    assert files
    for info in files:
        stored, data = alice.download(seeds["sid"], info.file_name)
        assert hashlib.sha256(data).hexdigest() == stored.sha256 == info.sha256
    # Scout's boundary logs what it did not expect; grpc logs what it could not hand over
    # (undecodable requests are answered INVALID_ARGUMENT by the decode guard).
    unexpected = [line for line in fuzz_server.server.output().splitlines()
                  if re.search(r"failed unexpectedly|Unexpected \[(?!DecodeError)", line)]
    assert not unexpected, "\n".join(unexpected[:20])


# -- the guard itself, in process --------------------------------------------------------------


@pytest.mark.parametrize("registration", ["generic", "registered"])
def test_decode_guard_turns_undecodable_requests_into_invalid_argument(
    registration: str,
) -> None:
    """``DecodeGuard`` on a stock servicer: garbage → INVALID_ARGUMENT, valid → OK.

    Both ways a generated ``add_*_to_server`` registers handlers are covered:
    generic handlers alone (older generated code) and pre-registered methods.
    """
    from scout_service.api.boundary import DecodeGuard

    class GenericOnly:
        def __init__(self, guard: DecodeGuard) -> None:
            self.add_generic_rpc_handlers = guard.add_generic_rpc_handlers

        def add_registered_method_handlers(self, *_: object) -> None:
            pass

    async def scenario() -> list[grpc.StatusCode]:
        server = grpc.aio.server()
        servicer = health.aio.HealthServicer()
        guard = DecodeGuard(server)
        health_pb2_grpc.add_HealthServicer_to_server(
            servicer, guard if registration == "registered" else GenericOnly(guard))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        codes = []
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                check = channel.unary_unary("/grpc.health.v1.Health/Check")
                watch = channel.unary_stream("/grpc.health.v1.Health/Watch")
                for payload in (b"\xff\xff", b"\x0a\x02\xff\xfe", b""):
                    try:
                        await check(payload, timeout=5)
                        codes.append(C.OK)
                    except grpc.aio.AioRpcError as exc:
                        codes.append(exc.code())
                try:
                    async for _ in watch(b"\xff", timeout=5):
                        break
                    codes.append(C.OK)
                except grpc.aio.AioRpcError as exc:
                    codes.append(exc.code())
        finally:
            await server.stop(None)
        return codes

    assert asyncio.run(scenario()) == [C.INVALID_ARGUMENT, C.INVALID_ARGUMENT, C.OK,
                                       C.INVALID_ARGUMENT]
