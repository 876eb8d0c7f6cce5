"""Model calls that survive throttling: retries with backoff and jitter, a per-replica limit.

strands 1.62 retries a model call from its event loop when a
``ModelRetryStrategy`` hook sets ``AfterModelCallEvent.retry``; by default it
retries only ``ModelThrottledException``, with fixed doubling delays (4 s …
240 s) that know nothing of the agent's time limit. ``ProviderRetry`` keeps
that mechanism and changes the policy:

- throttling, "overloaded" (Anthropic's 529) and transient errors (5xx,
  dropped connections, read timeouts) are retried; bad credentials and
  unknown models are not, and fail the agent at once with a reason naming
  the setting to fix (``explain``);
- the delay doubles with jitter (half fixed, half random) so that agents
  throttled together do not come back together;
- a retry that could not finish before the agent's deadline is not
  attempted; the error goes up and the agent fails saying why;
- each wait is announced (``on_wait``), which the runner turns into a
  progress event "waiting for the model provider (rate limited)".

``CallLimiter`` bounds the model calls in flight on this replica per
provider (SCOUT_MODEL_MAX_CONCURRENT_CALLS): a burst of runs queues here
instead of tripping the provider's limits. It is a strands middleware
around each model invocation, so its permit is held for the call only,
not for the backoff between tries.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from strands import ModelRetryStrategy
from strands.hooks import AfterModelCallEvent
from strands.middleware import InvokeModelContext
from strands.types.events import TypedEvent
from strands.types.exceptions import ModelThrottledException

THROTTLED = "throttled"
OVERLOADED = "overloaded"
TRANSIENT = "transient"
CREDENTIALS = "credentials"
UNKNOWN_MODEL = "unknown_model"

RETRYABLE = frozenset({THROTTLED, OVERLOADED, TRANSIENT})

# Bedrock (botocore) error codes by what they mean.
_BOTO_CODES = {
    "ThrottlingException": THROTTLED,
    "TooManyRequestsException": THROTTLED,
    "ServiceQuotaExceededException": THROTTLED,
    "ServiceUnavailableException": OVERLOADED,
    "ModelNotReadyException": TRANSIENT,
    "InternalServerException": TRANSIENT,
    "ModelStreamErrorException": TRANSIENT,
    "UnrecognizedClientException": CREDENTIALS,
    "InvalidSignatureException": CREDENTIALS,
    "ExpiredTokenException": CREDENTIALS,
    "AccessDeniedException": CREDENTIALS,
    "ResourceNotFoundException": UNKNOWN_MODEL,
}
# Exception class names of the HTTP clients (openai, anthropic, httpx, botocore) that mean
# the connection failed or went silent: worth another try.
_TRANSIENT_NAMES = frozenset({
    "APIConnectionError", "APITimeoutError", "ConnectError", "ConnectTimeout", "ReadTimeout",
    "ReadError", "RemoteProtocolError", "WriteError", "PoolTimeout", "ReadTimeoutError",
    "ConnectTimeoutError", "EndpointConnectionError", "ConnectionClosedError",
    "ResponseStreamingError",
})


def classify(exc: BaseException) -> str | None:
    """What a model call's error means (one of the constants above), or None if unknown.

    Looks through the chain of causes: strands raises its own
    ``ModelThrottledException`` from the client's error.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = _classify_one(current)
        if kind is not None:
            return kind
        current = current.__cause__ or current.__context__
    return None


