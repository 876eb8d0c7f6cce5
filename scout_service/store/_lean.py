"""DynamoDB reads without botocore's per-call pipeline (``LeanReads``).

A 4 KB GetItem through a botocore client costs about 0.5 ms of CPU on the
calling side: event hooks, parameter validation, the serializer, the
response parser and the retry handler. Against a nearby endpoint that is a
quarter of the call, and CPU every other request on the replica waits for.

Scout's reads (GetItem, Query, BatchGetItem) are idempotent, so they take a
lean path first: the same JSON protocol, signed with SigV4 from the
credentials of the boto3 session the client was built from (its public
``get_credentials()``: the same object botocore refreshes), sent on an HTTP
session this path builds from the client's public config (pool size,
timeouts, proxies, TCP keepalive, client certificate) and the CA bundle
botocore would use (``AWS_CA_BUNDLE``, ``REQUESTS_CA_BUNDLE``). It touches
no private botocore attribute, so a botocore upgrade cannot quietly break
it. Only a clean 200 whose CRC32 matches is taken. Anything else — an error
answer, a broken connection, a checksum mismatch — answers None, and the
caller repeats the read through the botocore client, whose retries and error
parsing apply unchanged. After
a throttling, 5xx or transport failure the lean path steps aside for
``PAUSE_S`` so retries go through botocore's retry quota alone; if DynamoDB
ever refuses its signature, it steps aside for good (and says so in the log).

Answers are shaped like botocore's: ``B`` and ``BS`` values decoded to bytes,
everything else as DynamoDB sent it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
import weakref
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest  # type: ignore[import-untyped]
from botocore.client import BaseClient  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]
from botocore.httpsession import URLLib3Session  # type: ignore[import-untyped]
from botocore.utils import get_environ_proxies  # type: ignore[import-untyped]

from scout_service import tracing

logger = logging.getLogger(__name__)

API_VERSION = "DynamoDB_20120810"
CONTENT_TYPE = "application/x-amz-json-1.0"
SERVICE = "dynamodb"
PAUSE_S = 1.0
# Answers whose items may hold binary values, and where those items sit.
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "GetItem": ("Item",),
    "Query": ("Items", "LastEvaluatedKey"),
}
# The reads this path sends, and the botocore method that repeats each one.
READ_METHODS = {"GetItem": "get_item", "Query": "query", "BatchGetItem": "batch_get_item"}
BUSY_CODES = ("Throttling", "ProvisionedThroughputExceeded", "RequestLimitExceeded")
# DynamoDB refusing this path's signature (botocore's would pass): it steps aside for good.
SIGNATURE_CODES = ("InvalidSignatureException", "IncompleteSignatureException")


def host_header(endpoint_url: str) -> str:
    """The Host a request to ``endpoint_url`` carries (the default port left out)."""
    parts = urlsplit(endpoint_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    return host


class Signer:
    """SigV4 for DynamoDB's JSON protocol: POST / with no query string.

    Builds exactly what botocore's ``SigV4Auth`` builds for the same request
    (the tests hold it against botocore), with the signing key kept per day.
    """

    def __init__(self, region: str, host: str) -> None:
        self.region = region
        self.host = host
        self._keys: dict[tuple[str, str], bytes] = {}

    def _key(self, secret: str, day: str) -> bytes:
        key = self._keys.get((secret, day))
        if key is None:
            key = ("AWS4" + secret).encode()
            for part in (day, self.region, SERVICE, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {(secret, day): key}  # yesterday's key is done with
        return key

    def headers(
        self,
        target: str,
        body: bytes,
        *,
        access_key: str,
        secret_key: str,
        token: str | None,
        amz_date: str,
    ) -> dict[str, str]:
        """The request's headers, Authorization included."""
        headers = {
            "content-type": CONTENT_TYPE,
            "host": self.host,
            "x-amz-date": amz_date,
        }
        if token:
            headers["x-amz-security-token"] = token
        headers["x-amz-target"] = f"{API_VERSION}.{target}"
        names = sorted(headers)
        signed = ";".join(names)
        canonical = "\n".join((
            "POST",
            "/",
            "",
            "".join(f"{name}:{headers[name]}\n" for name in names),
            signed,
            hashlib.sha256(body).hexdigest(),
        ))
        day = amz_date[:8]
        scope = f"{day}/{self.region}/{SERVICE}/aws4_request"
        to_sign = "\n".join((
            "AWS4-HMAC-SHA256",
            amz_date,
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ))
        signature = hmac.new(self._key(secret_key, day), to_sign.encode(), hashlib.sha256)
        headers["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature.hexdigest()}"
        )
        return headers


