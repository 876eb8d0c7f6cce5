"""Settings: parsed once from the environment into one typed, frozen object.

Every setting is declared once in ``OPTIONS`` with its variable name, its
default and a sentence saying what it is for; the parser and
``scout-service serve --help`` both read that table, so the documentation
cannot drift from the code. The seed's names (``DYNAMODB_TABLE_NAME``,
``DYNAMODB_REGION``, ``SESSION_TTL_HOURS``, ``BEDROCK_MODEL_ID``) keep working.
A bad value raises ``ConfigError`` naming the variable; nothing here does I/O
beyond reading a token file or a price file the settings point at.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scout_service.pricing import Price, parse_prices


class ConfigError(ValueError):
    """A setting has a value the service cannot start with."""


def _str(value: str) -> str:
    return value.strip()


def _opt_str(value: str) -> str | None:
    return value.strip() or None


def _int(lo: int, hi: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {number}")
        return number

    return parse


def _float(lo: float, hi: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if not lo <= number <= hi:
            raise ValueError(f"must be between {lo} and {hi}, got {number}")
        return number

    return parse


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {value!r}")


def _opt_bool(value: str) -> bool | None:
    """Empty means "not set" (the default decides); otherwise true/false."""
    return _bool(value) if value.strip() else None


def _address(value: str) -> str:
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    return value.strip()


def _opt_address(value: str) -> str | None:
    if value.strip().lower() in ("", "off", "none", "disabled"):
        return None
    return _address(value)


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        v = value.strip().lower()
        if v not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return v

    return parse


def _names(value: str) -> frozenset[str]:
    return frozenset(n.strip() for n in value.split(",") if n.strip())


class Secret:
    """A credential whose ``repr``/``str`` never show it, so settings can be logged.

    ``reveal()`` is the one way to read the value, which makes every place
    that sends a key to a provider easy to find.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The credential itself, for the request header that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _opt_secret(value: str) -> Secret | None:
    return Secret(value.strip()) if value.strip() else None


def _opt_url(value: str) -> str | None:
    v = value.strip()
    if not v:
        return None
    if not v.startswith(("http://", "https://")) or len(v) <= len("https://"):
        raise ValueError(f"expected an http(s):// URL, got {v[:80]!r}")
    return v.rstrip("/")


def _hosts(value: str) -> frozenset[str]:
    return frozenset(n.strip().lower().rstrip(".") for n in value.split(",") if n.strip())


@dataclass(frozen=True)
class Option:
    """One environment variable: where it goes, its default, what it is for."""

    env: tuple[str, ...]
    field: str
    default: str
    parse: Callable[[str], Any]
    help: str
    group: str


