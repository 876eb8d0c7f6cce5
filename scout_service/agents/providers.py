"""Which model the agents use: one factory per configured provider.

``offline`` (the default) needs nothing. The hosted providers need a
credential and, except Bedrock, an optional extra of the package;
``validate_provider`` checks both at start-up, without any network call, so
a misconfigured replica refuses to start with a message saying exactly what
to set or install instead of failing its first research run.

Every call of a factory returns a new model instance: each agent of each
run gets its own (strands models keep per-request state). What is costly to
build is built once per replica and shared by those instances: the boto3
Session of Bedrock, the HTTP client (and its connection pool) of the
Anthropic and OpenAI-compatible APIs.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

from scout_service.agents.calls import CallLimiter, ModelCalls, RetryPolicy, explain
from scout_service.agents.offline import OfflineModel
from scout_service.domain import ReportKind
from scout_service.errors import FailedPrecondition, InvalidArgument

PROVIDERS = ("offline", "bedrock", "anthropic", "openai", "ollama")

ModelFactory = Callable[[ReportKind], Any]
T = TypeVar("T")


@dataclass(frozen=True)
class ProviderSettings:
    """The model provider and what it needs (see ``scout_service.config`` for the variables)."""

    # offline | bedrock | anthropic | openai | ollama
    provider: str = "offline"
    # Bedrock model or inference-profile id (BEDROCK_MODEL_ID).
    bedrock_model_id: str = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
    # AWS region of Bedrock; None: boto3's default chain.
    region: str | None = None
    # API keys: left out of repr, so logging the settings never shows them.
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_model_id: str = "claude-sonnet-4-20250514"
    # Another Anthropic Messages API endpoint (a proxy, a test fake); None: the SDK's default.
    anthropic_base_url: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    # An OpenAI-compatible endpoint (vLLM, LiteLLM proxy, Azure …); None: api.openai.com.
    openai_base_url: str | None = None
    openai_model_id: str = "gpt-4o"
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model_id: str = "llama3.1"
    # Pause per streamed chunk of the offline model (SCOUT_OFFLINE_DELAY_MS).
    offline_delay_ms: int = 0
    # Agents whose offline model fails on purpose (SCOUT_OFFLINE_FAIL_AGENTS):
    # a failure drill for demos and end-to-end tests of partial results.
    offline_fail_agents: frozenset[str] = frozenset()
    # Most tokens one model response may write.
    max_tokens: int = 8000
    # How long a hosted model's answer may go silent (SCOUT_MODEL_READ_TIMEOUT_S).
    read_timeout_s: float = 300
    # Bedrock runtime endpoint (a VPC endpoint, a test fake); None: the region's.
    bedrock_endpoint_url: str | None = None
    # Prompt caching on Bedrock and Anthropic (SCOUT_PROMPT_CACHE).
    prompt_cache: bool = True


def _extra(module: str, extra: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise FailedPrecondition(
            f"model provider {extra!r} needs the {module!r} package: "
            f"pip install 'scout-service[{extra}]'",
            reason="PROVIDER_NOT_INSTALLED",
            metadata={"provider": extra},
        )


def _missing(what: str, provider: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"model provider {provider!r} needs {what}",
        reason="PROVIDER_NOT_CONFIGURED",
        metadata={"provider": provider},
    )


def validate_provider(settings: ProviderSettings) -> None:
    """Raise ``FailedPrecondition`` naming what to set or install; no network call."""
    provider = settings.provider
    if provider not in PROVIDERS:
        raise InvalidArgument(
            f"unknown model provider {provider!r}; choose one of {', '.join(PROVIDERS)}",
            reason="UNKNOWN_PROVIDER",
        )
    if provider == "offline":
        if settings.offline_delay_ms < 0:
            raise InvalidArgument("SCOUT_OFFLINE_DELAY_MS must not be negative")
        return
    if provider == "bedrock":
        if not settings.bedrock_model_id:
            raise _missing("BEDROCK_MODEL_ID (a Bedrock model or inference-profile id)", provider)
        import boto3  # type: ignore[import-untyped]

        if boto3.Session(region_name=settings.region).get_credentials() is None:
            raise _missing(
                "AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or run with an IAM role",
                provider,
            )
        return
    if provider == "anthropic":
        _extra("anthropic", "anthropic")
        if not settings.anthropic_api_key:
            raise _missing("ANTHROPIC_API_KEY", provider)
        return
    if provider == "openai":
        _extra("openai", "openai")
        if not settings.openai_api_key and not settings.openai_base_url:
            raise _missing(
                "OPENAI_API_KEY (or OPENAI_BASE_URL for an OpenAI-compatible endpoint "
                "without a key)",
                provider,
            )
        return
    _extra("ollama", "ollama")
    if not settings.ollama_host or not settings.ollama_model_id:
        raise _missing("OLLAMA_HOST and SCOUT_OLLAMA_MODEL_ID", provider)


def model_id(settings: ProviderSettings) -> str:
    """The id of the model the agents use ("" for the offline model)."""
    return {
        "bedrock": settings.bedrock_model_id,
        "anthropic": settings.anthropic_model_id,
        "openai": settings.openai_model_id,
        "ollama": settings.ollama_model_id,
    }.get(settings.provider, "")


# The setting holding each hosted provider's credentials, and the one naming its model.
_SETTINGS_NAMED = {
    "bedrock": ("the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID or the IAM role) and "
                "their Bedrock permissions", "BEDROCK_MODEL_ID"),
    "anthropic": ("ANTHROPIC_API_KEY", "SCOUT_ANTHROPIC_MODEL_ID"),
    "openai": ("OPENAI_API_KEY (and OPENAI_BASE_URL)", "SCOUT_OPENAI_MODEL_ID"),
    "ollama": ("OLLAMA_HOST", "SCOUT_OLLAMA_MODEL_ID"),
}


def model_calls(settings: ProviderSettings, *, max_concurrent_calls: int = 8,
                retry_attempts: int = 6) -> ModelCalls:
    """Retries, the per-replica call limit and error reasons for the provider's models."""
    credentials, model_setting = _SETTINGS_NAMED.get(settings.provider, ("", ""))
    provider, model = settings.provider, model_id(settings)

    def explain_error(exc: BaseException) -> str | None:
        if not credentials:
            return None
        return explain(exc, provider=provider, credentials=credentials,
                       model_setting=model_setting, model_id=model)

    return ModelCalls(policy=RetryPolicy(attempts=retry_attempts),
                      limiter=CallLimiter(max_concurrent_calls), explain=explain_error)


