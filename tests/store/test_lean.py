"""The lean read path (``store._lean``), held against botocore itself.

botocore is the oracle: the same request signed by its ``SigV4Auth``, the
same item read through its client. Reads run against moto's real HTTP
server; the refusals against a tiny HTTP server that answers what a test
tells it to.
"""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scout_service.errors import Unavailable
from scout_service.store import DynamoStore, _lean
from scout_service.store._access import make_client
from scout_service.store._lean import LeanReads, Signer, host_header, register
from scout_service.store.table import create_table
from tests.conftest import REGION

WHEN = datetime.datetime(2026, 11, 26, 19, 3, 7)


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("http://127.0.0.1:8000", None),
        ("https://dynamodb.eu-north-1.amazonaws.com", "session-token/with+odd=chars"),
        ("https://dynamodb.eu-north-1.amazonaws.com:443", None),
        ("http://[::1]:8000", "t"),
    ],
)
def test_signature_is_botocores(
    monkeypatch: pytest.MonkeyPatch, url: str, token: str | None
) -> None:
    body = b'{"TableName":"t","Key":{"session_id":{"S":"s"},"sk":{"S":"SESSION"}}}'
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: WHEN)
    request = AWSRequest(
        "POST",
        url + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
        },
    )
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", token)
    botocore.auth.SigV4Auth(credentials, "dynamodb", "eu-north-1").add_auth(request)

    ours = Signer("eu-north-1", host_header(url)).headers(
        "GetItem",
        body,
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG",
        token=token,
        amz_date=WHEN.strftime("%Y%m%dT%H%M%SZ"),
    )
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["host"] == botocore.auth._host_from_url(url)
    assert ours.get("x-amz-security-token") == token


def test_signing_key_follows_the_day_and_the_secret() -> None:
    signer = Signer("eu-north-1", "h")

    def sign(secret: str, day: str) -> str:
        return signer.headers(
            "GetItem", b"{}", access_key="a", secret_key=secret, token=None,
            amz_date=f"{day}T000000Z",
        )["authorization"]

    first = sign("s", "20261126")
    assert sign("s", "20261127") != first
    assert sign("rotated", "20261126") != first
    assert sign("s", "20261126") == first


# -- reads against moto's server, compared with botocore's answers -----------------------

EVERY_TYPE: dict[str, Any] = {
    "session_id": {"S": "lean"},
    "sk": {"S": "ITEM#1"},
    "text": {"S": "Ünïcödé"},
    "number": {"N": "12.50"},
    "payload": {"B": b"\x00\xffbinary"},
    "texts": {"SS": ["a", "b"]},
    "numbers": {"NS": ["1", "2"]},
    "blobs": {"BS": [b"\x01", b"\x02\x03"]},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "nested": {"M": {"inner": {"B": b"\x10"}, "list": {"L": [{"B": b"\x20"}, {"S": "x"}]}}},
}


def _plain(answer: dict[str, Any]) -> dict[str, Any]:
    answer = dict(answer)
    answer.pop("ResponseMetadata", None)
    return answer


@pytest.fixture
def stored(dynamo_client: Any, dynamo_table: str) -> Iterator[str]:
    """The table, holding EVERY_TYPE and a second item of the same session."""
    dynamo_client.put_item(TableName=dynamo_table, Item=EVERY_TYPE)
    second = dict(EVERY_TYPE, sk={"S": "ITEM#2"}, payload={"B": b"two"})
    dynamo_client.put_item(TableName=dynamo_table, Item=second)
    yield dynamo_table


@pytest.mark.parametrize(
    ("operation", "method", "request_for"),
    [
        ("GetItem", "get_item", lambda t: {
            "TableName": t, "ConsistentRead": True,
            "Key": {"session_id": {"S": "lean"}, "sk": {"S": "ITEM#1"}},
        }),
        ("GetItem", "get_item", lambda t: {  # no such item: no "Item" at all
            "TableName": t, "Key": {"session_id": {"S": "lean"}, "sk": {"S": "NONE"}},
        }),
        ("Query", "query", lambda t: {
            "TableName": t, "Limit": 1,
            "KeyConditionExpression": "session_id = :s AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":s": {"S": "lean"}, ":p": {"S": "ITEM#"}},
        }),
        ("Query", "query", lambda t: {  # a filter on a binary value
            "TableName": t,
            "KeyConditionExpression": "session_id = :s",
            "FilterExpression": "payload = :b",
            "ExpressionAttributeValues": {":s": {"S": "lean"}, ":b": {"B": b"two"}},
        }),
        ("BatchGetItem", "batch_get_item", lambda t: {"RequestItems": {t: {"Keys": [
            {"session_id": {"S": "lean"}, "sk": {"S": "ITEM#1"}},
            {"session_id": {"S": "lean"}, "sk": {"S": "ITEM#2"}},
        ]}}}),
    ],
)
def test_answers_equal_botocores(
    dynamo_client: Any, stored: str, operation: str, method: str, request_for: Any
) -> None:
    lean = LeanReads.for_client(dynamo_client)
    assert lean is not None
    request = request_for(stored)
    ours = lean.read(operation, request)
    assert ours is not None
    assert ours == _plain(getattr(dynamo_client, method)(**request))
    assert lean.answered == 1 and lean.declined == 0


