"""Bedrock through botocore's endpoint URL: a fake ConverseStream that caches and throttles."""

from __future__ import annotations

import pytest

from bench.fake_bedrock import FakeBedrock
from scout_service.agents import ProviderSettings, make_model_factory
from scout_service.agents.calls import ModelCalls, RetryPolicy
from scout_service.agents.providers import model_calls
from scout_service.agents.usage import UsageMeter
from scout_service.domain import SPECIALISTS, ReportKind, Run, RunState
from scout_service.store import MemoryStore

from .support import make_runner, new_session, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(90)]


@pytest.fixture(autouse=True)
def _aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


async def _run(fake: FakeBedrock, *, cache: bool = True,
               calls: ModelCalls | None = None) -> Run:
    store = MemoryStore()
    session = await new_session(store)
    settings = ProviderSettings(provider="bedrock", region="eu-north-1", prompt_cache=cache,
                                bedrock_endpoint_url=fake.endpoint_url)
    runner = make_runner(store, factory=make_model_factory(settings), provider_name="bedrock",
                         meter=UsageMeter("bedrock", settings.bedrock_model_id),
                         calls=calls or model_calls(settings))
    return await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[]), timeout=60)


async def test_bedrock_reports_cache_tokens_and_costs_less_with_caching() -> None:
    with FakeBedrock(min_cache_tokens=200) as fake:
        cached = await _run(fake)
        sent = fake.requests[0]
    with FakeBedrock(min_cache_tokens=200) as fake:
        plain = await _run(fake, cache=False)
    assert cached.state is RunState.SUCCEEDED and plain.state is RunState.SUCCEEDED, (
        cached.error, plain.error)
    assert any("cachePoint" in block for block in sent["system"])
    assert "cachePoint" in sent["toolConfig"]["tools"][-1]
    for kind in (*SPECIALISTS, ReportKind.FINAL):
        usage = cached.agent(kind).usage
        assert usage.cache_read_tokens > 0 and usage.cache_write_tokens > 0
        assert plain.agent(kind).usage.cache_read_tokens == 0
    assert cached.usage.cost_usd is not None and plain.usage.cost_usd is not None
    assert cached.usage.cost_usd < 0.8 * plain.usage.cost_usd


async def test_bedrock_throttling_every_third_call_still_completes() -> None:
    with FakeBedrock(throttle_every=3, min_cache_tokens=200) as fake:
        done = await _run(fake, calls=ModelCalls(
            policy=RetryPolicy(attempts=6, initial_delay_s=0.05, max_delay_s=0.2)))
    assert done.state is RunState.SUCCEEDED, done.error
    assert fake.throttled >= 3


async def test_bedrock_bad_credentials_fail_fast_naming_the_setting() -> None:
    with FakeBedrock(refuse=403) as fake:
        done = await _run(fake)
    assert done.state is RunState.FAILED
    error = done.agent(ReportKind.PRICE).error or ""
    assert "refused the credentials" in error and "AWS_PROFILE" in error, error
    assert len(fake.requests) == len(SPECIALISTS)
