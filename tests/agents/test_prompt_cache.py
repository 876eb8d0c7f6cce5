"""Prompt caching against a fake Anthropic Messages API that caches prefixes as Anthropic does."""

from __future__ import annotations

import importlib.util
import os

import pytest

from bench.fake_anthropic import FakeAnthropic
from scout_service.agents import ProviderSettings, make_model_factory, prompts
from scout_service.agents.calls import ModelCalls, RetryPolicy
from scout_service.agents.usage import UsageMeter
from scout_service.domain import SPECIALISTS, Brief, ReportKind, Run, RunState
from scout_service.store import MemoryStore

from .support import all_events, make_runner, new_session, wait_terminal

pytestmark = [
    pytest.mark.anyio, pytest.mark.timeout(60),
    pytest.mark.skipif(importlib.util.find_spec("anthropic") is None, reason="needs anthropic"),
]


def test_the_specialists_prompts_start_with_the_same_digest_and_brief() -> None:
    digest = "1 document(s), 40 searchable passages.\n- plan.md (markdown, 9,000 characters)"
    brief = Brief(questions=("Is the market big enough?",), geography="Sweden")
    texts = [prompts.research_prompt(kind, digest, brief=brief) for kind in SPECIALISTS]
    shared = os.path.commonprefix(texts)
    assert shared.startswith(prompts.shared_research_prefix(digest, brief=brief))
    assert prompts.DIGEST_CLOSE in shared and prompts.BRIEF_CLOSE in shared
    for kind, text in zip(SPECIALISTS, texts, strict=True):
        assert prompts.save_tool_name(kind) in text[len(shared):]
        assert prompts.find_brief(text)["geography"] == "Sweden"


async def _run(fake: FakeAnthropic, *, cache: bool, calls: ModelCalls | None = None) -> Run:
    store = MemoryStore()
    session = await new_session(store)
    settings = ProviderSettings(provider="anthropic", anthropic_api_key="k",
                                anthropic_base_url=fake.base_url, prompt_cache=cache)
    runner = make_runner(store, factory=make_model_factory(settings), provider_name="anthropic",
                         meter=UsageMeter("anthropic", settings.anthropic_model_id), calls=calls)
    done = await wait_terminal(store, await runner.start_research(
        session, request_id=None, file_names=[]))
    assert done.state is RunState.SUCCEEDED, done.error
    return done


async def test_cache_tokens_show_in_usage_and_make_the_run_cheaper() -> None:
    with FakeAnthropic(min_cache_tokens=200) as fake:
        cached = await _run(fake, cache=True)
        sent = fake.requests[0]
    with FakeAnthropic(min_cache_tokens=200) as fake:
        plain = await _run(fake, cache=False)
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert any("cache_control" in block for block in sent["system"])
    for kind in (*SPECIALISTS, ReportKind.FINAL):
        usage = cached.agent(kind).usage
        # Each later turn reads the earlier ones from the cache.
        assert usage.cache_read_tokens > usage.input_tokens and usage.cache_write_tokens > 0
        assert plain.agent(kind).usage.cache_read_tokens == 0
        assert usage.all_input_tokens == plain.agent(kind).usage.all_input_tokens
    assert cached.usage.cost_usd is not None and plain.usage.cost_usd is not None
    assert cached.usage.cost_usd < 0.8 * plain.usage.cost_usd


async def test_an_anthropic_api_throttling_every_third_call_still_completes() -> None:
    with FakeAnthropic(throttle_every=3, min_cache_tokens=200) as fake:
        done = await _run(fake, cache=True, calls=ModelCalls(
            policy=RetryPolicy(attempts=6, initial_delay_s=0.05, max_delay_s=0.2)))
    assert fake.throttled >= 3
    assert all(a.usage.output_tokens > 0 for a in done.agents)


async def test_anthropic_bad_credentials_fail_fast_naming_the_setting() -> None:
    from scout_service.agents.providers import model_calls

    with FakeAnthropic(refuse=401) as fake:
        store = MemoryStore()
        session = await new_session(store)
        settings = ProviderSettings(provider="anthropic", anthropic_api_key="bad",
                                    anthropic_base_url=fake.base_url)
        runner = make_runner(store, factory=make_model_factory(settings),
                             provider_name="anthropic", calls=model_calls(settings))
        done = await wait_terminal(store, await runner.start_research(
            session, request_id=None, file_names=[]))
    assert done.state is RunState.FAILED
    assert "ANTHROPIC_API_KEY" in (done.agent(ReportKind.MARKET).error or "")
    assert len(fake.requests) == len(SPECIALISTS)
    assert not [e for e in await all_events(store, done) if e.attributes.get("model_wait")]
