"""What a replica builds once for its provider: the boto3 Session, the HTTP clients."""

from __future__ import annotations

import importlib.util

import pytest

from scout_service.agents import ProviderSettings, make_model_factory
from scout_service.domain import ReportKind

pytestmark = pytest.mark.anyio


def _aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_bedrock_models_share_one_session_with_adaptive_retries_and_a_long_read_timeout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    _aws(monkeypatch)
    sessions: list[object] = []
    real = boto3.Session

    def counting(*args: object, **kwargs: object) -> object:
        session = real(*args, **kwargs)  # type: ignore[arg-type]
        sessions.append(session)
        return session

    monkeypatch.setattr(boto3, "Session", counting)
    factory = make_model_factory(ProviderSettings(provider="bedrock", region="eu-north-1",
                                                  read_timeout_s=420))
    built = len(sessions)  # validation's own look-up for credentials, and the shared one
    models = [factory(kind) for kind in ReportKind]
    assert len(sessions) == built  # no Session per agent
    config = models[0].client.meta.config
    assert config.retries["mode"] == "adaptive" and config.read_timeout == 420
    assert models[0].client.meta.region_name == "eu-north-1"
    assert models[0].client is not models[1].client  # a client each, from the one Session


@pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="needs openai")
async def test_openai_models_reuse_one_client_and_its_connections() -> None:
    factory = make_model_factory(ProviderSettings(
        provider="openai", openai_api_key="sk", openai_base_url="http://127.0.0.1:9/v1"))
    first, second = factory(ReportKind.MARKET), factory(ReportKind.LEGAL)
    assert first is not second
    assert first._custom_client is second._custom_client
    assert first._custom_client.max_retries == 0  # Scout's retries, one layer


@pytest.mark.skipif(importlib.util.find_spec("anthropic") is None, reason="needs anthropic")
async def test_anthropic_models_share_one_connection_pool() -> None:
    factory = make_model_factory(ProviderSettings(provider="anthropic", anthropic_api_key="k",
                                                  read_timeout_s=123))
    first, second = factory(ReportKind.MARKET), factory(ReportKind.FINAL)
    assert first.client._client is second.client._client
    assert first.client.max_retries == 0 and first.client.timeout.read == 123
