"""Every limit answers RESOURCE_EXHAUSTED at its bound and not one step before.

Each test walks up to a limit with calls that must all succeed, then takes
one step past it and expects RESOURCE_EXHAUSTED with a message that names the
limit (its setting, e.g. ``SCOUT_MAX_SESSION_MB``) and a stable ErrorInfo
reason; afterwards the refused step has changed nothing. Limits per session
run on the package's ``trust_server``; the per-caller limits that need slow
runs or a tiny token bucket (concurrent streams, unfinished runs, request
rate) on a ``paced_server`` of their own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from scout.v1 import report_pb2, research_pb2, session_pb2, types_pb2
from tests.trust._api import PLAN, Api, C, Outcome, outcome, sha256
from tests.trust.conftest import (
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_REPORT_BYTES,
    MAX_RUNS_PER_HOUR,
    MAX_SESSION_BYTES,
    Deployment,
    deploy,
    shut,
)

pytestmark = pytest.mark.e2e

MARKET = types_pb2.REPORT_KIND_MARKET
STREAMS_PER_PRINCIPAL = 2
RATE_BURST = 40
RATE_RPS = 1.0
RUNS_PER_PRINCIPAL = 2


def exhausted(got: Outcome, setting: str, reason: str) -> None:
    """RESOURCE_EXHAUSTED, with the reason and a message naming ``setting``."""
    assert got.code == C.RESOURCE_EXHAUSTED, f"expected RESOURCE_EXHAUSTED, got {got}"
    assert got.reason == reason, got
    assert setting in got.details, f"the message does not name {setting}: {got.details!r}"


def blob(size: int, seed: int = 0) -> bytes:
    """``size`` bytes that differ from seed to seed."""
    return random.Random(seed).randbytes(size)


@pytest.fixture(scope="module")
def alice(trust_server: Deployment) -> Iterator[Api]:
    """alice on the trust server."""
    api = Api(trust_server.address, "alice")
    yield api
    api.close()


# -- per file, per session, files per session, report size ---------------------------------


def test_file_size_limit(alice: Api) -> None:
    sid = alice.create_session()  # empty: the session's own limit is twice the file limit
    over = outcome(lambda: alice.upload(sid, "over.bin", blob(MAX_FILE_BYTES + 1, 2)))
    exhausted(over, "SCOUT_MAX_FILE_MB", "FILE_TOO_LARGE")
    assert str(MAX_FILE_BYTES) in over.details or "0.5 MB" in over.details, over.details
    # Declared up front, it is refused before any byte is sent.
    declared = outcome(lambda: alice.upload(sid, "declared.bin", b"x",
                                            declared=MAX_FILE_BYTES + 1))
    exhausted(declared, "SCOUT_MAX_FILE_MB", "FILE_TOO_LARGE")
    assert not alice.call("ListFiles", session_pb2.ListFilesRequest(session_id=sid)).files

    exact = blob(MAX_FILE_BYTES, 1)
    info = alice.upload(sid, "exact.bin", exact)  # at the bound: fine (a multi-chunk blob)
    assert (info.size_bytes, info.sha256) == (MAX_FILE_BYTES, sha256(exact))
    assert alice.download(sid, "exact.bin")[1] == exact
    alice.upload(sid, "declared.bin", exact, declared=MAX_FILE_BYTES)  # declared at the bound
    names = {f.file_name for f in alice.call("ListFiles", session_pb2.ListFilesRequest(
        session_id=sid)).files}
    assert names == {"exact.bin", "declared.bin"}


def test_session_size_limit(alice: Api) -> None:
    sid = alice.create_session()
    half = MAX_SESSION_BYTES // 2
    assert half <= MAX_FILE_BYTES
    alice.upload(sid, "a.bin", blob(half, 3))
    alice.upload(sid, "b.bin", blob(half, 4))  # exactly full now
    over = outcome(lambda: alice.upload(sid, "c.bin", b"1"))
    exhausted(over, "SCOUT_MAX_SESSION_MB", "SESSION_TOO_LARGE")
    declared = outcome(lambda: alice.upload(sid, "c.bin", b"1", declared=1))
    exhausted(declared, "SCOUT_MAX_SESSION_MB", "SESSION_TOO_LARGE")
    # Replacing a file counts the new size instead of the old one: still fits.
    replacement = blob(half, 5)
    alice.upload(sid, "a.bin", replacement)
    assert alice.download(sid, "a.bin")[1] == replacement
    # ... but not one byte more.
    exhausted(outcome(lambda: alice.upload(sid, "a.bin", blob(half + 1, 6))),
              "SCOUT_MAX_SESSION_MB", "SESSION_TOO_LARGE")
    assert alice.download(sid, "a.bin")[1] == replacement  # the refused upload left it alone
    files = alice.call("ListFiles", session_pb2.ListFilesRequest(session_id=sid)).files
    assert sorted((f.file_name, f.size_bytes) for f in files) == [("a.bin", half),
                                                                  ("b.bin", half)]


def test_files_per_session_limit(alice: Api) -> None:
    sid = alice.create_session()
    for i in range(MAX_FILES):
        alice.upload(sid, f"f{i}.md", f"# file {i}\n".encode())
    over = outcome(lambda: alice.upload(sid, "one-too-many.md", b"# no\n"))
    exhausted(over, "SCOUT_MAX_FILES_PER_SESSION", "TOO_MANY_FILES")
    assert str(MAX_FILES) in over.details
    alice.upload(sid, "f0.md", b"# file 0, second version\n")  # a replacement is not a new file
    files = alice.call("ListFiles", session_pb2.ListFilesRequest(session_id=sid)).files
    assert sorted(f.file_name for f in files) == [f"f{i}.md" for i in range(MAX_FILES)]


def test_concurrent_uploads_stop_at_the_session_limits(alice: Api) -> None:
    """Uploads that each fit when they start may not pass a limit together."""
    sid = alice.create_session()
    names = [f"c{i}.bin" for i in range(2 * MAX_FILES)]
    with ThreadPoolExecutor(len(names)) as pool:
        outcomes = list(pool.map(lambda n: outcome(lambda: alice.upload(
            sid, n, blob(100_000, len(n)), piece=10_000)), names))
    landed = [n for n, o in zip(names, outcomes, strict=True) if o.ok]
    assert len(landed) == MAX_FILES, outcomes
    for refused in (o for o in outcomes if not o.ok):
        exhausted(refused, "SCOUT_MAX_FILES_PER_SESSION", "TOO_MANY_FILES")
    files = alice.call("ListFiles", session_pb2.ListFilesRequest(session_id=sid)).files
    assert sorted(f.file_name for f in files) == sorted(landed)

    sid = alice.create_session()  # bytes: three of 400 KB, 1 MB in all
    names = [f"d{i}.bin" for i in range(3)]
    with ThreadPoolExecutor(len(names)) as pool:
        outcomes = list(pool.map(lambda n: outcome(lambda: alice.upload(
            sid, n, blob(400 * 1024, len(n)), piece=32 * 1024)), names))
    assert sum(o.ok for o in outcomes) == 2, outcomes
    exhausted(next(o for o in outcomes if not o.ok), "SCOUT_MAX_SESSION_MB", "SESSION_TOO_LARGE")


def test_report_size_limit(alice: Api) -> None:
    sid = alice.create_session()
    # The limit is on UTF-8 bytes, not characters: 'é' is two bytes.
    exact = "é" * (MAX_REPORT_BYTES // 2)
    assert len(exact.encode()) == MAX_REPORT_BYTES
    stored = alice.put_report(sid, MARKET, exact)
    assert (stored.size_bytes, stored.sha256) == (MAX_REPORT_BYTES, sha256(exact))
    over = outcome(lambda: alice.put_report(sid, MARKET, exact + "a"))
    exhausted(over, "SCOUT_MAX_REPORT_MB", "REPORT_TOO_LARGE")
    assert str(MAX_REPORT_BYTES) in over.details or "0.25 MB" in over.details, over.details
    ascii_over = outcome(lambda: alice.put_report(sid, MARKET, "a" * (MAX_REPORT_BYTES + 1)))
    exhausted(ascii_over, "SCOUT_MAX_REPORT_MB", "REPORT_TOO_LARGE")
    got = alice.call("GetReport", report_pb2.GetReportRequest(session_id=sid, kind=MARKET))
    assert got.report.content == exact  # the refused versions replaced nothing


# -- runs per session per hour --------------------------------------------------------------


def test_runs_per_session_per_hour_limit(alice: Api) -> None:
    sid = alice.create_session()
    alice.upload(sid, "plan.md", PLAN)
    runs = []
    for i in range(MAX_RUNS_PER_HOUR):
        run = alice.start_research(sid, request_id=f"hourly-{i}")
        runs.append(run.run_id)
        assert alice.wait_run(sid, run.run_id).state in (research_pb2.RUN_STATE_SUCCEEDED,
                                                         research_pb2.RUN_STATE_FAILED)
    over = outcome(lambda: alice.start_research(sid, request_id="hourly-over"))
    exhausted(over, "SCOUT_MAX_RUNS_PER_SESSION_PER_HOUR", "RUN_RATE_LIMITED")
    assert str(MAX_RUNS_PER_HOUR) in over.details
    # A retry of an accepted start is not a new run: it still answers with that run.
    again = alice.start_research(sid, request_id=f"hourly-{MAX_RUNS_PER_HOUR - 1}")
    assert again.run_id == runs[-1]
    listed = alice.call("ListRuns", research_pb2.ListRunsRequest(session_id=sid)).runs
    assert sorted(r.run_id for r in listed) == sorted(runs)
    # The limit is per session: another session of the same caller still starts.
    other = alice.create_session()
    alice.upload(other, "plan.md", PLAN)
    alice.wait_run(other, alice.start_research(other).run_id)


# -- concurrent streams and request rate per caller ------------------------------------------


@pytest.fixture(scope="module")
def paced_server(dynamodb_endpoint: str) -> Iterator[Deployment]:
    """Slow runs (to hold streams open) and a small token bucket per caller."""
    deployment = deploy(dynamodb_endpoint, {
        "SCOUT_OFFLINE_DELAY_MS": "400",
        "SCOUT_MAX_STREAMS_PER_PRINCIPAL": str(STREAMS_PER_PRINCIPAL),
        "SCOUT_MAX_RUNS_PER_PRINCIPAL": str(RUNS_PER_PRINCIPAL),
        "SCOUT_RATE_LIMIT_BURST": str(RATE_BURST),
        "SCOUT_RATE_LIMIT_RPS": str(RATE_RPS),
        "SCOUT_HEARTBEAT_INTERVAL_S": "0.5",
    }, "paced")
    yield deployment
    shut(deployment)


def _open_stream(api: Api, sid: str, run_id: str) -> Any:
    """A progress stream that has delivered its first event (so it holds its slot)."""
    call = api.research.StreamProgress(
        research_pb2.StreamProgressRequest(session_id=sid, run_id=run_id),
        metadata=api.md, timeout=60)
    next(call)
    return call


def test_concurrent_streams_per_principal_limit(paced_server: Deployment) -> None:
    alice, root = Api(paced_server.address, "alice"), Api(paced_server.address, "root")
    sid = alice.create_session()
    alice.upload(sid, "plan.md", PLAN)
    run_id = alice.start_research(sid).run_id
    streams = []
    try:
        streams = [_open_stream(alice, sid, run_id) for _ in range(STREAMS_PER_PRINCIPAL)]
        over = outcome(lambda: _open_stream(alice, sid, run_id))
        exhausted(over, "SCOUT_MAX_STREAMS_PER_PRINCIPAL", "TOO_MANY_STREAMS")
        assert str(STREAMS_PER_PRINCIPAL) in over.details
        # Per caller: the admin watching the same run is not counted against alice.
        streams.append(_open_stream(root, sid, run_id))
        # Closing one of alice's streams frees its slot (soon: the server notices the cancel).
        streams.pop(0).cancel()
        deadline = time.monotonic() + 10
        while True:
            again = outcome(lambda: _open_stream(alice, sid, run_id))
            if again.ok:
                streams.append(again.value)
                break
            assert again.code == C.RESOURCE_EXHAUSTED, again
            assert time.monotonic() < deadline, "a cancelled stream never gave its slot back"
            time.sleep(0.5)
        assert alice.get_run(sid, run_id).state == research_pb2.RUN_STATE_RUNNING, (
            "the run ended before the limit was checked: make SCOUT_OFFLINE_DELAY_MS longer")
    finally:
        for call in streams:
            call.cancel()
        outcome(lambda: alice.call("CancelRun", research_pb2.CancelRunRequest(
            session_id=sid, run_id=run_id)))
        alice.close()
        root.close()


def test_unfinished_runs_per_principal_limit(paced_server: Deployment) -> None:
    carol, dave = Api(paced_server.address, "carol"), Api(paced_server.address, "dave")
    started: list[tuple[Api, str, str]] = []
    try:
        sessions = []
        for _ in range(RUNS_PER_PRINCIPAL + 1):
            sid = carol.create_session()
            carol.upload(sid, "plan.md", PLAN)
            sessions.append(sid)
        for sid in sessions[:RUNS_PER_PRINCIPAL]:
            started.append((carol, sid, carol.start_research(sid).run_id))
        over = outcome(lambda: carol.start_research(sessions[-1]))
        exhausted(over, "SCOUT_MAX_RUNS_PER_PRINCIPAL", "TOO_MANY_RUNS")
        assert str(RUNS_PER_PRINCIPAL) in over.details
        # Per caller: dave still starts one.
        dave_sid = dave.create_session()
        dave.upload(dave_sid, "plan.md", PLAN)
        started.append((dave, dave_sid, dave.start_research(dave_sid).run_id))
        # Once one of carol's runs has ended, she may start another.
        _, sid, run_id = started[0]
        carol.call("CancelRun", research_pb2.CancelRunRequest(session_id=sid, run_id=run_id))
        carol.wait_run(sid, run_id, timeout=30)
        deadline = time.monotonic() + 10
        while True:
            again = outcome(lambda: carol.start_research(sessions[-1]))
            if again.ok:
                started.append((carol, sessions[-1], again.value.run_id))
                break
            assert again.code == C.RESOURCE_EXHAUSTED, again
            assert time.monotonic() < deadline, "an ended run still counts against its owner"
            time.sleep(0.5)
        for api, sid, run_id in started[1:]:
            assert api.get_run(sid, run_id).state in (research_pb2.RUN_STATE_QUEUED,
                                                      research_pb2.RUN_STATE_RUNNING), (
                "a run ended before the limit was checked: make SCOUT_OFFLINE_DELAY_MS longer")
    finally:
        for api, sid, run_id in started:
            outcome(partial(api.call, "CancelRun", research_pb2.CancelRunRequest(
                session_id=sid, run_id=run_id)))
        carol.close()
        dave.close()


def test_request_rate_limit_per_principal(paced_server: Deployment) -> None:
    bob, dave = Api(paced_server.address, "bob"), Api(paced_server.address, "dave")
    list_one = session_pb2.ListSessionsRequest(page_size=1)
    try:
        started = time.monotonic()
        results = [outcome(lambda: bob.call("ListSessions", list_one))
                   for _ in range(RATE_BURST + 10)]
        elapsed = time.monotonic() - started
        codes = [r.code for r in results]
        allowed = codes.index(C.RESOURCE_EXHAUSTED) if C.RESOURCE_EXHAUSTED in codes else None
        assert allowed is not None, f"{len(codes)} calls in {elapsed:.1f}s, none refused"
        # Not before the burst is spent; at most the tokens refilled meanwhile on top.
        assert all(c == C.OK for c in codes[:RATE_BURST]), codes[:RATE_BURST]
        assert allowed <= RATE_BURST + int(elapsed * RATE_RPS) + 1, (allowed, elapsed)
        exhausted(results[allowed], "SCOUT_RATE_LIMIT_RPS", "RATE_LIMITED")
        # Every kind of RPC is counted, streaming ones too.
        sid = "0b7c4a1e-3f7e-4c8e-9d43-5d0c2f1b7a10"
        for send in (
            lambda: bob.call("GetSession", session_pb2.GetSessionRequest(session_id=sid)),
            lambda: bob.upload(sid, "x.md", b"x"),
            lambda: bob.download(sid, "x.md"),
            lambda: bob.call("StreamProgress", research_pb2.StreamProgressRequest(
                session_id=sid)),
        ):
            assert outcome(send).code == C.RESOURCE_EXHAUSTED
        # Per caller: dave's bucket is full.
        assert outcome(lambda: dave.call("ListSessions", list_one)).ok
        # The bucket refills at SCOUT_RATE_LIMIT_RPS.
        time.sleep(1.5 / RATE_RPS)
        assert outcome(lambda: bob.call("ListSessions", list_one)).ok
    finally:
        bob.close()
        dave.close()


def test_unauthenticated_calls_do_not_spend_a_callers_tokens(paced_server: Deployment) -> None:
    """Rejected credentials are refused before the bucket (so a forger cannot drain one)."""
    stranger = Api(paced_server.address, metadata=(("authorization", "Bearer forged"),))
    carol = Api(paced_server.address, "carol")
    try:
        for _ in range(RATE_BURST + 5):
            got = outcome(lambda: stranger.call("ListSessions", session_pb2.ListSessionsRequest()))
            assert got.code == C.UNAUTHENTICATED
        got = outcome(lambda: carol.call("ListSessions", session_pb2.ListSessionsRequest()))
        assert got.ok, got
    finally:
        stranger.close()
        carol.close()
