"""Token usage and cost: the price table, strands' counters, storage, the API and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scout_service.agents.usage import UsageMeter
from scout_service.api.converters import run_to_pb
from scout_service.config import ConfigError, load_settings
from scout_service.domain import AgentState, AgentStatus, ReportKind, Run, RunState, TokenUsage
from scout_service.metrics import Metrics
from scout_service.pricing import DEFAULT_PRICES, Price, PriceTable, parse_prices
from scout_service.store._codec import _agent, _agent_from
from scout_service.wiring import usage_meter

SONNET = "claude-sonnet-4-20250514"


def test_cost_follows_the_four_prices_per_million_tokens() -> None:
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=100_000,
                       cache_read_tokens=2_000_000, cache_write_tokens=400_000)
    priced = PriceTable().priced("anthropic", SONNET, usage)
    # 3.00 + 1.50 + 0.60 + 1.50
    assert priced.cost_usd == pytest.approx(6.60)
    assert priced.total_tokens == 3_500_000


def test_an_unknown_model_has_no_cost_and_unknown_wins_in_a_sum() -> None:
    table = PriceTable()
    assert table.priced("openai", "my-own-model", TokenUsage(10, 10)).cost_usd is None
    assert table.priced("offline", "", TokenUsage(10, 10)).cost_usd == 0.0
    assert (TokenUsage(1, 1, cost_usd=0.5) + TokenUsage(1, 1, cost_usd=None)).cost_usd is None
    assert (TokenUsage(1, 1, cost_usd=0.5) + TokenUsage(1, 1, cost_usd=0.25)).cost_usd == 0.75


def test_every_default_model_of_a_hosted_provider_has_a_price() -> None:
    from scout_service.agents.providers import ProviderSettings, model_id

    for provider in ("bedrock", "anthropic", "openai", "ollama", "offline"):
        settings = ProviderSettings(provider=provider)
        assert PriceTable().price(provider, model_id(settings)) is not None, provider
    assert all(p.cache_read <= p.input <= p.cache_write or p.input == 0
               for p in DEFAULT_PRICES.values())


def test_prices_are_overridden_by_json_or_a_file(tmp_path: Path) -> None:
    inline = '{"openai/my-model": {"input": 1, "output": 2, "cache_read": 0.5}}'
    assert parse_prices(inline) == {("openai", "my-model"): Price(1.0, 2.0, 0.5, 0.0)}
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"anthropic/*": {"input": 9, "output": 9}}))
    settings = load_settings({"SCOUT_MODEL_PRICES": str(path),
                              "SCOUT_MODEL_PROVIDER": "anthropic", "ANTHROPIC_API_KEY": "k",
                              "SCOUT_ANTHROPIC_MODEL_ID": "claude-next"})
    meter = usage_meter(settings)
    assert meter.read({"inputTokens": 1_000_000}).cost_usd == pytest.approx(9.0)
    for bad, says in (('{"openai": {"input": 1, "output": 1}}', "provider/model-id"),
                      ('{"openai/x": {"input": 1}}', "'input' and 'output'"),
                      ('{"openai/x": {"input": -1, "output": 1}}', "non-negative"),
                      ('{"openai/x": {"input": 1, "output": 1, "cache": 1}}', "unknown"),
                      ("/nonexistent/prices.json", "cannot read")):
        with pytest.raises(ConfigError, match="SCOUT_MODEL_PRICES") as info:
            load_settings({"SCOUT_MODEL_PRICES": bad})
        assert says in str(info.value)


def test_strands_counters_mean_the_same_for_every_provider() -> None:
    accumulated = {"inputTokens": 1000, "outputTokens": 50, "cacheReadInputTokens": 800,
                   "cacheWriteInputTokens": 100}
    # Anthropic and Bedrock count cached tokens apart from inputTokens ...
    assert UsageMeter("anthropic", SONNET).read(accumulated) == TokenUsage(
        1000, 50, 800, 100, PriceTable().price("anthropic", SONNET).cost(  # type: ignore[union-attr]
            TokenUsage(1000, 50, 800, 100)))
    # ... OpenAI's prompt_tokens include them.
    openai = UsageMeter("openai", "gpt-4o").read(accumulated)
    assert (openai.input_tokens, openai.cache_read_tokens, openai.all_input_tokens) == (
        100, 800, 1000)
    assert UsageMeter().read({}) == TokenUsage(cost_usd=0.0)


usages = st.builds(
    TokenUsage, st.integers(0, 10**9), st.integers(0, 10**9), st.integers(0, 10**9),
    st.integers(0, 10**9),
    st.none() | st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
)


@given(usage=usages, state=st.sampled_from(AgentState))
def test_agent_usage_round_trips_through_the_store_codec(
        usage: TokenUsage, state: AgentState) -> None:
    status = AgentStatus(ReportKind.MARKET, state=state, usage=usage)
    assert _agent_from(_agent(status)) == status


def test_a_run_stored_before_costs_were_recorded_has_an_unknown_cost() -> None:
    stored = _agent(AgentStatus(ReportKind.PRICE, usage=TokenUsage(5, 6)))
    for name in ("cost_usd", "cache_read_tokens", "cache_write_tokens"):
        stored["M"].pop(name, None)
    assert _agent_from(stored).usage == TokenUsage(5, 6, cost_usd=None)


def test_the_api_shows_cache_tokens_and_the_cost_only_when_known() -> None:
    run = Run("s", "r", RunState.SUCCEEDED, 1.0, 2.0, agents=(
        AgentStatus(ReportKind.MARKET, usage=TokenUsage(10, 5, 70, 15, 0.25)),
        AgentStatus(ReportKind.FINAL, usage=TokenUsage(20, 5, 0, 0, 0.5)),
    ), model_provider="anthropic")
    pb = run_to_pb(run)
    assert (pb.usage.input_tokens, pb.usage.cache_read_tokens, pb.usage.cache_write_tokens,
            pb.usage.total_tokens, pb.usage.cost_usd) == (30, 70, 15, 125, 0.75)
    unknown = run_to_pb(Run("s", "r", RunState.SUCCEEDED, 1.0, 2.0, agents=(
        AgentStatus(ReportKind.MARKET, usage=TokenUsage(10, 5, cost_usd=None)),),
        model_provider="openai"))
    assert not unknown.usage.HasField("cost_usd")
    assert not unknown.agents[0].usage.HasField("cost_usd")


def test_prometheus_counts_tokens_by_kind_and_cost_by_model() -> None:
    metrics = Metrics()
    meter = UsageMeter("anthropic", SONNET, on_usage=metrics.count_usage)
    meter.record(meter.read({"inputTokens": 1000, "outputTokens": 10,
                             "cacheReadInputTokens": 5000}))
    meter.record(meter.read({"inputTokens": 1000, "outputTokens": 10}))
    sample = metrics.registry.get_sample_value
    labels = {"provider": "anthropic", "model": SONNET}
    assert sample("scout_model_tokens_total", {**labels, "kind": "input"}) == 2000
    assert sample("scout_model_tokens_total", {**labels, "kind": "cache_read"}) == 5000
    assert sample("scout_model_cost_usd_total", labels) == pytest.approx(
        (2000 * 3 + 20 * 15 + 5000 * 0.3) / 1e6)
