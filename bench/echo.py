"""A bare ``grpc.aio`` server: the RPC floor every Scout row is held against.

Run as its own process (``python -m bench.echo --port N``) so it pays what
the Scout server pays — its own interpreter, event loop and sockets — and
nothing else: no auth, no store, no metrics, no protobuf messages (the
methods take and return raw bytes). It answers ``grpc.health.v1`` like Scout
does, so start-up to SERVING is timed the same way.

Methods (service ``bench.Echo``):

- ``Unary``: the request's first 4 bytes (little-endian) say how many bytes
  to answer; a ``GetReport``-sized reply costs what a 4 KB report costs.
- ``Stream``: request ``<IIB`` (count, size, hold): ``count`` messages of
  ``size`` bytes; with ``hold`` the stream then stays open until the client
  cancels (to measure memory with many streams open).
- ``Subscribe`` + ``Publish``: a one-topic broker. Each ``Subscribe`` stream
  (request ``<II``: count, size) gets its own queue; one ``Publish`` (same
  request) puts ``count`` events into every queue; each stream ends after
  ``count`` events. The floor of Scout's progress fan-out.
- ``Upload``: client streaming; answers the total bytes received (``<Q``).
- ``GetItem`` (with ``--dynamodb URL --table NAME``): the request is a JSON
  key; the handler does one strongly consistent boto3 ``get_item`` on a
  thread pool of 16 (as Scout's store does) and answers the item's ``data``
  bytes. The floor of a gRPC service in front of DynamoDB built the same way
  as Scout, with nothing else in it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import signal
import struct
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVICE = "bench.Echo"
UNARY = f"/{SERVICE}/Unary"
STREAM = f"/{SERVICE}/Stream"
SUBSCRIBE = f"/{SERVICE}/Subscribe"
PUBLISH = f"/{SERVICE}/Publish"
UPLOAD = f"/{SERVICE}/Upload"
GET_ITEM = f"/{SERVICE}/GetItem"

MAX_MESSAGE_BYTES = 16 * 1024 * 1024
OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),
]


def unary_request(size: int) -> bytes:
    """An Unary request asking for ``size`` bytes back."""
    return struct.pack("<I", size)


def stream_request(count: int, size: int, hold: bool = False) -> bytes:
    """A Stream request."""
    return struct.pack("<IIB", count, size, hold)


def topic_request(count: int, size: int) -> bytes:
    """A Subscribe or Publish request."""
    return struct.pack("<II", count, size)


def get_item_request(session_id: str, sk: str) -> bytes:
    """A GetItem request for the item with this key."""
    return json.dumps({"session_id": {"S": session_id}, "sk": {"S": sk}}).encode()


class Echo:
    """The handlers and the broker's subscriber queues."""

    def __init__(self, dynamodb: Any = None, table: str = "") -> None:
        self._payloads: dict[int, bytes] = {}
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._dynamodb = dynamodb
        self._table = table
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="echo-dynamodb")

    def payload(self, size: int) -> bytes:
        """``size`` bytes, made once."""
        data = self._payloads.get(size)
        if data is None:
            data = self._payloads[size] = b"x" * size
        return data

    async def unary(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        (size,) = struct.unpack_from("<I", request)
        return self.payload(size)

    async def stream(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        count, size, hold = struct.unpack("<IIB", request)
        data = self.payload(size)
        for _ in range(count):
            yield data
        if hold:
            await asyncio.Event().wait()  # until the client cancels

    async def subscribe(
        self, request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        count, _size = struct.unpack("<II", request)
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._queues.add(queue)
        # Headers go out once the queue is in place: a client that saw them
        # knows the next Publish reaches it.
        await context.send_initial_metadata(())
        try:
            for _ in range(count):
                yield await queue.get()
        finally:
            self._queues.discard(queue)

    async def publish(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        count, size = struct.unpack("<II", request)
        data = self.payload(size)
        queues = list(self._queues)
        for _ in range(count):
            for queue in queues:
                queue.put_nowait(data)
            await asyncio.sleep(0)  # let subscribers run, as a live publisher would
        return struct.pack("<I", len(queues))

    async def upload(
        self, requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        total = 0
        async for chunk in requests:
            total += len(chunk)
        return struct.pack("<Q", total)

    async def get_item(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if self._dynamodb is None:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "started without --dynamodb")
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self._pool, functools.partial(
            self._dynamodb.get_item, TableName=self._table, Key=json.loads(request),
            ConsistentRead=True))
        data: bytes = response.get("Item", {}).get("data", {}).get("B", b"")
        return data

    def handler(self) -> grpc.GenericRpcHandler:
        """The generic handler (bytes in, bytes out: no serializers)."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Unary": grpc.unary_unary_rpc_method_handler(self.unary),
            "Stream": grpc.unary_stream_rpc_method_handler(self.stream),
            "Subscribe": grpc.unary_stream_rpc_method_handler(self.subscribe),
            "Publish": grpc.unary_unary_rpc_method_handler(self.publish),
            "Upload": grpc.stream_unary_rpc_method_handler(self.upload),
            "GetItem": grpc.unary_unary_rpc_method_handler(self.get_item),
        })


async def serve(host: str, port: int, dynamodb_url: str | None = None, table: str = "") -> None:
    """Serve until SIGTERM/SIGINT."""
    client = None
    if dynamodb_url:
        from bench.floor import boto3_client

        client = boto3_client(dynamodb_url)
    server = grpc.aio.server(options=OPTIONS)
    server.add_generic_rpc_handlers((Echo(client, table).handler(),))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    print(f"echo listening on {host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(1)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.echo [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dynamodb", help="DynamoDB endpoint for the GetItem method")
    parser.add_argument("--table", default="", help="table of the GetItem method")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.dynamodb, args.table))


if __name__ == "__main__":
    main()
