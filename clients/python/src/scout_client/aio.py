"""`AsyncScoutClient`: the asyncio twin of `ScoutClient`, on `grpc.aio`.

Same methods, same arguments, same return values and errors; methods are
coroutines, and `stream_progress` / `ask` / `iter_*` are async iterators.
Create the client inside the event loop that uses it (grpc.aio channels
belong to one loop), preferably with `async with`.

The methods stand in groups, one module a service (`_async_sessions.py`,
`_async_reports.py`, `_async_research.py`, over `_async_base.py`). These
modules are the source of both clients: `client.py` (`ScoutClient`) and the
`_sync_*.py` groups are generated from them by `scripts/unasync.py` (`make
unasync`; `make check-unasync` fails when they are stale). Edit here, never
there; the little that really differs between the two stands in
`_async_ops.py` and `_sync_ops.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import grpc  # type: ignore[import-untyped, unused-ignore]
import grpc.aio  # type: ignore[import-untyped, unused-ignore]

from scout_client import _async_ops as ops
from scout_client import _requests as rpc
from scout_client._async_reports import AsyncReportMethods
from scout_client._async_research import AsyncResearchMethods
from scout_client._async_sessions import AsyncSessionMethods
from scout_client._channel import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT,
    ChannelOption,
    Deadlines,
    call_metadata,
    open_channel,
)

__all__ = ["AsyncScoutClient"]


class AsyncScoutClient(AsyncSessionMethods, AsyncReportMethods, AsyncResearchMethods):
    """An asyncio client of the Scout service.

    Use it as a context manager (or call `close()`); one client shares one
    channel across the tasks of the event loop it was created in.

    Args:
        target: "host:port" (or any grpc target) of the service.
        token: Bearer token sent as `authorization: Bearer <token>` on every
            call. Over a plaintext channel it travels unencrypted.
        tls: Use TLS. Implied by `root_certificates` or `client_certificate`.
        root_certificates: PEM roots to trust instead of grpc's bundled ones.
        client_certificate: (certificate_chain, private_key), both PEM, for
            mutual TLS.
        timeout: Default deadline of unary calls in seconds; None for none.
        transfer_timeout: Default deadline of uploads, downloads and exports.
        options: Extra grpc channel options; they override the defaults.

    Every method also takes `timeout=` to override the default for one call
    (None means no deadline).

    Example::

        async with AsyncScoutClient("localhost:50051", token=token) as scout:
            session = await scout.create_session()
            async for event in scout.stream_progress(session.session_id):
                print(event.display_message)
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        token: str | None = None,
        tls: bool = False,
        root_certificates: bytes | None = None,
        client_certificate: tuple[bytes, bytes] | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
        transfer_timeout: float | None = DEFAULT_TRANSFER_TIMEOUT,
        options: Sequence[ChannelOption] = (),
    ) -> None:
        """Open the channel (lazily: nothing connects before the first call)."""
        self.target = target
        self._channel = open_channel(
            grpc.aio,
            target,
            tls=tls,
            root_certificates=root_certificates,
            client_certificate=client_certificate,
            options=options,
        )
        self._metadata = call_metadata(token)
        self._deadlines = Deadlines(unary=timeout, transfer=transfer_timeout)
        self._stubs = rpc.Stubs(self._channel)

    # -- lifecycle ---------------------------------------------------------

    async def close(self) -> None:
        """Close the channel; calls still running are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncScoutClient:
        """Return the client; `async with` closes it on exit."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the channel."""
        await self.close()

    async def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Wait until the channel is connected; UnavailableError after `timeout`."""
        await ops.wait_ready(self._channel, self.target, timeout)
