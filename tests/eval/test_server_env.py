"""The eval's server gets the caller's model settings, never the caller's store."""

from __future__ import annotations

from eval.report import provider_and_model
from eval.server import server_env


def test_model_settings_pass_through_and_the_store_is_always_embedded() -> None:
    env = server_env({
        "SCOUT_MODEL_PROVIDER": "bedrock", "BEDROCK_MODEL_ID": "eu.model-x",
        "AWS_REGION": "eu-north-1", "DYNAMODB_ENDPOINT_URL": "http://prod:8000",
        "DYNAMODB_TABLE_NAME": "scout-prod", "SCOUT_DYNAMODB_ENDPOINT": "http://prod:8000",
        "SCOUT_LISTEN_ADDRESS": "0.0.0.0:50051", "PATH": "/usr/bin",
    })
    assert env["SCOUT_MODEL_PROVIDER"] == "bedrock"
    assert env["BEDROCK_MODEL_ID"] == "eu.model-x"
    assert env["AWS_REGION"] == "eu-north-1"
    assert env["SCOUT_EMBEDDED_DYNAMODB"] == "true"
    assert env["SCOUT_LISTEN_ADDRESS"] == "127.0.0.1:0"
    dropped = {"DYNAMODB_ENDPOINT_URL", "DYNAMODB_TABLE_NAME", "SCOUT_DYNAMODB_ENDPOINT"}
    assert not dropped & set(env)
    assert server_env({})["SCOUT_MODEL_PROVIDER"] == "offline"


def test_provider_and_model_for_the_results_file() -> None:
    assert provider_and_model({"SCOUT_MODEL_PROVIDER": "bedrock", "BEDROCK_MODEL_ID": "m"}) == (
        "bedrock", "m")
    provider, model = provider_and_model({"SCOUT_MODEL_PROVIDER": "openai"})
    assert (provider, model) == ("openai", "gpt-4o")
    assert provider_and_model({})[0] == "offline"
