"""Limits and timings of research runs on one replica (parsed in ``config``)."""

from __future__ import annotations

from dataclasses import dataclass

from scout_service.agents.recorder import RetryPolicy


@dataclass(frozen=True)
class RunnerSettings:
    """Limits and timings of research runs on one replica."""

    # Runs executing at once here (the wiring picks the offline or the network
    # provider's setting); more wait in the fleet's queue.
    max_concurrent_runs: int = 4
    # Runs waiting in the fleet's queue before StartResearch answers RESOURCE_EXHAUSTED.
    max_queued_runs: int = 100
    # Unfinished runs one owner may have executing here or waiting in the fleet's
    # queue (SCOUT_MAX_RUNS_PER_PRINCIPAL).
    max_runs_per_principal: int = 4
    # Time one agent may take before it is marked FAILED.
    agent_timeout_s: float = 600
    # Time a run may take from its first agent's start before it is FAILED.
    run_timeout_s: float = 1800
    # How long a lease holds without renewal before another replica takes over.
    lease_seconds: float = 30
    lease_renew_interval_s: float = 10
    # How often this replica, while it has a free slot, reads the queue (queued
    # runs and runs whose lease expired): one query each time.
    claim_interval_s: float = 1.0
    # Characters of one file's text that are indexed for search.
    max_document_chars: int = 30_000_000
    # Indexes of file sets kept on this replica (each a SQLite file on disk).
    max_cached_corpora: int = 16
    # Searches one agent may make, and refused saves before it fails.
    max_searches_per_agent: int = 40
    max_save_refusals: int = 3
    # Time the text extraction of one file may take before the rest is left out
    # (checked between pages), and the hard limits of the worker process reading
    # a PDF or .docx: wall time, address space, how many at once.
    document_time_budget_s: float = 20
    document_timeout_s: float = 30
    document_memory_mb: int = 1024
    document_workers: int = 2
    max_files_per_run: int = 20
    # Run the specialists one after another (for the benchmark's baseline).
    sequential_specialists: bool = False
    # Start one specialist alone and the others once its first model response is
    # in, so they could read what it wrote to the provider's prompt cache (measured
    # in bench/model_bench.py; it does not pay, hence off).
    warm_cache_first: bool = False
    # How long a cancel waits for agents to stop at strands' cancel checkpoints
    # before it cancels their tasks.
    cancel_grace_s: float = 1.0
    # Model turns one agent may take (a model that never saves stops here).
    max_agent_turns: int = 8
    # Retries of progress-event and run writes while the store is unavailable.
    store_retry: RetryPolicy = RetryPolicy()
    # Token budget of a run whose brief sets none (SCOUT_RUN_MAX_TOKENS), and the
    # cost budget in USD when the model's prices are known (SCOUT_RUN_MAX_COST_USD);
    # 0: none.
    run_max_tokens: int = 0
    run_max_cost_usd: float = 0

    def __post_init__(self) -> None:
        """Refuse settings under which a live run could lose its lease."""
        if self.max_concurrent_runs < 1 or self.max_queued_runs < 0:
            raise ValueError("max_concurrent_runs must be >= 1 and max_queued_runs >= 0")
        if self.max_runs_per_principal < 1:
            raise ValueError("max_runs_per_principal must be >= 1")
        if not 0 < self.lease_renew_interval_s < self.lease_seconds:
            raise ValueError("lease_renew_interval_s must be positive and below lease_seconds")
        if min(self.agent_timeout_s, self.run_timeout_s, self.claim_interval_s) <= 0:
            raise ValueError("timeouts and intervals must be positive")