def make_model_factory(settings: ProviderSettings) -> ModelFactory:
    """A function giving each agent (by report kind) a new model of the provider."""
    validate_provider(settings)
    provider = settings.provider
    if provider == "offline":
        delay = settings.offline_delay_ms
        failing = settings.offline_fail_agents

        def offline(kind: ReportKind) -> Any:
            if kind.value.removesuffix("_report") in failing:
                return FailingOfflineModel(kind, delay_ms=delay)
            return OfflineModel(kind, delay_ms=delay)

        return offline
    if provider == "bedrock":
        return _bedrock_factory(settings)
    if provider == "anthropic":
        from strands.models.anthropic import AnthropicModel

        anthropic_http = _PerLoop(lambda: httpx.AsyncClient(
            timeout=_http_timeout(settings), limits=_HTTP_LIMITS))

        def anthropic_model(kind: ReportKind) -> Any:
            args: dict[str, Any] = {
                "api_key": settings.anthropic_api_key,
                # Retries are Scout's (agents/calls.py): one layer, its waits shown as progress.
                "max_retries": 0,
                "timeout": _http_timeout(settings),
                # One connection pool per replica: the agents reuse its connections.
                "http_client": anthropic_http.get(),
            }
            if settings.anthropic_base_url:
                args["base_url"] = settings.anthropic_base_url
            return AnthropicModel(client_args=args, model_id=settings.anthropic_model_id,
                                  max_tokens=settings.max_tokens, **_cache(settings))

        return anthropic_model
    if provider == "openai":
        import openai
        from strands.models.openai import OpenAIModel

        client_args: dict[str, Any] = {"api_key": settings.openai_api_key or "not-needed",
                                       "max_retries": 0, "timeout": _http_timeout(settings)}
        if settings.openai_base_url:
            client_args["base_url"] = settings.openai_base_url
        # Given a client, strands reuses it for every request instead of opening one per
        # request (and its connections with it).
        shared = _PerLoop(lambda: openai.AsyncOpenAI(
            **client_args, http_client=httpx.AsyncClient(timeout=_http_timeout(settings),
                                                         limits=_HTTP_LIMITS)))
        return lambda kind: OpenAIModel(
            client=shared.get(),
            model_id=settings.openai_model_id,
            params={"max_tokens": settings.max_tokens},
        )
    from strands.models.ollama import OllamaModel

    return lambda kind: OllamaModel(
        settings.ollama_host,
        model_id=settings.ollama_model_id,
        max_tokens=settings.max_tokens,
    )


def _cache(settings: ProviderSettings) -> dict[str, Any]:
    """Prompt caching through strands' cache configuration.

    Cache points follow the tools, the system prompt and the conversation so
    far, so each turn of an agent reads its earlier turns from the cache.
    """
    if not settings.prompt_cache:
        return {}
    from strands.models.model import CacheConfig

    return {"cache_config": CacheConfig(strategy="auto", tools_ttl=True)}


_HTTP_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=16)


def _http_timeout(settings: ProviderSettings) -> httpx.Timeout:
    """Connecting is quick or fails; a long generation may stream slowly."""
    return httpx.Timeout(settings.read_timeout_s, connect=10.0)


class _PerLoop(Generic[T]):
    """One client per event loop, made on first use (HTTP clients are bound to their loop)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._loop: asyncio.AbstractEventLoop | None = None
        self._value: T | None = None

    def get(self) -> T:
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._value is None or loop is not self._loop:
            self._loop, self._value = loop, self._make()
        return self._value


def _bedrock_factory(settings: ProviderSettings) -> ModelFactory:
    """Bedrock models sharing one boto3 Session (its credentials and loaded service models).

    Building a Session per agent costs about 127 ms of CPU on the event loop
    (issue 21); a client from a shared one, a fraction of that. Adaptive
    retries let botocore slow down on throttling before Scout's own retries
    (agents/calls.py) see it; the read timeout allows long generations.
    """
    import boto3
    from botocore.config import Config  # type: ignore[import-untyped]
    from strands.models.bedrock import BedrockModel

    session = boto3.Session(region_name=settings.region)
    config = Config(
        retries={"mode": "adaptive", "max_attempts": 3},
        read_timeout=settings.read_timeout_s, connect_timeout=10,
        max_pool_connections=64,
    )
    return lambda kind: BedrockModel(
        boto_session=session,
        boto_client_config=config,
        endpoint_url=settings.bedrock_endpoint_url,
        model_id=settings.bedrock_model_id,
        max_tokens=settings.max_tokens,
        **_cache(settings),
    )


class FailingOfflineModel(OfflineModel):
    """An offline model that fails as soon as it is asked: a failure drill."""

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        """Raise instead of streaming."""
        raise RuntimeError(
            "offline failure drill: SCOUT_OFFLINE_FAIL_AGENTS names this agent"
        )
        yield  # pragma: no cover - makes this an async generator like the real one
