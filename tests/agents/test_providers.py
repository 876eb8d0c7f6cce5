"""Model providers: start-up validation, and hosted providers against a fake endpoint."""

from __future__ import annotations

import importlib.util

import pytest

from scout_service.agents import OfflineModel, ProviderSettings, make_model_factory
from scout_service.agents.providers import validate_provider
from scout_service.domain import SPECIALISTS, AgentState, ReportKind, RunState
from scout_service.errors import FailedPrecondition, InvalidArgument
from scout_service.store import MemoryStore

from .fake_llm import FakeLLM, report_for
from .support import all_events, assert_no_gaps, make_runner, new_session, wait_terminal

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

needs_openai = pytest.mark.skipif(
    importlib.util.find_spec("openai") is None, reason="pip install 'scout-service[openai]'"
)
needs_ollama = pytest.mark.skipif(
    importlib.util.find_spec("ollama") is None, reason="pip install 'scout-service[ollama]'"
)


def test_offline_is_the_default_and_gives_each_agent_its_own_model() -> None:
    factory = make_model_factory(ProviderSettings(offline_delay_ms=7))
    first, second = factory(ReportKind.MARKET), factory(ReportKind.MARKET)
    assert isinstance(first, OfflineModel) and first is not second
    assert first.get_config()["delay_ms"] == 7


def test_missing_credentials_fail_at_start_up_with_what_to_set() -> None:
    with pytest.raises(InvalidArgument):
        validate_provider(ProviderSettings(provider="gemini"))
    if importlib.util.find_spec("anthropic") is None:
        with pytest.raises(FailedPrecondition, match=r"pip install 'scout-service\[anthropic\]'"):
            validate_provider(ProviderSettings(provider="anthropic", anthropic_api_key="k"))
    else:
        with pytest.raises(FailedPrecondition, match="ANTHROPIC_API_KEY"):
            validate_provider(ProviderSettings(provider="anthropic"))
    if importlib.util.find_spec("openai") is not None:
        with pytest.raises(FailedPrecondition, match="OPENAI_API_KEY"):
            validate_provider(ProviderSettings(provider="openai"))
    with pytest.raises(FailedPrecondition, match="BEDROCK_MODEL_ID"):
        validate_provider(ProviderSettings(provider="bedrock", bedrock_model_id=""))


def test_bedrock_without_aws_credentials_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(FailedPrecondition, match="AWS credentials"):
        validate_provider(ProviderSettings(provider="bedrock", region="eu-north-1"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    factory = make_model_factory(ProviderSettings(provider="bedrock", region="eu-north-1"))
    model = factory(ReportKind.LEGAL)
    assert model.get_config()["model_id"] == "eu.anthropic.claude-sonnet-4-20250514-v1:0"


async def _run_against(settings: ProviderSettings) -> tuple[MemoryStore, object, object]:
    store = MemoryStore()
    session = await new_session(store)
    runner = make_runner(store, factory=make_model_factory(settings))
    run = await runner.start_research(session, request_id=None, file_names=[])
    return store, await wait_terminal(store, run), session


@needs_openai
async def test_openai_compatible_endpoint_end_to_end() -> None:
    with FakeLLM() as fake:
        store, done, session = await _run_against(ProviderSettings(
            provider="openai", openai_api_key="sk-test", openai_model_id="fake-gpt",
            openai_base_url=f"http://127.0.0.1:{fake.port}/v1",
        ))
    assert done.state is RunState.SUCCEEDED, done.error
    for kind in (*SPECIALISTS, ReportKind.FINAL):
        report = await store.get_report(session.session_id, kind)
        assert report.content == report_for(f"save_{kind.value}")
        status = done.agent(kind)
        assert status.state is AgentState.SUCCEEDED
        assert (status.usage.input_tokens, status.usage.output_tokens) == (240, 60)  # 2 turns
    paths = {path for path, _, _ in fake.requests}
    assert paths == {"/v1/chat/completions"}
    _, headers, body = fake.requests[0]
    assert headers["Authorization"] == "Bearer sk-test" and body["model"] == "fake-gpt"
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    assert_no_gaps(await all_events(store, done))


@needs_ollama
async def test_ollama_end_to_end() -> None:
    with FakeLLM() as fake:
        store, done, session = await _run_against(ProviderSettings(
            provider="ollama", ollama_host=f"http://127.0.0.1:{fake.port}",
            ollama_model_id="fake-llama",
        ))
    assert done.state is RunState.SUCCEEDED, done.error
    final = await store.get_report(session.session_id, ReportKind.FINAL)
    assert final.content == report_for("save_final_report")
    assert done.agent(ReportKind.MARKET).usage.input_tokens == 160
    assert {path for path, _, _ in fake.requests} == {"/api/chat"}
    assert fake.requests[0][2]["model"] == "fake-llama"