def _encode(value: object) -> str:
    """JSON for the bytes of a ``B`` or ``BS`` value (the only bytes a request holds)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"cannot send a {type(value).__name__} to DynamoDB")


def decode_binary(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as botocore parses it: ``B``/``BS`` as bytes, nested too."""
    for tag, inner in value.items():
        if tag == "B":
            value[tag] = base64.b64decode(inner)
        elif tag == "BS":
            value[tag] = [base64.b64decode(v) for v in inner]
        elif tag == "M":
            for v in inner.values():
                decode_binary(v)
        elif tag == "L":
            for v in inner:
                decode_binary(v)
    return value


def _decode_item(item: dict[str, Any]) -> None:
    for value in item.values():
        decode_binary(value)


def decode_answer(operation: str, answer: dict[str, Any]) -> None:
    """Turn the binary values of ``answer``'s items into bytes, in place."""
    if operation == "BatchGetItem":
        for items in answer.get("Responses", {}).values():
            for item in items:
                _decode_item(item)
        for request in answer.get("UnprocessedKeys", {}).values():
            for item in request.get("Keys", []):
                _decode_item(item)
        return
    for field in ITEM_FIELDS[operation]:
        found = answer.get(field)
        if isinstance(found, list):
            for item in found:
                _decode_item(item)
        elif isinstance(found, dict):
            _decode_item(found)


@dataclass(frozen=True)
class ClientSource:
    """Where a client's credentials and CA bundle come from (``register``)."""

    session: Any  # a boto3 Session: get_credentials() is all this path calls
    verify: bool | str


# Clients built by make_client, each with its session (weak: a closed client goes).
_SOURCES: weakref.WeakKeyDictionary[Any, ClientSource] = weakref.WeakKeyDictionary()


def register(client: Any, session: Any, verify: bool | str | None = None) -> None:
    """Note the boto3 ``session`` ``client`` was built from, for ``for_client``.

    ``verify`` is what the client was given (None: botocore's default, the
    ``AWS_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE`` bundle or the system's).
    """
    if verify is None:
        verify = os.environ.get("AWS_CA_BUNDLE") or os.environ.get("REQUESTS_CA_BUNDLE") or True
    _SOURCES[client] = ClientSource(session, verify)


def http_session_for(config: Any, endpoint_url: str, verify: bool | str) -> Any:
    """An HTTP session shaped like the one botocore builds for a client of ``config``."""
    socket_options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    if config.tcp_keepalive:
        socket_options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    return URLLib3Session(
        verify=verify,
        proxies=config.proxies or get_environ_proxies(endpoint_url),
        timeout=(config.connect_timeout, config.read_timeout),
        max_pool_connections=config.max_pool_connections,
        socket_options=socket_options,
        client_cert=config.client_cert,
        proxies_config=config.proxies_config,
    )


