"""Callers and tenants: who may touch which session, on every RPC.

- Another principal's session does not exist for you: every RPC that names
  it answers NOT_FOUND, exactly as for a session that never existed (same
  message and reason, so the answer does not reveal that it exists), and
  changes nothing.
- No token, a wrong token or a malformed header: UNAUTHENTICATED on every
  RPC, before the request is even validated, and nothing is written.
- ListSessions lists the caller's own sessions only (admins included); the
  admin principal (root) may read anyone's session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from google.protobuf import duration_pb2
from grpc_health.v1 import health_pb2

from scout.v1 import report_pb2, research_pb2, session_pb2, types_pb2
from tests.trust._api import CALLERS, PLAN, RPCS, UNKNOWN_ID, Api, C, Rpc, bearer, outcome, sha256
from tests.trust.conftest import Deployment

pytestmark = pytest.mark.e2e

sp, rp, rs = session_pb2, report_pb2, research_pb2


def requests_for(sid: str, run_id: str) -> dict[str, Any]:
    """A well-formed request of each RPC aimed at session ``sid`` (and its run)."""
    return {
        "CreateSession": sp.CreateSessionRequest(labels={"team": "trust"}),
        "GetSession": sp.GetSessionRequest(session_id=sid),
        "ListSessions": sp.ListSessionsRequest(),
        "ExtendSession": sp.ExtendSessionRequest(
            session_id=sid, ttl=duration_pb2.Duration(seconds=7200)),
        "DeleteSession": sp.DeleteSessionRequest(session_id=sid),
        "UploadFile": [sp.UploadFileRequest(session_id=sid, file_name="plan.md",
                                            content_type="text/markdown"),
                       sp.UploadFileRequest(chunk=b"# overwritten by an intruder\n")],
        "ListFiles": sp.ListFilesRequest(session_id=sid),
        "DownloadFile": sp.DownloadFileRequest(session_id=sid, file_name="plan.md"),
        "GetReport": rp.GetReportRequest(session_id=sid, kind=types_pb2.REPORT_KIND_MARKET),
        "ListReports": rp.ListReportsRequest(session_id=sid),
        "PutReport": rp.PutReportRequest(session_id=sid, kind=types_pb2.REPORT_KIND_MARKET,
                                         content="# Market\n\nan intruder's version"),
        "ExportReports": rp.ExportReportsRequest(session_id=sid,
                                                 format=rp.EXPORT_FORMAT_MARKDOWN),
        "StartResearch": rs.StartResearchRequest(session_id=sid, request_id="intruder-1"),
        "GetRun": rs.GetRunRequest(session_id=sid, run_id=run_id),
        "ListRuns": rs.ListRunsRequest(session_id=sid),
        "CancelRun": rs.CancelRunRequest(session_id=sid, run_id=run_id),
        "StreamProgress": rs.StreamProgressRequest(session_id=sid, run_id=run_id),
    }


SESSION_RPCS = [rpc for rpc in RPCS if rpc.name not in ("CreateSession", "ListSessions")]


def scan(deployment: Deployment) -> list[dict[str, Any]]:
    """Every item of the server's table, straight from DynamoDB, in key order."""
    client = boto3.client("dynamodb", endpoint_url=deployment.endpoint, region_name="eu-north-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": deployment.table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["session_id"]["S"], i["sk"]["S"]))
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def partition(deployment: Deployment, session_id: str) -> list[dict[str, Any]]:
    """The items of one session, straight from DynamoDB."""
    return [i for i in scan(deployment) if i["session_id"]["S"] == session_id]


@pytest.fixture(scope="module")
def world(trust_server: Deployment) -> Iterator[dict[str, Any]]:
    """alice's session with a file, a finished run and its reports; one session each of
    bob's and root's; and an Api per caller."""
    apis = {who: Api(trust_server.address, who) for who in CALLERS}
    alice = apis["alice"]
    sid = alice.create_session(labels={"owner": "alice"})
    alice.upload(sid, "plan.md", PLAN)
    run = alice.start_research(sid, request_id="alice-run-1")
    done = alice.wait_run(sid, run.run_id, timeout=60)
    assert done.state == rs.RUN_STATE_SUCCEEDED, done.error
    alice.put_report(sid, types_pb2.REPORT_KIND_MARKET, "# Market\n\nalice's own edit\n")
    world = {
        "apis": apis, "sid": sid, "run_id": run.run_id,
        "alice_2": alice.create_session(),
        "bob": apis["bob"].create_session(),
        "root": apis["root"].create_session(),
    }
    yield world
    for api in apis.values():
        api.close()


