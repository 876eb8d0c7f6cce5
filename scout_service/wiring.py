"""Builds a replica's dependencies from settings: store, broker, runner.

Kept apart from ``server.py`` so tests can build a server on fakes without
touching DynamoDB or models, and so the order (embedded DynamoDB → table
check → store → broker → runner) is written down once.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from scout_service.agents.providers import (
    ProviderSettings,
    make_model_factory,
    model_calls,
    model_id,
    validate_provider,
)
from scout_service.agents.runner import ResearchRunner, RunnerSettings
from scout_service.agents.usage import UsageMeter
from scout_service.config import Settings
from scout_service.embedded import EmbeddedDynamo
from scout_service.metrics import MeteredSink, Metrics
from scout_service.pricing import PriceTable
from scout_service.progress.broker import ProgressBroker
from scout_service.research.web import WebResearch, make_provider, web_settings
from scout_service.server import Deps
from scout_service.store import DynamoStore, StoreLimits

log = logging.getLogger(__name__)


def provider_settings(s: Settings) -> ProviderSettings:
    """The model provider's part of the settings."""
    return ProviderSettings(
        provider=s.model_provider,
        bedrock_model_id=s.bedrock_model_id,
        region=s.region,
        anthropic_api_key=s.anthropic_api_key.reveal() if s.anthropic_api_key else None,
        anthropic_model_id=s.anthropic_model_id,
        openai_api_key=s.openai_api_key.reveal() if s.openai_api_key else None,
        openai_base_url=s.openai_base_url,
        openai_model_id=s.openai_model_id,
        ollama_host=s.ollama_host,
        ollama_model_id=s.ollama_model_id,
        offline_delay_ms=s.offline_delay_ms,
        offline_fail_agents=s.offline_fail_agents,
        max_tokens=s.model_max_tokens,
        read_timeout_s=s.model_read_timeout_s,
        prompt_cache=s.prompt_cache,
    )


def runner_settings(s: Settings) -> RunnerSettings:
    """The research runner's part of the settings."""
    return RunnerSettings(
        # A run of the offline model computes; one of a network provider waits.
        max_concurrent_runs=(s.max_concurrent_runs if s.model_provider == "offline"
                             else s.max_concurrent_network_runs),
        max_queued_runs=s.max_queued_runs,
        max_runs_per_principal=s.max_runs_per_principal,
        agent_timeout_s=s.agent_timeout_s,
        run_timeout_s=s.run_timeout_s,
        lease_seconds=s.lease_seconds,
        lease_renew_interval_s=max(0.05, s.lease_seconds / 3),
        claim_interval_s=s.claim_interval_s,
        document_timeout_s=s.document_timeout_s,
        document_memory_mb=s.document_memory_mb,
        document_workers=s.document_workers,
        run_max_tokens=s.run_max_tokens,
        run_max_cost_usd=s.run_max_cost_usd,
    )


def usage_meter(s: Settings, metrics: Metrics | None = None) -> UsageMeter:
    """Prices the agents' usage with the default table and SCOUT_MODEL_PRICES."""
    return UsageMeter(
        provider=s.model_provider, model_id=model_id(provider_settings(s)),
        prices=PriceTable().with_overrides(s.model_prices),
        on_usage=metrics.count_usage if metrics is not None else None,
    )


def store_limits(s: Settings) -> StoreLimits:
    """The store's size limits from settings."""
    return StoreLimits(
        max_file_bytes=int(s.max_file_mb * 1024 * 1024),
        max_report_bytes=int(s.max_report_mb * 1024 * 1024),
        max_report_versions=s.max_report_versions,
        max_ttl_seconds=s.max_session_ttl_seconds,
        max_files_per_session=s.max_files_per_session,
        max_session_bytes=int(s.max_session_mb * 1024 * 1024),
    )


async def build_deps(s: Settings) -> Deps:
    """Everything a replica runs on, started and checked."""
    provider = provider_settings(s)
    validate_provider(provider)
    closers: list[Any] = []
    endpoint = s.endpoint_url
    credentials: dict[str, str] = {}
    if s.embedded:
        embedded = EmbeddedDynamo()
        embedded.start()
        closers.append(embedded.stop)
        endpoint = embedded.endpoint_url
        credentials = dict(embedded.credentials)
        log.info("embedded DynamoDB (moto) on %s", endpoint)
    store = DynamoStore.from_config(
        table_name=s.table_name, region=s.region, endpoint_url=endpoint,
        limits=store_limits(s), max_workers=s.store_max_workers,
        lean_reads=s.dynamodb_lean_reads,
        aws_access_key_id=credentials.get("aws_access_key_id"),
        aws_secret_access_key=credentials.get("aws_secret_access_key"),
    )
    want_create = s.create_table if s.create_table is not None else s.embedded
    if want_create and await store.create_table():
        log.info("created table %s", s.table_name)
    await store.check()
    broker = ProgressBroker(
        store,
        poll_interval=s.progress_poll_ms / 1000,
        heartbeat_interval=s.heartbeat_interval_s,
        max_streams=s.max_streams,
        max_streams_per_principal=s.max_streams_per_principal,
    )
    metrics = Metrics()
    metrics.watch_broker(broker)
    metrics.watch_store(store)
    web = web_settings(s)
    http = httpx.AsyncClient(timeout=web.search_timeout_s)
    closers.append(http.aclose)
    search = make_provider(web, http)

    def run_web() -> WebResearch | None:
        return WebResearch(search, web, http) if search is not None else None

    runner = ResearchRunner(
        store, MeteredSink(broker, metrics), make_model_factory(provider),
        settings=runner_settings(s), replica_id=s.replica, provider_name=s.model_provider,
        web=run_web, meter=usage_meter(s, metrics),
        calls=model_calls(provider, max_concurrent_calls=s.model_max_concurrent_calls,
                          retry_attempts=s.model_retry_attempts),
    )
    return Deps(store=store, runner=runner, broker=broker, metrics=metrics, closers=closers)
