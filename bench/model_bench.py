"""Model calls: what building an agent's model costs, and what prompt caching saves.

Building rows: CPU time (``time.process_time``) to build one agent's Bedrock
model, the replica's factory (one shared boto3 Session) against a Session
per agent as Scout did before, both measured here in the same process.

Caching rows: whole research runs (in process, ``MemoryStore``) on a plan of
over 300 KB, with the Anthropic provider talking to ``FakeAnthropic``, a fake
Messages API on loopback that caches prompt prefixes by Anthropic's rules
and bills them at the default Claude Sonnet 4 prices. Three runs, back to
back: caching on (the default), caching off (the baseline), and caching on
with one specialist started first so the others could find its cache entries
warm. Token counts are deterministic; the wall times depend on the fake's
time to first token and the machine.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.common import ROOT, Row, Target, log
from bench.fake_anthropic import FakeAnthropic

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


PLAN = ROOT / "examples" / "nordic-meal-kits.md"
PLAN_BYTES = 300_000
CACHE_SHARE = Target(">=", 70, on="value")
# Searches each fake agent makes before it saves its report.
SEARCHES = 6


def big_plan(size: int = PLAN_BYTES) -> bytes:
    """The example plan grown past ``size`` bytes: its sections repeated per region."""
    text = PLAN.read_text(encoding="utf-8")
    parts = [text]
    region = 1
    while sum(len(p.encode()) for p in parts) < size:
        parts.append(re.sub(r"^(#+ )", rf"\1Region {region}: ", text, flags=re.MULTILINE))
        region += 1
    return "\n\n".join(parts).encode()


@dataclass(frozen=True)
class CachedRun:
    """One research run against the fake: its usage, split by specialists and synthesis."""

    state: str
    seconds: float
    specialists_input: int
    specialists_cache_read: int
    cost_usd: float

    @property
    def share(self) -> float:
        """Cache-read tokens as a percentage of the specialists' input tokens."""
        return 100 * self.specialists_cache_read / max(1, self.specialists_input)


async def _cached_run(plan: bytes, *, cache: bool, warm_first: bool, first_token_s: float,
                      searches: int) -> CachedRun:
    from scout_service.agents import ResearchRunner, RunnerSettings
    from scout_service.agents.providers import ProviderSettings, make_model_factory, model_id
    from scout_service.agents.usage import UsageMeter
    from scout_service.domain import SPECIALISTS
    from scout_service.store import MemoryStore

    store = MemoryStore()
    session = await store.create_session(owner="bench", ttl_seconds=3600)

    async def one(data: bytes) -> Any:
        yield data

    await store.put_file(session.session_id, "plan.md", "text/markdown", one(plan))
    with FakeAnthropic(searches=searches, first_token_s=first_token_s) as fake:
        settings = ProviderSettings(provider="anthropic", anthropic_api_key="bench",
                                    anthropic_base_url=fake.base_url, prompt_cache=cache)
        runner = ResearchRunner(
            store, _NullSink(), make_model_factory(settings),
            settings=replace(RunnerSettings(), warm_cache_first=warm_first,
                             lease_renew_interval_s=5),
            replica_id="bench", provider_name="anthropic",
            meter=UsageMeter("anthropic", model_id(settings)))
        t0 = time.perf_counter()
        run = await runner.start_research(session, request_id=None, file_names=[])
        while not run.state.is_terminal:
            await asyncio.sleep(0.05)
            run = await store.get_run(session.session_id, run.run_id)
        seconds = time.perf_counter() - t0
        await runner.shutdown(1)
    specialists = [a.usage for a in run.agents if a.kind in SPECIALISTS]
    return CachedRun(
        state=run.state.value, seconds=seconds,
        specialists_input=sum(u.all_input_tokens for u in specialists),
        specialists_cache_read=sum(u.cache_read_tokens for u in specialists),
        cost_usd=run.usage.cost_usd or 0.0)


class _NullSink:
    async def publish(self, event: Any) -> None:
        pass

    def mark_local(self, session_id: str, run_id: str) -> None:
        pass

    def unmark_local(self, session_id: str, run_id: str) -> None:
        pass


def caching_rows(quick: bool = False) -> list[Row]:
    """Cache-read share and cost with caching on, off, and with one specialist first."""
    plan = big_plan(60_000 if quick else PLAN_BYTES)
    first_token_s = 0.05 if quick else 0.4
    searches = SEARCHES
    runs = {}
    for name, cache, warm in (("on", True, False), ("off", False, False),
                              ("warm", True, True)):
        runs[name] = asyncio.run(_cached_run(plan, cache=cache, warm_first=warm,
                                             first_token_s=first_token_s, searches=searches))
        log(f"caching {name}: {runs[name]}")
    on, off, warm = runs["on"], runs["off"], runs["warm"]
    size = f"{len(plan) / 1000:.0f} KB plan, {searches} searches per specialist"
    if any(r.state != "SUCCEEDED" for r in runs.values()):
        log("a cached run did not succeed: " + ", ".join(r.state for r in runs.values()))
    return [
        Row("prompt cache: specialists' input read from cache", on.share, "%", None,
            "share of the specialists' input tokens", target=CACHE_SHARE, section=SECTION,
            note=f"{on.specialists_cache_read:,} of {on.specialists_input:,} tokens; {size}"),
        Row("prompt cache: run cost", on.cost_usd, "USD", off.cost_usd, "the run, caching off",
            target=Target("<=", 0.7), section=SECTION,
            note="fake Anthropic API, Claude Sonnet 4 prices, same run back to back"),
        Row("one specialist first: run cost", warm.cost_usd, "USD", on.cost_usd,
            "all four at once, caching on", section=SECTION,
            note=f"cache-read share {warm.share:.0f}% against {on.share:.0f}% all at once"),
        Row("one specialist first: run time", warm.seconds, "s", on.seconds,
            "all four at once, caching on", section=SECTION,
            note=f"{first_token_s:g} s to first token per call; "
                 + ("it pays" if warm.cost_usd < on.cost_usd * 0.97 else
                    "it does not pay (RunnerSettings.warm_cache_first stays off)")),
    ]


def measure(quick: bool = False) -> list[Row]:
    """Every row of this section."""
    return [*building_rows(quick), *caching_rows(quick)]