@pytest.mark.parametrize("rpc", SESSION_RPCS, ids=lambda r: r.name)
def test_another_principal_gets_not_found_and_changes_nothing(
    rpc: Rpc, world: dict[str, Any], trust_server: Deployment
) -> None:
    bob: Api = world["apis"]["bob"]
    sid, run_id = world["sid"], world["run_id"]
    before = partition(trust_server, sid)

    theirs = outcome(lambda: bob.call(rpc, requests_for(sid, run_id)[rpc.name]))
    assert theirs.code == C.NOT_FOUND, f"{rpc.name}: {theirs.code.name} {theirs.details}"
    assert theirs.details, f"{rpc.name}: NOT_FOUND without a message"

    # The same code and reason as a session that never existed.
    nobody = outcome(lambda: bob.call(rpc, requests_for(UNKNOWN_ID, run_id)[rpc.name]))
    assert (nobody.code, nobody.reason) == (C.NOT_FOUND, theirs.reason), rpc.name

    assert partition(trust_server, sid) == before, f"{rpc.name} by bob changed alice's session"
    assert sid not in {s.session_id for s in bob.call("ListSessions", sp.ListSessionsRequest(
        page_size=1000)).sessions}


def test_foreign_session_is_indistinguishable_from_a_missing_one(world: dict[str, Any]) -> None:
    bob: Api = world["apis"]["bob"]
    sid, run_id = world["sid"], world["run_id"]
    differ = []
    for rpc in SESSION_RPCS:
        theirs = outcome(partial(bob.call, rpc, requests_for(sid, run_id)[rpc.name]))
        nobody = outcome(partial(bob.call, rpc, requests_for(UNKNOWN_ID, run_id)[rpc.name]))
        answers = [(o.code, o.reason, o.details.replace(i, "<id>"))
                   for o, i in ((theirs, sid), (nobody, UNKNOWN_ID))]
        if answers[0] != answers[1]:
            differ.append(f"{rpc.name}: {answers[0]} != {answers[1]}")
    assert not differ, "\n".join(differ)


# (name, metadata, ErrorInfo reason) of credentials that must not get anyone in.
BAD_CREDENTIALS: list[tuple[str, tuple[tuple[str, str], ...], str]] = [
    ("no metadata", (), "MISSING_CREDENTIALS"),
    ("unrelated metadata only", (("x-caller", "alice"),), "MISSING_CREDENTIALS"),
    ("unknown token", bearer("not-a-token-of-anyone"), "INVALID_TOKEN"),
    ("token with a suffix", bearer(CALLERS["alice"] + "x"), "INVALID_TOKEN"),
    ("token prefix", bearer(CALLERS["alice"][:-1]), "INVALID_TOKEN"),
    ("token's sha256 instead", bearer(sha256(CALLERS["alice"])), "INVALID_TOKEN"),
    ("principal name", bearer("alice"), "INVALID_TOKEN"),
    ("Basic scheme", (("authorization", f"Basic {CALLERS['alice']}"),), "BAD_AUTH_HEADER"),
    ("bare token", (("authorization", CALLERS["alice"]),), "BAD_AUTH_HEADER"),
    ("empty bearer", (("authorization", "Bearer "),), "BAD_AUTH_HEADER"),
]


def test_missing_or_wrong_credentials_are_unauthenticated_on_every_rpc(
    world: dict[str, Any], trust_server: Deployment
) -> None:
    sid, run_id = world["sid"], world["run_id"]
    before = scan(trust_server)
    valid = requests_for(sid, run_id)
    # Also malformed requests: authentication comes before validation.
    malformed = requests_for("not-a-session-id", "not-a-run-id")
    wrong: list[str] = []
    for label, metadata, reason in BAD_CREDENTIALS:
        api = Api(trust_server.address, metadata=metadata)
        try:
            for rpc in RPCS:
                for which, request in (("valid", valid[rpc.name]),
                                       ("malformed", malformed[rpc.name])):
                    got = outcome(partial(api.call, rpc, request))
                    if got.code != C.UNAUTHENTICATED or got.reason != reason or not got.details:
                        wrong.append(f"{label} / {rpc.name} ({which}): {got.code.name} "
                                     f"{got.reason} {got.details!r}")
        finally:
            api.close()
    assert not wrong, "\n".join(wrong)
    assert scan(trust_server) == before, "an unauthenticated call wrote to the table"
    # Health stays open to probes that carry no credentials.
    anonymous = Api(trust_server.address)
    assert anonymous.health_status() == health_pb2.HealthCheckResponse.SERVING
    anonymous.close()


