"""Authentication and rate limits."""

from __future__ import annotations

import hashlib

import pytest

from scout_service.api.auth import Authenticator, RateLimiter
from scout_service.errors import ResourceExhausted, Unauthenticated


def _auth(**kw: object) -> Authenticator:
    table = {
        hashlib.sha256(b"tok-a").hexdigest(): "alice",
        hashlib.sha256(b"tok-r").hexdigest(): "root",
    }
    return Authenticator(table, enabled=True, admins=frozenset({"root"}), **kw)  # type: ignore[arg-type]


def test_bearer_tokens_map_to_principals() -> None:
    auth = _auth()
    assert auth.authenticate([("authorization", "Bearer tok-a")], None).name == "alice"
    root = auth.authenticate([("authorization", "bearer tok-r")], None)
    assert root.name == "root" and root.is_admin


@pytest.mark.parametrize(
    "metadata",
    [
        [],
        [("authorization", "Bearer wrong")],
        [("authorization", "Basic dG9rLWE=")],
        [("authorization", "Bearer ")],
    ],
)
def test_missing_or_wrong_tokens_are_refused(metadata: list[tuple[str, str]]) -> None:
    with pytest.raises(Unauthenticated):
        _auth().authenticate(metadata, None)


def test_mtls_identity_when_enabled() -> None:
    assert _auth(mtls=True).authenticate([], "svc-cn").name == "svc-cn"
    with pytest.raises(Unauthenticated):
        _auth(mtls=False).authenticate([], "svc-cn")


def test_disabled_auth_is_the_local_admin() -> None:
    p = Authenticator({}, enabled=False).authenticate([], None)
    assert p.name == "local" and p.is_admin


def test_token_bucket_allows_the_burst_then_refuses() -> None:
    limiter = RateLimiter(rate=0.001, burst=5)
    for _ in range(5):
        limiter.check("alice")
    with pytest.raises(ResourceExhausted, match="SCOUT_RATE_LIMIT_RPS"):
        limiter.check("alice")
    limiter.check("bob")  # buckets are per principal
