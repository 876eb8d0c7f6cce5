"""Uploads that do not end cleanly store nothing (issue 17, items 3 and 4).

Against a real server process on the test DynamoDB: an UploadFile that the
client cancels, a client process killed mid-upload, a declared size_bytes
the bytes do not match, and a server stopped by SIGTERM mid-upload. In every
case ListFiles never lists the file and no chunk item of it stays in the
table (checked through a raw boto3 scan of the session's partition).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import boto3
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from scout.v1 import session_pb2, session_pb2_grpc
from scout_client import AsyncScoutClient
from tests.support.server import ROOT, TOKENS, ServerProcess, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MD = (("authorization", f"Bearer {TOKENS['alice']}"),)
KB = 1000
MIB = 1024 * 1024


def _table_items(server: ServerProcess, session_id: str) -> list[dict[str, Any]]:
    client = boto3.client(
        "dynamodb", endpoint_url=server.env["DYNAMODB_ENDPOINT_URL"], region_name="eu-north-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": server.env["DYNAMODB_TABLE_NAME"], "ConsistentRead": True,
        "KeyConditionExpression": "session_id = :s",
        "ExpressionAttributeValues": {":s": {"S": session_id}},
        "ProjectionExpression": "sk",
    }
    while True:
        page = client.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def chunk_items(server: ServerProcess, session_id: str) -> list[str]:
    """Sort keys of the session's blob chunks (files and reports)."""
    return [i["sk"]["S"] for i in _table_items(server, session_id)
            if i["sk"]["S"].startswith("BLOB#")]


def file_items(server: ServerProcess, session_id: str) -> list[str]:
    """Sort keys of the session's file metadata items."""
    return [i["sk"]["S"] for i in _table_items(server, session_id)
            if i["sk"]["S"].startswith("FILE#")]


class Sessions:
    """SessionService stubs as alice, on one channel."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = session_pb2_grpc.SessionServiceStub(self.channel)

    def create(self) -> str:
        response = self.stub.CreateSession(session_pb2.CreateSessionRequest(), metadata=MD,
                                           timeout=30)
        return str(response.session.session_id)

    def listed(self, session_id: str) -> list[tuple[str, int]]:
        response = self.stub.ListFiles(session_pb2.ListFilesRequest(session_id=session_id),
                                       metadata=MD, timeout=30)
        return [(f.file_name, f.size_bytes) for f in response.files]

    def upload(self, messages: Iterator[session_pb2.UploadFileRequest]
               ) -> session_pb2.UploadFileResponse:
        response: session_pb2.UploadFileResponse = self.stub.UploadFile(
            messages, metadata=MD, timeout=60)
        return response

    def close(self) -> None:
        self.channel.close()


@pytest.fixture(scope="module")
def server(dynamodb_endpoint: str) -> Iterator[ServerProcess]:
    import uuid

    proc = ServerProcess(dynamodb_endpoint, f"scout-uploads-{uuid.uuid4().hex[:8]}").start()
    yield proc
    try:
        proc.stop(timeout=20)
    except Exception:  # noqa: BLE001
        proc.kill()


@pytest.fixture
def sessions(server: ServerProcess) -> Iterator[Sessions]:
    api = Sessions(server.address)
    yield api
    api.close()


def header(session_id: str, name: str, size: int = 0, chunk: bytes = b""
           ) -> session_pb2.UploadFileRequest:
    return session_pb2.UploadFileRequest(
        session_id=session_id, file_name=name, content_type="application/octet-stream",
        size_bytes=size, chunk=chunk)


def reason_of(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "no google.rpc.Status in the trailers"
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return str(info.reason)


# -- (a) the client cancels after its first chunk ----------------------------------------


def test_cancelled_uploads_are_never_listed(server: ServerProcess, sessions: Sessions) -> None:
    """30 cancels at varied points after the first chunk: nothing listed, no chunk left."""
    sid = sessions.create()
    rng = random.Random(17)
    sizes = [0, 10, 50 * KB, 290 * KB, 400 * KB, MIB]

    async def cancel_all() -> None:
        async with AsyncScoutClient(server.address, token=TOKENS["alice"]) as scout:
            for attempt in range(30):
                size = sizes[attempt % len(sizes)]
                sent = asyncio.Event()

                async def pieces(size: int = size, sent: asyncio.Event = sent
                                 ) -> AsyncIterator[bytes]:
                    if size:
                        yield rng.randbytes(size)
                    sent.set()
                    await asyncio.sleep(3600)  # never half-closes
                    yield b"never sent"

                task = asyncio.create_task(scout.upload_file(
                    sid, pieces(), file_name=f"cancelled-{attempt}.bin", timeout=60))
                await asyncio.wait_for(sent.wait(), 30)
                # From "before the chunk left" to "long after the server has it".
                await asyncio.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02, 0.05, 0.2]))
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                if attempt % 5 == 4:
                    assert sessions.listed(sid) == []

    asyncio.run(asyncio.wait_for(cancel_all(), 150))
    time.sleep(1.0)  # a commit that was going to land has landed by now
    assert sessions.listed(sid) == []
    assert file_items(server, sid) == []
    wait_for(lambda: not chunk_items(server, sid), timeout=15)
    # A clean upload in the same session still works.
    info = sessions.upload(iter([header(sid, "ok.bin", 4, b"okay")])).file
    assert (info.file_name, info.size_bytes) == ("ok.bin", 4)


# -- (b) a client process killed mid-upload -----------------------------------------------

_CLIENT = """
import sys, time, grpc
from scout.v1 import session_pb2, session_pb2_grpc
address, token, sid, name, total, first = sys.argv[1:7]
total, first = int(total), int(first)

