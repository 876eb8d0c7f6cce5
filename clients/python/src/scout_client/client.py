# Generated from aio.py by scripts/unasync.py (make unasync): edit that.
"""`ScoutClient`: the blocking client, one typed method per scout.v1 RPC.

Methods take plain Python values and return the contract's proto messages
(or bytes, or None). Every failure is a `scout_client.errors.ScoutError`
subclass. Idempotent RPCs are retried by grpc on UNAVAILABLE (see
`_channel.RETRIED_METHODS`); progress streams resume themselves.

Generated from `aio.py` (`AsyncScoutClient`), so both clients keep the same
methods and docs.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import grpc  # type: ignore[import-untyped, unused-ignore]

from scout_client import _requests as rpc
from scout_client import _sync_ops as ops
from scout_client._channel import (
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    DEFAULT_TRANSFER_TIMEOUT,
    ChannelOption,
    Deadlines,
    call_metadata,
    open_channel,
)
from scout_client._sync_reports import ReportMethods
from scout_client._sync_research import ResearchMethods
from scout_client._sync_sessions import SessionMethods

__all__ = ["ScoutClient"]


class ScoutClient(SessionMethods, ReportMethods, ResearchMethods):
    """A blocking client of the Scout service.

    Use it as a context manager (or call `close()`); one client shares one
    channel across threads.

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

        with ScoutClient("localhost:50051", token=token) as scout:
            session = scout.create_session()
            for event in scout.stream_progress(session.session_id):
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
            grpc,
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

    def close(self) -> None:
        """Close the channel; calls still running are cancelled."""
        self._channel.close()

    def __enter__(self) -> ScoutClient:
        """Return the client; `with` closes it on exit."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the channel."""
        self.close()

    def wait_until_ready(self, timeout: float = 10.0) -> None:
        """Wait until the channel is connected; UnavailableError after `timeout`."""
        ops.wait_ready(self._channel, self.target, timeout)
