"""Who is calling: bearer tokens or client certificates → a principal.

Tokens are configured as SHA-256 digests (the server never holds a token in
clear) and compared in constant time against every configured digest, so
neither the match nor its position leaks through timing. With mTLS the
principal is the client certificate's subject common name. A per-principal
token bucket bounds the request rate.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scout_service import errors
from scout_service.errors import Unauthenticated

log = logging.getLogger(__name__)

LOCAL_PRINCIPAL = "local"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    name: str
    is_admin: bool = False


class Authenticator:
    """Maps call metadata (and the TLS peer) to a ``Principal``."""

    def __init__(
        self,
        token_hashes: Mapping[str, str],
        *,
        enabled: bool,
        admins: frozenset[str] = frozenset(),
        mtls: bool = False,
    ) -> None:
        self._table = [(bytes.fromhex(d), name) for d, name in token_hashes.items()]
        self.enabled = enabled
        self._admins = admins
        self.mtls = mtls
        self._local = Principal(LOCAL_PRINCIPAL, is_admin=True)

    def authenticate(
        self, metadata: Sequence[tuple[str, str | bytes]], peer_identity: str | None
    ) -> Principal:
        """The caller, or ``Unauthenticated`` saying what is missing."""
        if not self.enabled:
            return self._local
        header = next((v for k, v in metadata if k == "authorization"), None)
        if header is not None:
            text = header.decode("latin-1") if isinstance(header, bytes) else header
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated(
                    "authorization metadata must be 'Bearer <token>'", reason="BAD_AUTH_HEADER"
                )
            name = self._lookup(token.strip())
            if name is None:
                raise Unauthenticated("the bearer token is not valid", reason="INVALID_TOKEN")
            return Principal(name, is_admin=name in self._admins)
        if self.mtls and peer_identity:
            return Principal(peer_identity, is_admin=peer_identity in self._admins)
        raise Unauthenticated(
            "missing credentials: send 'authorization: Bearer <token>' metadata",
            reason="MISSING_CREDENTIALS",
        )

    def _lookup(self, token: str) -> str | None:
        digest = hashlib.sha256(token.encode("utf-8")).digest()
        found: str | None = None
        for known, name in self._table:  # no early exit: constant time over the table
            if hmac.compare_digest(digest, known):
                found = name
        return found


class RateLimiter:
    """A token bucket per principal: ``rate`` calls/s sustained, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def check(self, principal: str) -> None:
        """Take one token or raise ``ResourceExhausted`` naming the limit."""
        now = time.monotonic()
        tokens, last = self._buckets.get(principal, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[principal] = (tokens, now)
            raise errors.limit_exceeded(
                f"request rate limit reached: {self._rate:g} calls/s with bursts of "
                f"{self._burst:g} per caller (SCOUT_RATE_LIMIT_RPS / SCOUT_RATE_LIMIT_BURST)",
                reason="RATE_LIMITED", limit="SCOUT_RATE_LIMIT_RPS", value=float(self._rate),
            )
        self._buckets[principal] = (tokens - 1.0, now)