OPTIONS: tuple[Option, ...] = (
    # -- store
    Option(("DYNAMODB_TABLE_NAME",), "table_name", "scout-sessions", _str,
           "DynamoDB table holding every session item.", "store"),
    Option(("DYNAMODB_REGION", "AWS_REGION"), "region", "eu-north-1", _str,
           "AWS region of the table (and of Bedrock).", "store"),
    Option(("DYNAMODB_ENDPOINT_URL", "SCOUT_DYNAMODB_ENDPOINT"), "endpoint_url", "", _opt_str,
           "DynamoDB endpoint (DynamoDB Local, moto). Unset with no AWS credentials: an "
           "embedded moto server on loopback is started.", "store"),
    Option(("SCOUT_EMBEDDED_DYNAMODB",), "embedded_override", "", _opt_bool,
           "Force (true) or forbid (false) the embedded DynamoDB; default: "
           "automatic.", "store"),
    Option(("SCOUT_CREATE_TABLE",), "create_table", "", _opt_bool,
           "Create the table at start-up if missing (default: only for the "
           "embedded DynamoDB).", "store"),
    Option(("SCOUT_STORE_MAX_WORKERS",), "store_max_workers", "16", _int(1, 256),
           "Threads running boto3 calls (the event loop never blocks on DynamoDB).", "store"),
    Option(("SCOUT_DYNAMODB_LEAN_READS",), "dynamodb_lean_reads", "true", _bool,
           "Send reads (GetItem, Query, BatchGetItem) as signed requests of Scout's own, "
           "skipping botocore's per-call pipeline (~0.5 ms CPU each); "
           "anything but a clean answer is retried through boto3.", "store"),
    Option(("SESSION_TTL_HOURS",), "session_ttl_hours", "24", _float(0.01, 24 * 365),
           "Default session lifetime; every item of a session expires with it.", "store"),
    Option(("SCOUT_MAX_SESSION_TTL_HOURS",), "max_session_ttl_hours", "168",
           _float(0.01, 24 * 365), "Longest lifetime a caller may ask for.", "store"),
    # -- server
    Option(("SCOUT_LISTEN_ADDRESS",), "listen_address", "127.0.0.1:50051", _address,
           "gRPC listen address (0.0.0.0:50051 in containers).", "server"),
    Option(("SCOUT_METRICS_ADDRESS",), "metrics_address", "127.0.0.1:9464", _opt_address,
           "Prometheus /metrics HTTP address; 'off' disables it.", "server"),
    Option(("SCOUT_REPLICA_ID",), "replica_id", "", _opt_str,
           "Name of this replica in run leases (default: hostname-pid).", "server"),
    Option(("SCOUT_SHUTDOWN_GRACE_S",), "shutdown_grace_s", "10", _float(0, 600),
           "Seconds in-flight calls get to finish on SIGTERM.", "server"),
    Option(("SCOUT_LOG_LEVEL",), "log_level", "INFO",
           _choice("debug", "info", "warning", "error"), "Log level.", "server"),
    Option(("SCOUT_LOG_FORMAT",), "log_format", "auto", _choice("auto", "json", "text"),
           "Log lines as JSON objects or text; auto: JSON in containers and whenever stdout "
           "is not a terminal, text on a terminal.", "server"),
    Option(("SCOUT_OTEL_ENABLED",), "otel_enabled", "false", _bool,
           "Record OpenTelemetry traces (needs the otel extra): RPCs, DynamoDB requests, runs, "
           "agents and model calls; exporter and endpoint from the standard OTEL_* "
           "variables.", "server"),
    Option(("SCOUT_OTEL_RECORD_CONTENT",), "otel_record_content", "false", _bool,
           "Let spans carry prompts, tool results and model output (strands' content "
           "attributes); off, they are redacted.", "server"),
    Option(("SCOUT_EVENT_LOOP",), "event_loop", "auto", _choice("auto", "uvloop", "asyncio"),
           "Event loop: uvloop (libuv; fewer CPU cycles per call), asyncio, or auto (uvloop "
           "when installed).", "server"),
    Option(("SCOUT_MAX_CONNECTION_AGE_S",), "max_connection_age_s", "0", _float(0, 86_400 * 30),
           "Age after which a client connection is asked to reconnect (GOAWAY), so clients "
           "behind a load balancer spread over new replicas; 0: never.", "server"),
    Option(("SCOUT_MAX_CONNECTION_AGE_GRACE_S",), "max_connection_age_grace_s", "0",
           _float(0, 86_400), "Time calls still running on such a connection get before "
           "they are cancelled; 0: as long as they need.", "server"),
    Option(("SCOUT_MAX_CONCURRENT_RPCS",), "max_concurrent_rpcs", "4000", _int(1, 1_000_000),
           "Calls served at once before new ones are refused with RESOURCE_EXHAUSTED.", "server"),
    # -- auth
    Option(("SCOUT_AUTH_TOKENS",), "auth_tokens", "", _str,
           "Callers as NAME:SHA256HEX pairs separated by commas (sha256 of the bearer token).",
           "auth"),
    Option(("SCOUT_AUTH_TOKENS_FILE",), "auth_tokens_file", "", _opt_str,
           "File with one NAME:SHA256HEX per line, read at start-up.", "auth"),
    Option(("SCOUT_ADMIN_PRINCIPALS",), "admin_principals", "", _names,
           "Callers who may read every session (comma separated).", "auth"),
    Option(("SCOUT_AUTH_DISABLED",), "auth_disabled", "", _opt_bool,
           "Switch authentication off; allowed only with the embedded "
           "DynamoDB (default there: off, everywhere else: on).", "auth"),
    Option(("SCOUT_TLS_CERT_FILE",), "tls_cert_file", "", _opt_str,
           "PEM certificate chain for a TLS listener.", "auth"),
    Option(("SCOUT_TLS_KEY_FILE",), "tls_key_file", "", _opt_str,
           "PEM private key for a TLS listener.", "auth"),
    Option(("SCOUT_TLS_CLIENT_CA_FILE",), "tls_client_ca_file", "", _opt_str,
           "PEM CA for client certificates: enables mTLS; the principal is the certificate's "
           "subject CN.", "auth"),
    Option(("SCOUT_HEALTHCHECK_CERT_FILE",), "healthcheck_cert_file", "", _opt_str,
           "PEM client certificate the container's health probe presents to an mTLS "
           "listener (default: SCOUT_TLS_CERT_FILE, fine when the client CA issued it for "
           "client use too).", "auth"),
    Option(("SCOUT_HEALTHCHECK_KEY_FILE",), "healthcheck_key_file", "", _opt_str,
           "PEM private key of SCOUT_HEALTHCHECK_CERT_FILE.", "auth"),
    # -- limits
    Option(("SCOUT_MAX_FILE_MB",), "max_file_mb", "25", _float(0.001, 1024),
           "Largest uploaded file.", "limits"),
    Option(("SCOUT_MAX_SESSION_MB",), "max_session_mb", "100", _float(0.001, 10240),
           "Largest total of uploaded files in one session.", "limits"),
    Option(("SCOUT_MAX_FILES_PER_SESSION",), "max_files_per_session", "20", _int(1, 10_000),
           "Most files one session may hold.", "limits"),
    Option(("SCOUT_MAX_REPORT_MB",), "max_report_mb", "4", _float(0.001, 64),
           "Largest report (UTF-8 Markdown).", "limits"),
    Option(("SCOUT_MAX_REPORT_VERSIONS",), "max_report_versions", "20", _int(1, 1000),
           "Versions of each report kept readable; saving one more deletes the oldest.",
           "limits"),
    Option(("SCOUT_MAX_RUNS_PER_SESSION_PER_HOUR",), "max_runs_per_session_per_hour", "10",
           _int(1, 100_000), "Research runs a session may start in any hour.", "limits"),
    Option(("SCOUT_MAX_RUNS_PER_PRINCIPAL",), "max_runs_per_principal", "4", _int(1, 100_000),
           "Research runs one caller may have in progress: executing on the replica it calls, "
           "or waiting in the fleet's queue.", "limits"),
    Option(("SCOUT_MAX_CONCURRENT_RUNS",), "max_concurrent_runs", "4", _int(1, 1000),
           "Runs executing at once on this replica with the offline model (CPU-bound: about "
           "one core each); more wait in the fleet's queue.", "limits"),
    Option(("SCOUT_MAX_CONCURRENT_NETWORK_RUNS",), "max_concurrent_network_runs", "16",
           _int(1, 10_000),
           "Runs executing at once on this replica with a network model provider (mostly "
           "waiting on the model). Measured by bench/slots_bench.py with a fake model answering "
           "in 2 s, all started at once on 2 shared cores (load ~1.6): event delivery p99 "
           "7 ms at 16 runs, 76 ms at 24, 195-600 ms at 32; RSS ~1.3 MB a run.", "limits"),
    Option(("SCOUT_MAX_QUEUED_RUNS",), "max_queued_runs", "100", _int(0, 1000),
           "Runs waiting in the fleet's queue (all replicas' slots busy) before StartResearch "
           "answers RESOURCE_EXHAUSTED with the queue's depth.", "limits"),
    Option(("SCOUT_DOCUMENT_TIMEOUT_S",), "document_timeout_s", "30", _float(1, 3600),
           "Wall time reading one PDF or .docx may take; past it the worker process reading "
           "it is killed and StartResearch answers FAILED_PRECONDITION (DOCUMENT_TOO_SLOW).",
           "limits"),
    Option(("SCOUT_DOCUMENT_MEMORY_MB",), "document_memory_mb", "1024", _int(128, 65_536),
           "Address space of each document worker process (RLIMIT_AS); a file needing more "
           "answers FAILED_PRECONDITION (DOCUMENT_TOO_LARGE).", "limits"),
    Option(("SCOUT_DOCUMENT_WORKERS",), "document_workers", "2", _int(1, 64),
           "Worker processes reading PDFs and .docx files: files read at once on this "
           "replica (started on first use).", "limits"),
    Option(("SCOUT_MAX_STREAMS",), "max_streams", "10000", _int(1, 1_000_000),
           "Progress streams open at once on this replica.", "limits"),
    Option(("SCOUT_MAX_STREAMS_PER_PRINCIPAL",), "max_streams_per_principal", "2000",
           _int(1, 1_000_000), "Progress streams one caller may hold open on this replica.",
           "limits"),
    Option(("SCOUT_RATE_LIMIT_RPS",), "rate_limit_rps", "200", _float(0.01, 1_000_000),
           "Sustained calls per second per caller on this replica (token bucket; behind a "
           "load balancer, N replicas let a caller make up to N times as many).", "limits"),
    Option(("SCOUT_RATE_LIMIT_BURST",), "rate_limit_burst", "4000", _int(1, 10_000_000),
           "Calls a caller may make in one burst on this replica.", "limits"),
    # -- research
    Option(("SCOUT_MODEL_PROVIDER",), "model_provider", "offline",
           _choice("offline", "bedrock", "anthropic", "openai", "ollama"),
           "Model behind the agents: offline (no network, extractive), bedrock, anthropic, "
           "openai, ollama.", "research"),
    Option(("BEDROCK_MODEL_ID",), "bedrock_model_id",
           "eu.anthropic.claude-sonnet-4-20250514-v1:0", _str,
           "Bedrock model or inference-profile id (provider bedrock).", "research"),
    Option(("ANTHROPIC_API_KEY",), "anthropic_api_key", "", _opt_secret,
           "API key (provider anthropic).", "research"),
    Option(("SCOUT_ANTHROPIC_MODEL_ID",), "anthropic_model_id", "claude-sonnet-4-20250514",
           _str, "Model id (provider anthropic).", "research"),
    Option(("OPENAI_API_KEY",), "openai_api_key", "", _opt_secret,
           "API key (provider openai).", "research"),
    Option(("OPENAI_BASE_URL",), "openai_base_url", "", _opt_str,
           "Base URL of an OpenAI-compatible endpoint (provider openai).", "research"),
    Option(("SCOUT_OPENAI_MODEL_ID",), "openai_model_id", "gpt-4o", _str,
           "Model id (provider openai).", "research"),
    Option(("OLLAMA_HOST",), "ollama_host", "http://127.0.0.1:11434", _str,
           "Ollama server (provider ollama).", "research"),
    Option(("SCOUT_OLLAMA_MODEL_ID",), "ollama_model_id", "llama3.1", _str,
           "Model id (provider ollama).", "research"),
    Option(("SCOUT_MODEL_MAX_TOKENS",), "model_max_tokens", "8000", _int(256, 200_000),
           "Most tokens one model response may write.", "research"),
    Option(("SCOUT_OFFLINE_DELAY_MS",), "offline_delay_ms", "0", _int(0, 60_000),
           "Delay per streamed chunk of the offline model, to watch progress and cancel.",
           "research"),
    Option(("SCOUT_OFFLINE_FAIL_AGENTS",), "offline_fail_agents", "", _names,
           "Failure drill: offline agents (market, competition, price, legal, final) that "
           "fail on purpose, to see partial results.", "research"),
    Option(("SCOUT_MODEL_PRICES",), "model_prices", "", parse_prices,
           "Model prices in USD per million tokens, overriding or adding to the defaults: a "
           "JSON object, or the path of a JSON file, of 'provider/model-id' (or 'provider/*') "
           "to {input, output, cache_read, cache_write}.", "research"),
    Option(("SCOUT_RUN_MAX_TOKENS",), "run_max_tokens", "0", _int(0, 10**12),
           "Token budget of a run whose brief sets none (cached tokens count too); 0: none.",
           "research"),
    Option(("SCOUT_RUN_MAX_COST_USD",), "run_max_cost_usd", "0", _float(0, 1_000_000),
           "Cost budget of a run in USD, applied when the model's prices are known; 0: none.",
           "research"),
    Option(("SCOUT_MODEL_MAX_CONCURRENT_CALLS",), "model_max_concurrent_calls", "8",
           _int(1, 10_000),
           "Model calls in flight at once on this replica (per provider); more wait their "
           "turn.", "research"),
    Option(("SCOUT_MODEL_RETRY_ATTEMPTS",), "model_retry_attempts", "6", _int(1, 50),
           "Tries of a model call that is throttled or meets a transient provider error, "
           "with backoff and jitter inside the agent's time limit.", "research"),
    Option(("SCOUT_MODEL_READ_TIMEOUT_S",), "model_read_timeout_s", "300", _float(1, 3600),
           "How long a hosted model's answer may go silent before the call fails (long "
           "generations stream slowly).", "research"),
    Option(("SCOUT_PROMPT_CACHE",), "prompt_cache", "true", _bool,
           "Prompt caching on Bedrock and Anthropic (strands' cache points after the tools, "
           "the system prompt and the conversation so far): each model call of an agent reads "
           "its earlier turns from the provider's cache.", "research"),
    Option(("SCOUT_AGENT_TIMEOUT_S",), "agent_timeout_s", "600", _float(1, 86_400),
           "Time one agent may take before it is marked failed.", "research"),
    Option(("SCOUT_RUN_TIMEOUT_S",), "run_timeout_s", "1800", _float(1, 86_400),
           "Time a whole run may take before it is failed.", "research"),
    Option(("SCOUT_LEASE_SECONDS",), "lease_seconds", "30", _float(1, 3600),
           "How long a run's lease holds without a heartbeat before another replica "
           "resumes it.", "research"),
    Option(("SCOUT_CLAIM_INTERVAL_S", "SCOUT_RESUME_SCAN_INTERVAL_S"), "claim_interval_s", "1",
           _float(0.05, 3600),
           "How often a replica with a free slot reads the fleet's run queue (queued runs and "
           "runs whose lease ran out) to claim runs: one query each time, none while every "
           "slot is busy.", "research"),
    # -- progress
    Option(("SCOUT_PROGRESS_POLL_MS",), "progress_poll_ms", "250", _int(10, 60_000),
           "How often a replica reads the store for a run executing on another replica "
           "(bounds the cross-replica delay).", "progress"),
    Option(("SCOUT_HEARTBEAT_INTERVAL_S",), "heartbeat_interval_s", "10", _float(0.05, 3600),
           "Quiet time after which a progress stream sends a heartbeat.", "progress"),
    # -- web (research with evidence: search and page fetching for the agents)
    Option(("SCOUT_WEB_SEARCH_PROVIDER",), "web_search_provider", "off",
           _choice("off", "tavily", "exa", "brave", "searxng"),
           "Web search behind the agents' search tool: off, tavily, exa, brave, searxng.",
           "web"),
    Option(("SCOUT_TAVILY_API_KEY",), "tavily_api_key", "", _opt_secret,
           "API key (web search provider tavily).", "web"),
    Option(("SCOUT_EXA_API_KEY",), "exa_api_key", "", _opt_secret,
           "API key (web search provider exa).", "web"),
    Option(("SCOUT_BRAVE_API_KEY",), "brave_api_key", "", _opt_secret,
           "Brave Search API subscription token (web search provider brave).", "web"),
    Option(("SCOUT_SEARXNG_URL",), "searxng_url", "", _opt_url,
           "Base URL of a SearXNG instance with the JSON format enabled (provider searxng).",
           "web"),
    Option(("SCOUT_WEB_SEARCH_BASE_URL",), "web_search_base_url", "", _opt_url,
           "Override of the search provider's API base URL (a proxy or a test fake).", "web"),
    Option(("SCOUT_FETCH_ALLOW_HOSTS",), "fetch_allow_hosts", "", _hosts,
           "Host names agents may fetch even though they resolve to private or loopback "
           "addresses (comma separated; everything else must be a public address).", "web"),
    Option(("SCOUT_FETCH_MAX_BYTES",), "fetch_max_bytes", "2000000", _int(1024, 100_000_000),
           "Most bytes of one fetched page that are read; the rest is cut off.", "web"),
    Option(("SCOUT_FETCH_TIMEOUT_S",), "fetch_timeout_s", "15", _float(0.1, 600),
           "Wall time one page fetch (redirects included) may take.", "web"),
    Option(("SCOUT_MAX_WEB_SEARCHES_PER_RUN",), "max_web_searches_per_run", "20",
           _int(0, 10_000), "Web searches the agents of one run may make together.", "web"),
    Option(("SCOUT_MAX_FETCHES_PER_RUN",), "max_fetches_per_run", "20", _int(0, 10_000),
           "Web pages the agents of one run may fetch together.", "web"),
)


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with (see ``OPTIONS`` for each field)."""

    table_name: str = "scout-sessions"
    region: str = "eu-north-1"
    endpoint_url: str | None = None
    embedded_override: bool | None = None
    create_table: bool | None = None
    store_max_workers: int = 16
    dynamodb_lean_reads: bool = True
    session_ttl_hours: float = 24
    max_session_ttl_hours: float = 168
    listen_address: str = "127.0.0.1:50051"
    metrics_address: str | None = "127.0.0.1:9464"
    replica_id: str | None = None
    shutdown_grace_s: float = 10
    log_level: str = "info"
    log_format: str = "auto"
    otel_enabled: bool = False
    otel_record_content: bool = False
    event_loop: str = "auto"
    max_concurrent_rpcs: int = 4000
    max_connection_age_s: float = 0
    max_connection_age_grace_s: float = 0
    auth_tokens: str = ""
    auth_tokens_file: str | None = None
    admin_principals: frozenset[str] = frozenset()
    auth_disabled: bool | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    healthcheck_cert_file: str | None = None
    healthcheck_key_file: str | None = None
    max_file_mb: float = 25
    max_session_mb: float = 100
    max_files_per_session: int = 20
    max_report_mb: float = 4
    max_report_versions: int = 20
    max_runs_per_session_per_hour: int = 10
    max_runs_per_principal: int = 4
    max_concurrent_runs: int = 4
    max_concurrent_network_runs: int = 16
    max_queued_runs: int = 100
    document_timeout_s: float = 30
    document_memory_mb: int = 1024
    document_workers: int = 2
    max_streams: int = 10_000
    max_streams_per_principal: int = 2000
    rate_limit_rps: float = 200
    rate_limit_burst: int = 4000
    model_provider: str = "offline"
    bedrock_model_id: str = "eu.anthropic.claude-sonnet-4-20250514-v1:0"
    anthropic_api_key: Secret | None = None
    anthropic_model_id: str = "claude-sonnet-4-20250514"
    openai_api_key: Secret | None = None
    openai_base_url: str | None = None
    openai_model_id: str = "gpt-4o"
    ollama_host: str = "http://127.0.0.1:11434"
    ollama_model_id: str = "llama3.1"
    model_max_tokens: int = 8000
    offline_delay_ms: int = 0
    offline_fail_agents: frozenset[str] = frozenset()
    model_prices: Mapping[tuple[str, str], Price] = field(default_factory=dict)
    run_max_tokens: int = 0
    run_max_cost_usd: float = 0
    model_max_concurrent_calls: int = 8
    model_retry_attempts: int = 6
    model_read_timeout_s: float = 300
    prompt_cache: bool = True
    agent_timeout_s: float = 600
    run_timeout_s: float = 1800
    lease_seconds: float = 30
    claim_interval_s: float = 1
    progress_poll_ms: int = 250
    heartbeat_interval_s: float = 10
    web_search_provider: str = "off"
    tavily_api_key: Secret | None = None
    exa_api_key: Secret | None = None
    brave_api_key: Secret | None = None
    searxng_url: str | None = None
    web_search_base_url: str | None = None
    fetch_allow_hosts: frozenset[str] = frozenset()
    fetch_max_bytes: int = 2_000_000
    fetch_timeout_s: float = 15
    max_web_searches_per_run: int = 20
    max_fetches_per_run: int = 20
    # Derived at parse time, not from one variable.
    aws_credentials_present: bool = field(default=False)

    @property
    def embedded(self) -> bool:
        """True when the service should start its own moto DynamoDB server."""
        if self.embedded_override is not None:
            return self.embedded_override
        return self.endpoint_url is None and not self.aws_credentials_present

    @property
    def auth_enabled(self) -> bool:
        """Authentication is on unless switched off (only allowed when embedded)."""
        if self.auth_disabled is None:
            # Client certificates are a way to authenticate: asking for them turns auth on.
            return not self.embedded or bool(self.tls_client_ca_file)
        return not self.auth_disabled

    @property
    def session_ttl_seconds(self) -> int:
        """Default session lifetime in seconds."""
        return int(self.session_ttl_hours * 3600)

    @property
    def max_session_ttl_seconds(self) -> int:
        """Longest session lifetime in seconds."""
        return int(self.max_session_ttl_hours * 3600)

    @property
    def replica(self) -> str:
        """Name of this replica in run leases."""
        return self.replica_id or f"{socket.gethostname()}-{os.getpid()}"

    def token_hashes(self) -> dict[str, str]:
        """Map of sha256(token) hex → principal from the env var and the file."""
        entries = [e for e in self.auth_tokens.split(",") if e.strip()]
        if self.auth_tokens_file:
            text = Path(self.auth_tokens_file).read_text(encoding="utf-8")
            entries += [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        table: dict[str, str] = {}
        for entry in entries:
            name, sep, digest = entry.strip().partition(":")
            digest = digest.strip().lower()
            if not sep or not name or len(digest) != 64 or not all(
                c in "0123456789abcdef" for c in digest
            ):
                raise ConfigError(
                    "SCOUT_AUTH_TOKENS / SCOUT_AUTH_TOKENS_FILE: each entry must be "
                    f"NAME:SHA256HEX (64 hex digits), got {entry.strip()[:40]!r}"
                )
            table[digest] = name.strip()
        return table


def _credentials_present(env: Mapping[str, str]) -> bool:
    """Whether plain AWS settings point at real credentials (no network look-up)."""
    keys = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if any(env.get(k) for k in keys):
        return True
    home = env.get("HOME")
    return bool(home) and Path(str(home), ".aws", "credentials").is_file()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment once; raise ``ConfigError`` naming a bad variable."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        name, raw = opt.env[0], opt.default
        for candidate in opt.env:
            if candidate in env:
                name, raw = candidate, env[candidate]
                break
        try:
            values[opt.field] = opt.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    values["aws_credentials_present"] = _credentials_present(env)
    settings = Settings(**values)
    _check(settings)
    return settings


def _check(s: Settings) -> None:
    if s.session_ttl_hours > s.max_session_ttl_hours:
        raise ConfigError("SESSION_TTL_HOURS: must not exceed SCOUT_MAX_SESSION_TTL_HOURS")
    if s.auth_disabled and not s.embedded:
        raise ConfigError(
            "SCOUT_AUTH_DISABLED: authentication may only be switched off with the embedded "
            "DynamoDB; configure SCOUT_AUTH_TOKENS or SCOUT_AUTH_TOKENS_FILE instead"
        )
    unknown = s.offline_fail_agents - {"market", "competition", "price", "legal", "final"}
    if unknown:
        raise ConfigError(f"SCOUT_OFFLINE_FAIL_AGENTS: unknown agents {sorted(unknown)}; use "
                          "market, competition, price, legal, final")
    if bool(s.tls_cert_file) != bool(s.tls_key_file):
        raise ConfigError("SCOUT_TLS_CERT_FILE and SCOUT_TLS_KEY_FILE must be set together")
    if s.tls_client_ca_file and not s.tls_cert_file:
        raise ConfigError("SCOUT_TLS_CLIENT_CA_FILE: mTLS needs SCOUT_TLS_CERT_FILE too")
    if bool(s.healthcheck_cert_file) != bool(s.healthcheck_key_file):
        raise ConfigError(
            "SCOUT_HEALTHCHECK_CERT_FILE and SCOUT_HEALTHCHECK_KEY_FILE must be set together")
    for path_field, var in (("auth_tokens_file", "SCOUT_AUTH_TOKENS_FILE"),
                            ("tls_cert_file", "SCOUT_TLS_CERT_FILE"),
                            ("tls_key_file", "SCOUT_TLS_KEY_FILE"),
                            ("tls_client_ca_file", "SCOUT_TLS_CLIENT_CA_FILE"),
                            ("healthcheck_cert_file", "SCOUT_HEALTHCHECK_CERT_FILE"),
                            ("healthcheck_key_file", "SCOUT_HEALTHCHECK_KEY_FILE")):
        path = getattr(s, path_field)
        if path and not Path(path).is_file():
            raise ConfigError(f"{var}: no such file {path!r}")
    needs = {"tavily": (s.tavily_api_key, "SCOUT_TAVILY_API_KEY"),
             "exa": (s.exa_api_key, "SCOUT_EXA_API_KEY"),
             "brave": (s.brave_api_key, "SCOUT_BRAVE_API_KEY"),
             "searxng": (s.searxng_url, "SCOUT_SEARXNG_URL")}
    if s.web_search_provider in needs and not needs[s.web_search_provider][0]:
        raise ConfigError(f"SCOUT_WEB_SEARCH_PROVIDER={s.web_search_provider} needs "
                          f"{needs[s.web_search_provider][1]}")
    table = s.token_hashes()  # validates the entries even where auth is off
    if s.auth_enabled:
        if not table and not s.tls_client_ca_file:
            raise ConfigError(
                "SCOUT_AUTH_TOKENS: authentication is on (the store is not the embedded "
                "default) but no caller is configured; set SCOUT_AUTH_TOKENS=name:sha256hex, "
                "SCOUT_AUTH_TOKENS_FILE, or SCOUT_TLS_CLIENT_CA_FILE for mTLS"
            )


def describe_options() -> str:
    """The environment variables, grouped, for ``serve --help``."""
    lines = ["environment variables:"]
    group = ""
    for opt in OPTIONS:
        if opt.group != group:
            group = opt.group
            lines.append(f"\n  [{group}]")
        names = " / ".join(opt.env)
        default = f" (default: {opt.default})" if opt.default else ""
        lines.append(f"  {names}{default}\n      {opt.help}")
    return "\n".join(lines)


def options_markdown() -> str:
    """The README's configuration table, generated from ``OPTIONS`` (``make readme-config``)."""
    known = {name for opt in OPTIONS for name in opt.env}

    lines = ["| Variable | Default | What it is for |", "| --- | --- | --- |"]
    for opt in OPTIONS:
        names = " / ".join(f"`{n}`" for n in opt.env)
        default = f"`{opt.default}`" if opt.default else "—"
        help_text = " ".join(_code_inside(word, known) for word in opt.help.split(" "))
        lines.append(f"| {names} | {default} | {help_text} |")
    return "\n".join(lines) + "\n"


def _code_inside(word: str, known: set[str]) -> str:
    """``word`` with a variable name inside punctuation in backticks ("(default: `X`,")."""
    core = word.strip(".,;:()")
    if core not in known:
        return word
    start = word.index(core)
    return f"{word[:start]}`{core}`{word[start + len(core):]}"