SCALARS = st.one_of(
    st.text(max_size=20).map(lambda v: {"S": v}),
    st.integers(-(10**30), 10**30).map(lambda v: {"N": str(v)}),
    st.binary(max_size=40).map(lambda v: {"B": v}),
    st.booleans().map(lambda v: {"BOOL": v}),
    st.just({"NULL": True}),
    st.sets(st.text(min_size=1, max_size=8), min_size=1, max_size=4)
    .map(lambda v: {"SS": sorted(v)}),
    st.sets(st.binary(min_size=1, max_size=8), min_size=1, max_size=4)
    .map(lambda v: {"BS": sorted(v)}),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda v: {"L": v}),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
        .map(lambda v: {"M": v}),
    ),
    max_leaves=12,
)
ATTRIBUTES = st.dictionaries(st.from_regex(r"a_[a-z]{1,6}", fullmatch=True), VALUES, max_size=5)


@pytest.fixture(scope="module")
def shared_table(dynamo_client: Any) -> Iterator[str]:
    """One table for every Hypothesis example (each writes its own item)."""
    name = "scout-test-lean-property"
    create_table(dynamo_client, name)
    yield name
    dynamo_client.delete_table(TableName=name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attributes=ATTRIBUTES, sk=st.uuids())
def test_any_item_reads_as_botocore_reads_it(
    dynamo_client: Any, shared_table: str, attributes: dict[str, Any], sk: Any
) -> None:
    key = {"session_id": {"S": "property"}, "sk": {"S": str(sk)}}
    dynamo_client.put_item(TableName=shared_table, Item={**key, **attributes})
    lean = LeanReads.for_client(dynamo_client)
    assert lean is not None
    get = {"TableName": shared_table, "Key": key, "ConsistentRead": True}
    assert lean.read("GetItem", get) == _plain(dynamo_client.get_item(**get))
    query = {
        "TableName": shared_table,
        "KeyConditionExpression": "session_id = :s AND sk = :k",
        "ExpressionAttributeValues": {":s": key["session_id"], ":k": key["sk"]},
    }
    assert lean.read("Query", query) == _plain(dynamo_client.query(**query))


def test_an_error_answer_is_left_to_botocore(dynamo_client: Any) -> None:
    lean = LeanReads.for_client(dynamo_client)
    assert lean is not None
    key = {"session_id": {"S": "s"}, "sk": {"S": "k"}}
    assert lean.read("GetItem", {"TableName": "no-such-table", "Key": key}) is None
    assert lean.declined == 1
    # A client error does not pause the path: the next read is tried again.
    assert lean.read("GetItem", {"TableName": "no-such-table", "Key": key}) is None
    assert lean.declined == 2


def test_only_a_botocore_client_with_v4_credentials_qualifies(dynamodb_endpoint: str) -> None:
    class Wrapper:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    client = make_client(region=REGION, endpoint_url=dynamodb_endpoint,
                         aws_access_key_id="a", aws_secret_access_key="b")
    assert LeanReads.for_client(client) is not None
    assert LeanReads.for_client(Wrapper(client)) is None

    anonymous = boto3.session.Session(region_name=REGION).client(
        "dynamodb", endpoint_url=dynamodb_endpoint, config=Config(signature_version=UNSIGNED))
    assert LeanReads.for_client(anonymous) is None
    per_account = boto3.session.Session(
        aws_access_key_id="a", aws_secret_access_key="b", region_name=REGION
    ).client("dynamodb", config=Config(account_id_endpoint_mode="required"))
    assert LeanReads.for_client(per_account) is None

    class NoCredentials:
        def get_credentials(self) -> None:
            return None  # none found anywhere: botocore raises its own error

    register(client, NoCredentials())
    assert LeanReads.for_client(client) is None
    unregistered = boto3.session.Session(
        aws_access_key_id="a", aws_secret_access_key="b", region_name=REGION
    ).client("dynamodb", endpoint_url=dynamodb_endpoint)
    assert LeanReads.for_client(unregistered) is None  # no session known: botocore alone


def test_it_signs_with_the_sessions_credentials_on_public_apis_only(
        dynamodb_endpoint: str) -> None:
    session = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b",
                                    region_name=REGION)
    client = session.client("dynamodb", endpoint_url=dynamodb_endpoint, config=Config(
        max_pool_connections=3, connect_timeout=1.5, read_timeout=4, tcp_keepalive=True))
    register(client, session)
    lean = LeanReads.for_client(client)
    assert lean is not None
    # The very object botocore refreshes, from the session's public accessor.
    assert lean._credentials is session.get_credentials()
    http = lean._http
    assert http is not None and http is not getattr(client, "_endpoint", None)
    assert http._timeout.connect_timeout == 1.5 and http._timeout.read_timeout == 4
    assert http._max_pool_connections == 3
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in http._socket_options
    source = (Path(_lean.__file__)).read_text(encoding="utf-8")
    for private in ("_request_signer", "client._", "meta._", "_client_config"):
        assert private not in source, private
    lean.close()


