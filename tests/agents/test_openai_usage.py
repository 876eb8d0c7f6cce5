"""An OpenAI-compatible API's cached tokens: counted apart from the full-price input, priced."""

from __future__ import annotations

import importlib.util

import pytest

from scout_service.agents import ProviderSettings, make_model_factory
from scout_service.agents.usage import UsageMeter
from scout_service.domain import SPECIALISTS, ReportKind, RunState
from scout_service.store import MemoryStore

from .fake_llm import FakeLLM
from .support import make_runner, new_session, wait_terminal

pytestmark = [
    pytest.mark.anyio, pytest.mark.timeout(60),
    pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="needs openai"),
]


async def test_cached_prompt_tokens_are_taken_out_of_the_input_and_priced_lower() -> None:
    store = MemoryStore()
    session = await new_session(store)
    with FakeLLM(cached_tokens=100) as fake:
        settings = ProviderSettings(provider="openai", openai_api_key="sk",
                                    openai_model_id="gpt-4o",
                                    openai_base_url=f"http://127.0.0.1:{fake.port}/v1")
        runner = make_runner(store, factory=make_model_factory(settings), provider_name="openai",
                             meter=UsageMeter("openai", "gpt-4o"))
        done = await wait_terminal(store, await runner.start_research(
            session, request_id=None, file_names=[]))
    assert done.state is RunState.SUCCEEDED, done.error
    for kind in (*SPECIALISTS, ReportKind.FINAL):
        usage = done.agent(kind).usage
        # Two calls of 120 prompt tokens each, 100 of them cached.
        assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (40, 200, 60)
        # gpt-4o: $2.50 input, $1.25 cached input, $10 output per million tokens.
        assert usage.cost_usd == pytest.approx((40 * 2.5 + 200 * 1.25 + 60 * 10) / 1e6)
