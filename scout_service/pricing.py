"""What model tokens cost: a price table per provider and model.

Prices are US dollars per million tokens, for the four kinds of token a
provider bills: input read at the full price, output, input read from the
prompt cache and input written to it. The defaults cover the default
models of each provider, as listed publicly on the date in
``PRICES_READ_ON``; SCOUT_MODEL_PRICES overrides or extends them. A model
missing from the table has no known cost (``TokenUsage.cost_usd`` None), and
then a run's cost budget does not apply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scout_service.domain import TokenUsage

# When the default prices below were read off the providers' public price lists.
PRICES_READ_ON = "2026-12-03"


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens of each kind."""

    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0

    def cost(self, usage: TokenUsage) -> float:
        """What ``usage`` costs at these prices."""
        return (usage.input_tokens * self.input + usage.output_tokens * self.output
                + usage.cache_read_tokens * self.cache_read
                + usage.cache_write_tokens * self.cache_write) / 1_000_000


# Claude Sonnet 4 at Anthropic, and at Bedrock's list price: writes to the 5-minute cache
# cost 1.25x the input price, reads 0.1x. From Sonnet 4.5 on, Bedrock's geographic
# inference profiles (eu., us.) cost 10% more than its global ones: price such a model
# with SCOUT_MODEL_PRICES.
_SONNET_4 = Price(input=3.0, output=15.0, cache_read=0.30, cache_write=3.75)

# (provider, model id) -> price; "*" as the model matches any model of the provider.
DEFAULT_PRICES: Mapping[tuple[str, str], Price] = {
    ("offline", "*"): Price(0.0, 0.0),
    ("ollama", "*"): Price(0.0, 0.0),  # runs on your own hardware
    ("bedrock", "eu.anthropic.claude-sonnet-4-20250514-v1:0"): _SONNET_4,
    ("bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0"): _SONNET_4,
    ("bedrock", "anthropic.claude-sonnet-4-20250514-v1:0"): _SONNET_4,
    ("anthropic", "claude-sonnet-4-20250514"): _SONNET_4,
    # OpenAI bills no premium for cache writes; cached input at half price.
    ("openai", "gpt-4o"): Price(input=2.50, output=10.0, cache_read=1.25, cache_write=2.50),
}


class PriceTable:
    """Looks up a model's price; ``None`` when it is not known."""

    def __init__(self, prices: Mapping[tuple[str, str], Price] = DEFAULT_PRICES) -> None:
        """``prices`` by (provider, model id); a model id ``*`` is the provider's fallback."""
        self._prices = dict(prices)

    def price(self, provider: str, model_id: str) -> Price | None:
        """The price of ``model_id`` at ``provider``, if known."""
        return self._prices.get((provider, model_id)) or self._prices.get((provider, "*"))

    def priced(self, provider: str, model_id: str, usage: TokenUsage) -> TokenUsage:
        """``usage`` with its cost filled in (None when the price is not known)."""
        price = self.price(provider, model_id)
        return TokenUsage(usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                          usage.cache_write_tokens,
                          None if price is None else price.cost(usage))

    def with_overrides(self, overrides: Mapping[tuple[str, str], Price]) -> PriceTable:
        """A table where ``overrides`` replace or add prices."""
        return PriceTable({**self._prices, **overrides})


def parse_prices(text: str) -> dict[tuple[str, str], Price]:
    """Prices from SCOUT_MODEL_PRICES: a JSON object, or the path of a file holding one.

    Keys are ``provider/model-id`` (``provider/*`` for every model of the
    provider); values are objects with ``input`` and ``output`` and optionally
    ``cache_read`` and ``cache_write``, in US dollars per million tokens.
    ``ValueError`` says what is wrong.
    """
    text = text.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read the price file {text!r}: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(raw, dict):
        raise ValueError("expected a JSON object of 'provider/model' to prices")
    out: dict[tuple[str, str], Price] = {}
    for key, value in raw.items():
        provider, sep, model = str(key).partition("/")
        if not sep or not provider or not model:
            raise ValueError(f"key {key!r}: expected 'provider/model-id' or 'provider/*'")
        out[(provider, model)] = _price(key, value)
    return out


def _price(key: str, value: Any) -> Price:
    if not isinstance(value, dict) or "input" not in value or "output" not in value:
        raise ValueError(f"{key!r}: expected an object with 'input' and 'output' prices")
    unknown = set(value) - {"input", "output", "cache_read", "cache_write"}
    if unknown:
        raise ValueError(f"{key!r}: unknown price field(s) {', '.join(sorted(unknown))}")
    numbers = {}
    for name, number in value.items():
        if (isinstance(number, bool) or not isinstance(number, int | float)
                or not math.isfinite(number) or number < 0):
            raise ValueError(f"{key!r}.{name}: expected a non-negative number of USD per "
                             "million tokens")
        numbers[name] = float(number)
    return Price(**numbers)
