"""Model calls: what building an agent's model costs, and what prompt caching saves.

Building rows: CPU time (``time.process_time``) to build one agent's Bedrock
model, the replica's factory (one shared boto3 Session) against a Session
per agent as Scout did before, both measured here in the same process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import Row, Target, log

SECTION = "Model calls"


def _cpu_per_call(make: Callable[[], Any], n: int) -> float:
    make()  # the first pays for imports and the service model's first load
    t0 = time.process_time()
    for _ in range(n):
        make()
    return (time.process_time() - t0) / n


def building_rows(quick: bool = False) -> list[Row]:
    """CPU per agent model: shared Session against a Session per agent."""
    from strands.models.bedrock import BedrockModel

    from scout_service.agents.providers import ProviderSettings, make_model_factory
    from scout_service.domain import ReportKind

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    n = 5 if quick else 30
    settings = ProviderSettings(provider="bedrock", region="eu-north-1")
    factory = make_model_factory(settings)
    shared = _cpu_per_call(lambda: factory(ReportKind.MARKET), n)
    own = _cpu_per_call(lambda: BedrockModel(model_id=settings.bedrock_model_id,
                                             region_name="eu-north-1",
                                             max_tokens=settings.max_tokens), n)
    log(f"bedrock model: {shared * 1000:.1f} ms CPU shared, {own * 1000:.1f} ms own Session")
    return [Row("Bedrock model per agent: CPU", shared * 1000, "ms", own * 1000,
                "a boto3 Session per agent (before)", target=Target("<=", 0.5),
                section=SECTION, note=f"mean of {n}, process CPU time")]


def measure(quick: bool = False) -> list[Row]:
    """Every row of this section."""
    return building_rows(quick)
