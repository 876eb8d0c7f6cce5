"""Throttled and failing providers: retries with visible waits, fast failure, the call limit."""

from __future__ import annotations

import importlib.util
import random
from typing import Any

import pytest
from strands.types.exceptions import ModelThrottledException

from scout_service.agents import ProviderSettings, make_model_factory
from scout_service.agents.calls import (
    CREDENTIALS,
    OVERLOADED,
    THROTTLED,
    TRANSIENT,
    UNKNOWN_MODEL,
    CallLimiter,
    ModelCalls,
    RetryPolicy,
    classify,
)
from scout_service.agents.providers import model_calls
from scout_service.domain import SPECIALISTS, AgentState, EventType, ReportKind, RunState
from scout_service.store import MemoryStore

from .fake_llm import FakeLLM, report_for
from .support import all_events, make_runner, new_session, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

needs_openai = pytest.mark.skipif(
    importlib.util.find_spec("openai") is None, reason="pip install 'scout-service[openai]'"
)

FAST_RETRY = RetryPolicy(attempts=6, initial_delay_s=0.05, max_delay_s=0.2)


class _Status(Exception):
    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text or f"status {status}")
        self.status_code = status


class _Boto(Exception):
    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(message or code)
        self.response = {"Error": {"Code": code, "Message": message},
                         "ResponseMetadata": {"HTTPStatusCode": status}}


def test_provider_errors_are_classified_through_their_causes() -> None:
    assert classify(_Status(429)) == THROTTLED
    assert classify(_Status(529, "Overloaded")) == OVERLOADED
    assert classify(_Status(503)) == TRANSIENT
    assert classify(_Status(401)) == CREDENTIALS
    assert classify(_Status(404)) == UNKNOWN_MODEL
    assert classify(_Status(400)) is None
    assert classify(_Boto("ThrottlingException")) == THROTTLED
    assert classify(_Boto("UnrecognizedClientException")) == CREDENTIALS
    assert classify(_Boto("ValidationException", "The provided model identifier is invalid."))\
        == UNKNOWN_MODEL
    assert classify(_Boto("ValidationException", "messages: too long")) is None
    try:
        try:
            raise _Status(429)
        except _Status as inner:
            raise ModelThrottledException("slow down") from inner
    except ModelThrottledException as wrapped:
        assert classify(wrapped) == THROTTLED
    assert classify(type("ReadTimeout", (Exception,), {})()) == TRANSIENT
    assert classify(ValueError("model said no")) is None