# -- refusals from an endpoint that answers what the test says -----------------------------


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the server's next (status, headers, body)."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append(self.headers)  # case-insensitive  # type: ignore[attr-defined]
        status, headers, body = self.server.script.pop(0)  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.script = []  # type: ignore[attr-defined]
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _lean_on(server: Any, clock: Clock) -> LeanReads:
    client = make_client(region=REGION, endpoint_url=f"http://127.0.0.1:{server.server_port}",
                         aws_access_key_id="a", aws_secret_access_key="b")
    lean = LeanReads.for_client(client)
    assert lean is not None
    lean._clock = clock
    return lean


GOOD = json.dumps({"Item": {"sk": {"S": "x"}}}).encode()
GET = {"TableName": "t", "Key": {"session_id": {"S": "s"}, "sk": {"S": "x"}}}


def test_a_checksum_mismatch_is_not_taken(scripted: Any) -> None:
    lean = _lean_on(scripted, Clock())
    right = str(zlib.crc32(GOOD))
    scripted.script += [
        (200, {"x-amz-crc32": str(zlib.crc32(GOOD) ^ 1)}, GOOD),
        (200, {"x-amz-crc32": right}, GOOD),
        (200, {}, b"{not json"),
        (200, {"x-amz-crc32": "garbled"}, GOOD),
    ]
    assert lean.read("GetItem", GET) is None
    assert lean.read("GetItem", GET) == {"Item": {"sk": {"S": "x"}}}
    assert lean.read("GetItem", GET) is None
    assert lean.read("GetItem", GET) is None
    assert lean.read("GetItem", {**GET, "Key": {"sk": {"S": object()}}}) is None  # not sent
    assert (lean.answered, lean.declined) == (1, 4)
    assert len(scripted.requests) == 4
    sent = scripted.requests[0]
    assert sent["X-Amz-Target"] == "DynamoDB_20120810.GetItem"
    assert sent["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=a/")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException"}'),
        (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#'
              b'ProvisionedThroughputExceededException"}'),
        (500, b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError"}'),
    ],
)
def test_a_busy_answer_pauses_the_path(scripted: Any, status: int, body: bytes) -> None:
    clock = Clock()
    lean = _lean_on(scripted, clock)
    scripted.script += [(status, {}, body), (200, {}, GOOD)]
    assert lean.read("GetItem", GET) is None
    clock.now += 0.5  # still paused: botocore alone retries, nothing is sent
    assert lean.read("GetItem", GET) is None
    assert len(scripted.requests) == 1
    clock.now += 0.6
    assert lean.read("GetItem", GET) == {"Item": {"sk": {"S": "x"}}}
    assert len(scripted.requests) == 2


def test_a_refused_signature_switches_the_path_off(
    scripted: Any, caplog: pytest.LogCaptureFixture
) -> None:
    lean = _lean_on(scripted, Clock())
    refused = b'{"__type":"com.amazon.coral.service#InvalidSignatureException"}'
    scripted.script += [(400, {}, refused), (200, {}, GOOD)]
    assert lean.read("GetItem", GET) is None
    assert lean.switched_off
    assert "reads go through botocore from now on" in caplog.text
    assert lean.read("GetItem", GET) is None
    assert len(scripted.requests) == 1  # never tried again


@pytest.mark.anyio
async def test_store_reads_fall_back_to_botocore_and_its_errors(scripted: Any) -> None:
    """A refused lean read is repeated by botocore, whose error the store translates."""
    not_found = b'{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"}'
    scripted.script += [(400, {}, not_found), (400, {}, not_found)]
    store = DynamoStore.from_config(
        table_name="t", region=REGION, endpoint_url=f"http://127.0.0.1:{scripted.server_port}",
        aws_access_key_id="a", aws_secret_access_key="b", max_attempts=1,
    )
    try:
        with pytest.raises(Unavailable) as caught:
            await store.get_session("s")
        assert caught.value.reason == "TABLE_NOT_FOUND"
        assert len(scripted.requests) == 2  # the lean try, then botocore's
        assert "Botocore" in scripted.requests[1]["User-Agent"]
        assert scripted.requests[0]["User-Agent"] == "scout-service"
    finally:
        await store.close()


@pytest.mark.anyio
async def test_store_reads_go_lean_unless_switched_off(
    dynamo_client: Any, dynamo_table: str
) -> None:
    lean_store = DynamoStore(dynamo_client, table_name=dynamo_table)
    plain_store = DynamoStore(dynamo_client, table_name=dynamo_table, lean_reads=False)
    try:
        session = await lean_store.create_session(owner="o", ttl_seconds=60)
        assert (await lean_store.get_session(session.session_id)).owner == "o"
        assert lean_store._lean is not None and lean_store._lean.answered >= 1
        assert lean_store._lean.declined == 0
        assert plain_store._lean is None
        assert (await plain_store.get_session(session.session_id)).owner == "o"
    finally:
        await lean_store.close()
        await plain_store.close()