def messages():
    yield session_pb2.UploadFileRequest(session_id=sid, file_name=name,
        content_type="application/octet-stream", size_bytes=total)
    yield session_pb2.UploadFileRequest(chunk=b"k" * first)
    print("SENT", flush=True)
    time.sleep(3600)

channel = grpc.insecure_channel(address)
stub = session_pb2_grpc.SessionServiceStub(channel)
stub.UploadFile(messages(), metadata=(("authorization", "Bearer " + token),), timeout=3600)
"""


def test_a_client_killed_mid_upload_leaves_nothing(server: ServerProcess,
                                                   sessions: Sessions) -> None:
    """SIGKILL after the first chunk (the full size declared): never listed, chunks gone."""
    sid = sessions.create()
    env = {**os.environ, "GRPC_ENABLE_FORK_SUPPORT": "0"}
    for attempt, first in enumerate([20 * KB, 700 * KB, 100, MIB, 250 * KB, 800 * KB]):
        name = f"killed-{attempt}.bin"
        child = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, server.address, TOKENS["alice"], sid, name,
             str(3 * MIB), str(first)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "SENT"
            if first > 350 * KB:  # the server writes chunks as they fill: wait for one
                wait_for(lambda: chunk_items(server, sid), timeout=15, interval=0.02)
            else:
                time.sleep(0.05 * (attempt + 1))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            if child.stdout is not None:
                child.stdout.close()
        wait_for(lambda: not chunk_items(server, sid), timeout=15)
        assert sessions.listed(sid) == [], f"attempt {attempt} ({first} bytes) was stored"
    time.sleep(1.0)
    assert sessions.listed(sid) == []
    assert file_items(server, sid) == []
    assert chunk_items(server, sid) == []


# -- (c) a declared size that the bytes do not match --------------------------------------


@pytest.mark.parametrize(("declared", "pieces"), [
    (10, [1000]),  # more than declared, inline
    (5000, [1000]),  # fewer than declared, inline
    (100 * KB, [MIB, MIB]),  # more than declared, refused at the first message
    (3 * MIB, [MIB]),  # fewer than declared after chunks were written
    (MIB + 1, [MIB]),  # one byte short
])
def test_a_declared_size_that_the_bytes_miss_is_refused(
    server: ServerProcess, sessions: Sessions, declared: int, pieces: list[int]
) -> None:
    sid = sessions.create()

    def messages() -> Iterator[session_pb2.UploadFileRequest]:
        yield header(sid, "plan.bin", declared)
        for size in pieces:
            yield session_pb2.UploadFileRequest(chunk=b"s" * size)

    with pytest.raises(grpc.RpcError) as caught:
        sessions.upload(messages())
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(error) == "SIZE_MISMATCH"
    assert str(declared) in error.details()
    assert sessions.listed(sid) == []
    assert file_items(server, sid) == []
    wait_for(lambda: not chunk_items(server, sid), timeout=15)
    # The exact size is stored.
    exact = sessions.upload(iter([header(sid, "plan.bin", 1000, b"e" * 1000)])).file
    assert exact.size_bytes == 1000


def test_a_short_upload_does_not_replace_the_stored_version(
    server: ServerProcess, sessions: Sessions
) -> None:
    sid = sessions.create()
    sessions.upload(iter([header(sid, "plan.bin", 6, b"first!")]))
    with pytest.raises(grpc.RpcError) as caught:
        sessions.upload(iter([header(sid, "plan.bin", 600 * KB),
                              session_pb2.UploadFileRequest(chunk=b"x" * 500 * KB)]))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert sessions.listed(sid) == [("plan.bin", 6)]


# -- (d) the server gets SIGTERM mid-upload ---------------------------------------------


def test_sigterm_mid_upload_leaves_no_orphan_chunks(
    start_server: Callable[..., ServerProcess]
) -> None:
    first = start_server()
    api = Sessions(first.address)
    sid = api.create()
    release = threading.Event()
    outcome: list[BaseException | object] = []

    def messages() -> Iterator[session_pb2.UploadFileRequest]:
        yield header(sid, "big.bin")
        yield session_pb2.UploadFileRequest(chunk=b"b" * MIB)
        release.wait(60)

    def upload() -> None:
        try:
            outcome.append(api.upload(messages()))
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    try:
        wait_for(lambda: len(chunk_items(first, sid)) >= 2, timeout=30, interval=0.02)
        assert first.stop(timeout=60) == 0
        assert chunk_items(first, sid) == [], "orphan chunks survived the shutdown"
    finally:
        release.set()
        uploader.join(30)
        api.close()
    assert outcome and isinstance(outcome[0], grpc.RpcError)
    second = start_server()
    again = Sessions(second.address)
    try:
        assert again.listed(sid) == []
        assert chunk_items(second, sid) == []
        assert file_items(second, sid) == []
    finally:
        again.close()