def _all_sessions(api: Api, page_size: int) -> list[Any]:
    sessions: list[Any] = []
    token = ""
    for _ in range(1000):
        page = api.call("ListSessions", sp.ListSessionsRequest(page_size=page_size,
                                                               page_token=token))
        sessions += page.sessions
        token = page.next_page_token
        if not token:
            return sessions
    raise AssertionError("ListSessions never ended")


def test_list_sessions_shows_only_the_callers_own(world: dict[str, Any]) -> None:
    apis: dict[str, Api] = world["apis"]
    carol, dave = apis["carol"], apis["dave"]
    mine = {carol.create_session(labels={"n": str(i)}) for i in range(3)}
    dave_sid = dave.create_session()
    for page_size in (1, 2, 1000):
        listed = _all_sessions(carol, page_size)
        assert sorted(s.session_id for s in listed) == sorted(mine), page_size
        assert {s.owner for s in listed} == {"carol"}
    assert [s.session_id for s in _all_sessions(dave, 1)] == [dave_sid]

    owned = {"alice": {world["sid"], world["alice_2"]}, "bob": {world["bob"]},
             "root": {world["root"]}, "carol": mine, "dave": {dave_sid}}
    for who in ("alice", "bob", "root"):
        listed = _all_sessions(apis[who], 50)
        assert {s.owner for s in listed} == {who}, f"{who} sees others' sessions"
        own = {s.session_id for s in listed}
        assert owned[who] <= own
        foreign = set().union(*(ids for owner, ids in owned.items() if owner != who))
        assert not own & foreign, f"{who}'s listing shows others' sessions"
    # The admin, too, lists only its own sessions (it reads others' by id).
    assert world["sid"] not in {s.session_id for s in _all_sessions(apis["root"], 50)}


def test_admin_reads_another_principals_session(world: dict[str, Any]) -> None:
    alice: Api = world["apis"]["alice"]
    root: Api = world["apis"]["root"]
    sid, run_id = world["sid"], world["run_id"]
    reads: dict[str, Callable[[Api], Any]] = {
        "GetSession": lambda a: a.call("GetSession", sp.GetSessionRequest(session_id=sid)),
        "ListFiles": lambda a: a.call("ListFiles", sp.ListFilesRequest(session_id=sid)),
        "DownloadFile": lambda a: a.download(sid, "plan.md"),
        "GetReport": lambda a: a.call("GetReport", rp.GetReportRequest(
            session_id=sid, kind=types_pb2.REPORT_KIND_MARKET)),
        "ListReports": lambda a: a.call("ListReports", rp.ListReportsRequest(session_id=sid)),
        "ExportReports": lambda a: b"".join(m.chunk for m in a.call(
            "ExportReports", rp.ExportReportsRequest(session_id=sid,
                                                     format=rp.EXPORT_FORMAT_MARKDOWN))),
        "GetRun": lambda a: a.get_run(sid, run_id),
        "ListRuns": lambda a: a.call("ListRuns", rs.ListRunsRequest(session_id=sid)),
        "StreamProgress": lambda a: [m.event for m in a.call(
            "StreamProgress", rs.StreamProgressRequest(session_id=sid, run_id=run_id))],
    }
    for name, read in reads.items():
        as_root = outcome(partial(read, root))
        assert as_root.ok, f"root {name}: {as_root.code.name} {as_root.details}"
        as_alice = read(alice)
        if name == "ExportReports":  # rendered with a timestamp; compare the reports in it
            assert b"alice's own edit" in as_root.value
            continue
        assert as_root.value == as_alice, f"root's {name} differs from the owner's"
    session = root.call("GetSession", sp.GetSessionRequest(session_id=sid)).session
    assert session.owner == "alice"
    _, data = root.download(sid, "plan.md")
    assert data == PLAN
    events = reads["StreamProgress"](root)
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == rs.PROGRESS_EVENT_TYPE_RUN_COMPLETED
    # bob, not an admin, reads none of it (every RPC: see the NOT_FOUND test).
    assert outcome(lambda: reads["GetSession"](world["apis"]["bob"])).code == C.NOT_FOUND

