"""Slow model streams: a slow but steady answer completes; a silent one times out and is retried."""

from __future__ import annotations

import importlib.util

import pytest

from bench.fake_anthropic import FakeAnthropic
from scout_service.agents import ProviderSettings, make_model_factory
from scout_service.agents.calls import ModelCalls, RetryPolicy
from scout_service.agents.providers import model_calls
from scout_service.domain import ReportKind, Run, RunState
from scout_service.store import MemoryStore

from .support import all_events, make_runner, new_session, wait_terminal

pytestmark = [
    pytest.mark.anyio, pytest.mark.timeout(60),
    pytest.mark.skipif(importlib.util.find_spec("anthropic") is None, reason="needs anthropic"),
]


async def _run(fake: FakeAnthropic, read_timeout_s: float) -> tuple[Run, MemoryStore]:
    store = MemoryStore()
    session = await new_session(store)
    settings = ProviderSettings(provider="anthropic", anthropic_api_key="k",
                                anthropic_base_url=fake.base_url, read_timeout_s=read_timeout_s)
    calls = model_calls(settings, retry_attempts=2)
    runner = make_runner(store, factory=make_model_factory(settings), provider_name="anthropic",
                         calls=ModelCalls(policy=RetryPolicy(attempts=2, initial_delay_s=0.05),
                                          limiter=calls.limiter, explain=calls.explain))
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[],
    ), timeout=50)
    return done, store


async def test_a_slow_steady_stream_completes_within_the_read_timeout() -> None:
    # Every chunk takes 20 ms; the read timeout bounds the silence between chunks.
    with FakeAnthropic(searches=1, chunk_delay_s=0.02, min_cache_tokens=200) as fake:
        done, _ = await _run(fake, read_timeout_s=2)
    assert done.state is RunState.SUCCEEDED, done.error


async def test_a_model_that_goes_silent_is_retried_then_fails_saying_so() -> None:
    with FakeAnthropic(searches=1, first_token_s=1.0) as fake:
        done, store = await _run(fake, read_timeout_s=0.3)
    assert done.state is RunState.FAILED
    error = done.agent(ReportKind.MARKET).error or ""
    assert "Timeout" in error and "gave up after 2 tries" in error, error
    waits = [e for e in await all_events(store, done) if e.attributes.get("model_wait")]
    assert waits and all("temporarily unavailable" in e.message for e in waits)
