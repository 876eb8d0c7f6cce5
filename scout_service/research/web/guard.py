"""The fetch guard: which addresses an agent's fetch may reach, and the pin that holds it.

A model picks the URLs, and the text it reads can ask it to pick others, so a
fetch is treated as a request from an untrusted party (SSRF). The rules:

- the host name is resolved once, and every address it resolves to must be
  public (not loopback, private, link-local, CGNAT, multicast, reserved,
  unspecified or a cloud metadata endpoint, also when written as an
  IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address); one bad address refuses
  the host, so DNS answers that mix public and private addresses gain nothing;
- hosts in ``fetch_allow_hosts`` skip the address rule (an intranet wiki);
- the connection goes to the address that was checked, never to a second
  DNS answer (DNS rebinding).

The pin sits at the socket layer: ``PinnedTransport`` is an httpx transport
over httpcore whose network backend dials only ``(host, port)`` pairs the
fetch code approved, with the addresses checked for them. The URL keeps its
host name, so the Host header, TLS SNI and certificate verification are the
ordinary ones; rewriting the URL to an IP instead would need a Host header
and an SNI override, and would let the pool reuse a TLS connection verified
for one name for another name on the same address. Any other connection
attempt (a bug, a proxy from the environment) fails closed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import httpcore
import httpx

from .types import WebToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack instance metadata
    "169.254.170.2",  # ECS task metadata and credentials
    "fd00:ec2::254",  # AWS instance metadata over IPv6
    "100.100.100.200",  # Alibaba Cloud metadata
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses through the event loop's ``getaddrinfo`` (a worker thread)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def refusal(address: IPAddress) -> str | None:
    """Why an agent's fetch may not connect to ``address``, or None when it may."""
    if address in _METADATA:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id:
            return "a scoped IPv6 address"
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo:
            embedded = address.teredo[1]
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
        if embedded is not None:
            why = refusal(embedded)
            return f"{why} (inside an IPv6 address)" if why else None
    for test, why in ((address.is_unspecified, "an unspecified address"),
                      (address.is_loopback, "a loopback address"),
                      (address.is_link_local, "a link-local address"),
                      (address.is_multicast, "a multicast address"),
                      (address.is_reserved, "a reserved address"),
                      (address.is_private, "a private address")):
        if test:
            return why
    if not address.is_global:
        return "a non-public address"
    return None


def parse_ip(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one (brackets and zone ids allowed)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def checked_addresses(
    host: str, port: int, *, allow_hosts: frozenset[str], resolver: Resolver
) -> tuple[str, ...]:
    """The addresses a fetch of ``host`` may connect to; ``WebToolError`` if none may.

    Every resolved address is checked, not just the first, so the pin may try
    them in order without trying one that was never vetted.
    """
    name = host.lower().rstrip(".")
    literal = parse_ip(name)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(name, port)
        except (OSError, UnicodeError):
            raise WebToolError(f"the host {name!r} could not be resolved") from None
    if not addresses:
        raise WebToolError(f"the host {name!r} could not be resolved")
    if name in allow_hosts:
        return tuple(addresses)
    for text in addresses:
        address = parse_ip(text)
        why = "not an IP address" if address is None else refusal(address)
        if why:
            raise WebToolError(f"fetching {name!r} is not allowed: it resolves to {why}; "
                               "only public web addresses can be fetched")
    return tuple(addresses)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Dials only approved ``(host, port)`` pairs, and only their checked addresses."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._approved: dict[tuple[str, int], tuple[str, ...]] = {}

    def approve(self, host: str, port: int, addresses: tuple[str, ...]) -> None:
        self._approved[(host.lower().rstrip(".").strip("[]"), port)] = addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._approved.get((host.lower().rstrip(".").strip("[]"), port))
        if not addresses:
            raise httpcore.ConnectError(f"refused: {host}:{port} was not checked")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: fetches never use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections go only to addresses the guard approved.

    One per fetch: the redirect loop approves each hop before requesting it.
    No proxy and no environment settings apply (a proxy would do its own DNS).
    """

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._backend = _PinnedBackend()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=4,
            network_backend=self._backend,
        )

    def approve(self, host: str, port: int, addresses: tuple[str, ...]) -> None:
        """Let the next requests to ``host:port`` connect to ``addresses`` (checked)."""
        self._backend.approve(host, port, addresses)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on the pinned pool (converted as ``httpx.AsyncHTTPTransport`` does)."""
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=request.url.raw_scheme, host=request.url.raw_host,
                             port=request.url.port, target=request.url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core)
        except httpcore.TimeoutException as exc:
            raise httpx.TimeoutException(str(exc), request=request) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            raise httpx.TransportError(str(exc), request=request) from exc
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=_Stream(response.stream), extensions=response.extensions)

    async def aclose(self) -> None:
        """Close the pinned pool's connections."""
        await self._pool.aclose()


class _Stream(httpx.AsyncByteStream):
    """httpcore's body stream with its errors turned into httpx ones."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            raise httpx.ReadError(str(exc)) from exc

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()
