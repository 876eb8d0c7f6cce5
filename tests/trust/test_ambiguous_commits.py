"""A commit whose outcome the server cannot know must not leave a corrupt blob behind.

A chunked file or report becomes visible when its metadata item is committed
(one TransactWriteItems) after its chunks. Two ways the server can lose track
of whether that commit happened, each forced exactly by a ``FaultyProxy`` rule
on the commit of one blob:

- ``deadline``: the commit is slow (held 3 s) and the caller's deadline (1.5 s)
  cancels the call while the request is already on its way to DynamoDB;
- ``lost_reply``: the commit is applied but its reply is lost, and every retry
  of the same transaction then fails with HTTP 500.

Either way the call fails, which is fine. What must not happen is the blob
ending up listed but unreadable: whatever a caller can see afterwards reads
back intact (its bytes match its sha256), or is not there at all.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from scout.v1 import report_pb2, session_pb2, types_pb2
from tests.support.faulty_proxy import DELAY, ERROR_500, LOST_REPLY, FaultyProxy
from tests.trust._api import Api, C, outcome, sha256
from tests.trust.conftest import Deployment, deploy, shut

pytestmark = pytest.mark.e2e

SIZE = 800_000  # three chunks of at most 350,000 bytes


@pytest.fixture(scope="module")
def behind_proxy(dynamodb_endpoint: str) -> Iterator[tuple[FaultyProxy, Deployment]]:
    """A replica whose DynamoDB traffic passes a proxy (no random faults: rules only)."""
    proxy = FaultyProxy(dynamodb_endpoint, seed=0, fault_rate=0.0, outage_rate=0.0)
    deployment = deploy(proxy.url, {}, "ambiguous")
    yield proxy, deployment
    shut(deployment)
    proxy.close()


def _commit_of(body: bytes, marker: bytes) -> bool:
    """The TransactWriteItems that makes the chunked blob ``marker`` visible."""
    return marker in body and b"chunk_count" in body


def _rule(how: str, marker: bytes) -> Any:
    seen: dict[str, Any] = {"token": None, "done": False}

    def rule(operation: str, body: bytes) -> tuple[str | None, float] | None:
        if operation != "TransactWriteItems" or not _commit_of(body, marker):
            return None
        if how == "deadline":
            if seen["done"]:
                return None
            seen["done"] = True
            return DELAY, 3.0
        token = json.loads(body).get("ClientRequestToken")
        if seen["token"] is None:
            seen["token"] = token
            return LOST_REPLY, 0.0
        return (ERROR_500, 0.0) if token == seen["token"] else None

    return rule


@pytest.mark.parametrize("what", ["file", "report"])
@pytest.mark.parametrize("how", ["deadline", "lost_reply"])
def test_an_unknown_commit_outcome_leaves_no_corrupt_blob(
    behind_proxy: tuple[FaultyProxy, Deployment], what: str, how: str
) -> None:
    proxy, deployment = behind_proxy
    alice = Api(deployment.address, "alice")
    try:
        sid = alice.create_session()
        timeout = 1.5 if how == "deadline" else 60.0
        if what == "file":
            data = random.Random(7).randbytes(SIZE)
            proxy.rule = _rule(how, b'"FILE#blob.bin"')
            sent = outcome(lambda: alice.upload(sid, "blob.bin", data, timeout=timeout))
        else:
            text = "# Market\n\n" + "demand grows in Oslo; " * (SIZE // 22)
            proxy.rule = _rule(how, b'"REPORT#')
            sent = outcome(lambda: alice.call("PutReport", report_pb2.PutReportRequest(
                session_id=sid, kind=types_pb2.REPORT_KIND_MARKET, content=text),
                timeout=timeout))
        assert sent.code in (C.DEADLINE_EXCEEDED, C.UNAVAILABLE), sent  # the forced failure
        time.sleep(3.0)  # the held commit lands and whatever cleanup there is has run
        proxy.rule = None

        if what == "file":
            files = alice.call("ListFiles", session_pb2.ListFilesRequest(session_id=sid)).files
            for info in files:
                read = outcome(partial(alice.download, sid, info.file_name))
                assert read.ok, f"{info.file_name} is listed but reads {read.code.name}: " \
                                f"{read.details}"
                assert sha256(read.value[1]) == info.sha256 == sha256(data)
        else:
            read = outcome(lambda: alice.call("GetReport", report_pb2.GetReportRequest(
                session_id=sid, kind=types_pb2.REPORT_KIND_MARKET)))
            assert read.ok or read.code == C.NOT_FOUND, (
                f"the report reads {read.code.name}: {read.details}")
            if read.ok:
                assert sha256(read.value.report.content) == read.value.report.sha256
    finally:
        proxy.rule = None
        alice.close()