class LeanReads:
    """One signed JSON request per read, on an HTTP session of its own."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        credentials: Any,
        http_session: Any,
        clock: Callable[[], float] = time.time,
        user_agent: str = "scout-service",
    ) -> None:
        self._url = endpoint_url.rstrip("/") + "/"
        self._signer = Signer(region, host_header(endpoint_url))
        self._credentials = credentials
        self._http = http_session
        self._clock = clock
        self._user_agent = user_agent
        self._paused_until = 0.0
        self.switched_off = False
        self._lock = threading.Lock()
        self.answered = 0  # reads this path answered
        self.declined = 0  # reads handed back to botocore

    @classmethod
    def for_client(cls, client: Any) -> LeanReads | None:
        """Lean reads for ``client``, or None when this path cannot sign them.

        None when ``client`` was not built by ``make_client`` (``register``
        names the session it came from), has no credentials (botocore then
        raises its own error), signs anything but SigV4, must use account-ID
        endpoints (``account_id_endpoint_mode`` "required": this path sends
        to ``endpoint_url``, the regional endpoint unless configured
        otherwise): every read then simply goes through ``client``.
        """
        if not isinstance(client, BaseClient):
            return None
        source = _SOURCES.get(client)
        if source is None:
            return None
        meta = client.meta
        config = meta.config
        credentials = source.session.get_credentials()
        if credentials is None or config.signature_version not in (None, "v4"):
            return None
        if getattr(config, "account_id_endpoint_mode", None) == "required":
            return None  # botocore resolves an endpoint per account; this path has one URL
        endpoint_url = meta.endpoint_url
        if urlsplit(endpoint_url).path not in ("", "/") or not meta.region_name:
            return None
        return cls(
            endpoint_url=endpoint_url,
            region=meta.region_name,
            credentials=credentials,
            http_session=http_session_for(config, endpoint_url, source.verify),
        )

    def close(self) -> None:
        """Close this path's connections."""
        close = getattr(self._http, "close", None)
        if close is not None:
            close()

    def read(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        """The answer to one read, or None: the caller asks botocore instead."""
        if tracing.tracer is None or not tracing.recording():
            answer = self._read(operation, request)
        else:  # botocore's instrumentation never sees this request: a span of its own
            answer = self._traced_read(operation, request)
        with self._lock:
            if answer is None:
                self.declined += 1
            else:
                self.answered += 1
        return answer

    def _traced_read(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        from opentelemetry.trace import SpanKind

        tables = ([request["TableName"]] if "TableName" in request
                  else sorted(request.get("RequestItems", {})))
        with tracing.tracer.start_as_current_span(f"DynamoDB.{operation}", kind=SpanKind.CLIENT,
                                                  attributes={
            "rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": operation,
            "db.system": "dynamodb", "aws.dynamodb.table_names": tables,
            "server.address": self._signer.host, "scout.lean_read": True,
        }) as span:
            answer = self._read(operation, request)
            span.set_attribute("scout.lean_read.outcome",
                               "answered" if answer is not None else "declined")
            return answer

    def _read(self, operation: str, request: dict[str, Any]) -> dict[str, Any] | None:
        if (
            operation not in READ_METHODS
            or self.switched_off
            or self._clock() < self._paused_until
        ):
            return None
        try:
            body = json.dumps(request, separators=(",", ":"), default=_encode).encode()
        except (TypeError, ValueError):
            return None  # botocore's parameter validation explains what is wrong
        frozen = self._credentials.get_frozen_credentials()
        headers = self._signer.headers(
            operation,
            body,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            amz_date=time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock())),
        )
        headers["user-agent"] = self._user_agent
        headers["accept-encoding"] = "identity"
        try:
            response = self._http.send(AWSPreparedRequest("POST", self._url, headers, body, False))
        except BotoCoreError:
            self._pause()
            return None
        content: bytes = response.content
        if response.status_code != 200:
            if response.status_code >= 500 or any(c.encode() in content for c in BUSY_CODES):
                self._pause()
            elif any(c.encode() in content for c in SIGNATURE_CODES):
                self._switch_off(content)
            return None
        try:
            crc = response.headers.get("x-amz-crc32")
            if crc is not None and int(crc) != zlib.crc32(content) & 0xFFFFFFFF:
                return None
            answer: dict[str, Any] = json.loads(content)
            decode_answer(operation, answer)
        except (ValueError, TypeError, AttributeError):  # garbled: botocore says what it is
            return None
        return answer

    def _switch_off(self, answer: bytes) -> None:
        with self._lock:
            if self.switched_off:
                return
            self.switched_off = True
        logger.warning(
            "DynamoDB refused the lean read path's signature; reads go through botocore "
            "from now on (set SCOUT_DYNAMODB_LEAN_READS=false to skip the attempt)",
            extra={"answer": answer[:300].decode(errors="replace")},
        )

    def _pause(self) -> None:
        with self._lock:
            self._paused_until = self._clock() + PAUSE_S