def _classify_one(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore ClientError
        code = str(response["Error"].get("Code", ""))
        if code == "ValidationException" and "model" in str(
                response["Error"].get("Message", "")).lower():
            return UNKNOWN_MODEL
        if code in _BOTO_CODES:
            return _BOTO_CODES[code]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return _by_status(status if isinstance(status, int) else None, str(exc))
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return _by_status(status, str(exc))
    if type(exc).__name__ in _TRANSIENT_NAMES:
        return TRANSIENT
    if isinstance(exc, ModelThrottledException):
        return OVERLOADED if "overloaded" in str(exc).lower() else THROTTLED
    return None


def _by_status(status: int | None, text: str) -> str | None:
    if status is None:
        return None
    if status == 429:
        return THROTTLED
    if status == 529 or "overloaded" in text.lower():
        return OVERLOADED
    if status in (500, 502, 503, 504):
        return TRANSIENT
    if status in (401, 403):
        return CREDENTIALS
    if status == 404:
        return UNKNOWN_MODEL
    return None


_WAIT_REASON = {
    THROTTLED: "rate limited",
    OVERLOADED: "overloaded",
    TRANSIENT: "temporarily unavailable",
}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one model call."""

    # Tries in all (the first call included).
    attempts: int = 6
    # Delay before the second try; doubles for each further one, up to max_delay_s.
    initial_delay_s: float = 2.0
    max_delay_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait before try ``attempt + 1`` (``attempt`` >= 1): half fixed, half random."""
        ceiling = min(self.max_delay_s, self.initial_delay_s * 2 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


OnWait = Callable[[float, str, int], Awaitable[None]]


class ProviderRetry(ModelRetryStrategy):
    """strands' retry hook with Scout's policy: what to retry, jitter, the deadline, progress."""

    def __init__(self, policy: RetryPolicy, *, deadline: float, on_wait: OnWait | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        """Retry until ``deadline`` (``clock()`` time); announce each wait through ``on_wait``."""
        super().__init__(max_attempts=policy.attempts)
        self._policy = policy
        self._deadline = deadline
        self._on_wait = on_wait
        self._clock = clock
        self._rng = rng or random.Random()
        self.waits: list[tuple[float, str]] = []
        # Why the last retryable error was not retried again, for the agent's error.
        self.gave_up: str | None = None

    def is_retryable(self, exception: Exception) -> bool:
        """Throttling, overload and transient errors; never credentials or unknown models."""
        return classify(exception) in RETRYABLE

    async def _handle_after_model_call(self, event: AfterModelCallEvent) -> None:
        self._backwards_compatible_event_to_yield = None
        if event.retry:
            return
        if event.exception is None:
            self._reset_retry_state()
            return
        kind = classify(event.exception)
        if kind not in RETRYABLE:
            return
        self._current_attempt += 1
        tries = self._current_attempt
        if tries >= self._max_attempts:
            self.gave_up = f"gave up after {tries} tries"
            return
        delay = self._policy.delay(tries, self._rng)
        if self._clock() + delay >= self._deadline:
            self.gave_up = (f"gave up after {tries} {'try' if tries == 1 else 'tries'}: "
                            "the next would not fit in the agent's time limit")
            return
        reason = _WAIT_REASON[str(kind)]
        self.waits.append((delay, reason))
        if self._on_wait is not None:
            await self._on_wait(delay, reason, tries)
        await asyncio.sleep(delay)
        event.retry = True


class CallLimiter:
    """At most ``limit`` model calls in flight on this replica (one per provider)."""

    def __init__(self, limit: int) -> None:
        """A limit of at least 1."""
        if limit < 1:
            raise ValueError("the model call limit must be at least 1")
        self.limit = limit
        self.in_flight = 0
        self.peak = 0
        self._semaphore = asyncio.Semaphore(limit)

    async def middleware(
        self, context: InvokeModelContext,
        next_fn: Callable[[InvokeModelContext], AsyncGenerator[TypedEvent, None]],
    ) -> AsyncGenerator[TypedEvent, None]:
        """A strands ``InvokeModelStage`` wrap handler holding a permit for the call."""
        async with self._semaphore:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                async for event in next_fn(context):
                    yield event
            finally:
                self.in_flight -= 1


def explain(exc: BaseException, *, provider: str, credentials: str, model_setting: str,
            model_id: str) -> str | None:
    """The agent's error for a provider error that retrying cannot fix, naming the setting."""
    kind = classify(exc)
    detail = _short(exc)
    if kind == CREDENTIALS:
        return (f"the model provider {provider!r} refused the credentials; check "
                f"{credentials} ({detail})")
    if kind == UNKNOWN_MODEL:
        return (f"the model provider {provider!r} does not know the model {model_id!r}; check "
                f"{model_setting} ({detail})")
    return None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def _no_explanation(exc: BaseException) -> str | None:
    return None


@dataclass(frozen=True)
class ModelCalls:
    """How the runner's agents call the model: the retry policy, the limiter, error reasons."""

    policy: RetryPolicy = RetryPolicy()
    limiter: CallLimiter | None = None
    explain: Callable[[BaseException], str | None] = _no_explanation

    def retry(self, *, deadline: float, on_wait: OnWait | None = None) -> ProviderRetry:
        """A fresh retry hook for one agent invocation (it counts tries)."""
        return ProviderRetry(self.policy, deadline=deadline, on_wait=on_wait)
