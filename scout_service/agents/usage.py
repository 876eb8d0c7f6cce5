"""An agent's token usage read off strands, priced, and counted for Prometheus.

strands adds up each model response's usage in
``agent.event_loop_metrics.accumulated_usage`` under ``inputTokens``,
``outputTokens``, ``cacheReadInputTokens`` and ``cacheWriteInputTokens``.
Anthropic and Bedrock report ``inputTokens`` without the cached tokens;
OpenAI-compatible APIs include them (``prompt_tokens`` with
``cached_tokens`` inside), so for those the cached part is taken out here
and every ``TokenUsage`` means the same thing whatever the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scout_service.domain import TokenUsage
from scout_service.pricing import PriceTable

# Providers whose inputTokens already count the tokens read from (or written to) the cache.
_INPUT_INCLUDES_CACHE = frozenset({"openai"})


@dataclass(frozen=True)
class UsageMeter:
    """Turns strands' usage counters into priced ``TokenUsage`` for one provider and model."""

    provider: str = "offline"
    model_id: str = ""
    prices: PriceTable = field(default_factory=PriceTable)
    # Called with each finished agent invocation's usage (Prometheus counters).
    on_usage: Callable[[str, str, TokenUsage], None] | None = None

    def read(self, accumulated: Mapping[str, Any]) -> TokenUsage:
        """The priced usage of strands' ``accumulated_usage``."""
        cache_read = int(accumulated.get("cacheReadInputTokens", 0) or 0)
        cache_write = int(accumulated.get("cacheWriteInputTokens", 0) or 0)
        input_tokens = int(accumulated.get("inputTokens", 0) or 0)
        if self.provider in _INPUT_INCLUDES_CACHE:
            input_tokens = max(0, input_tokens - cache_read - cache_write)
        usage = TokenUsage(input_tokens, int(accumulated.get("outputTokens", 0) or 0),
                           cache_read, cache_write)
        return self.prices.priced(self.provider, self.model_id, usage)

    def of(self, agent: Any) -> TokenUsage:
        """The usage of a strands agent so far."""
        return self.read(agent.event_loop_metrics.accumulated_usage)

    @property
    def priced(self) -> bool:
        """Whether this model's prices are known (a cost budget can apply)."""
        return self.prices.price(self.provider, self.model_id) is not None

    def record(self, usage: TokenUsage) -> None:
        """Count one finished invocation's usage."""
        if self.on_usage is not None:
            self.on_usage(self.provider, self.model_id, usage)
