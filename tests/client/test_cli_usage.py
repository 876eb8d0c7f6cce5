"""The CLI shows tokens by kind and the cost, or "-" when the server knows no price."""

from __future__ import annotations

import pytest

from scout.v1 import research_pb2, types_pb2
from scout_client import cli


def _run(cost: float | None) -> research_pb2.Run:
    usage = research_pb2.TokenUsage(input_tokens=100, output_tokens=50, cache_read_tokens=800,
                                    cache_write_tokens=50, total_tokens=1000)
    if cost is not None:
        usage.cost_usd = cost
    return research_pb2.Run(
        run_id="r1", session_id="s1", state=research_pb2.RUN_STATE_SUCCEEDED, usage=usage,
        agents=[research_pb2.AgentStatus(kind=types_pb2.REPORT_KIND_MARKET,
                                         state=research_pb2.AGENT_STATE_SUCCEEDED, usage=usage)])


def test_run_get_shows_cache_tokens_and_cost(capsys: pytest.CaptureFixture[str]) -> None:
    cli.print_run(_run(0.01234))
    out = capsys.readouterr().out
    assert "1000 (100 in, 50 out, 800 cache read, 50 cache write)" in out
    assert "$0.0123" in out and "CACHED" in out and "COST" in out


def test_an_unpriced_run_shows_no_cost(capsys: pytest.CaptureFixture[str]) -> None:
    cli.print_run(_run(None))
    out = capsys.readouterr().out
    assert "$" not in out
    assert any(line.split()[-1] == "-" for line in out.splitlines() if line.startswith("cost"))
