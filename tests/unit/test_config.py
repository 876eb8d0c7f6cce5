"""Settings: the seed's names, defaults, and a clear error per bad variable."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from scout_service.__main__ import main
from scout_service.config import OPTIONS, ConfigError, Settings, load_settings

TOKEN_HASH = hashlib.sha256(b"secret").hexdigest()


def test_defaults_are_the_seeds() -> None:
    s = load_settings({})
    assert s.table_name == "scout-sessions"
    assert s.region == "eu-north-1"
    assert s.session_ttl_seconds == 24 * 3600
    assert s.listen_address == "127.0.0.1:50051"
    assert s.model_provider == "offline"
    assert s.embedded and not s.auth_enabled


def test_seed_names_keep_working() -> None:
    s = load_settings(
        {
            "DYNAMODB_TABLE_NAME": "t1",
            "DYNAMODB_REGION": "us-west-2",
            "SESSION_TTL_HOURS": "2",
            "BEDROCK_MODEL_ID": "m-1",
            "DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8000",
            "SCOUT_AUTH_TOKENS": f"svc:{TOKEN_HASH}",
        }
    )
    assert (s.table_name, s.region, s.session_ttl_seconds, s.bedrock_model_id) == (
        "t1",
        "us-west-2",
        7200,
        "m-1",
    )
    assert not s.embedded and s.auth_enabled
    assert s.token_hashes() == {TOKEN_HASH: "svc"}


def test_aws_credentials_mean_real_dynamodb() -> None:
    s = load_settings({"AWS_PROFILE": "prod", "SCOUT_AUTH_TOKENS": f"svc:{TOKEN_HASH}"})
    assert not s.embedded


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SESSION_TTL_HOURS": "soon"}, "SESSION_TTL_HOURS"),
        ({"SCOUT_LISTEN_ADDRESS": "localhost"}, "SCOUT_LISTEN_ADDRESS"),
        ({"SCOUT_MODEL_PROVIDER": "gpt"}, "SCOUT_MODEL_PROVIDER"),
        ({"SCOUT_MAX_FILE_MB": "-1"}, "SCOUT_MAX_FILE_MB"),
        ({"SCOUT_AUTH_DISABLED": "maybe"}, "SCOUT_AUTH_DISABLED"),
        ({"DYNAMODB_ENDPOINT_URL": "http://x:1"}, "SCOUT_AUTH_TOKENS"),
        (
            {"DYNAMODB_ENDPOINT_URL": "http://x:1", "SCOUT_AUTH_DISABLED": "1"},
            "SCOUT_AUTH_DISABLED",
        ),
        ({"SCOUT_AUTH_TOKENS": "svc:nothex"}, "SCOUT_AUTH_TOKENS"),
        ({"SCOUT_TLS_CERT_FILE": "/nonexistent.pem"}, "SCOUT_TLS"),
        ({"SCOUT_HEALTHCHECK_CERT_FILE": __file__}, "SCOUT_HEALTHCHECK_KEY_FILE"),
        ({"SCOUT_HEALTHCHECK_CERT_FILE": "/nonexistent.pem",
          "SCOUT_HEALTHCHECK_KEY_FILE": __file__}, "SCOUT_HEALTHCHECK_CERT_FILE: no such file"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        load_settings(env)


def test_every_option_maps_to_a_settings_field() -> None:
    fields = set(Settings.__dataclass_fields__)
    assert {o.field for o in OPTIONS} <= fields
    assert len({o.env[0] for o in OPTIONS}) == len(OPTIONS)


def test_serve_help_documents_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in OPTIONS:
        assert option.env[0] in out


def _only_what_the_test_sets(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Clear Scout's variables and AWS credentials of the machine running the test.

    ``main`` reads ``os.environ``: on a developer's machine with AWS credentials
    (variables or ``~/.aws/credentials``) the store is no longer the embedded
    one, authentication turns on, and the server refuses to start before the
    check a test is about.
    """
    read = {name for option in OPTIONS for name in option.env}
    for name in list(os.environ):
        if name in read or name.startswith(("SCOUT_", "AWS_", "DYNAMODB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))


def test_bad_value_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _only_what_the_test_sets(monkeypatch, tmp_path)
    monkeypatch.setenv("SCOUT_MAX_CONCURRENT_RUNS", "zero")
    assert main(["serve"]) == 2
    assert "SCOUT_MAX_CONCURRENT_RUNS" in capsys.readouterr().err


def test_readme_documents_every_variable() -> None:
    from pathlib import Path

    from scout_service.config import options_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = [o.env[0] for o in OPTIONS if f"`{o.env[0]}`" not in readme]
    assert not missing, f"README's configuration table lacks {missing}"
    assert options_markdown() in readme, (
        "README's configuration table differs from config.OPTIONS: run 'make readme-config'")


def test_event_loop_choice() -> None:
    import asyncio

    import uvloop

    from scout_service.__main__ import loop_factory

    assert loop_factory("asyncio") is None
    for choice in ("auto", "uvloop"):
        factory = loop_factory(choice)
        assert factory is not None
        loop = factory()
        try:
            assert isinstance(loop, uvloop.Loop)
            assert isinstance(loop, asyncio.AbstractEventLoop)
        finally:
            loop.close()


def test_event_loop_without_uvloop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import sys

    from scout_service.__main__ import loop_factory

    _only_what_the_test_sets(monkeypatch, tmp_path)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop → ImportError
    assert loop_factory("auto") is None  # falls back to asyncio's loop
    monkeypatch.setenv("SCOUT_EVENT_LOOP", "uvloop")
    assert main(["serve"]) == 2
    assert "uvloop is not installed" in capsys.readouterr().err


def test_document_limits_reach_the_runner() -> None:
    from scout_service.wiring import runner_settings

    s = load_settings({"SCOUT_DOCUMENT_TIMEOUT_S": "7.5", "SCOUT_DOCUMENT_MEMORY_MB": "300",
                       "SCOUT_DOCUMENT_WORKERS": "3"})
    runner = runner_settings(s)
    assert (runner.document_timeout_s, runner.document_memory_mb, runner.document_workers) == (
        7.5, 300, 3)
    defaults = runner_settings(load_settings({}))
    assert (defaults.document_timeout_s, defaults.document_memory_mb) == (30, 1024)
    for bad in ({"SCOUT_DOCUMENT_MEMORY_MB": "64"}, {"SCOUT_DOCUMENT_TIMEOUT_S": "0"},
                {"SCOUT_DOCUMENT_WORKERS": "0"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load_settings(bad)


def test_connection_age_becomes_server_options() -> None:
    from scout_service.server import SERVER_OPTIONS, server_options

    assert server_options(load_settings({})) == SERVER_OPTIONS
    options = dict(server_options(load_settings({"SCOUT_MAX_CONNECTION_AGE_S": "300",
                                                 "SCOUT_MAX_CONNECTION_AGE_GRACE_S": "30"})))
    assert options["grpc.max_connection_age_ms"] == 300_000
    assert options["grpc.max_connection_age_grace_ms"] == 30_000
    no_grace = dict(server_options(load_settings({"SCOUT_MAX_CONNECTION_AGE_S": "60"})))
    assert "grpc.max_connection_age_grace_ms" not in no_grace


def test_api_keys_never_show_in_a_repr() -> None:
    from scout_service.wiring import provider_settings

    settings = load_settings({"SCOUT_MODEL_PROVIDER": "anthropic",
                              "ANTHROPIC_API_KEY": "sk-ant-SECRET", "OPENAI_API_KEY": "sk-SECRET",
                              "SCOUT_TAVILY_API_KEY": "tvly-SECRET"})
    assert "SECRET" not in repr(settings)
    provider = provider_settings(settings)
    assert provider.anthropic_api_key == "sk-ant-SECRET"  # revealed only where it is sent
    assert "SECRET" not in repr(provider)