def test_backoff_doubles_with_jitter_up_to_the_ceiling() -> None:
    policy = RetryPolicy(initial_delay_s=2, max_delay_s=16)
    rng = random.Random(7)
    for attempt, ceiling in ((1, 2), (2, 4), (3, 8), (4, 16), (9, 16)):
        delays = {policy.delay(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # not all agents wait the same


def _openai(fake: FakeLLM, **extra: Any) -> ProviderSettings:
    return ProviderSettings(provider="openai", openai_api_key="sk-test",
                            openai_model_id="fake-gpt",
                            openai_base_url=f"http://127.0.0.1:{fake.port}/v1", **extra)


@needs_openai
async def test_a_provider_throttling_every_third_call_still_yields_complete_reports() -> None:
    store = MemoryStore()
    session = await new_session(store)
    limiter = CallLimiter(2)
    with FakeLLM(throttle_every=3) as fake:
        settings = _openai(fake)
        runner = make_runner(store, factory=make_model_factory(settings), provider_name="openai",
                             calls=ModelCalls(policy=FAST_RETRY, limiter=limiter,
                                              explain=model_calls(settings).explain))
        run = await runner.start_research(session, request_id=None, file_names=[])
        done = await wait_terminal(store, run)
    assert done.state is RunState.SUCCEEDED, done.error
    assert fake.throttled >= 3
    for kind in (*SPECIALISTS, ReportKind.FINAL):
        assert done.agent(kind).state is AgentState.SUCCEEDED
        report = await store.get_report(session.session_id, kind)
        assert report.content == report_for(f"save_{kind.value}")  # complete, not truncated
    events = await all_events(store, done)
    waits = [e for e in events if e.attributes.get("model_wait")]
    assert len(waits) == fake.throttled
    assert all("waiting for the model provider (rate limited)" in e.message for e in waits)
    assert all(e.type is EventType.TOOL_CALL and e.agent is not None for e in waits)
    # Four specialists at once, never more than two calls in flight.
    assert limiter.peak == 2 and limiter.in_flight == 0


@needs_openai
async def test_bad_credentials_fail_every_agent_at_once_naming_the_setting() -> None:
    store = MemoryStore()
    session = await new_session(store)
    with FakeLLM(refuse=401) as fake:
        settings = _openai(fake)
        runner = make_runner(store, factory=make_model_factory(settings), provider_name="openai",
                             calls=model_calls(settings))
        run = await runner.start_research(session, request_id=None, file_names=[])
        done = await wait_terminal(store, run)
    assert done.state is RunState.FAILED
    for kind in SPECIALISTS:
        error = done.agent(kind).error or ""
        assert "refused the credentials" in error and "OPENAI_API_KEY" in error, error
    assert len(fake.requests) == len(SPECIALISTS)  # one call each: nothing retried
    assert not [e for e in await all_events(store, done) if e.attributes.get("model_wait")]


@needs_openai
async def test_an_unknown_model_fails_at_once_naming_the_setting() -> None:
    store = MemoryStore()
    session = await new_session(store)
    with FakeLLM(refuse=404) as fake:
        settings = _openai(fake)
        runner = make_runner(store, factory=make_model_factory(settings), provider_name="openai",
                             calls=model_calls(settings))
        run = await runner.start_research(session, request_id=None, file_names=[])
        done = await wait_terminal(store, run)
    error = done.agent(ReportKind.MARKET).error or ""
    assert "does not know the model 'fake-gpt'" in error and "SCOUT_OPENAI_MODEL_ID" in error
    assert len(fake.requests) == len(SPECIALISTS)


@needs_openai
async def test_throttling_that_outlasts_the_tries_fails_the_agent_saying_so() -> None:
    store = MemoryStore()
    session = await new_session(store)
    with FakeLLM(throttle_every=1) as fake:
        settings = _openai(fake)
        runner = make_runner(store, factory=make_model_factory(settings), provider_name="openai",
                             calls=ModelCalls(policy=RetryPolicy(attempts=3, initial_delay_s=0.02,
                                                                 max_delay_s=0.05)))
        run = await runner.start_research(session, request_id=None, file_names=[])
        done = await wait_terminal(store, run)
    assert done.state is RunState.FAILED
    error = done.agent(ReportKind.LEGAL).error or ""
    assert "ModelThrottledException" in error and "gave up after 3 tries" in error, error
    assert len(fake.requests) == 3 * len(SPECIALISTS)


async def test_a_retry_that_would_not_fit_in_the_agents_time_limit_is_not_made() -> None:
    from strands.hooks import AfterModelCallEvent

    from scout_service.agents.calls import ProviderRetry

    now = [100.0]
    waits: list[tuple[float, str, int]] = []

    async def on_wait(delay: float, reason: str, tries: int) -> None:
        waits.append((delay, reason, tries))

    retry = ProviderRetry(RetryPolicy(attempts=10, initial_delay_s=0.01, max_delay_s=0.01),
                          deadline=100.5, on_wait=on_wait, clock=lambda: now[0])
    event = AfterModelCallEvent(agent=None, invocation_state={},  # type: ignore[arg-type]
                                exception=ModelThrottledException("slow down"))
    await retry._handle_after_model_call(event)
    assert event.retry and waits == [(pytest.approx(0.0075, abs=0.0026), "rate limited", 1)]
    now[0] = 100.499
    late = AfterModelCallEvent(agent=None, invocation_state={},  # type: ignore[arg-type]
                               exception=ModelThrottledException("slow down"))
    await retry._handle_after_model_call(late)
    assert not late.retry and "time limit" in (retry.gave_up or "")
    refused = AfterModelCallEvent(agent=None, invocation_state={},  # type: ignore[arg-type]
                                  exception=_Status(401))
    await retry._handle_after_model_call(refused)
    assert not refused.retry and len(waits) == 1
